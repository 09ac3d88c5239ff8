"""The vocabulary of tool displays: every label and title a tool can build has its Korean
name, and English stays as stored."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from assistant_core.backends.offline.i18n import t
from assistant_core.backends.offline.metrics import PER_SHARE, ROWS
from assistant_core.market.base import RecommendationPeriod, Statement
from assistant_core.numfmt import Locale
from assistant_core.tools.display_names import KOREAN, local_label, local_title, short_label
from assistant_core.tools.summaries import (
    DISPLAY_EXTRA_ROWS,
    MODEL_ROWS,
    QUOTE_LABELS,
    news_views,
    quote_views,
    recommendation_views,
    statement_views,
)


def every_statement_display() -> list[dict]:
    displays = []
    for kind in ("income", "balance", "cash_flow"):
        names = [name for _, alternatives in MODEL_ROWS[kind] for name in alternatives]
        names += DISPLAY_EXTRA_ROWS[kind]
        for period in ("annual", "quarterly"):
            statement: Statement = {
                "symbol": "005930.KS",
                "currency": "KRW",
                "statement": kind,
                "period": period,
                "periods": ["2025-12-31", "2024-12-31"],
                "rows": {name: [1.5e12, 1.2e12] for name in names},
            }
            displays.append(statement_views(statement)[1])
    return displays


def test_every_row_and_key_a_tool_shows_has_a_korean_name() -> None:
    labels = {row[0] for display in every_statement_display() for row in display["rows"]}
    labels |= {label for label, _ in QUOTE_LABELS.values()}
    period: RecommendationPeriod = {
        "period": "0m",
        "strongBuy": 3,
        "buy": 5,
        "hold": 2,
        "sell": 0,
        "strongSell": 0,
    }
    recommendations = recommendation_views("AAPL", [period])[1]
    labels |= {row[0] for row in recommendations["rows"]} | {recommendations["unit"]}
    missing = sorted(label for label in labels if label not in KOREAN)
    assert not missing
    for label in labels:
        assert local_label(label, "ko") != label or label == "EBITDA", label
        assert local_label(label, "en") == label


def test_every_title_a_tool_builds_is_said_in_korean() -> None:
    period: RecommendationPeriod = {
        "period": "0m",
        "strongBuy": 0,
        "buy": 1,
        "hold": 9,
        "sell": 0,
        "strongSell": 0,
    }
    titles = {display["title"]: None for display in every_statement_display()} | {
        quote_views({"symbol": "005930.KS", "name": "Samsung Electronics Co., Ltd."})[1][
            "title"
        ]: None,
        quote_views({"symbol": "AAPL"})[1]["title"]: None,
        news_views("AAPL", [])[1]["title"]: None,
        recommendation_views("AAPL", [period])[1]["title"]: None,
        recommendation_views("AAPL", [])[1]["title"]: None,
        "Ticker lookup: 삼성전자 (via demo)": None,
    }
    expected = {
        "005930.KS income statement (annual)": "005930.KS 손익계산서 (연간)",
        "005930.KS balance sheet (quarterly)": "005930.KS 재무상태표 (분기)",
        "005930.KS cash flow statement (quarterly)": "005930.KS 현금흐름표 (분기)",
        "005930.KS quote — Samsung Electronics Co., Ltd.": (
            "005930.KS 시세 — Samsung Electronics Co., Ltd."
        ),
        "AAPL quote": "AAPL 시세",
        "AAPL news": "AAPL 뉴스",
        "AAPL analyst recommendations (consensus: hold)": (
            "AAPL 애널리스트 투자의견 (컨센서스: 보유)"
        ),
        "AAPL analyst recommendations (consensus: none)": (
            "AAPL 애널리스트 투자의견 (컨센서스: 없음)"
        ),
        "Ticker lookup: 삼성전자 (via demo)": "종목 검색: 삼성전자 (출처: demo)",
    }
    assert set(expected) <= set(titles)
    for title in titles:
        korean = local_title(title, "ko")
        assert korean == expected.get(title, korean) and korean != title, title
        assert local_title(title, "en") == title


def test_the_analysts_korean_statement_rows_are_the_cards_names() -> None:
    for key, names in ROWS.items():
        card = short_label(names[0], "ko") if key in PER_SHARE else local_label(names[0], "ko")
        assert t("ko", f"row_{key}") == card, key


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_unknown_labels_and_titles_are_shown_as_stored(locale: Locale) -> None:
    assert local_label("Some New Yahoo Row", locale) == "Some New Yahoo Row"
    assert local_title("a title no tool builds", locale) == "a title no tool builds"
    assert short_label("Gains And Losses", locale) == "Gains & Losses"


def test_short_names_are_shorter() -> None:
    for label, (name, short) in KOREAN.items():
        if short is not None:
            assert cell_len(short) < cell_len(name), label
        assert short_label(label, "ko") == (short or name)
