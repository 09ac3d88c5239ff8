"""The text policy as the tests state it, once, from the Unicode database rather than from
the implementation: what may reach a terminal, what a label is, what must survive.

Every output path is checked against these (tests/test_text_policy.py and the hostile
input tests), and the hostile text they are checked with is generated here too.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata

from hypothesis import strategies as st

from assistant_core.export import ThreadExport
from assistant_core.objects import (
    FunctionCall,
    LastError,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    new_id,
    now,
    text_content,
)
from assistant_core.store import Store

ZWJ, ZWNJ = "\u200d", "\u200c"
# Cf characters that are visible (prepended concatenation marks: Arabic number signs …).
VISIBLE_FORMAT = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2")
VISIBLE_FORMAT |= {"\U000110bd", "\U000110cd"}


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return (
        0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code in (0x180B, 0x180C, 0x180D, 0x180F)
    )


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


# A subdivision flag: WAVING BLACK FLAG, tag letters, CANCEL TAG.
_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


def _is_tag(char: str) -> bool:
    return 0xE0020 <= ord(char) <= 0xE007F


def _visible(char: str | None) -> bool:
    if char is None or char.isspace():
        return False
    category = unicodedata.category(char)
    return category not in ("Cc", "Cs") and (category != "Cf" or char in VISIBLE_FORMAT)


def violations(text: str, *, one_line: bool = False) -> list[str]:
    """Every character of ``text`` that the policy keeps away from a terminal, described:
    C0 controls (but newline and tab in multi-line text), DEL, C1, escape sequences'
    introducers, lone surrogates, noncharacters, line/paragraph separators, bidi and other
    invisible format characters (Cf) — except a joiner between two visible characters, the
    tags of a subdivision flag, and visible Cf — and variation selectors without a base.
    ``one_line``: no newline or tab either."""
    found: list[str] = []
    in_flags = {i for m in _FLAG.finditer(text) for i in range(m.start() + 1, m.end())}
    for match in _suspects().finditer(text):
        index, char = match.start(), match.group()
        before = text[index - 1] if index else None
        after = text[index + 1] if index + 1 < len(text) else None
        category = unicodedata.category(char)
        bad = False
        if char in "\n\t":
            bad = one_line
        elif category in ("Cc", "Cs", "Zl", "Zp") or _is_noncharacter(char):
            bad = True
        elif char in (ZWJ, ZWNJ):
            bad = not (_visible(before) and _visible(after))
        elif _is_tag(char):
            bad = index not in in_flags
        elif category == "Cf":
            bad = char not in VISIBLE_FORMAT
        elif _is_variation_selector(char):
            bad = not _visible(before) or _is_variation_selector(before or " ")
        if bad:
            found.append(f"U+{ord(char):04X} at {index}")
    return found


@functools.cache
def _suspects() -> re.Pattern[str]:
    """Every character :func:`violations` has to look at (from the Unicode database)."""
    chars = [
        chr(code)
        for code in range(0x110000)
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        or _is_variation_selector(chr(code))
        or _is_noncharacter(chr(code))
    ]
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


def assert_terminal_safe(text: str, where: str, *, one_line: bool = False) -> None:
    found = violations(text, one_line=one_line)
    assert not found, f"{where}: {found[:10]} in {text[:2000]!r}"


# -- hostile text ----------------------------------------------------------------------------
ESCAPES = [
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned-title\x07",  # OSC 0: window title, BEL-terminated
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 link, ST-terminated
    "\x1bP1$r\x1b\\",  # DCS
    "\x1b_apc\x1b\\",
    "\x1b[200~paste\x1b[201~",
    "\x9b2J",  # 8-bit CSI
    "\x9d0;c1-title\x9c",  # 8-bit OSC
    "\x1bc",  # reset
    "\x1b(B",
    "\x1b",  # lone
    "\x1b[",  # unfinished
    "\x1b]0;unterminated",
]
CONTROLS = ["\x00", "\x07", "\x08", "\r", "\r\n", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\x9b"]
BIDI = ["\u202e", "\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068"]
BIDI += ["\u2069", "\u200e", "\u200f", "\u061c"]
INVISIBLE = ["\u200b", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\ufeff", "\u00ad"]
INVISIBLE += ["\u180e", "\u206a", "\ufff9", "\U000e0001", "\U000e0041", "\U000e007f"]
INVISIBLE += [ZWJ, ZWNJ, ZWJ + ZWJ, "\ufe0f", "\ufe0f\ufe0f", "\U000e0100"]
SEPARATORS = ["\u2028", "\u2029"]
BROKEN = ["\ud800", "\udfff", "\ud83d", "\ufdd0", "\ufffe", "\U0001ffff", "\U0010ffff"]
ORDINARY = [
    "Should I buy Apple?",
    "삼성전자 주가 어때?",
    "테슬라 재무상태표",
    "👨\u200d👩\u200d👧",
    "❤\ufe0f",
    "🏳\ufe0f\u200d🌈",
    "👍🏽",
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
    "می\u200cخواهم",  # Persian, with ZWNJ
    "[bold red]markup[/]",
    "[link=https://evil.example]x[/link]",
    "# heading",
    "- item",
    "| a | b |",
    "**bold**",
    "`code`",
    "```",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "1.",
    " ",
    "\n",
    "\t",
]
# Pieces that must come out whole wherever they are shown (at the end of a text, after a
# line break, so that no unfinished escape sequence before them can take them in).
SURVIVORS = [
    "삼성전자 주가 어때",
    "👨\u200d👩\u200d👧",
    "❤\ufe0f",
    "🏳\ufe0f\u200d🌈",
    "می\u200cخواهم",
    "[bold red]markup[/]",
]

hostile_piece = st.sampled_from(ESCAPES + CONTROLS + BIDI + INVISIBLE + SEPARATORS + BROKEN)
any_text = st.text(st.characters(codec="utf-8"), max_size=20)
mixed_text = st.lists(
    st.one_of(hostile_piece, st.sampled_from(ORDINARY), any_text), max_size=16
).map("".join)


def with_survivors(text: str) -> str:
    return text + "\n" + " ".join(SURVIVORS)


def assert_survivors(shown: str, where: str) -> None:
    for piece in SURVIVORS:
        assert piece in shown, f"{where}: {piece!r} did not survive in {shown[-500:]!r}"


# -- a thread made of hostile text -------------------------------------------------------------
def hostile_export(text: str, *, answer: bool = True) -> ThreadExport:
    """A thread in which ``text`` is everywhere a user, a model, a tool or the web can put
    text (the model name and error codes are the app's own and stay plain)."""
    stamp = now()
    thread = Thread(
        id=new_id("thread"), created_at=stamp, title=text, updated_at=stamp, summary=text
    )
    run = Run(
        id=new_id("run"),
        created_at=stamp,
        thread_id=thread.id,
        assistant_id="asst_x",
        model="gpt-test",
        status="failed",
        last_error=LastError("server_error", text),
        notes=[{"kind": "repeated_call", "message": text}],
    )
    call = ToolCall(
        id=new_id("call"),
        function=FunctionCall(name=text or "f", arguments=text, output=text),
        status="error",
        is_error=True,
        error=text,
        source="yahoo",
    )
    good = ToolCall(
        id=new_id("call"),
        function=FunctionCall(
            name="get_ticker",
            arguments=json.dumps({"company_name": text}),
            output=json.dumps({"data": text}),
        ),
        status="completed",
    )
    step = RunStep(
        id=new_id("step"),
        created_at=stamp,
        run_id=run.id,
        thread_id=thread.id,
        assistant_id="asst_x",
        type="tool_calls",
        status="completed",
        tool_calls=[call, good],
    )
    messages = [
        Message(
            id=new_id("message"),
            created_at=stamp,
            thread_id=thread.id,
            role="user",
            content=text_content(text),
        ),
    ]
    if answer:
        messages.append(
            Message(
                id=new_id("message"),
                created_at=stamp,
                thread_id=thread.id,
                role="assistant",
                content=text_content(text),
                run_id=run.id,
                status="incomplete",
            )
        )
    return ThreadExport(
        thread=thread, messages=messages, runs=[run], steps=[step], exported_at=stamp
    )


def store_thread(store: Store, export: ThreadExport) -> str:
    """Write ``export``'s objects into ``store`` as the runtime would have; the thread id."""
    thread = store.create_thread(export.thread.title)
    for run in export.runs:
        run.thread_id = thread.id
    for message in export.messages:
        store.add_message(thread.id, message.role, message.text, run_id=message.run_id)
    for run in export.runs:
        store.create_run(run)
    for step in export.steps:
        step.thread_id = thread.id
        store.create_step(step)
    return thread.id
