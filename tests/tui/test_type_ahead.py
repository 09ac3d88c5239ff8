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
    # The second Enter is a new line in what waits for the next question.
    assert (ahead.text, ahead.sent, ahead.after) == ("hi\nthere", True, "n\n")


def test_enter_on_nothing_sends_nothing_and_other_keys_are_left_alone() -> None:
    ahead = TypeAhead()
    assert ahead.take(key("enter", "\r"))
    assert not ahead.sent
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
    assert describe(b"\n") == []  # Enter on nothing: nothing to send
    assert describe(b"") == []


def test_cooked_input_keeps_text_only() -> None:
    # Arrows, function keys, Ctrl+letters and a terminal's replies typed before the start are
    # not text; UTF-8 (and broken UTF-8) is, and so is a letter after a lone Escape.
    data = "\x1b[A\x1bOP\x1bx삼성\x01\x7f전자\r".encode() + b"\xff"
    assert describe(data) == [("paste", "x삼성전자"), ("key", "enter"), ("paste", "\ufffd")]
    for reply in (b"\x1b]11;rgb:0000/0000/0000\x07", b"\x1b]11;rgb:0/0/0\x1b\\", b"\x1bP1$r\x1b\\"):
        assert describe(reply + b"abc") == [("paste", "abc")], reply


def test_a_line_end_is_never_swallowed_and_blank_lines_send_nothing() -> None:
    assert describe(b"hi\x1b\n") == [("paste", "hi"), ("key", "enter")]
    assert describe(b"\x1bhello") == [("paste", "hello")]
    # Enter pressed on nothing first, then a question: the question is what is sent.
    assert describe(b"\n  \nhello\n") == [("paste", "hello"), ("key", "enter")]
