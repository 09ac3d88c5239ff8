"""safe_text: untrusted text reaches the screen literally, with no terminal escapes."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.text import Text

from assistant_core.text import for_terminal as sanitize
from assistant_core.text import one_line as sanitize_inline
from assistant_core.text import truncate
from tests.support.text_policy import violations
from tui.render import markdown as md_render
from tui.render.markdown import MarkdownStyles
from tui.render.safe_text import safe_text

HOSTILE = (
    "[bold]x[/] [link=http://evil]click[/link] "
    "\x1b]0;pwned\x07 \x1b[2J "
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"
)
C0_EXCEPT_NL_TAB = {chr(c) for c in range(32)} - {"\n", "\t"}


def test_escape_sequences_are_removed_and_markup_kept_literally() -> None:
    clean = sanitize(HOSTILE)
    assert "\x1b" not in clean and "\x07" not in clean
    assert "pwned" not in clean  # an OSC's payload is not text to show
    assert "[bold]x[/]" in clean and "[link=http://evil]click[/link]" in clean
    assert "link" in clean.replace("[link=http://evil]click[/link]", "")  # OSC 8 text kept


def test_8bit_c1_sequences_and_stray_controls() -> None:
    clean = sanitize("a\x9b31mred\x9d0;title\x9c b\x00c\x7fd\x1bcE\x1b")
    # ESC c (reset) is a whole sequence and goes; a lone ESC is shown as ␛.
    assert clean == "ared b\u2400c\u2421dE\u241b"


def test_carriage_returns_and_bidi_overrides() -> None:
    assert sanitize("one\r\ntwo\rthree") == "one\ntwo\nthree"
    assert sanitize("abc\u202edef\u2066") == "abcdef"
    assert sanitize("tab\tkept\n") == "tab\tkept\n"


def test_inline_and_truncate() -> None:
    assert sanitize_inline("a\n\nb\tc") == "a b c"
    assert truncate("x" * 10, 4) == "xxxx… 6 more characters"
    assert truncate("short", 10) == "short"


def test_safe_text_is_literal() -> None:
    text = safe_text("[bold]x[/]", "red")
    assert isinstance(text, Text)
    assert text.plain == "[bold]x[/]"
    assert text.spans == []  # nothing parsed out of the brackets


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_sanitize_never_lets_controls_through(raw: str) -> None:
    clean = sanitize(raw)
    assert not (set(clean) & C0_EXCEPT_NL_TAB)
    assert not any(0x7F <= ord(c) <= 0x9F for c in clean)
    assert safe_text(raw).plain == clean


FRAGMENTS = st.sampled_from(
    [
        "\x1b",
        "]",
        "[",
        "0;",
        "2J",
        "\x07",
        "\\",
        "\n",
        "\n\n",
        "# ",
        "- ",
        "1. ",
        "```",
        "|",
        " | ",
        "---",
        "**",
        "`",
        "[x](http://e)",
        "<b>",
        "\x9b",
        "\t",
        "> ",
        "text",
        "~~",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40), st.integers(8, 120))
@example(["1. ", "1. ", "1. "], 8)  # lists nested deeper than the width has room for
@example(["> > > > ", "quoted"], 8)
@example(["`\ufe0f` x"], 40)  # a selector alone in a code span
def test_markdown_rendering_of_random_text(parts: list[str], width: int) -> None:
    source = sanitize("".join(parts))
    rendered = md_render.render(source, width, MarkdownStyles())
    assert "\x1b" not in rendered.plain
    assert not (set(rendered.plain) & C0_EXCEPT_NL_TAB)
    assert not violations(rendered.plain)  # nor a selector or joiner the syntax orphaned
    from rich.cells import cell_len

    assert all(
        cell_len(line) <= max(width, md_render.MIN_WIDTH) for line in rendered.plain.split("\n")
    )
