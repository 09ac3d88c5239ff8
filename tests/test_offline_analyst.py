"""The offline analyst, driven turn by turn the way the runtime drives a model.

The test plays the runtime: it streams one turn, collects the tool calls from their deltas,
runs fabricated tools (outputs built with the real ``ToolResult.to_model`` envelope, with
Apple's real fiscal-2024 figures), appends the calls and outputs to the input, and streams
again until the analyst answers with text.
"""

from __future__ import annotations

import asyncio
import calendar
import inspect
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant_core import numfmt
from assistant_core.backends.base import (
    Backend,
    Finish,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageChunk,
)  # fmt: skip
from assistant_core.backends.offline import OfflineAnalyst
from assistant_core.backends.offline.analyst import text_chunks
from assistant_core.backends.offline.intents import parse_question
from assistant_core.backends.offline.report import inline
from assistant_core.tools.result import ToolResult
from tests.support.scripted_backend import function_spec

AS_OF = calendar.timegm((2026, 11, 2, 21, 0, 0, 0, 0, 0))


# -- fabricated tools, in the shapes of the investor tools --------------------------------
def _spec(name: str, param: str = "ticker", ptype: str = "string") -> dict[str, Any]:
    return function_spec(name, {param: {"type": ptype}}, [param])


ALL_TOOLS = [
    _spec("get_ticker", "company_name"),
    _spec("get_income_statement"),
    _spec("get_balance_sheet"),
    _spec("get_daily_stock_performance"),
    _spec("get_cash_flow"),
    _spec("get_stock_quote"),
    _spec("get_company_news"),
    _spec("get_analyst_recommendations"),
    _spec("compare_stocks", "tickers", "array"),
]
TUTORIAL_TOOLS = ALL_TOOLS[:4]  # the four tools of the Assistants tutorial

NAMES = {
    "apple": ("AAPL", "Apple Inc."),
    "apple inc.": ("AAPL", "Apple Inc."),
    "tesla": ("TSLA", "Tesla, Inc."),
    "tesla, inc.": ("TSLA", "Tesla, Inc."),
    "acme robotics": ("ACME", "Acme Robotics Corp."),
}

INCOME = {
    "AAPL": {
        "Total Revenue": [391_035_000_000, 383_285_000_000],
        "Gross Profit": [180_683_000_000, 169_148_000_000],
        "Operating Income": [123_216_000_000, 114_301_000_000],
        "Net Income": [93_736_000_000, 96_995_000_000],
        "Diluted EPS": [6.08, 6.13],
    },
    "TSLA": {
        "Total Revenue": [97_690_000_000, 96_773_000_000],
        "Gross Profit": [17_450_000_000, 17_660_000_000],
        "Operating Income": [7_076_000_000, 8_891_000_000],
        "Net Income": [7_091_000_000, 14_997_000_000],
        "Diluted EPS": [2.04, 4.30],
    },
}
INCOME["MSFT"] = {k: [v[0] * 0.7, v[1] * 0.6] for k, v in INCOME["AAPL"].items()}
BALANCE = {
    "AAPL": {
        "Total Assets": [364_980_000_000, 352_583_000_000],
        "Total Liabilities Net Minority Interest": [308_030_000_000, 290_437_000_000],
        "Stockholders Equity": [56_950_000_000, 62_146_000_000],
        "Cash And Cash Equivalents": [29_943_000_000, 29_965_000_000],
        "Total Debt": [106_629_000_000, 111_088_000_000],
        "Current Assets": [152_987_000_000, 143_566_000_000],
        "Current Liabilities": [176_392_000_000, 145_308_000_000],
    },
    "TSLA": {
        "Total Assets": [122_070_000_000, 106_618_000_000],
        "Total Liabilities Net Minority Interest": [48_390_000_000, 43_009_000_000],
        "Stockholders Equity": [72_913_000_000, 62_634_000_000],
        "Cash And Cash Equivalents": [16_139_000_000, 16_398_000_000],
        "Total Debt": [13_623_000_000, 9_573_000_000],
        "Current Assets": [58_360_000_000, 49_616_000_000],
        "Current Liabilities": [28_821_000_000, 28_748_000_000],
    },
}
BALANCE["MSFT"] = {k: [v[0] * 1.4, v[1] * 1.3] for k, v in BALANCE["TSLA"].items()}
PERIODS = ["2024-09-30", "2023-09-30"]


def statement(kind: str, rows: dict[str, list[float]], symbol: str, source: str = "yahoo") -> str:
    data = {"statement": kind, "period": "annual", "periods": PERIODS, "rows": rows}
    return ToolResult(
        data=data, source=source, symbol=symbol, currency="USD", as_of=AS_OF
    ).to_model()


def performance(symbol: str, source: str = "yahoo") -> str:
    data = {
        "days": 100, "start": "2026-06-09", "end": "2026-10-30",
        "first_close": 201.45, "last_close": 225.0, "return_pct": 11.69,
        "high": {"value": 232.1, "date": "2026-10-14"}, "low": {"value": 196.2, "date": "2026-06-20"},
        "volatility_annualized_pct": 24.3, "max_drawdown_pct": -8.4, "avg_volume": 52_300_000,
        "weekly_closes": [["2026-06-12", 201.0], ["2026-07-10", 210.5], ["2026-08-14", 205.2],
                          ["2026-09-11", 220.7], ["2026-10-09", 231.0], ["2026-10-30", 225.0]],
    }  # fmt: skip
    return ToolResult(
        data=data, source=source, symbol=symbol, currency="USD", as_of=AS_OF
    ).to_model()


