"""The offline analyst reads what a client's own functions return: the tutorial's
``json.dumps(DataFrame.to_json())`` of real yfinance frames (on the recorded Yahoo data),
text naming a ticker, and anything else without crashing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant_core.backends.base import ModelRequest
from assistant_core.backends.offline.client_outputs import read_client_output, symbol_in_text
from assistant_core.backends.offline.plan import plan_turn
from assistant_core.backends.offline.report import render
from tests.support.yahoo_replay import YahooReplay

TUTORIAL_NAMES = (
    "get_ticker",
    "get_income_statement",
    "get_balance_sheet",
    "get_daily_stock_performance",
)


@pytest.fixture
def aapl(fixtures_dir: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import yfinance

        return yfinance.Ticker("AAPL", session=YahooReplay(fixtures_dir).session())


def tutorial_output(frame: Any) -> str:
    return json.dumps(frame.to_json())


def test_income_statement_frame(aapl: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envelope, error = read_client_output(tutorial_output(aapl.income_stmt)) or ({}, "none")
    assert error is None and envelope["source"] == "client"
    data = envelope["data"]
    assert (data["statement"], data["period"]) == ("income", "annual")
    assert data["periods"][0] == "2024-09-30"
    assert data["rows"]["Total Revenue"][0] == 391_035_000_000


def test_balance_sheet_and_price_history_frames(aapl: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        balance = read_client_output(tutorial_output(aapl.balance_sheet))
        history = read_client_output(tutorial_output(aapl.history(period="100d")))
    assert balance is not None and balance[0]["data"]["statement"] == "balance"
    assert history is not None and history[1] is None
    perf = history[0]["data"]
    assert perf["days"] >= 2 and perf["start"] < perf["end"] and perf["last_close"] > 0


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("Apple Inc. (AAPL) Stock Price, News, Quote", "AAPL"),
        ("Microsoft trades on the NASDAQ: MSFT since 1986", "MSFT"),
        ("The ticker symbol of Salesforce is CRM.", "CRM"),
        ('"BRK-B"', "BRK-B"),
        ("Prices in (USD) only", None),
        ("no results", None),
    ],
)
def test_a_ticker_in_text(text: str, symbol: str | None) -> None:
    assert symbol_in_text(text) == symbol


@pytest.mark.parametrize(
    ("output", "says"),
    [
        (json.dumps(json.dumps({"Open": {"x": 1}, "Volume": {"x": 2}})), "price history"),
        (json.dumps(json.dumps({"1727654400000": {"Mystery Row": 1.0}})), "statement rows"),
        (json.dumps(json.dumps({"Close": {"1727654400000": 1.0}})), "at least 2"),
    ],
)
def test_tables_it_cannot_read_are_reported(output: str, says: str) -> None:
    envelope, error = read_client_output(output) or ({}, None)
    assert envelope == {} and error is not None and says in error


def tutorial_request(outputs: list[str]) -> ModelRequest:
    tools = [
        {
            "type": "function",
            "function": {
                "name": n,
                "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}}},
            },
        }
        for n in TUTORIAL_NAMES
    ]
    calls = [
        {"id": f"c{i}", "name": n, "arguments": '{"ticker": "AAPL"}'}
        for i, n in enumerate(TUTORIAL_NAMES[1:])
    ]
    return ModelRequest(
        model="offline",
        instructions="",
        tools=tools,
        input=[
            {"role": "user", "content": "Should I buy AAPL?"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            *[
                {"role": "tool", "tool_call_id": c["id"], "name": c["name"], "content": out}
                for c, out in zip(calls, outputs)
            ],
        ],
    )


def test_the_analyst_calls_the_tutorials_functions_by_name() -> None:
    request = tutorial_request([])
    request.input = request.input[:1]
    plan = plan_turn(request)
    assert sorted(c.name for c in plan.calls) == sorted(TUTORIAL_NAMES[1:])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=4)
    ),
    max_leaves=20,
)
outputs = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    json_values.map(lambda v: json.dumps(json.dumps(v))),
    st.dictionaries(
        st.sampled_from(["1727654400000", "1696032000000", "Close", "High"]),
        st.dictionaries(st.text(max_size=12), json_values, max_size=3),
        max_size=3,
    ).map(lambda v: json.dumps(json.dumps(v))),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(outputs, min_size=3, max_size=3))
def test_any_client_output_gives_a_report_never_a_crash(values: list[str]) -> None:
    plan = plan_turn(tutorial_request(values))
    text = render(plan)
    assert text.strip()
