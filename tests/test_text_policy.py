"""The one text policy (assistant_core/text.py): its table, row by row, and one property
that runs the same invariants (tests/support/text_policy.py) against every output path —
the terminal and label rules, a streamed answer, the chat's Markdown renderer, the TUI's
labels and tables, the CLI's printers, and both exports."""

from __future__ import annotations

import argparse
import io
import json
import re
import tempfile
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from assistant_core.export import ThreadExport, read_json_export, to_json_text, to_markdown
from assistant_core.store import Store
from assistant_core.text import (
    TerminalStream,
    call_signature,
    call_summary,
    code_span,
    dumps_safe,
    escape_markdown,
    for_terminal,
    make_title,
    one_line,
)
from tests.support.text_policy import (
    VISIBLE_FORMAT,
    assert_survivors,
    assert_terminal_safe,
    hostile_export,
    mixed_text,
    store_thread,
    with_survivors,
)
from tui.cli.output import Output
from tui.cli.runs import list_runs, show_run
from tui.cli.threads import list_threads, show_thread
from tui.panels.fmt import args_summary, plain
from tui.render import markdown as md_render
from tui.render.safe_text import safe_text
from tui.widgets.tables import TableStyles, item_list, json_text, kv_table, statement_table


# ==============================================================================================
# The table, row by row
# ==============================================================================================
def test_the_format_characters_are_those_of_the_unicode_database() -> None:
    """Every Cf character but the joiners and the visible number signs is removed; the list
    in text.py is written out (no start-up cost) and checked here against the database."""
    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) != "Cf":
            continue
        shown = for_terminal(f"a{char}b")
        if char in VISIBLE_FORMAT or char in "\u200c\u200d":
            assert shown == f"a{char}b", f"U+{code:04X}"
        else:
            assert shown == "ab", f"U+{code:04X} is not removed"


@pytest.mark.parametrize(
    ("raw", "terminal", "label"),
    [
        # escape sequences: removed whole, wherever the text is shown
        ("a\x1b[2Jb", "ab", "ab"),
        ("a\x1b]0;title\x07b", "ab", "ab"),
        ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb", "alinkb"),
        ("a\x9b31mb\x9d0;t\x9c", "ab", "ab"),
        # other controls: a picture in text, left out of a label (a space between words)
        ("a\x07b\x00c\x7fd\x1b", "a␇b␀c␡d␛", "abcd"),
        ("a\x0bb\x0cc", "a␋b␌c", "a b c"),
        ("a\x85b", "a\ufffdb", "a b"),
        ("a\x9bb", "a", "a"),  # CSI "b": a whole sequence
        ("a\x91b", "a\ufffdb", "ab"),
        # line breaks
        ("a\r\nb\rc\u2028d\u2029e", "a\nb\nc\nd\ne", "a b c d e"),
        ("a\tb\n c", "a\tb\n c", "a b c"),
        # bidi controls and marks, invisible format characters: removed
        ("a\u202eb\u2066c\u2069\u200e\u200f\u061cd", "abcd", "abcd"),
        ("a\u200bb\u2060c\ufeffd\u00ade\u2062f", "abcdef", "abcdef"),
        ("x\U000e0041\U000e0042y", "xy", "xy"),
        # joiners: kept between visible characters only
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),
        ("می\u200cخواهم", "می\u200cخواهم", "می\u200cخواهم"),
        ("\u200da \u200db\u200d \u200d\u200dc", "a b c", "a b c"),
        ("🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d🌈"),
        # variation selectors: the first after a base character
        ("❤\ufe0f\ufe0f\ufe0f x \ufe0fy", "❤\ufe0f x y", "❤\ufe0f x y"),
        # subdivision flags keep their tags
        ("\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",) * 3,
        # lone surrogates, noncharacters: U+FFFD in text, left out of a label
        ("a\ud800b\ufdd0c\U0001fffe", "a\ufffdb\ufffdc\ufffd", "abc"),
        ("\ud83d\ude00", "😀", "😀"),  # a pair is the character it encodes
        # text is text
        ("삼성전자 주가 [bold]x[/bold] <b>", "삼성전자 주가 [bold]x[/bold] <b>", None),
    ],
)
def test_each_class_on_a_terminal_and_in_a_label(raw: str, terminal: str, label: str) -> None:
    assert for_terminal(raw) == terminal
    assert one_line(raw, None) == (terminal if label is None else label)
    assert for_terminal(terminal) == terminal  # idempotent