def quote(symbol: str) -> str:
    data = {
        "price": 225.0, "previous_close": 222.3, "change": 2.7, "change_pct": 1.21,
        "market_cap": 3_400_000_000_000, "pe_ratio": 37.0, "forward_pe": 30.1,
        "fifty_two_week_low": 164.08, "fifty_two_week_high": 237.49, "volume": 48_000_000,
    }  # fmt: skip
    return ToolResult(
        data=data, source="yahoo", symbol=symbol, currency="USD", as_of=AS_OF
    ).to_model()


def ticker(company_name: str) -> str:
    hit = NAMES.get(company_name.lower())
    if hit is None:
        return ToolResult.failure(f"no ticker found for {company_name!r}").to_model()
    symbol, name = hit
    data = {"symbol": symbol, "name": name, "exchange": "NASDAQ", "type": "EQUITY",
            "alternatives": [], "lookup_source": "yahoo"}  # fmt: skip
    return ToolResult(data=data, source="yahoo", symbol=symbol).to_model()


def news(symbol: str) -> str:
    items = [
        {"title": "Apple | Q4 beats\nestimates [details](javascript:alert(1))", "publisher": "Reuters",
         "published": "2026-10-31T12:00:00Z", "url": "https://example.com/a"},
        {"title": "iPhone demand steady", "publisher": "Bloomberg", "published": 1793000000, "url": "not a url"},
    ]  # fmt: skip
    return ToolResult(data={"items": items}, source="yahoo", symbol=symbol).to_model()


def default_handlers() -> dict[str, Callable[[dict[str, Any]], str]]:
    return {
        "get_ticker": lambda a: ticker(a["company_name"]),
        "get_income_statement": lambda a: statement("income", INCOME[a["ticker"]], a["ticker"]),
        "get_balance_sheet": lambda a: statement("balance", BALANCE[a["ticker"]], a["ticker"]),
        "get_daily_stock_performance": lambda a: performance(a["ticker"]),
        "get_stock_quote": lambda a: quote(a["ticker"]),
        "get_company_news": lambda a: news(a["ticker"]),
        "get_cash_flow": lambda a: statement(
            "cash_flow",
            {
                "Operating Cash Flow": [118_254_000_000, 110_543_000_000],
                "Capital Expenditure": [-9_447_000_000, -10_959_000_000],
                "Free Cash Flow": [108_807_000_000, 99_584_000_000],
            },
            a["ticker"],
        ),
        "get_analyst_recommendations": lambda a: ToolResult(
            data={
                "periods": [
                    {
                        "period": "0m",
                        "strongBuy": 8,
                        "buy": 22,
                        "hold": 12,
                        "sell": 1,
                        "strongSell": 1,
                    }
                ],
                "consensus": "buy",
            },
            source="yahoo",
            symbol=a["ticker"],
        ).to_model(),
        "compare_stocks": lambda a: ToolResult(
            data={
                "period": "100d",
                "stocks": [
                    {
                        "symbol": "AAPL",
                        "first_close": 201.45,
                        "last_close": 225.0,
                        "return_pct": 11.69,
                        "volatility_annualized_pct": 24.3,
                        "max_drawdown_pct": -8.4,
                    },
                    {
                        "symbol": "MSFT",
                        "first_close": 410.0,
                        "last_close": 430.5,
                        "return_pct": 5.0,
                        "volatility_annualized_pct": 19.8,
                        "max_drawdown_pct": -6.1,
                    },
                ],
            },
            source="yahoo",
        ).to_model(),
    }


# -- playing the runtime -----------------------------------------------------------------
@dataclass
class Turn:
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "arguments"}
    text: str = ""
    finish: str | None = None
    usage: UsageChunk | None = None
    chunks: int = 0


@dataclass
class Conversation:
    backend: OfflineAnalyst = field(default_factory=OfflineAnalyst)
    tools: list[dict[str, Any]] = field(default_factory=lambda: list(ALL_TOOLS))
    handlers: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=default_handlers)
    items: list[dict[str, Any]] = field(default_factory=list)
    parallel: bool = True

    async def turn(self) -> Turn:
        request = ModelRequest(
            model="offline",
            instructions="You help users research stocks.",
            input=list(self.items),
            tools=self.tools,
            parallel_tool_calls=self.parallel,
        )
        out = Turn()
        by_index: dict[int, dict[str, Any]] = {}
        async for chunk in self.backend.stream(request):
            out.chunks += 1
            assert out.finish is None, "nothing may follow the Finish chunk"
            if isinstance(chunk, TextDelta):
                out.text += chunk.text
            elif isinstance(chunk, ToolCallDelta):
                call = by_index.setdefault(chunk.index, {"id": None, "name": None, "arguments": ""})
                call["id"] = call["id"] or chunk.id
                call["name"] = call["name"] or chunk.name
                call["arguments"] += chunk.arguments
            elif isinstance(chunk, UsageChunk):
                out.usage = chunk
            elif isinstance(chunk, Finish):
                out.finish = chunk.reason
        out.calls = [by_index[i] for i in sorted(by_index)]
        return out

    async def ask(self, question: str | list[dict[str, str]], max_turns: int = 10) -> list[Turn]:
        """One run: the question, then turns until the analyst answers with text."""
        self.items.append({"role": "user", "content": question})
        turns: list[Turn] = []
        for _ in range(max_turns):
            turn = await self.turn()
            turns.append(turn)
            if turn.finish != "tool_calls":
                assert turn.finish == "stop" and not turn.calls
                self.items.append({"role": "assistant", "content": turn.text})
                return turns
            assert turn.calls and not turn.text
            self.items.append({"role": "assistant", "content": None, "tool_calls": turn.calls})
            for call in turn.calls:
                args = json.loads(call["arguments"])
                handler = self.handlers.get(call["name"])
                try:  # as the registry does: a failing tool is an error output, never a crash
                    output = (
                        handler(args) if handler else ToolResult.failure("unknown tool").to_model()
                    )
                    if inspect.isawaitable(output):
                        output = await output
                except Exception as exc:
                    output = ToolResult.failure(f"{type(exc).__name__}: {exc}").to_model()
                self.items.append({"role": "tool", "tool_call_id": call["id"], "name": call["name"],
                                   "content": output})  # fmt: skip
        raise AssertionError(f"no answer after {max_turns} turns")


