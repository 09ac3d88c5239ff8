"""The text renderers behind the chat: Markdown blocks, statement tables, lists, JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from rich.cells import cell_len

from assistant_core import numfmt
from assistant_core.numfmt import Locale
from assistant_core.text import call_signature, format_duration
from assistant_core.tools.display_names import local_label, short_label
from tui.render import markdown as md_render
from tui.render.markdown import MarkdownStyles, finished_prefix_length
from tui.widgets.message import split_units
from tui.widgets.tables import (
    TableStyles,
    format_number,
    item_list,
    json_text,
    kv_table,
    statement_table,
)

from .chat_helpers import KV, LIST, TABLE

STYLES = MarkdownStyles()


def lines(source: str, width: int = 60) -> list[str]:
    return md_render.render(source, width, STYLES).plain.split("\n")


def test_blocks_render_as_readable_text() -> None:
    out = lines(
        "# Apple\n\nRevenue **rose** to `391.0B`.\n\n- one\n- two\n  - nested\n\n"
        "1. first\n2. second\n\n> quoted\n\n```python\nx = 1\n```\n\n---"
    )
    assert out[0] == "Apple"
    assert "Revenue rose to 391.0B." in out
    assert "• one" in out and "• two" in out and "  ◦ nested" in out
    assert "1. first" in out and "2. second" in out
    assert "▌ quoted" in out
    assert any(line.startswith(" x = 1") for line in out)
    assert out[-1] == "─" * 60


def test_tables_align_and_fit() -> None:
    out = lines("| Metric | 2024 |\n|---|--:|\n| Revenue | 391.0B |\n| EPS | 6.11 |", width=40)
    assert out[0].startswith("Metric") and out[0].endswith("2024")
    assert out[2] == "Revenue  391.0B"
    assert out[3] == "EPS        6.11"
    narrow = lines("| a | b |\n|---|---|\n| " + "word " * 20 + "| x |", width=20)
    assert all(len(line) <= 20 for line in narrow)


def test_links_show_where_they_go_and_markup_stays_literal() -> None:
    out = " ".join(lines("[click here](http://evil.example) [bold]x[/] [link=http://e]y[/link]"))
    assert "click here (http://evil.example)" in out
    assert "[bold]x[/]" in out and "[link=http://e]y[/link]" in out


def test_long_words_and_code_fold_to_width() -> None:
    out = lines("x" * 150 + "\n\n```\n" + "y" * 150 + "\n```", width=50)
    assert all(len(line) <= 50 for line in out)


def test_finished_prefix_is_every_block_but_the_last() -> None:
    assert finished_prefix_length("") == 0
    assert finished_prefix_length("one paragraph still growing") == 0
    source = "# Title\n\nfirst para\n\nsecond para grow"
    assert source[: finished_prefix_length(source)] == "# Title\n\nfirst para\n\n"
    fence = "intro\n\n```py\nx = 1\n\nstill code"
    assert fence[finished_prefix_length(fence) :] == "```py\nx = 1\n\nstill code"
    items = "- a\n- b\n\n- c"  # one loose list: not finished until something else starts
    assert finished_prefix_length(items) == 0


def test_split_units_cuts_long_text_at_block_boundaries() -> None:
    source = "".join(f"## Part {i}\n\n" + "word " * 100 + "\n\n" for i in range(20))
    units = split_units(source, size=1000)
    assert "".join(units) == source
    assert len(units) > 5
    assert all(unit.startswith("## Part") for unit in units)


def test_narrow_markdown_tables_wrap_labels_not_numbers() -> None:
    source = (
        "| 단위: 조 원 | FY2025 | FY2024 | 증감 |\n|---|---:|---:|---:|\n"
        "| 현금및현금성자산 (연결 기준, 단기금융상품 포함) | 1,234,567.8 | 17.6 | -4.84% |"
    )
    out = lines(source, width=34)
    assert all(cell_len(line) <= 34 for line in out), out
    for figure in ("1,234,567.8", "17.6", "-4.84%"):
        assert any(figure in line.split() for line in out), (figure, out)


def test_number_format() -> None:
    # A figure of unknown kind (numfmt.plain): abbreviated from a million, else as it is.
    assert format_number(391035000000) == "391.0B"
    assert format_number(391035000000, "ko") == "3,910억"
    assert format_number(12_300_000) == "12.3M"
    assert format_number(1.2e12) == "1.20T"
    assert format_number(-96995000000) == "-97.0B"
    assert format_number(45_200) == "45,200"
    assert format_number(6.11) == "6.11"
    assert format_number(None) == "–" and format_number(float("nan")) == "–"
    assert format_number("n/a\x1b[2J") == "n/a"


def test_statement_table_periods_as_columns() -> None:
    styles = TableStyles()
    text = statement_table(TABLE, 60, styles)
    out = text.plain.split("\n")
    assert out[0] == "AAPL income statement"
    assert out[1].split() == ["in", "billions", "of", "USD", "2024", "2023", "2022"]  # once
    assert out[3].split() == ["Total", "Revenue", "391.0", "383.3", "394.3"]
    assert out[4].split() == ["Net", "Income", "93.7", "-97.0", "–"]
    negative = [span for span in text.spans if text.plain[span.start : span.end] == "-97.0"]
    assert negative and negative[0].style == styles.negative


KOREAN_TABLE = {
    "kind": "table",
    "title": "005930.KS income statement (annual)",
    "columns": ["2025-12-31", "2024-12-31", "2023-12-31", "2022-12-31"],
    "rows": [
        ["Total Revenue", 136_512_000_000_000, 137_031_000_000_000, 138_912_000_000_000, 1.41e14],
        ["Research And Development", 8_205_000_000_000, 8.2e12, 8.3e12, 8.5e12],
        ["Diluted EPS", 13_315.33, 13_913.78, 13_395.1, 14_222.0],
        ["Diluted Average Shares", 2_745_000_000, 2_745_000_000, 2_745_000_000, 2_745_000_000],
    ],
    "unit": "KRW",
}


def test_korean_statement_table_says_the_unit_once() -> None:
    out = statement_table(KOREAN_TABLE, 80, TableStyles(), "ko").plain.split("\n")
    # Beside a Korean answer the card speaks as a Korean statement does (K-IFRS names).
    assert out[0] == "005930.KS 손익계산서 (연간)"
    assert out[1].startswith("단위: 조 원") and out[1].split()[-1] == "2022-12-31"
    assert out[3].split() == ["매출액", "136.5", "137.0", "138.9", "141.0"]
    assert out[4].split()[0] == "연구개발비"
    assert out[5].split() == ["희석주당이익", "13,315원", "13,914원", "13,395원", "14,222원"]
    assert out[6].split() == ["희석가중평균주식수", "27.4억", "27.4억", "27.4억", "27.4억"]
    english = statement_table(KOREAN_TABLE, 80, TableStyles(), "en").plain.split("\n")
    assert english[0] == "005930.KS income statement (annual)"
    assert english[1].startswith("in trillions of KRW") and "₩13,315" in english[5]
    assert english[3].split()[:2] == ["Total", "Revenue"]


def test_narrow_statement_table_drops_old_periods_never_splits_numbers() -> None:
    for width, locale in ((30, "ko"), (40, "ko"), (46, "ko"), (40, "en"), (52, "en")):
        out = statement_table(KOREAN_TABLE, width, TableStyles(), locale).plain.split("\n")
        assert all(cell_len(line) <= width for line in out), width
        header = next(line for line in out if "2025" in line)
        shown = sum(1 for word in header.split() if word.startswith("20"))
        hidden = 4 - shown
        note = (
            f"이전 {hidden}개 기간은 창이 좁아 생략"
            if locale == "ko"
            else f"{hidden} older period{'s' if hidden > 1 else ''} not shown (narrow window)"
        )
        assert 1 <= shown < 4 and " ".join(" ".join(out).split()).endswith(note), out
        for cell in ("136.5", "13,315원", "27.4억") if locale == "ko" else ("136.5", "₩13,315"):
            assert any(cell in line.split() for line in out), (width, cell)


BALANCE_TABLE = {
    "kind": "table",
    "title": "AAPL balance sheet (annual)",
    "columns": ["2025-09-27", "2024-09-28", "2023-09-30", "2022-09-24"],
    "rows": [
        ["Total Assets", 364.98e9, 352.58e9, 352.76e9, 352.75e9],
        ["Total Liabilities Net Minority Interest", 308.03e9, 290.44e9, 302.08e9, 302.08e9],
        ["Stockholders Equity", 56.95e9, 62.15e9, 50.67e9, 50.67e9],
        ["Cash Cash Equivalents And Short Term Investments", 65.17e9, 61.56e9, 48.3e9, 48.3e9],
        ["Current Liabilities", 176.39e9, 145.31e9, 153.98e9, 153.98e9],
        ["Ordinary Shares Number", 15.12e9, 15.55e9, 15.94e9, 15.94e9],
    ],
    "unit": "USD",
}


@pytest.mark.parametrize("locale", ["en", "ko"])
@pytest.mark.parametrize("table", [TABLE, KOREAN_TABLE, BALANCE_TABLE], ids=["aapl", "ko", "bs"])
@pytest.mark.parametrize("width", [26, 34, 40, 46, 52, 60, 72, 90, 120])
def test_statement_tables_never_break_a_word_or_a_number(
    table: dict[str, Any], width: int, locale: Locale
) -> None:
    """Issue 12.5: at any width a row label is shown whole, shortened (``R&D``, ``판관비``)
    or wrapped at spaces — never cut inside a word (``Liabilit / ies``); numbers are never
    split; and from 40 columns every row is one line."""
    out = statement_table(table, width, TableStyles(), locale).plain.split("\n")
    assert all(cell_len(line) <= width for line in out), out
    words = {w for line in out for w in line.split()}
    for label, *_ in table["rows"]:
        shown = [local_label(label, locale), short_label(label, locale)]
        assert any(all(word in words for word in name.split()) for name in shown), (label, out)
    body = out[out.index(next(line for line in out if set(line) <= {"─", " "})) + 1 :]
    notes = ("not shown", "window", "생략")
    rows = [line for line in body if not any(note in line for note in notes)]
    if width >= 40:
        assert len(rows) == len(table["rows"]), out  # one line a row


def test_kv_list_and_json() -> None:
    styles = TableStyles()
    assert kv_table(KV, 40, styles).plain.split("\n")[1:] == [
        "Price       189.50",
        "Market cap  2.90T",
    ]
    quote = {
        "kind": "kv",
        "currency": "KRW",
        "items": [
            ["Price", 246178.39, "price"],
            ["Change", -901.25, "price_change"],
            ["Change %", -0.36, "change"],
            ["Market cap", 669.7e12, "amount"],
            ["Volume", 20_710_000, "count"],
        ],
    }
    assert kv_table(quote, 40, styles, "ko").plain.split("\n") == [
        "현재가     246,178원",
        "전일 대비  -901원",
        "등락률     -0.36%",
        "시가총액   669.7조 원",
        "거래량     2,071만",
    ]
    assert kv_table(quote, 40, styles, "en").plain.split("\n")[3] == "Market cap  ₩669.7T"
    # A quote stored before displays said each value's kind: known by its label (12.11).
    legacy = {"kind": "kv", "currency": "USD", "items": [["Change", 3.66], ["Change %", 1.43]]}
    assert kv_table(legacy, 40, styles).plain.split("\n") == [
        "Change    +$3.66",
        "Change %  +1.43%",
    ]
    listed = item_list({**LIST, "items": LIST["items"] * 30}, 60, styles).plain
    assert "• Apple ships — Reuters" in listed and "https://example.com/a" in listed
    assert "… 10 more" in listed
    big = json.dumps({"rows": list(range(3000))})
    cut = json_text(big, limit=500).plain
    assert cut.endswith("more characters") and len(cut) < 600
    hostile = json_text(json.dumps({"x": "[bold]y[/]\u001b]0;pwned\u0007"})).plain
    assert "[bold]y[/]" in hostile and "\x1b" not in hostile


def test_call_signature_and_duration() -> None:
    assert (
        call_signature("get_daily_stock_performance", '{"ticker": "AAPL"}')
        == 'get_daily_stock_performance(ticker="AAPL")'
    )
    assert (
        call_signature("compare_stocks", '{"tickers": ["AAPL", "MSFT"], "days": 30}')
        == 'compare_stocks(tickers=["AAPL", "MSFT"], days=30)'
    )
    assert call_signature("f", '{"ticker": "AA') == 'f({"ticker": "AA)'  # still streaming
    assert len(call_signature("f", json.dumps({"q": "x" * 500}))) <= 100
    assert "\x1b" not in call_signature("f\x1b[2J", '{"a": "\\u001b]0;t\\u0007"}')
    assert format_duration(120.4) == "120 ms" and format_duration(1530) == "1.5 s"
    assert format_duration(90_000) == "1 min 30 s"


def test_price_figure_has_line_marks_and_volume() -> None:
    from tui.widgets.chart import Figures, Series, draw_figure, series_from_display

    from .chat_helpers import PRICES

    colors = dict.fromkeys(
        (
            "chart--axes",
            "chart--line",
            "chart--volume",
            "chart--high",
            "chart--low",
            *(f"chart--series-{i}" for i in range(1, 7)),
        ),
        (200, 200, 200),
    )
    series = series_from_display(PRICES)
    figure = draw_figure(series, 110, 17, colors).plain
    assert "▲" in figure and "▼" in figure  # high and low marked
    assert "█" in figure  # volume bars
    assert "2024-01-" in figure
    lines = figure.split("\n")
    assert max(len(line) for line in lines) == 110 and len(lines) == 17  # sized to the widget
    hostile = Series.from_display(
        {"symbol": "\x1b]0;pwned\x07AAPL[bold]", "close": [1, 2, None, 4]}
    )
    assert hostile is not None
    assert hostile.symbol == "AAPL[bold]" and hostile.close == [1.0, 2.0, 2.0, 4.0]
    compare = draw_figure(series * 2, 60, 12, colors).plain
    assert "█" not in compare  # several lines, no volume
    won = draw_figure(series, 110, 17, colors, Figures("ko", "KRW")).plain
    assert "▲186 " in won and "▼170 " in won  # the won's precision; no wide 원 in the figure
    assert "7,900만┤" in won  # a wide character in an axis label keeps the rows in line
    assert {cell_len(line) for line in won.split("\n")} == {110}
    assert "e+" not in won and "e5" not in won


def _figure_colors() -> dict[str, tuple[int, int, int]]:
    names = ("chart--axes", "chart--line", "chart--volume", "chart--high", "chart--low")
    return dict.fromkeys((*names, *(f"chart--series-{i}" for i in range(1, 7))), (200, 200, 200))


@pytest.mark.parametrize("width", [40, 52, 70, 110, 150])
@pytest.mark.parametrize("days", [5, 30, 100])
def test_price_and_volume_share_their_x_axis_and_dates_sit_under_ticks(
    width: int, days: int
) -> None:
    """Issue 12.11/12.5: the volume plot starts in the price plot's column, its bars are
    scaled to their range (not one solid block from 0), and each date label is centred on
    its tick, none cut or shifted, at any width."""
    from tui.widgets.chart import Figures, draw_figure, series_from_display

    display = {
        "kind": "prices",
        "series": [
            {
                "symbol": "AAPL",
                "dates": [f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in range(days)],
                "close": [180 + (d % 7) - d * 0.3 for d in range(days)],
                "volume": [5e7 + (d % 5) * 6e6 for d in range(days)],
            }
        ],
    }
    lines = draw_figure(series_from_display(display), width, 17, _figure_colors(), Figures()).plain
    rows = lines.split("\n")
    frames = [row for row in rows if "┌" in row]
    assert len(frames) == 2 and frames[0].index("┌") == frames[1].index("┌")
    ticks_row = next(i for i, row in enumerate(rows) if "└" in row and "┬" in row)
    ticks = [i for i, char in enumerate(rows[ticks_row]) if char == "┬"]
    labels = [
        (m.start(), m.end()) for m in re.finditer(r"(\d{4}-)?\d{2}-\d{2}", rows[ticks_row + 1])
    ]
    assert len(labels) >= min(2, days) and len(labels) == len(ticks)
    for (start, end), tick in zip(labels, ticks):
        assert abs((start + end - 1) / 2 - tick) <= 1, (rows[ticks_row], rows[ticks_row + 1])
    volume = rows[rows.index(frames[1]) + 1 : -1]
    heights = {
        sum(row[col] == "█" for row in volume)
        for col in range(len(frames[1]))
        if any(row[col] == "█" for row in volume)
    }
    assert len(heights) > 1  # the bars differ: scaled to the volume's own range


@given(
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    st.floats(min_value=1e-6, max_value=1e15),
)
def test_axis_ticks_are_round_and_never_scientific(low: float, span: float) -> None:
    from tui.widgets.chart import nice_ticks

    high = low + span
    assume(span >= abs(low) * 1e-6)  # the chart pads its range by at least 1% of the price
    ticks, decimals = nice_ticks(low, high)
    assert 1 <= len(ticks) <= 6
    assert all(low - span * 1e-6 <= t <= high + span * 1e-6 for t in ticks)
    for tick in ticks:
        label = numfmt.grouped(tick, decimals)
        assert "e" not in label.lower() and label
    assert decimals <= 12