def test_labels_are_cut_with_an_ellipsis_and_titles_at_a_word() -> None:
    assert one_line("word " * 100) == ("word " * 60)[:299] + "…"
    assert one_line("x" * 10, 5) == "xxxx…"
    assert one_line("👨\u200d👩", 2) == "👨…"  # no joiner left before the ellipsis
    assert make_title("\n\n  삼성전자\t주가   어때?\x07\nmore") == "삼성전자 주가 어때?"
    assert make_title("\x1b]0;t\x07\u202e\n  Apple?") == "Apple?"


def test_markdown_and_json_targets() -> None:
    raw = "a\x1b[31m *b* \u202e\u200b c\x07 \U0001f3f4 [x](y)"
    assert escape_markdown(raw) == r"a \*b\*  c␇ 🏴 \[x\](y)"
    assert code_span("``x`` \x1b[2J") == "``` ``x``  ```"
    assert code_span("\u202e") == "` `"  # nothing visible left: still a code span
    for value in (raw, "\ud800 lone", "❤\ufe0f\ufe0f", "\U000e0041", "\u2028\x85\x7f"):
        text = dumps_safe({"k": value})
        assert_terminal_safe(text, "JSON")
        assert json.loads(text) == {"k": value}  # exact data


# ==============================================================================================
# One property, every output path
# ==============================================================================================
def everywhere(text: str) -> ThreadExport:
    """A thread with ``text`` wherever outside text can be: also as the model's name (a
    server lists it) and a tool's data source."""
    export = hostile_export(text)
    export.runs[0].model = text
    export.steps[0].tool_calls[0].source = text
    return export


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_text(markdown: str, parser: MarkdownIt) -> str:
    html = _Html()
    html.feed(parser.render(markdown))
    return "".join(html.text)


COMMONMARK = MarkdownIt("commonmark")
GFM = MarkdownIt("gfm-like")


def cli_output(action, store: Store, **args: object) -> str:  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    action(store, argparse.Namespace(**args), Output(out, err))
    return out.getvalue() + err.getvalue()