DENIED = ToolResult.failure("the user denied this tool call").to_model()


def called(turn: Turn) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], json.loads(c["arguments"])) for c in turn.calls]


# -- the brief's questions ---------------------------------------------------------------
def test_implements_the_backend_interface() -> None:
    backend = OfflineAnalyst()
    assert isinstance(backend, Backend)
    assert backend.name == "offline" and backend.is_llm is False
    with pytest.raises(ValueError, match="pace"):
        OfflineAnalyst(pace=-1)


async def test_should_i_buy_apple() -> None:
    conv = Conversation(tools=list(TUTORIAL_TOOLS))
    turns = await conv.ask("Should I buy Apple?")
    assert len(turns) == 3
    assert called(turns[0]) == [("get_ticker", {"company_name": "Apple"})]
    assert called(turns[1]) == [
        ("get_income_statement", {"ticker": "AAPL"}),
        ("get_balance_sheet", {"ticker": "AAPL"}),
        ("get_daily_stock_performance", {"ticker": "AAPL"}),
    ]
    ids = [c["id"] for t in turns for c in t.calls]
    assert all(i.startswith("call_") for i in ids) and len(set(ids)) == len(ids)
    text = turns[2].text
    assert text.startswith("## Apple Inc. (AAPL)")
    # the real numbers it used, formatted: the table's unit once, in its corner
    assert "| in billions of USD | FY2024 | FY2023 | Change |" in text
    assert "| Revenue | 391.0 | 383.3 | +2.02% |" in text
    assert "| Diluted EPS | $6.08 | $6.13 | -0.82% |" in text
    assert "Revenue growth: +2.02% ($391.0B vs $383.3B)" in text
    assert "gross 46.2% · operating 31.5% · net 24.0%" in text
    assert "Debt/equity 1.87 · current ratio 0.87 · net debt $76.7B" in text
    assert "$201.45 → $225.00 (**+11.7%**)" in text
    assert "volatility 24.3% · maximum drawdown -8.40%" in text
    assert "High $232.10 (2026-10-14) · low $196.20 (2026-06-20)" in text
    # a balanced verdict: signals both ways, no certainty
    assert "### Verdict" in text
    assert "- High net margin (24.0%)" in text and "- High leverage: debt/equity 1.87" in text
    assert (
        "- Current ratio below 1 (0.87)" in text
        and "- Stock up 11.7% over the last 100 trading days" in text
    )
    assert "not a forecast" in text
    assert "Sources: Yahoo Finance (as of 2026-11-02 21:00 UTC)." in text
    assert "looked up “Apple” (via Yahoo Finance)" in text
    assert "the income statement, the balance sheet and the last 100 trading days say." in text
    assert "DEMO" not in text
    assert text.rstrip().endswith("not financial advice._")
    assert turns[2].finish == "stop" and turns[2].usage and turns[2].usage.completion_tokens > 100


async def test_should_i_buy_uses_the_quote_when_the_tool_is_there() -> None:
    conv = Conversation()
    turns = await conv.ask("Should I buy Apple?")
    assert [n for n, _ in called(turns[1])] == [
        "get_income_statement", "get_balance_sheet", "get_daily_stock_performance", "get_stock_quote",
    ]  # fmt: skip
    text = turns[-1].text
    assert "Price $225.00 (+1.21% today)." in text
    assert "Market cap $3.40T · P/E 37.0 · forward P/E 30.1." in text
    assert "52-week range $164.08 – $237.49 (price at 83.0% of the range)." in text
    assert "- Rich valuation: P/E 37.0" in text


async def test_tesla_balance_sheet() -> None:
    conv = Conversation()
    turns = await conv.ask("How is Tesla's balance sheet?")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Tesla"})]
    assert called(turns[1]) == [("get_balance_sheet", {"ticker": "TSLA"})]
    text = turns[2].text
    assert "## Tesla, Inc. (TSLA)" in text and "### Balance sheet" in text
    assert "| Total assets | 122.1 | 106.6 | +14.5% |" in text
    assert "| Total debt | 13.6 | 9.6 | +42.3% |" in text
    assert "Debt/equity 0.19 · current ratio 2.02 · net cash $2.52B" in text
    assert (
        "**What stands out**\n- ▲ Low leverage: debt/equity 0.19\n- ▲ Comfortable current ratio (2.02)"
        in text
    )
    assert "Income statement" not in text and "### Verdict" not in text
    assert "not financial advice" in text


async def test_msft_last_100_days_needs_no_lookup() -> None:
    conv = Conversation()
    turns = await conv.ask("Show me MSFT's last 100 days")
    assert len(turns) == 2
    assert called(turns[0]) == [("get_daily_stock_performance", {"ticker": "MSFT"})]
    text = turns[1].text
    assert text.startswith("## Microsoft Corporation (MSFT)")
    assert "### Last 100 trading days" in text
    assert "(**+11.7%**) over 100 trading days (2026-06-09 – 2026-10-30)" in text
    assert "Weekly closes: ▁▃▂▆█▇ ($201.00 – $231.00)" in text
    assert "Average daily volume 52.3M." in text


async def test_follow_up_uses_the_company_from_the_thread() -> None:
    conv = Conversation()
    await conv.ask("Show me MSFT's last 100 days")
    turns = await conv.ask("and its income statement?")
    assert called(turns[0]) == [("get_income_statement", {"ticker": "MSFT"})]
    assert (
        turns[1].text.startswith("## Microsoft Corporation (MSFT)")
        and "### Income statement" in turns[1].text
    )
    assert "| Revenue | 273.7 | 230.0 | +19.0% |" in turns[1].text


