"""Tool-call cards: one per call, live status, a body per display kind, approval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from tui.widgets import PriceChart, ToolCallCard

from .chat_helpers import (
    KV,
    LIST,
    PRICES,
    TABLE,
    chat_showing,
    make_call,
    new_thread,
    screen_output,
    screen_text,
    wait_for,
)


async def test_a_card_per_display_kind(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    compare = {
        "kind": "prices",
        "series": [
            {**PRICES["series"][0]},
            {**PRICES["series"][0], "symbol": "MSFT", "close": [300 + d for d in range(30)]},
        ],
    }
    thread.turn(
        "Tell me about Apple",
        "Done.",
        calls=[
            make_call(display=PRICES, source="demo"),
            make_call("get_income_statement", display=TABLE),
            make_call("search_news", display=LIST),
            make_call("get_quote", display=KV),
            make_call("compare_stocks", {"tickers": ["AAPL", "MSFT"]}, display=compare),
            make_call(
                "lookup_ticker",
                {"query": "apple"},
                output={"symbol": "AAPL", "rows": list(range(2000))},
            ),
            make_call(
                "get_balance_sheet",
                status="error",
                error="Yahoo returned nothing for ZZZZ",
                output={"error": "Yahoo returned nothing for ZZZZ"},
            ),
        ],
    )
    async with chat_showing(thread, size=(110, 120)) as (app, pilot, _):
        # Charts are drawn in a thread: the caption first, the figure when ready.
        await wait_for(pilot, lambda: all(chart.drawn for chart in app.query(PriceChart)))
        await pilot.pause()
        cards = list(app.query(ToolCallCard))
        assert [c.call.function.name for c in cards] == [
            "get_daily_stock_performance",
            "get_income_statement",
            "search_news",
            "get_quote",
            "compare_stocks",
            "lookup_ticker",
            "get_balance_sheet",
        ]
        screen = screen_text(app)
        assert 'get_daily_stock_performance(ticker="AAPL")  ✓ done · 120 ms · demo  DEMO' in screen
        charts = list(app.query(PriceChart))
        assert len(charts) == 2
        assert "AAPL" in screen and "▲" in screen and "▼" in screen  # close line, high/low marked
        assert any("┤" in line and "█" in line for line in screen.split("\n"))  # volume bars
        assert "━ AAPL" in screen and "━ MSFT" in screen  # compare: a line per symbol
        assert "in billions of USD   2024   2023   2022" in screen  # the unit, once
        assert "Total Revenue       391.0  383.3  394.3" in screen
        assert "• Apple ships — Reuters" in screen
        assert "Market cap  2.90T" in screen
        assert "✗ error" in screen and "Yahoo returned nothing for ZZZZ" in screen
        raw = cards[5]
        assert not raw.expanded  # plain JSON results start collapsed
        raw.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert raw.expanded
        assert "more characters" in screen_text(app)
        copied, label = app.chat.focused_copy() or ("", "")
        assert copied.startswith('lookup_ticker(query="apple")\n{') and label == "tool call"


async def test_cards_write_numbers_in_the_language_of_their_question(tmp_path: Path) -> None:
    """A Korean question's cards read 조 원 and 원 without decimals; the English question
    after it in the same thread gets B/T and ₩. Quotes stored without a currency in their
    display take it from the tool's output."""
    thread = new_thread(tmp_path)
    table = {
        "kind": "table",
        "title": "005930.KS balance sheet (annual)",
        "columns": ["2025-12-31", "2024-12-31"],
        "rows": [["Total Assets", 140_412_000_000_000, 147_530_000_000_000]],
        "unit": "KRW",
    }
    quote = {
        "kind": "kv",
        "title": "005930.KS quote",
        "items": [["Price", 246_178.39, "price"], ["Market cap", 669.7e12, "amount"]],
    }
    output = {"data": {}, "symbol": "005930.KS", "currency": "KRW"}
    for question in ("삼성전자 재무상태표 보여줘", "Show me Samsung's balance sheet"):
        thread.turn(
            question,
            "Done.",
            calls=[
                make_call("get_balance_sheet", display=table, output=output),
                make_call("get_stock_quote", display=quote, output=output),
            ],
        )
    async with chat_showing(thread, size=(100, 80)) as (app, pilot, _):
        cards = list(app.query(ToolCallCard))
        assert [c.locale for c in cards] == ["ko", "ko", "en", "en"]
        for card in cards[:2]:  # an earlier run's cards start collapsed
            card.toggle()
        await pilot.pause()
        screen = screen_text(app)
        # The Korean question's cards name their rows and keys in Korean too.
        assert "005930.KS 재무상태표 (연간)" in screen and "005930.KS 시세" in screen
        assert "단위: 조 원  2025-12-31  2024-12-31" in screen
        assert "자산총계          140.4       147.5" in screen
        assert "현재가    246,178원" in screen and "시가총액  669.7조 원" in screen
        assert "in trillions of KRW  2025-12-31  2024-12-31" in screen
        assert "Total Assets              140.4       147.5" in screen
        assert "Price       ₩246,178" in screen and "Market cap  ₩669.7T" in screen