def cut_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_text, st.lists(st.integers(0, 10_000), max_size=8))
@example("\x1b]0;x\u200d\x1b[31m", [4])
@example("\U000e0001\ufe0f", [1])  # a selector after a removed astral character
@example("\U000e0100\ufe0f", [])
@example("\ufe0f\u200dred", [])  # a joiner after a selector that has no base
@example("\ufe0f\u200d\x1b[31mred\x1b[0m", [1])  # … arriving in pieces
@example("```\u2764\ufe0f```\ufe0f", [])  # a selector whose base was Markdown syntax
@example("\ud800\udfff", [])  # two halves of one pair, kept apart in a str
def test_every_output_path_keeps_the_policy(raw: str, cuts: list[int]) -> None:
    text = with_survivors(raw)

    # (a) terminal, (b) label, and the same text arriving in pieces
    shown = for_terminal(text)
    assert_terminal_safe(shown, "for_terminal")
    assert_survivors(shown, "for_terminal")
    label = one_line(text, None)
    assert_terminal_safe(label, "one_line", one_line=True)
    assert_survivors(label, "one_line")
    assert_terminal_safe(one_line(text), "one_line (cut)", one_line=True)
    stream = TerminalStream()
    streamed = "".join(stream.feed(piece) for piece in cut_at(text, cuts)) + stream.flush()
    assert streamed == shown

    # the TUI: Rich Text (never markup), the chat's Markdown, labels, tables
    rich = safe_text(text)
    assert rich.plain == shown and not rich.spans
    assert safe_text(text, inline=True).plain == label
    chat = md_render.render(shown, 1000, md_render.MarkdownStyles()).plain
    assert_terminal_safe(chat, "the chat's Markdown rendering")
    assert_survivors(chat, "the chat's Markdown rendering")
    assert_terminal_safe(md_render.render(shown, 30, md_render.MarkdownStyles()).plain, "chat")
    assert plain(text).plain == shown
    args = json.dumps({"q": text})
    for where, one in (
        ("call_signature", call_signature(text, args)),
        ("call_signature (whole)", call_signature(text, text, None)),
        ("args_summary", args_summary(text)),
        ("make_title", make_title(text)),
        ("call_summary", call_summary(everywhere(text).steps[0].tool_calls[0])),
    ):
        assert_terminal_safe(one, where, one_line=True)
    styles = TableStyles()
    for where, table in (
        ("kv_table", kv_table({"title": text, "items": [[text, text]]}, 80, styles)),
        ("item_list", item_list({"items": [{"title": text, "url": text}]}, 80, styles)),
        (
            "statement_table",
            statement_table({"columns": [text], "rows": [[text, text]]}, 80, styles),
        ),
        ("json_text", json_text(json.dumps({"t": text}))),
        ("json_text (not JSON)", json_text(text)),
    ):
        assert_terminal_safe(table.plain, where)
        assert not table.spans or all(s.style for s in table.spans)

    # exports: Markdown (raw, and as a viewer renders it), JSON (exact)
    export = everywhere(text)
    markdown = to_markdown(export)
    assert_terminal_safe(markdown, "the Markdown export")
    for parser in (COMMONMARK, GFM):
        rendered = html_text(markdown, parser)
        assert_terminal_safe(rendered, "the Markdown export, rendered")
        assert_survivors(rendered, "the Markdown export, rendered")
    json_export = to_json_text(export)
    assert_terminal_safe(json_export, "the JSON export")
    back = read_json_export(json_export)
    # Exact — but for two surrogate halves that form a pair: JSON reads "\ud800\udfff" as
    # the character they encode (the store never holds halves: it joins pairs on input).
    exact = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    assert [m.text for m in back.messages] == [exact, exact]
    assert back.tool_calls()[0].error == exact and back.runs[0].model == exact

    # the command line's printers, on a real store (which cannot hold a lone surrogate:
    # keeping them out of it is the runtime's job)
    storable = text.encode("utf-8", "replace").decode()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "t.db") as store:
        export = everywhere(storable)
        thread_id = store_thread(store, export)
        outputs = {
            "threads show": cli_output(show_thread, store, id=thread_id),
            "threads list": cli_output(list_threads, store, filter=None, limit=None, json=False),
            "runs list": cli_output(list_runs, store, thread=thread_id, json=False),
            "runs show": cli_output(show_run, store, run_id=export.runs[0].id, full=True),
            "threads list --json": cli_output(
                list_threads, store, filter=None, limit=None, json=True
            ),
        }
    for where, output in outputs.items():
        assert_terminal_safe(output, where)
    assert_survivors(outputs["threads show"], "threads show")


def test_every_path_shows_one_hostile_string_the_same_way() -> None:
    """The complaint of issue 13: the chat, the run panel, the CLI and the exports showed
    the same string differently. Now each is the terminal rule or the label rule."""
    raw = "x\x1b[2J\x07\x9b\u202e\u200bY\u2028z"
    assert for_terminal(raw) == "x␇\ufffdY\nz"
    assert one_line(raw, None) == "xY z"
    chat = md_render.render(for_terminal(raw), 60, md_render.MarkdownStyles()).plain
    assert chat == "x␇\ufffdY z"
    assert "x␇\ufffdY" in escape_markdown(raw)
    assert re.search(r"\\u202e", dumps_safe(raw))