async def test_follow_up_finds_the_company_in_earlier_text_only() -> None:
    # A runtime that keeps only the text of earlier runs: the answer names the symbol.
    conv = Conversation()
    conv.items = [
        {"role": "user", "content": "Show me MSFT's last 100 days"},
        {"role": "assistant", "content": "## Microsoft Corporation (MSFT)\n\nFigures (USD)..."},
    ]
    turns = await conv.ask("What about the debt?")
    assert called(turns[0]) == [("get_balance_sheet", {"ticker": "MSFT"})]


async def test_a_follow_up_reads_only_the_recent_turns_of_a_long_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 11 (16): with 50,000 earlier messages, every turn re-parsed every earlier
    # question (about 5 s a turn). A follow-up refers to the recent conversation: the work
    # per turn must not grow with the thread.
    from assistant_core.backends.offline import plan

    parsed: list[str] = []
    real_parse, real_find = plan.parse_question, plan.find_targets

    def counting_parse(text: str) -> Any:
        parsed.append(text)
        return real_parse(text)

    def counting_find(text: str, **kwargs: Any) -> Any:
        parsed.append(text)
        return real_find(text, **kwargs)

    monkeypatch.setattr(plan, "parse_question", counting_parse)
    monkeypatch.setattr(plan, "find_targets", counting_find)
    chatter = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"Thanks, noted ({i})."}
        for i in range(50_000)
    ]
    conv = Conversation()
    conv.items = [{"role": "user", "content": "How is Tesla's balance sheet?"}, *chatter]
    turns = await conv.ask("and its income statement?")
    assert called(turns[0]) == []  # no company in the recent turns: it asks which one
    assert len(parsed) <= 3 * (plan.FOLLOW_UP_TURNS + 1)
    # Within the recent turns the company is still found.
    conv.items = [
        *chatter,
        {"role": "user", "content": "How is Tesla's balance sheet?"},
        {"role": "assistant", "content": "## Tesla, Inc. (TSLA) ..."},
        *chatter[:10],
    ]
    parsed.clear()
    turns = await conv.ask("and its income statement?")
    assert called(turns[0]) == [("get_income_statement", {"ticker": "TSLA"})]
    assert len(parsed) <= 3 * (plan.FOLLOW_UP_TURNS + 1)


async def test_follow_up_with_a_new_company_repeats_the_question() -> None:
    conv = Conversation()
    await conv.ask("How is Tesla's balance sheet?")
    turns = await conv.ask("What about Apple?")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Apple"})]
    assert called(turns[1]) == [("get_balance_sheet", {"ticker": "AAPL"})]


async def test_korean_should_i_buy_apple() -> None:
    conv = Conversation(tools=list(TUTORIAL_TOOLS))
    turns = await conv.ask("애플 주식 사도 될까?")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Apple Inc."})]
    assert [n for n, _ in called(turns[1])] == [
        "get_income_statement", "get_balance_sheet", "get_daily_stock_performance",
    ]  # fmt: skip
    text = turns[2].text
    # the name the user used, the ticker beside it; the English name only as the lookup query
    assert text.startswith("## 애플 (AAPL)")
    assert "**애플, 지금 사도 될까요?**" in text
    assert text.count("Apple Inc.") == 1 and "“Apple Inc.” 조회 결과" in text
    assert (
        "### 손익계산서" in text and "### 재무상태표" in text and "### 최근 100거래일 주가" in text
    )
    # Korean units: 억/조 with the currency word, the table's unit once in its corner
    assert "| 단위: 억 달러 | FY2024 | FY2023 | 증감 |" in text
    assert "| 매출액 | 3,910 | 3,833 | +2.02% |" in text
    assert "| 희석 EPS | 6.08달러 | 6.13달러 | -0.82% |" in text
    assert "매출 성장률: +2.02% (3,910억 달러 vs 3,833억 달러)" in text
    assert "순차입금 766.9억 달러" in text
    assert "종가 201.45달러 → 225.00달러 (**+11.7%**)" in text
    assert "일평균 거래량 5,230만 주" in text
    assert "주간 종가 추이: ▁▃▂▆█▇ (201.00 – 231.00달러)" in text
    assert not re.search(r"\d[KMBT]\b", text), "no English units in a Korean answer"
    assert "매출총이익률 46.2% · 영업이익률 31.5% · 순이익률 24.0%" in text
    assert "### 종합 의견" in text and "**긍정적 신호**" in text and "**부정적 신호**" in text
    assert "- 높은 부채 부담: 차입금/자본 1.87" in text
    assert "투자 권유가 아닙니다" in text
    assert "Revenue" not in text and "Verdict" not in text


async def test_korean_tesla_balance_sheet() -> None:
    conv = Conversation()
    turns = await conv.ask("테슬라 재무상태표 보여줘")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Tesla, Inc."})]
    assert called(turns[1]) == [("get_balance_sheet", {"ticker": "TSLA"})]
    text = turns[2].text
    assert text.startswith("## 테슬라 (TSLA)")
    assert "### 재무상태표" in text and "| 자산총계 | 1,221 | 1,066 | +14.5% |" in text
    assert "부채비율(차입금/자본) 0.19 · 유동비율 2.02 · 순현금 25.2억 달러" in text
    assert "- ▲ 차입금보다 현금이 많음 (순현금 25.2억 달러)" in text
    assert not re.search(r"\d[KMBT]\b", text)
    assert "데이터 출처: Yahoo Finance" in text


async def test_korean_follow_up() -> None:
    conv = Conversation()
    await conv.ask("애플 주식 사도 될까?")
    turns = await conv.ask("그럼 현금흐름은?")
    assert called(turns[0]) == [("get_cash_flow", {"ticker": "AAPL"})]
    text = turns[1].text
    # the follow-up doesn't name the company: its Korean name from the built-in table
    assert text.startswith("## 애플 (AAPL)")
    assert "### 현금흐름표" in text and "잉여현금흐름 (FY2024): 1,088억 달러." in text


