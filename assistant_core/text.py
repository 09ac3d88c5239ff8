"""The one policy for text the app did not write: model output, tool output, web results,
what the user typed, exception messages. Such text is data. Whatever it contains, it must
not act on the terminal it is shown in (move the cursor, retitle the window, plant a link),
must not change how the text around it reads (bidi reordering, invisible characters), and
must not be read as markup (Rich ``[bold]``, Markdown, HTML) where it is shown.

Stored text is never changed: the rules apply where text is *shown* or *exported*.

The characters concerned are defined once, below (``_ESCAPE_SEQUENCE`` and the sets after it).
What each target does with them ("picture": the Unicode Control Picture, ␛ ␇ ␀ ␡):

| class                                            | terminal    | label   | Markdown  | JSON     |
|--------------------------------------------------|-------------|---------|-----------|----------|
| escape sequences: CSI, OSC, DCS, SOS, PM, APC,   | removed     | removed | removed   | \\u escapes |
|   other ESC sequences; 7-bit or 8-bit introducer |             |         |           |          |
| lone ESC, other C0 but newline and tab, DEL      | picture     | removed*| picture   | \\u escape  |
| CR, CRLF; U+2028, U+2029                         | line break  | space   | line break| kept / \\u  |
| newline, tab                                     | kept        | space   | kept      | kept     |
| C1 (U+0080–U+009F) outside a sequence            | U+FFFD      | removed*| U+FFFD    | \\u escape  |
| bidi embeddings, overrides, isolates, marks      | removed     | removed | removed   | \\u escape  |
|   (U+202A–E, U+2066–9, U+200E/F, U+061C)         |             |         |           |          |
| invisible format characters, Unicode Cf: ZWSP,   | removed     | removed | removed   | \\u escape  |
|   word joiner, BOM, soft hyphen, tags, …         |             |         |           |          |
| ZWJ, ZWNJ between two visible characters         | kept        | kept    | kept      | \\u escape  |
| ZWJ, ZWNJ anywhere else                          | removed     | removed | removed   | \\u escape  |
| subdivision flags (🏴 + tags + cancel tag)        | kept        | kept    | kept      | \\u escapes |
| variation selector after a base character        | kept        | kept    | kept      | \\u escape  |
| variation selector after another one, or alone   | removed     | removed | removed   | \\u escape  |
| lone surrogates, noncharacters                   | U+FFFD      | removed | U+FFFD    | \\u escape  |
| (a surrogate pair is the character it encodes)   |             |         |           |          |
| Rich markup ``[bold]``                           | literal     | literal | escaped   | kept     |
| Markdown, HTML                                   | laid out /  | literal | escaped / | kept     |
|                                                  | as text     |         | rebuilt   |          |

(*) a space where the character separates words (VT, FF, FS–US, NEL).

Text (terminal): the TUI draws it as a Rich ``Text`` or Textual ``Content``, never as
markup; the chat lays an answer's Markdown out from markdown-it's tokens and shows HTML as
text. Markdown export: text from users, tools and the web is escaped; an answer's own
Markdown is rebuilt from its tokens (``assistant_core.inert_markdown``). A label is the
terminal rule, then whitespace runs as one space, cut with an ellipsis.

Why these choices:

* Escape sequences are instructions to the terminal, not text: their payload (an OSC's
  window title, a CSI's parameters) is not meant to be read, so the whole sequence goes.
* Any other control character is shown as its Unicode Control Picture, so it is obvious
  that something odd was in the text; C1 controls have no picture and are shown as U+FFFD,
  which is what a terminal shows for the stray byte a C1 control usually is. A label
  (a title, a card header, a one-line summary) leaves them out instead: it summarises,
  and the text itself, where it is shown in full, still has the pictures.
* Bidi controls and invisible format characters have no visible form; in a terminal they
  do nothing useful (terminals do not apply bidi) and elsewhere (a browser showing the
  export) they reorder or hide text. So they are removed, everywhere text is shown.
* Zero-width (non-)joiners are part of emoji sequences and of Indic and Persian words:
  between two visible characters they stay; anywhere else (leading, trailing, doubled,
  next to a space) they can only hide something, and go. Subdivision flags are emoji tag
  sequences and keep their tags; tags anywhere else are invisible text and go.
* A variation selector picks the presentation of the character before it (❤️): one is
  kept; a run of them, or one with no base, carries invisible data and goes.
* Lone surrogates and noncharacters cannot be written as UTF-8 (or must not be exchanged):
  U+FFFD, the replacement character, marks where they were.
* JSON is data and must read back exactly: it keeps every character, writing the ones
  above as ``\\uXXXX`` escapes so that ``cat`` of the file is as inert as the rest.
* Korean, emoji, CJK, accents, private-use and not-yet-assigned characters are text and
  pass untouched.

Targets, as functions:

* :func:`for_terminal` — (a) a terminal cell / multi-line text in the TUI or printed by the
  CLI. The TUI puts the result in a Rich ``Text`` or Textual ``Content`` (never markup).
  :class:`TerminalStream` applies the same rule to text that arrives in pieces.
* :func:`one_line` — (b) a one-line label (thread titles, card headers, run-panel lines,
  CLI one-liners): the terminal rule, then every run of whitespace as one space, cut to a
  length with an ellipsis. :func:`make_title` and :func:`call_signature` build on it.
* :func:`escape_markdown` / :func:`code_span` — (c) text from users, tools and the web in a
  Markdown export: renders as itself, adds no structure. An answer's own Markdown is kept
  as Markdown but rebuilt from markdown-it's tokens (``assistant_core.inert_markdown``):
  raw HTML becomes text, links other than http(s), mailto and relative ones are shown
  as text, images become links, and every text leaf is escaped.
* :func:`dumps_safe` — (d) JSON: exact, with the characters above as ``\\u`` escapes.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .objects import ToolCall

# -- the class, defined once -------------------------------------------------------------
# ECMA-48 escape sequences, with 7-bit (ESC …) and 8-bit (C1) introducers:
#   OSC / DCS / SOS / PM / APC: a string ended by BEL or ST (ESC \ or U+009C). Any other C1
#     control ends it too (a terminal would abort the string there), which also keeps the
#     scan linear on runs of introducers.
#   CSI: parameter bytes, intermediate bytes, one final byte.
#   Any other ESC sequence: intermediate bytes, one final byte (ESC c, ESC 7, ESC ( B …).
_ESCAPE_SEQUENCE = (
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x80-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
#: Zero-width non-joiner and joiner: kept only between two visible characters.
JOINERS = "\u200c\u200d"
# Characters outside the Basic Multilingual Plane are written apart: a character class that
# mixes them with BMP ranges is about ten times slower to search in ``re`` (measured), and
# the text of an answer is searched at every redraw of the chat.
_VARIATION_SELECTORS = "\u180b-\u180d\u180f\ufe00-\ufe0f"
_ASTRAL_VARIATION_SELECTORS = "\U000e0100-\U000e01ef"
# Unicode category Cf (format characters) but the joiners and the prepended concatenation
# marks (U+0600–0605, U+06DD, U+070F, U+0890–0891, U+08E2, U+110BD, U+110CD: visible
# number signs). Listed rather than computed: scanning the Unicode database at import would
# cost start-up time; tests/test_text_policy.py checks the list against it.
_FORMAT = (
    "\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
_ASTRAL_FORMAT = (
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff"  # and U+nFFFE, U+nFFFF in every plane
_SURROGATES = "\ud800-\udfff"
_SEPARATORS = "\u2028\u2029"
# Every character of the BMP a rule applies to (the joiners and variation selectors are
# looked at in context). Newline and tab are not in it: they are text in multi-line places.
_NOT_CONTROLS = (
    f"{_SEPARATORS}{_FORMAT}{JOINERS}{_VARIATION_SELECTORS}{_SURROGATES}{_NONCHARACTERS}"
)
_CHARACTERS = f"\x00-\x08\x0b-\x1f\x7f-\x9f{_NOT_CONTROLS}"
_ASTRAL = "\U00010000-\U0010ffff"  # searched as one range, then each found one checked
# Subdivision flags: WAVING BLACK FLAG, tag letters, CANCEL TAG.
_TAG_SEQUENCE = "\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"

_ATTENTION = re.compile(f"[{_CHARACTERS}]")
_ANY_ASTRAL = re.compile(f"[{_ASTRAL}]")
_INTRODUCER = re.compile("[\x1b\x90\x98\x9b\x9d\x9e\x9f]")
_SEQUENCES = re.compile(_ESCAPE_SEQUENCE)
# What the rules look at: a variation selector only where it does not follow a base
# character (after one, it is kept: no need to call a rule for every emoji); characters
# outside the BMP only when the text has one of those the rules apply to.
_ASTRAL_NONCHARACTERS = "".join(
    f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(1, 17)
)
# Everything a rule removes or replaces is not a base: a selector after it would be left
# without one. (Only looked at behind a selector, so the astral part costs nothing elsewhere.)
_NOT_A_BASE = (
    f"\\s\x00-\x1f\x7f-\x9f{_SEPARATORS}{_FORMAT}{JOINERS}{_VARIATION_SELECTORS}"
    f"{_SURROGATES}{_NONCHARACTERS}{_ASTRAL_FORMAT}{_ASTRAL_VARIATION_SELECTORS}"
    f"{_ASTRAL_NONCHARACTERS}"
)
_STRAY_SELECTOR = f"[{_VARIATION_SELECTORS}](?<![^{_NOT_A_BASE}][{_VARIATION_SELECTORS}])"
_OTHER_CHARACTERS = _CHARACTERS.replace(_VARIATION_SELECTORS, "")
_BMP_RULES = re.compile(f"[{_OTHER_CHARACTERS}]|{_STRAY_SELECTOR}")
_ALL_RULES = re.compile(f"{_TAG_SEQUENCE}|[{_OTHER_CHARACTERS}]|{_STRAY_SELECTOR}|[{_ASTRAL}]")
_INVISIBLE = re.compile(
    f"[\\s\x00-\x1f\x7f-\x9f{_SEPARATORS}{_FORMAT}{JOINERS}{_SURROGATES}{_NONCHARACTERS}"
    f"{_ASTRAL_FORMAT}]"
)
_IS_VARIATION_SELECTOR = re.compile(f"[{_VARIATION_SELECTORS}{_ASTRAL_VARIATION_SELECTORS}]")
_IS_FORMAT = re.compile(f"[{_FORMAT}{_ASTRAL_FORMAT}]")
_IS_ASTRAL_ATTENTION = re.compile(f"[{_ASTRAL_FORMAT}{_ASTRAL_VARIATION_SELECTORS}]")
_IS_REPLACED = re.compile(f"[\x80-\x9f{_SURROGATES}{_NONCHARACTERS}]")


def _noncharacter(char: str) -> bool:
    return (ord(char) & 0xFFFE) == 0xFFFE or "\ufdd0" <= char <= "\ufdef"


def _astral_attention(char: str) -> bool:
    """Whether a character outside the BMP is one a rule applies to."""
    return _IS_ASTRAL_ATTENTION.match(char) is not None or _noncharacter(char)


def _has_astral_attention(text: str) -> bool:
    return not text.isascii() and any(
        _astral_attention(m.group()) for m in _ANY_ASTRAL.finditer(text)
    )


def _needs_rules(text: str) -> bool:
    return _ATTENTION.search(text) is not None or _has_astral_attention(text)


_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")

REPLACEMENT = "\ufffd"


def _join_pair(match: re.Match[str]) -> str:
    return match.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def _control_picture(char: str) -> str:
    code = ord(char)
    return "\u2421" if code == 0x7F else chr(0x2400 + code)  # ␡, or ␀ … ␟


def _visible(char: str) -> bool:
    """Whether ``char`` shows as something (variation selectors count: they belong to
    the character before them)."""
    return bool(char) and _INVISIBLE.match(char) is None and not _noncharacter(char)


def _char_at(text: str, index: int, before: str) -> str:
    """The character at ``index`` of ``text``, reading on into ``before`` (what came before
    it) for a negative index; "" before the start."""
    if index >= 0:
        return text[index]
    return before[index] if -index <= len(before) else ""


def _rule(match: re.Match[str], before: str, label: bool) -> str:
    """What the rule makes of one match of ``_BMP_RULES`` / ``_ALL_RULES``; ``before`` is
    the text before it (its last two characters, for text that arrives in pieces);
    ``label``: the one-line rule (control characters go, or are a space where they
    separate words)."""
    found = match.group()
    if len(found) > 1:  # a subdivision flag
        return found
    if found > "\uffff" and not _astral_attention(found):
        return found  # an emoji, a CJK extension character, …
    text, start, end = match.string, match.start(), match.end()
    previous = _char_at(text, start - 1, before)
    if found in JOINERS:
        following = text[end] if end < len(text) else ""
        keep = (
            _visible(previous)
            and _visible(following)
            and not _IS_VARIATION_SELECTOR.match(following)
        )
        if keep and _IS_VARIATION_SELECTOR.match(previous):
            # A selector shows only with its base: one without is removed, and the joiner
            # after it would be left at the start of what is shown.
            base = _char_at(text, start - 2, before)
            keep = _visible(base) and not _IS_VARIATION_SELECTOR.match(base)
        return found if keep else ""
    if _IS_VARIATION_SELECTOR.match(found):
        keep = _visible(previous) and not _IS_VARIATION_SELECTOR.match(previous)
        return found if keep else ""
    if found in "\r\u2028\u2029":
        return "\n"
    if _IS_FORMAT.match(found):
        return ""
    if label:  # C0, DEL, C1, lone surrogates and noncharacters
        return " " if found.isspace() else ""
    if _IS_REPLACED.match(found) or _noncharacter(found):
        return REPLACEMENT
    return _control_picture(found)  # C0 and DEL


def for_terminal(text: object) -> str:
    """(a) ``text`` made safe for a terminal cell or a multi-line text area: escape
    sequences removed, control characters shown as visible symbols, bidi and invisible
    characters removed, newlines and tabs kept. See the module docstring for the table."""
    text = str(text)
    if not _needs_rules(text):  # the common case: nothing to do
        return text
    return _character_rules(_prepare(text), "", label=False)


def _prepare(text: str) -> str:
    """``text`` without escape sequences, with CRLF as LF and surrogate pairs joined: what
    the character rules then look at."""
    if _INTRODUCER.search(text) is not None:
        text = _SEQUENCES.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if _SURROGATE_PAIR.search(text) is not None:
        text = _SURROGATE_PAIR.sub(_join_pair, text)
    return text


def _character_rules(text: str, before: str, *, label: bool) -> str:
    rules = _ALL_RULES if _has_astral_attention(text) else _BMP_RULES
    return rules.sub(lambda match: _rule(match, before, label), text)


class TerminalStream:
    """:func:`for_terminal` for text that arrives in pieces (a streamed answer): the
    shown pieces add up to ``for_terminal`` of the whole text. A piece that ends inside an
    escape sequence, on a CR or half a surrogate pair, or with a joiner is held back until
    what follows decides it."""

    # An unfinished escape sequence is held back up to this length, then shown as text.
    MAX_HELD = 512
    _OPEN_TAIL = re.compile(
        r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x80-\x9f]*\x1b?\Z"
        r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*\Z"
        r"|\x1b[\x20-\x2f]*\Z"
        r"|\U0001f3f4[\U000e0020-\U000e007e]*\Z"
        "|[\r\ud800-\udbff]\\Z"
    )

    def __init__(self) -> None:
        self._raw = ""  # received, not yet prepared (an open sequence, CR, high surrogate)
        self._prepared = ""  # prepared, not yet shown (trailing joiners)
        self._before = ""  # the last two characters prepared: the rules' context

    def feed(self, piece: str) -> str:
        """What of ``piece`` (after anything held back) can be shown now."""
        raw = self._raw + piece
        tail = self._OPEN_TAIL.search(raw)
        cut = len(raw)
        if tail is not None and len(raw) - tail.start() <= self.MAX_HELD:
            cut = tail.start()
        self._raw = raw[cut:]
        return self._show(raw[:cut], final=False)

    def flush(self) -> str:
        """The rest, at the end of the text."""
        raw, self._raw = self._raw, ""
        return self._show(raw, final=True)

    def _show(self, raw: str, *, final: bool) -> str:
        text = self._prepared + (_prepare(raw) if raw else "")
        ready = len(text) if final else len(text.rstrip(JOINERS))
        text, self._prepared = text[:ready], text[ready:]
        if not text:
            return ""
        shown = _character_rules(text, self._before, label=False)
        self._before = (self._before + text)[-2:]
        return shown


def one_line(text: object, limit: int | None = 300) -> str:
    """(b) ``text`` as a one-line label: the terminal rule but that control characters
    are left out (a space where they separate words), every run of whitespace (newlines
    included) as one space, cut to ``limit`` characters with an ellipsis (``None``: not
    cut)."""
    text = str(text)
    if _needs_rules(text):
        text = _character_rules(_prepare(text), "", label=True)
    line = " ".join(text.split())
    if limit is None or len(line) <= limit:
        return line
    return _cut(line, max(limit, 1) - 1) + "…"


def _cut(text: str, length: int, *, label: bool = True) -> str:
    """The first ``length`` characters of ``text`` (already through the rule), through the
    rule again: a cut can leave a joiner with nothing after it, or a subdivision flag
    without its cancel tag."""
    return _character_rules(text[:length], "", label=label)


def truncate(text: str, limit: int) -> str:
    """``text`` (already through the terminal rule) cut to ``limit`` characters, saying
    how much was left out."""
    if len(text) <= limit:
        return text
    return f"{_cut(text, limit, label=False)}… {len(text) - limit:,} more characters"


TITLE_MAX_CHARS = 60


def make_title(text: str, max_chars: int = TITLE_MAX_CHARS) -> str:
    """A thread title from a message: its first non-blank line as a label, cut at a word
    boundary."""
    line = next((c for c in (one_line(raw, None) for raw in text.splitlines()) if c), "")
    if len(line) <= max_chars:
        return line
    cut = line[: max_chars - 1]
    space = cut.rfind(" ")
    return _cut(cut, space if space > max_chars // 2 else len(cut)).rstrip() + "…"


SIGNATURE_LIMIT = 100


def call_signature(name: str, arguments: str, limit: int | None = SIGNATURE_LIMIT) -> str:
    """``get_ticker(company_name="Apple")`` from a tool call's raw JSON arguments, as a
    label of at most ``limit`` characters (the name kept whole, the arguments cut);
    arguments that are not (yet) JSON are shown as they are."""
    name = one_line(name, None) or "?"
    inner = call_arguments(arguments)
    if limit is not None:
        room = max(limit - len(name) - 2, 8)
        if len(inner) > room:
            inner = _cut(inner, room - 1) + "…"
    return f"{name}({inner})"


def call_arguments(arguments: str) -> str:
    """``company_name="Apple", period="annual"`` from a tool call's raw JSON arguments,
    as a label; arguments that are not (yet) JSON are shown as they are."""
    return ", ".join(argument_labels(arguments))


def argument_labels(arguments: str) -> list[str]:
    """Each argument of a tool call's raw JSON arguments as a label, ``period="annual"``
    (for a view that lays them out whole); arguments that are not (yet) JSON are one
    label, as the model sent them."""
    try:
        args = json.loads(arguments) if arguments and arguments.strip() else {}
    except ValueError:
        args = None
    if isinstance(args, dict):
        labels = [f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in args.items()]
    else:
        labels = [arguments]  # not JSON: show what the model sent
    return [label for label in (one_line(raw, None) for raw in labels) if label]


def format_duration(ms: float | None, missing: str = "—") -> str:
    """``120 ms``, ``1.5 s``, ``2 min 5 s``; ``missing`` when there is none."""
    if ms is None:
        return missing
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)} min {ms % 60_000 / 1000:.0f} s"


def format_timestamp(ts: float | None, *, seconds: bool = False) -> str:
    """``2026-11-02 14:05 UTC`` (with ``:SS`` when ``seconds``); ``—`` for none."""
    if not ts:
        return "—"
    return time.strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC", time.gmtime(ts)
    )


def call_summary(call: ToolCall) -> str:
    """``status · duration · source (· cached · recovered from text · repeat)`` of a tool
    call, as a label."""
    parts: list[str] = [call.status]
    if call.duration_ms is not None:
        parts.append(format_duration(call.duration_ms))
    if call.source:
        parts.append(call.source)
    if call.cache_hit:
        parts.append("cached")
    if call.recovered:
        parts.append("recovered from text")
    if call.repeat_of:
        parts.append("repeat, not run again")
    return one_line(" · ".join(parts), None)


# -- (c) Markdown ------------------------------------------------------------------------
# Characters that can start Markdown structure anywhere in a line (emphasis, code, links,
# images, HTML, entities, headings, tables, strikethrough), and line starts that open a
# list or make a setext heading. Any ASCII punctuation may be backslash-escaped (CommonMark).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!{}])")
_MD_LINE_START = re.compile(r"^([+\-=:]|\d+[.)])")  # ":" starts a table delimiter row (":-")


def escape_markdown_inline(text: str) -> str:
    """``text`` (already through the terminal rule) with every Markdown-special character
    backslash-escaped; line starts are escaped by :func:`escape_markdown_line_starts`."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def escape_markdown_line_start(line: str) -> str:
    """``line`` with a list marker or setext underline at its start escaped."""
    return _MD_LINE_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], line)


