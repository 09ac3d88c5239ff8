"""The Markdown export is inert in any CommonMark/GFM renderer, whatever the answers say
(issue 11, item 1): no raw HTML, no script link, no image a viewer would load — and an
ordinary answer is still Markdown (headings, tables, lists, code, links).

"Any renderer" is played by markdown-it in CommonMark mode and in GFM-like mode (tables,
strikethrough, bare-URL links), both with raw HTML on and with link validation off, as in
renderers that pass every URL through.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from assistant_core.export import to_markdown
from assistant_core.inert_markdown import inert_markdown
from tests.support.text_policy import assert_terminal_safe

from .test_hostile_input import hostile_export


def permissive(preset: str) -> MarkdownIt:
    parser = MarkdownIt(preset)
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser


RENDERERS = {"commonmark": permissive("commonmark"), "gfm-like": permissive("gfm-like")}

# What Markdown itself makes; any other element came from raw HTML.
MARKDOWN_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote"}
MARKDOWN_TAGS |= {"pre", "code", "em", "strong", "s", "a", "hr", "br"}
MARKDOWN_TAGS |= {"table", "thead", "tbody", "tr", "th", "td"}
MARKDOWN_ATTRIBUTES = {("a", "href"), ("code", "class"), ("ol", "start")}
MARKDOWN_ATTRIBUTES |= {("th", "style"), ("td", "style")}
SAFE_SCHEMES = {"http", "https", "mailto"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(html: str) -> _Elements:
    parsed = _Elements()
    parsed.feed(html)
    return parsed


def scheme(url: str) -> str | None:
    """The scheme a browser would see: leading blanks and controls stripped, tabs and
    newlines removed (WHATWG URL parsing), entities already decoded by the HTML parser."""
    cleaned = re.sub(r"[\t\n\r]", "", url.lstrip("".join(map(chr, range(0x21)))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else None


def assert_inert(markdown: str) -> None:
    assert_terminal_safe(markdown, "the Markdown export (cat)")
    for name, renderer in RENDERERS.items():
        html = renderer.render(markdown)
        found = elements(html)
        raw = set(found.tags) - MARKDOWN_TAGS
        assert not raw, f"{name}: raw HTML {raw} survived:\n{html}"
        for tag, attribute, value in found.attributes:
            assert (tag, attribute) in MARKDOWN_ATTRIBUTES, f"{name}: <{tag} {attribute}>"
            if attribute == "href":
                assert scheme(value) in SAFE_SCHEMES | {None}, f"{name}: href {value!r}"


# -- hostile Markdown ------------------------------------------------------------------------
CONTAINERS = ["- ", "* ", "+ ", "1. ", "10) ", "> ", "  ", "    ", "\t", "- > ", "> - "]
FENCES = ["```", "~~~", "````", "```x`", "  ```", "   ~~~ js", "```py", "``", "`"]
HTML = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<script>",
    "</script>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href=jav&#x61;script:alert(1)>x</a>",
    "<svg/onload=alert(1)>",
    "<style>*{}</style>",
    "<!-- c -->",
    "<div>",
    "</div>",
    "<textarea>",
    "<?php x ?>",
    "<![CDATA[x]]>",
    "<details open ontoggle=alert(1)>",
    "<b",
    "<",
    ">",
    "&lt;script&gt;",
    "&#60;script&#62;",
    "&#x3C;img src=x onerror=1&#x3E;",
]
LINKS = [
    "[x](javascript:alert(1))",
    "[x](jav&#x61;script:alert(1))",
    "[x](&#x6a;avascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](java\\script:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox)",
    "[x](file:///etc/passwd)",
    '[x](https://ok.example/?a=1&b=2 "title")',
    "[x][r]",
    "[r]",
    "[r]: javascript:alert(1)",
    "[r]: jav&#x61;script:alert(1)",
    "[r]: https://ok.example",
    "<javascript:alert(1)>",
    "<https://ok.example>",
    "<mailto:a@b.example>",
    "![i](https://evil.example/p.png)",
    "![i](javascript:alert(1))",
    "![i][r]",
    "[![i](https://evil.example/p.png)](javascript:x)",
    "www.evil.example",
    "https://x.example",
    "a@b.example",
    "[x](#anchor)",
    "[x](/relative/path)",
]
OTHER = ["\n", "\n\n", " ", "text", "**", "*", "_", "|", "| a | b |", "|---|---|", "#", "---"]
OTHER += ["\\", "(", ")", "[", "]", "!", ":", "&", "&amp;", "\u202e", "\x1b[2J", "한국어"]

hostile_markdown = st.lists(
    st.sampled_from(CONTAINERS + FENCES + HTML + LINKS + OTHER), max_size=30
).map("".join)

ISSUE_EXAMPLE = "- item\n  ```\n<img src=x onerror=alert(1)>\n<script>alert(1)</script>"


def test_the_reported_answer_is_inert() -> None:
    """Issue 11's example: CommonMark closes the indented fence when the list item ends,
    so the HTML after it was live in the old export."""
    assert_inert(to_markdown(hostile_export(ISSUE_EXAMPLE)))
    assert_inert(to_markdown(hostile_export("[x](javascript:alert(1)) [y](jav&#x61;script:y)")))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_markdown)
@example(ISSUE_EXAMPLE)
@example("> ```\n> <script>alert(1)</script>\n\n<script>alert(2)</script>")
@example("1. ```\n   x\n<img src=x onerror=1>")
@example("[x][r]\n\n[r]: jav&#x61;script:alert(1)")
@example("| a |\n|---|\n| <img src=x onerror=1> |")
def test_any_answer_exports_inert(answer: str) -> None:
    assert_inert(to_markdown(hostile_export(answer)))
    assert_inert(inert_markdown(answer))


# -- ordinary answers stay Markdown ----------------------------------------------------------
words = st.lists(
    st.sampled_from(["Apple", "revenue", "391.0B", "up", "5%", "삼성전자", "net_income", "👍"]),
    min_size=1,
    max_size=5,
).map(" ".join)
inline = st.one_of(
    words,
    words.map(lambda w: f"**{w}**"),
    words.map(lambda w: f"*{w}*"),
    words.map(lambda w: f"`{w}`"),
    words.map(lambda w: f"[{w}](https://finance.example/q?s=AAPL&x=1)"),
)
paragraph = st.lists(inline, min_size=1, max_size=4).map(" ".join)
blocks = st.one_of(
    paragraph,
    st.tuples(st.integers(1, 3), words).map(lambda t: f"{'#' * t[0]} {t[1]}"),
    st.lists(paragraph, min_size=1, max_size=4).map(lambda ps: "\n".join(f"- {p}" for p in ps)),
    st.lists(paragraph, min_size=1, max_size=4).map(
        lambda ps: "\n".join(f"{i}. {p}" for i, p in enumerate(ps, 1))
    ),
    st.lists(st.tuples(words, words), min_size=1, max_size=3).map(
        lambda rows: (
            "| Metric | Value |\n|:--|--:|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
        )
    ),
    words.map(lambda w: f"```python\nprint('{w}')\nx = [1, 2] < 3\n```"),
    paragraph.map(lambda p: f"> {p}"),
)
ordinary_answer = st.lists(blocks, min_size=1, max_size=6).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(ordinary_answer)
@example(
    "## Verdict\n\n**Hold.** Revenue 391.0B\n\n- growth\n- margins\n\n| a | b |\n|--|--|\n| 1 | 2 |"
)
def test_ordinary_answers_keep_their_markdown(answer: str) -> None:
    """Not "escape everything": an ordinary answer renders exactly as it did."""
    parser = MarkdownIt("gfm-like")
    assert parser.render(inert_markdown(answer)) == parser.render(answer)
    assert_inert(inert_markdown(answer))