@pytest.mark.parametrize("greeting", ["hello", "Hi!", "안녕", "what can you do?"])
async def test_help_message(greeting: str) -> None:
    conv = Conversation()
    turns = await conv.ask(greeting)
    assert len(turns) == 1 and turns[0].finish == "stop"
    text = turns[0].text
    if greeting == "안녕":
        assert text.startswith("안녕하세요!") and "*애플 주식 사도 될까?*" in text
    else:
        assert "offline analyst" in text
        assert "- *Should I buy Apple?*" in text and "- *How is Tesla's balance sheet?*" in text
        assert "- *Show me MSFT's last 100 days*" in text and "- *Compare AAPL and MSFT*" in text
        assert "*and its income statement?*" in text


async def test_help_lists_only_what_the_tools_can_do() -> None:
    conv = Conversation(tools=list(TUTORIAL_TOOLS))
    text = (await conv.ask("hello"))[0].text
    assert "Should I buy Apple?" in text and "Compare AAPL" not in text and "news" not in text


async def test_unhandled_question_gets_the_help() -> None:
    text = (await Conversation().ask("What's the weather in Seoul?"))[0].text
    assert "Things you can ask:" in text


async def test_question_without_a_company_asks_which() -> None:
    turns = await Conversation().ask("Show me the balance sheet")
    assert len(turns) == 1
    assert turns[0].text.startswith("Which company do you mean?")


async def test_unknown_company_is_looked_up_by_name() -> None:
    conv = Conversation()
    turns = await conv.ask("Should I buy Acme Robotics?")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Acme Robotics"})]
    assert called(turns[1])[0] == ("get_income_statement", {"ticker": "ACME"})
    text = turns[-1].text
    assert "## Acme Robotics Corp. (ACME)" in text
    assert "looked up “Acme Robotics” (via Yahoo Finance)" in text
    # ACME has no statements in the fabricated data: the failures are reported, the rest used
    assert "⚠ Income statement unavailable:" in text


async def test_unknown_company_not_found() -> None:
    turns = await Conversation().ask("Should I buy Zyxw Holdings?")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Zyxw Holdings"})]
    assert len(turns) == 2
    assert "couldn't find a ticker symbol for “Zyxw Holdings”" in turns[1].text
    assert "no ticker found" in turns[1].text


async def test_failed_lookup_of_a_known_company_falls_back_to_the_table() -> None:
    conv = Conversation()
    conv.handlers["get_ticker"] = lambda a: ToolResult.failure("search is rate-limited").to_model()
    turns = await conv.ask("How is Tesla's balance sheet?")
    assert called(turns[1]) == [("get_balance_sheet", {"ticker": "TSLA"})]
    assert "built-in table (the lookup failed: search is rate-limited)" in turns[-1].text


async def test_tool_errors_are_reported_and_the_rest_is_used() -> None:
    conv = Conversation(tools=list(TUTORIAL_TOOLS))
    conv.handlers["get_balance_sheet"] = lambda a: ToolResult.failure(
        "no data for AAPL — delisted or wrong symbol?"
    ).to_model()
    conv.handlers["get_daily_stock_performance"] = lambda a: "Traceback: boom | not json"
    turns = await conv.ask("Should I buy Apple?")
    text = turns[-1].text
    assert "⚠ Balance sheet unavailable: no data for AAPL — delisted or wrong symbol?" in text
    assert "⚠ Last 100 trading days unavailable: Traceback: boom \\| not json" in text
    assert "| Revenue | 391.0 | 383.3 | +2.02% |" in text  # the income statement still counts
    assert "### Verdict" in text and "High net margin" in text
    assert "not financial advice" in text


async def test_only_tools_in_the_request_are_called() -> None:
    conv = Conversation(tools=[_spec("get_balance_sheet")])
    turns = await conv.ask("Should I buy Apple?")
    # no get_ticker: the table's symbol; no income/performance tools: only the balance sheet
    assert called(turns[0]) == [("get_balance_sheet", {"ticker": "AAPL"})]
    text = turns[1].text
    assert "### Balance sheet" in text
    assert (
        "Not covered (no tool for it here): the income statement, the last 100 trading days."
        in text
    )
    names = {c["name"] for t in turns for c in t.calls}
    assert names == {"get_balance_sheet"}


async def test_no_tools_at_all() -> None:
    turns = await Conversation(tools=[]).ask("Should I buy Apple?")
    assert len(turns) == 1 and "no market-data tools" in turns[0].text


async def test_unknown_name_without_lookup_tool() -> None:
    turns = await Conversation(tools=[_spec("get_balance_sheet")]).ask(
        "How is Acme Robotics' balance sheet?"
    )
    assert len(turns) == 1
    assert "I don't know the ticker of “Acme Robotics”" in turns[0].text


async def test_test_tools_with_other_parameter_names() -> None:
    # A tool from a test: unfamiliar required parameter, bare-object output.
    spec = _spec("get_balance_sheet", "sym")
    conv = Conversation(tools=[spec])
    conv.handlers["get_balance_sheet"] = lambda a: json.dumps(
        {"statement": "balance", "period": "annual", "periods": PERIODS, "rows": BALANCE[a["sym"]]}
    )
    turns = await conv.ask("$TSLA balance sheet")
    assert called(turns[0]) == [("get_balance_sheet", {"sym": "TSLA"})]
    assert "| in billions | FY2024 | FY2023 | Change |" in turns[1].text  # no currency given
    assert "net cash 2.52B" in turns[1].text


