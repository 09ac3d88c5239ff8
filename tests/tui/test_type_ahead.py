"""What is typed before the prompt exists: kept in order (``TypeAhead``), and what the
terminal had cooked before the app took it read as it was typed (``cooked_events``)."""

from __future__ import annotations

from textual import events

from tui.terminal_driver import cooked_events
from tui.type_ahead import TypeAhead


def typed(*inputs: events.Key | events.Paste) -> TypeAhead:
    ahead = TypeAhead()
    for event in inputs:
        ahead.take(event)
    return ahead


def key(name: str, character: str | None = None) -> events.Key:
    return events.Key(name, character)


def test_text_enter_and_what_follows_are_kept_apart() -> None:
    ahead = typed(
        key("h", "h"),
        key("i", "i"),
        key("shift+enter"),
        events.Paste("there"),
        key("enter", "\r"),
        key("n", "n"),
        key("x", "x"),
        key("backspace"),
        key("enter", "\r"),  # a second question is not sent at start-up
    )
    assert (ahead.text, ahead.send, ahead.after) == ("hi\nthere", True, "n")


def test_enter_on_nothing_sends_nothing_and_other_keys_are_left_alone() -> None:
    ahead = TypeAhead()
    assert ahead.take(key("enter", "\r"))
    assert not ahead.send
    assert not ahead.take(key("ctrl+q"))
    assert not ahead.take(key("down"))
    assert ahead.text == ""


def describe(data: bytes) -> list[tuple[str, str]]:
    return [
        ("paste", event.text) if isinstance(event, events.Paste) else ("key", event.key)
        for event in cooked_events(data)
    ]


def test_a_cooked_line_is_text_then_enter_then_the_rest() -> None:
    assert describe(b"Should I buy Apple?\nnext\none") == [
        ("paste", "Should I buy Apple?"),
        ("key", "enter"),
        ("paste", "next\none"),
    ]
    assert describe(b"no enter yet") == [("paste", "no enter yet")]
    assert describe(b"\n") == [("key", "enter")]
    assert describe(b"") == []


def test_cooked_input_keeps_text_only() -> None:
    # Arrows, function keys, Alt+letter, Ctrl+letters and a stray carriage return typed
    # before the start are not text; UTF-8 (and broken UTF-8) is.
    data = "\x1b[A\x1bOP\x1bx삼성\x01\x7f전자\r".encode() + b"\xff"
    assert describe(data) == [("paste", "삼성전자"), ("key", "enter"), ("paste", "\ufffd")]