def escape_markdown(text: str) -> str:
    """Text that renders as itself in CommonMark/GFM: no emphasis, links, HTML, headings,
    lists, tables or code from it. Line breaks are kept as hard breaks."""
    out: list[str] = []
    for line in for_terminal(text).split("\n"):
        # Leading blanks would make an indented code block (and render as nothing anyway).
        line = escape_markdown_line_start(escape_markdown_inline(line.lstrip(" \t")))
        out.append(line.rstrip(" \t"))
    # A backslash at the end of a line is a hard line break (the text's own newline).
    result = []
    for i, line in enumerate(out):
        nxt = out[i + 1] if i + 1 < len(out) else None
        result.append(line + "\\" if line and nxt else line)
    return "\n".join(result)


def code_span(text: str) -> str:
    """An inline code span holding ``text`` (on one line) literally, whatever backticks it
    contains (text the policy leaves empty gives a span of one space)."""
    flat = for_terminal(text).replace("\n", " ") or " "
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    # One space each side is stripped when both are there (and the span is not all
    # spaces); a backtick at either end would merge with the fence.
    stripped = flat.startswith(" ") and flat.endswith(" ") and flat.strip(" ")
    pad = " " if flat.startswith("`") or flat.endswith("`") or stripped else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


# -- (d) JSON ----------------------------------------------------------------------------
# Inside JSON strings only (everything else json.dumps writes is ASCII): the class above,
# as \u escapes, which read back as the same characters (json.dumps escapes C0 itself).
_JSON_ESCAPE_BMP = re.compile(f"[\x7f-\x9f{_NOT_CONTROLS}]")
_JSON_ESCAPE_ALL = re.compile(f"[\x7f-\x9f{_NOT_CONTROLS}]|[{_ASTRAL}]")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char > "\uffff" and not _astral_attention(char):
        return char
    code = ord(char)
    if code > 0xFFFF:  # as a surrogate pair, the way JSON spells it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def dumps_safe(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that keeps text readable (non-ASCII as is) but writes every character
    of the policy's class as a ``\\u`` escape: exact data, inert on a terminal."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    if _has_astral_attention(text):
        return _JSON_ESCAPE_ALL.sub(_json_escape, text)
    return _JSON_ESCAPE_BMP.sub(_json_escape, text) if _ATTENTION.search(text) else text