async def test_sequential_tool_calls_when_parallel_is_off() -> None:
    conv = Conversation(tools=list(TUTORIAL_TOOLS), parallel=False)
    turns = await conv.ask("Should I buy Apple?")
    assert [len(t.calls) for t in turns] == [1, 1, 1, 1, 0]
    assert "| Revenue | 391.0 |" in turns[-1].text and "$201.45 → $225.00" in turns[-1].text


async def test_compare_two_companies() -> None:
    conv = Conversation()
    turns = await conv.ask("Compare AAPL and MSFT")
    assert called(turns[0]) == [("compare_stocks", {"tickers": ["AAPL", "MSFT"]})]
    text = turns[1].text
    assert "| AAPL | 201.45 | 225.00 | +11.7% | 24.3% | -8.40% |" in text
    assert text.startswith("## AAPL vs MSFT")
    assert "Best return: **AAPL** (+11.7%); lowest volatility: **MSFT** (19.8%)." in text


async def test_news_text_is_data() -> None:
    conv = Conversation()
    turns = await conv.ask("Latest news on AAPL")
    text = turns[-1].text
    title = inline("Apple | Q4 beats\nestimates [details](javascript:alert(1))")
    assert f"- {title} — Reuters, 2026-10-31 ([link](https://example.com/a))" in text
    assert "\\|" in title and "\\[details\\]" in title and "\n" not in title
    assert "- iPhone demand steady — Bloomberg, 2026-10-26" in text
    assert "(not a url)" not in text and "javascript:alert(1))" not in text.replace(title, "")


async def test_demo_data_is_labelled() -> None:
    conv = Conversation()
    conv.handlers["get_daily_stock_performance"] = lambda a: performance(a["ticker"], source="demo")
    text = (await conv.ask("Show me NVDA's last 100 days"))[-1].text
    assert text.startswith("> **DEMO DATA**")
    assert "Sources: DEMO data" in text


async def test_no_demo_data_banner_when_every_data_call_was_denied() -> None:
    """Issue 12: "DEMO DATA — these figures are synthetic" over an answer with no figures."""
    conv = Conversation()
    demo_lookup = ToolResult(
        data={"symbol": "AAPL", "name": "Apple Inc.", "alternatives": [], "lookup_source": "demo"},
        source="demo",
        symbol="AAPL",
    ).to_model()
    conv.handlers = {name: lambda a: DENIED for name in conv.handlers}
    conv.handlers["get_ticker"] = lambda a: demo_lookup
    text = (await conv.ask("Should I buy Apple?"))[-1].text
    assert "DEMO DATA" not in text and "denied" in text


async def test_recommendations_and_cash_flow() -> None:
    conv = Conversation()
    text = (await conv.ask("What do analysts recommend for AAPL, and its cash flow?"))[-1].text
    assert "### Cash flow" in text and "| Free cash flow | 108.8 | 99.6 | +9.26% |" in text
    assert "| 0m | 8 | 22 | 12 | 1 | 1 |" in text and "Consensus: **buy**." in text


async def test_compare_follow_up_adds_the_company_from_the_thread() -> None:
    conv = Conversation()
    await conv.ask("Should I buy Apple?")
    turns = await conv.ask("Compare it with MSFT")
    assert called(turns[0]) == [("compare_stocks", {"tickers": ["AAPL", "MSFT"]})]


async def test_follow_up_from_the_running_summary() -> None:
    # Truncation dropped the old turns; only the runtime's summary remembers the company.
    conv = Conversation()
    conv.items = [{"role": "system", "content": "Summary: the user asked about Tesla's stock."}]
    turns = await conv.ask([{"type": "text", "text": "and its debt?"}])  # type: ignore[arg-type]
    assert called(turns[0]) == [("get_balance_sheet", {"ticker": "TSLA"})]


def real_tools_conversation() -> tuple[Conversation, dict[str, str]]:
    """A conversation whose tools are the real investor tools on demo data; and the outputs
    they gave, by tool name."""
    from assistant_core.market import create_market
    from assistant_core.tools.investor import SPECS, build_investor_tools

    registry = build_investor_tools(create_market("demo"))
    outputs: dict[str, str] = {}

    def run_tool(name: str) -> Callable[[dict[str, Any]], Any]:
        async def call(args: dict[str, Any]) -> str:
            outputs[name] = (await registry.execute(name, json.dumps(args))).to_model()
            return outputs[name]

        return call

    conv = Conversation(tools=list(SPECS.values()), handlers={n: run_tool(n) for n in SPECS})
    return conv, outputs


async def test_with_the_real_investor_tools_on_demo_data() -> None:
    conv, outputs = real_tools_conversation()
    turns = await conv.ask("애플 주식 사도 될까?")
    assert called(turns[0]) == [("get_ticker", {"company_name": "Apple Inc."})]
    assert [n for n, _ in called(turns[1])] == [
        "get_income_statement", "get_balance_sheet", "get_daily_stock_performance", "get_stock_quote",
    ]  # fmt: skip
    text = turns[2].text
    assert text.startswith("> **DEMO 데이터**") and "데이터 출처: DEMO 데이터" in text
    income = json.loads(outputs["get_income_statement"])["data"]
    revenue = income["rows"]["Total Revenue"]
    growth = (revenue[0] / revenue[1] - 1) * 100
    assert f"매출 성장률: {numfmt.change(growth)}" in text
    perf = json.loads(outputs["get_daily_stock_performance"])["data"]
    assert f"(**{numfmt.change(perf['return_pct'])}**)" in text
    assert "### 종합 의견" in text and "투자 권유가 아닙니다" in text