async def test_hostile_tool_output_is_literal(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    evil = "[bold]x[/] [link=http://evil]y[/link] \x1b]0;pwned\x07\x1b[2J"
    thread.turn(
        "q",
        "a",
        calls=[
            make_call(
                "search_news",
                display={
                    "kind": "list",
                    "title": evil,
                    "items": [{"title": evil, "subtitle": evil, "url": evil}],
                },
            ),
            make_call("get_income_statement", display={**TABLE, "rows": [[evil, 1.0, 2.0, 3.0]]}),
            make_call("lookup", {"q": evil}, output={"note": evil}),
        ],
    )
    async with chat_showing(thread, size=(120, 60)) as (app, pilot, _):
        app.query(ToolCallCard).last().toggle()
        await pilot.pause()
        screen = screen_text(app)
        assert screen.count("[bold]x[/]") >= 4
        assert "[link=http://evil]y[/link]" in screen
        # JSON shows a control character as its escape text: visible, inert.
        assert "\\u001b]0;pwned\\u0007" in screen
        output = screen_output(app)
        assert "\x1b]" not in output and "\x1b[2J" not in output


async def test_live_card_status_from_step_events(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    async with chat_showing(thread, size=(100, 40)) as (app, pilot, events):
        chat = app.chat
        call = make_call(status="queued", duration_ms=None, source=None)
        arguments = call.function.arguments
        call.function.arguments = ""
        step = events.step([call])
        chat.handle_event(events.step_created(step))
        for piece in (arguments[:5], arguments[5:]):  # arguments stream in
            chat.handle_event(
                events.step_delta(
                    step,
                    [
                        {
                            "index": 0,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.function.name, "arguments": piece},
                        }
                    ],
                )
            )
        await pilot.pause()
        card = app.query_one(ToolCallCard)
        assert card.call.function.arguments == arguments
        assert "○ queued" in screen_text(app)
        call.status = "running"
        chat.handle_event(events.call_progress(step, call))
        await pilot.pause(0.25)
        assert "running" in screen_text(app)
        assert card.status == "running"
        done = make_call(display=PRICES, source="yahoo", duration_ms=842.0)
        done.id = call.id
        # The same step, completed (calls are keyed by step: servers may reuse a call id).
        finished = events.step([done], "completed")
        finished.id = step.id
        chat.handle_event(events.step_completed(finished))
        await pilot.pause()
        screen = screen_text(app)
        assert "✓ done · 842 ms · yahoo" in screen
        assert app.query_one(PriceChart)
        assert len(app.query(ToolCallCard)) == 1


async def test_approve_and_deny_post_decisions(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    async with chat_showing(thread, size=(100, 40)) as (app, pilot, events):
        chat = app.chat
        first = make_call(status="queued", duration_ms=None)
        second = make_call("get_quote", status="queued", duration_ms=None)
        step = events.step([first, second])
        chat.handle_event(events.step_created(step))
        chat.handle_event(events.requires_action([first, second], approval="ask"))
        await pilot.pause()
        assert "? awaiting approval" in screen_text(app)
        cards = list(app.query(ToolCallCard))
        await pilot.click("#approve")  # the first card's button
        await pilot.pause()
        cards[1].focus()
        await pilot.press("d")
        await pilot.pause()
        assert [(d.call_id, d.run_id, d.approved) for d in app.decisions] == [
            (first.id, events.run.id, True),
            (second.id, events.run.id, False),
        ]
        assert not app.query("#approve")  # buttons gone once decided
        screen = screen_text(app)
        assert "○ approved" in screen and "⊘ denied" in screen
        await pilot.press("a")  # a second decision is ignored
        assert len(app.decisions) == 2


async def test_cards_and_answers_in_history_order(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.user("first question")
    run = thread.run()
    thread.answer(run, "Let me look that up.")
    thread.tool_step(run, [make_call("get_quote", display=KV)])
    thread.answer(run, "Final answer one.")
    thread.user("second question")
    failed = thread.run(status="failed", last_error=None)
    thread.tool_step(
        failed,
        [make_call("get_income_statement", status="error", error="timeout")],
        status="failed",
    )
    from assistant_core.objects import LastError

    failed.last_error = LastError("server_error", "model went away")
    thread.store.update_run(failed)
    async with chat_showing(thread, size=(100, 60)) as (app, _pilot, _):
        screen = screen_text(app)
        order = [
            "first question",
            "Let me look that up.",
            "get_quote(",
            "Final answer one.",
            "second question",
            "get_income_statement(",
            "Run failed: model went away",
        ]
        positions = [screen.index(marker) for marker in order]
        assert positions == sorted(positions)
        json.dumps([c.call.id for c in app.query(ToolCallCard)])


async def test_chart_follows_the_theme(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.turn("q", "a", calls=[make_call(display=PRICES)])
    async with chat_showing(thread) as (app, pilot, _):
        assert app.theme == "textual-dark"
        chart = app.query_one(PriceChart)
        await wait_for(pilot, lambda: chart.drawn)

        def line_colors() -> set[str]:
            assert chart._figure is not None
            plain = chart._figure.plain
            return {
                str(span.style)
                for span in chart._figure.spans
                if "▄" in plain[span.start : span.end] or "▀" in plain[span.start : span.end]
            }

        dark = line_colors()
        app.theme = "textual-light"
        await pilot.pause()
        await wait_for(pilot, lambda: chart.drawn)
        assert line_colors() != dark


async def test_a_chart_shows_when_its_call_is_done_with_a_placeholder_until_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12.7: the chart's slot says what it waits for (never blank lines), and the
    chart comes with its call's progress, not when the whole step ends."""
    import threading

    from tui.widgets import chart as chart_module

    release = threading.Event()
    real_draw = chart_module.draw_figure

    def slow_draw(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(chart_module, "draw_figure", slow_draw)
    thread = new_thread(tmp_path)
    async with chat_showing(thread, size=(80, 40)) as (app, pilot, events):
        chat = app.chat
        call = make_call(status="running", duration_ms=None, display=None)
        slow = make_call("get_income_statement", status="running", duration_ms=None)
        step = events.step([call, slow])
        chat.handle_event(events.step_created(step))
        await pilot.pause()
        call.status, call.display, call.duration_ms = "completed", PRICES, 300.0
        call.function.output = '{"ok": 1}'
        chat.handle_event(events.call_progress(step, call))  # the step is still running
        await wait_for(pilot, lambda: app.query(PriceChart))
        await pilot.pause()
        screen = screen_text(app)
        assert "drawing the chart: AAPL, 30 days" in screen
        chart = app.query_one(PriceChart)
        caption = screen.split("\n")[chart.region.y]
        assert "AAPL" in caption and "%" in caption  # the caption: one line, price and change
        assert not chart.drawn
        release.set()
        await wait_for(pilot, lambda: chart.drawn)
        await pilot.pause()
        assert "drawing the chart" not in screen_text(app)


async def test_a_chart_beside_a_korean_answer_says_its_period_in_korean(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.turn("애플 주가 보여줘", "완료.", calls=[make_call(display=PRICES)])
    thread.turn("Show me Apple's prices", "Done.", calls=[make_call(display=PRICES)])
    async with chat_showing(thread, size=(100, 80)) as (app, pilot, _):
        for card in app.query(ToolCallCard):
            if not card.expanded:  # an earlier run's cards start collapsed
                card.toggle()
        await wait_for(pilot, lambda: len(app.query(PriceChart)) == 2)
        korean, english = app.query(PriceChart)
        assert (korean.figures.locale, english.figures.locale) == ("ko", "en")
        await wait_for(pilot, lambda: korean.drawn and english.drawn)
        await pilot.pause()
        screen = screen_text(app).split("\n")
        assert "30일간" in screen[korean.region.y] and "over" not in screen[korean.region.y]
        assert "over 30 days" in screen[english.region.y]
        # The slot while a chart is drawn, fitted to its width in cells (Hangul is wide).
        middle = 1 + (5 - 2) // 2
        wide = korean._placeholder(60, 5).plain.split("\n")
        assert "차트를 그리는 중: AAPL, 30일…" in wide[middle]
        narrow = korean._placeholder(24, 5).plain.split("\n")
        assert narrow[middle].startswith("┆ 차트를") and narrow[middle].endswith("…┆")
        assert all(cell_len(line) == width for line in wide for width in [60])
        assert all(cell_len(line) == 24 for line in narrow), narrow