async def test_korean_samsung_reads_in_won() -> None:
    """The issue's question: 조/억 with 원, no decimals on the won, the name the user used."""
    conv, outputs = real_tools_conversation()
    text = (await conv.ask("삼성전자 주식 사도 될까?"))[-1].text
    assert text.startswith("> **DEMO 데이터**") and "## 삼성전자 (005930.KS)" in text
    assert "**삼성전자, 지금 사도 될까요?**" in text
    assert text.count("Samsung Electronics Co., Ltd.") <= 1  # only as the lookup's query
    assert text.count("| 단위: 조 원 | FY2025 | FY2024 | 증감 |") == 2
    assert re.search(r"\| 매출액 \| \d+\.\d \| \d+\.\d \| [+-]\d+\.\d+% \|", text)
    assert re.search(r"\| 희석 EPS \| [\d,]+원 \| [\d,]+원 \|", text)
    assert re.search(r"매출 성장률: [+-][\d.]+% \([\d.]+조 원 vs [\d.]+조 원\)", text)
    assert re.search(r"종가 [\d,]+원 → [\d,]+원 \(\*\*[+-][\d.]+%\*\*\)", text)
    assert re.search(r"최고 [\d,]+원 \(\S+\) · 최저 [\d,]+원", text)
    assert re.search(r"일평균 거래량 [\d,.]+만 주", text)
    assert re.search(r"주간 종가 추이: \S+ \([\d,]+ – [\d,]+원\)", text)
    assert re.search(r"현재가 [\d,]+원 \(오늘 [+-]?[\d.]+%\)", text)
    assert re.search(r"시가총액 [\d,.]+조 원", text)
    assert re.search(r"52주 범위 [\d,]+ – [\d,]+원", text)
    assert not re.search(r"\d\.\d+ ?원", text), "the won has no minor unit"
    assert not re.search(r"\d[KMBT]\b", text), "no English units in a Korean answer"
    quote = json.loads(outputs["get_stock_quote"])["data"]
    assert f"현재가 {round(quote['price']):,}원" in text


async def test_english_samsung_keeps_b_t_and_the_won_precision() -> None:
    conv, _ = real_tools_conversation()
    text = (await conv.ask("Should I buy Samsung Electronics?"))[-1].text
    assert "## Samsung Electronics Co., Ltd. (005930.KS)" in text
    assert text.count("| in trillions of KRW | FY2025 | FY2024 | Change |") == 2
    assert re.search(r"Market cap ₩[\d.]+T", text)
    assert re.search(r"Price ₩[\d,]+ \([+-]?[\d.]+% today\)", text)
    assert re.search(r"52-week range ₩[\d,]+ – ₩[\d,]+ ", text)
    assert not re.search(r"₩[\d,]+\.\d+(?![\d]*[MBT])", text), "the won has no minor unit"


def test_every_korean_name_leads_back_to_its_company() -> None:
    from assistant_core.market.known_companies import KNOWN_COMPANIES, KOREAN_NAMES, lookup_known

    symbols = {c.symbol for c in KNOWN_COMPANIES}
    assert set(KOREAN_NAMES) <= symbols
    for symbol, name in KOREAN_NAMES.items():
        known = lookup_known(name)
        assert known is not None and known.symbol == symbol, name
    with_korean_alias = {
        c.symbol for c in KNOWN_COMPANIES if not all(a.isascii() for a in c.aliases)
    }
    assert with_korean_alias <= set(KOREAN_NAMES)


@pytest.mark.parametrize(
    ("question", "heading"),
    [
        ("하이닉스 재무상태표 보여줘", "## 하이닉스 (000660.KS)"),  # the user's own word
        ("SK하이닉스 재무상태표 보여줘", "## SK하이닉스 (000660.KS)"),  # as typed
        ("000660.KS 재무상태표 보여줘", "## SK하이닉스 (000660.KS)"),  # the table's name
        ("도요타 재무상태표 보여줘", "## 도요타 (7203.T)"),
        ("How is Toyota's balance sheet?", "## Toyota Motor Corporation (7203.T)"),
    ],
)
async def test_the_company_goes_by_the_readers_name(question: str, heading: str) -> None:
    conv, _ = real_tools_conversation()
    text = (await conv.ask(question))[-1].text
    assert heading in text
    if "도요타" in heading:  # the yen has no minor unit either
        assert "단위: 조 엔" in text or "단위: 억 엔" in text
        assert not re.search(r"\d\.\d+엔", text)


# -- streaming mechanics -----------------------------------------------------------------
async def test_text_streams_in_small_chunks_with_usage_last() -> None:
    conv = Conversation()
    conv.items.append({"role": "user", "content": "hello"})
    chunks = [
        c async for c in conv.backend.stream(ModelRequest("offline", "", conv.items, ALL_TOOLS))
    ]
    texts = [c for c in chunks if isinstance(c, TextDelta)]
    assert len(texts) > 20 and all(len(c.text.split()) <= 3 for c in texts)
    assert isinstance(chunks[-2], UsageChunk) and chunks[-1] == Finish("stop")
    assert chunks[-2].prompt_tokens > 0 and chunks[-2].completion_tokens > 0


def test_text_chunks_rejoin_exactly() -> None:
    sample = "## Title\n\n| a | b |\n|---|---:|\n- one  two\tthree\n\n  indented"
    assert "".join(text_chunks(sample)) == sample


async def test_tool_call_arguments_arrive_in_fragments() -> None:
    request = ModelRequest(
        "offline", "", [{"role": "user", "content": "Show me MSFT's last 100 days"}], ALL_TOOLS
    )
    chunks = [c async for c in OfflineAnalyst().stream(request)]
    deltas = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert (
        deltas[0].id
        and deltas[0].name == "get_daily_stock_performance"
        and deltas[0].arguments == ""
    )
    assert all(d.id is None and d.name is None for d in deltas[1:])
    assert "".join(d.arguments for d in deltas) == '{"ticker": "MSFT"}'
    assert chunks[-1] == Finish("tool_calls")


async def test_ids_are_deterministic_per_instance_and_unique_across_runs() -> None:
    request = ModelRequest(
        "offline", "", [{"role": "user", "content": "Show me MSFT's last 100 days"}], ALL_TOOLS
    )

    async def first_id(backend: OfflineAnalyst) -> str | None:
        async for chunk in backend.stream(request):
            if isinstance(chunk, ToolCallDelta):
                return chunk.id
        return None

    a, b = OfflineAnalyst(), OfflineAnalyst()
    assert await first_id(a) == await first_id(b)  # same input, fresh instances: same ids
    one = OfflineAnalyst()
    assert await first_id(one) != await first_id(one)  # two runs on one instance: distinct


async def test_max_output_tokens_cuts_the_answer() -> None:
    request = ModelRequest(
        "offline", "", [{"role": "user", "content": "hello"}], ALL_TOOLS, max_output_tokens=20
    )
    chunks = [c async for c in OfflineAnalyst().stream(request)]
    assert chunks[-1] == Finish("length")
    usage = chunks[-2]
    assert isinstance(usage, UsageChunk) and usage.completion_tokens <= 20


async def test_pace_spaces_the_chunks_and_can_be_cancelled() -> None:
    request = ModelRequest("offline", "", [{"role": "user", "content": "hello"}], ALL_TOOLS)
    started = time.perf_counter()
    got: list[str] = []

    async def consume() -> None:
        async for chunk in OfflineAnalyst(pace=0.02).stream(request):
            if isinstance(chunk, TextDelta):
                got.append(chunk.text)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 3 <= len(got) <= 10  # ~0.15 s / 0.02 s, and it stopped when cancelled
    assert time.perf_counter() - started < 1.0


# -- reading questions -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "intents", "symbols", "query"),
    [
        ("Should I buy Apple?", ["buy"], ["AAPL"], "Apple"),
        ("How is Tesla's balance sheet?", ["balance"], ["TSLA"], "Tesla"),
        ("Show me MSFT's last 100 days", ["performance"], ["MSFT"], None),
        ("and its income statement?", ["income"], [], None),
        ("애플 주식 사도 될까?", ["buy"], ["AAPL"], "Apple Inc."),
        ("테슬라 재무상태표 보여줘", ["balance"], ["TSLA"], "Tesla, Inc."),
        ("그럼 부채는?", ["balance"], [], None),
        ("테슬라 재무상태표 어때?", ["balance"], ["TSLA"], "Tesla, Inc."),
        ("삼성전자 실적 알려줘", ["income"], ["005930.KS"], "Samsung Electronics Co., Ltd."),
        ("Should I buy Acme Robotics?", ["buy"], [None], "Acme Robotics"),
        ("should i buy acme robotics?", ["buy"], [None], "acme robotics"),
        ("아크메 로보틱스 주식 사도 될까?", ["buy"], [None], "아크메 로보틱스"),
        ("Is Bank of Ireland a good investment?", ["buy"], [None], "Bank of Ireland"),
        ("What do analysts think of $PLUG?", ["recommendations"], ["PLUG"], None),
        ("Compare AAPL and MSFT", ["compare"], ["AAPL", "MSFT"], None),
        ("애플 목표가는?", ["recommendations"], ["AAPL"], "Apple Inc."),
        ("005930.KS 뉴스", ["news"], ["005930.KS"], None),
        ("revenue per employee at Apple", ["income"], ["AAPL"], "Apple"),
        ("Does Tesla have much cash?", ["balance"], ["TSLA"], "Tesla"),
        ("What's the outlook for Tesla?", ["buy"], ["TSLA"], "Tesla"),
        ("NVDA stock price chart", ["performance"], ["NVDA"], None),
        ("Should I buy Apple? It is a BIG decision", ["buy"], ["AAPL"], "Apple"),
        (
            "How did Rivian Automotive do over the last 100 days?",
            ["performance"],
            [None],
            "Rivian Automotive",
        ),
        ("hello", [], [], None),
        ("HELLO THERE FRIEND", [], [], None),
    ],
)
def test_parse_question(
    question: str, intents: list[str], symbols: list[str | None], query: str | None
) -> None:
    q = parse_question(question)
    assert q.intents == intents
    assert [t.symbol for t in q.targets] == symbols
    assert (q.targets[0].query if q.targets else None) == query


def test_language_follows_the_question() -> None:
    assert parse_question("애플 주식 사도 될까?").lang == "ko"
    assert parse_question("Should I buy 삼성전자?").lang == "ko"
    assert parse_question("Should I buy Apple?").lang == "en"


# -- never crashes: whatever the question, whatever the tools sent back ----------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)
_keys = st.sampled_from([
    "statement", "period", "periods", "rows", "days", "first_close", "return_pct", "high", "low",
    "weekly_closes", "price", "market_cap", "items", "stocks", "consensus", "symbol", "published",
    "max_drawdown_pct", "volatility_annualized_pct", "Total Revenue", "Total Debt", "errors",
])  # fmt: skip
_shaped = st.dictionaries(_keys, _json, max_size=8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    question=st.text(max_size=60)
    | st.sampled_from(["Should I buy Apple?", "애플 주식 사도 될까?", "Compare AAPL and MSFT"]),
    data=_shaped,
    envelope=st.sampled_from(["data", "error", "raw"]),
)
def test_never_crashes(question: str, data: dict[str, Any], envelope: str) -> None:
    def output(_args: dict[str, Any]) -> str:
        if envelope == "error":
            return json.dumps({"error": str(data)[:50]})
        if envelope == "raw":
            return json.dumps(data, default=str)
        return json.dumps({"data": data, "source": "demo", "as_of": "x"}, default=str)

    conv = Conversation(handlers={spec["function"]["name"]: output for spec in ALL_TOOLS})
    turns = asyncio.run(conv.ask(question))
    assert turns[-1].finish == "stop" and turns[-1].text.strip()
