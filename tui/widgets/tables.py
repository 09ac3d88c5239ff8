"""Tool results as text a person reads: statement tables, key/value tables, short lists,
and JSON for anything else.

Every string in a result came from a tool (Yahoo, the web): it goes through the text policy (``assistant_core.text``)
and into ``Text`` spans, never through markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from assistant_core import numfmt
from assistant_core.numfmt import Locale
from assistant_core.text import dumps_safe, for_terminal, one_line, truncate
from assistant_core.tools.display_names import local_label, local_title, short_label
from assistant_core.tools.summaries import quote_value_kind, statement_row_kind

from ..render.markdown import layout_table, wrap_text

JSON_LIMIT = 4_000
LIST_LIMIT = 20
MISSING = numfmt.MISSING
MIN_LABEL = 12  # a statement table drops its oldest periods before labels get narrower


@dataclass(frozen=True)
class TableStyles:
    title: Style = field(default_factory=lambda: Style(bold=True))
    header: Style = field(default_factory=lambda: Style(bold=True))
    label: Style = field(default_factory=Style)
    number: Style = field(default_factory=Style)
    negative: Style = field(default_factory=lambda: Style(color="red"))
    muted: Style = field(default_factory=lambda: Style(dim=True))
    rule: Style = field(default_factory=lambda: Style(dim=True))
    key: Style = field(default_factory=lambda: Style(bold=True))
    link: Style = field(default_factory=lambda: Style(underline=True))


def format_number(value: Any, locale: Locale = "en") -> str:
    """A figure of unknown kind as people read it (``numfmt.plain``: 391035000000 →
    391.0B / 3,910억, 6.11 → 6.11). Text is shown as it is (sanitised); None and NaN are a
    dash."""
    return _figure(value, lambda v: numfmt.plain(v, locale))


def _figure(value: Any, write: Callable[[Any], str]) -> str:
    """A cell: ``write`` for numbers, the text itself (sanitised) for anything else."""
    if isinstance(value, (str, bool)):
        return one_line(value)
    return write(value)


def _is_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


def _title_lines(
    display: dict[str, Any], width: int, styles: TableStyles, locale: Locale
) -> list[Text]:
    """The display's title (as the answer's language says it) wrapped to ``width``."""
    title = display.get("title")
    if not title:
        return []
    return wrap_text(Text(one_line(local_title(str(title), locale)), styles.title, end=""), width)


def statement_table(
    display: dict[str, Any], width: int, styles: TableStyles, locale: Locale = "en"
) -> Text:
    """``{"title", "columns": [periods], "rows": [[label, v1, v2, …]], "unit"}`` with the
    periods as columns. When the unit is a currency, the amounts share one scale, said once
    in the corner above the labels (``단위: 조 원``, ``in billions of USD``); per-share rows
    and share counts carry their own. Numbers are never split across lines: when the
    periods don't fit the width, the oldest are left out (and the table says so)."""
    columns = [one_line(c) for c in display.get("columns") or []]
    unit = display.get("unit")
    currency = numfmt.currency(unit)
    raw_rows = [r for r in display.get("rows") or [] if isinstance(r, (list, tuple)) and r]
    amounts = [
        value
        for label, *values in raw_rows
        if statement_row_kind(str(label)) == "amount"
        for value in values
    ]
    scale = numfmt.table_unit(amounts, unit, locale) if currency is not None else None

    def cell(label: str, value: Any) -> str:
        if scale is None:
            return format_number(value, locale)
        kind = statement_row_kind(label)
        if kind == "per_share":
            return _figure(value, lambda v: numfmt.price(v, unit, locale))
        if kind == "count":
            return _figure(value, lambda v: numfmt.count(v, locale))
        return _figure(value, scale.cell)

    # The unit, once, in the corner above the labels (as in the analyst's tables).
    said = (
        scale.label
        if scale is not None
        else (one_line(local_label(str(unit), locale)) if unit else "")
    )
    rows: list[list[Text]] = []
    labels = [str(label) for label, *_ in raw_rows]
    for label, (_, *values) in zip(labels, raw_rows):
        row = [Text(one_line(local_label(label, locale)), styles.label, end="")]
        for value in values:
            style = styles.negative if _is_negative(value) else styles.number
            row.append(Text(cell(label, value), style, end=""))
        rows.append(row)
    lines = _title_lines(display, width, styles, locale)
    if not rows:
        lines.append(Text("no rows", styles.muted, end=""))
        return Text("\n", end="").join(lines)
    headers = [
        [Text(said, styles.header, end="")] + [Text(c, styles.header, end="") for c in names]
        for names in (columns, short_periods(columns))
    ]
    shortened = [
        [Text(one_line(short_label(label, locale)), styles.label, end=""), *row[1:]]
        for label, row in zip(labels, rows)
    ]
    layouts = [(h, r) for r in (rows, shortened) for h in headers]
    (header, rows), shown = _fit_statement(layouts, width)
    hidden = max(len(r) for r in rows) - 1 - shown
    header, rows = header[: shown + 1], [r[: shown + 1] for r in rows]
    lines.extend(layout_table(header, rows, ["left"] + ["right"] * shown, width, styles.rule))
    if hidden > 0:
        more = (
            f"이전 {hidden}개 기간은 창이 좁아 생략"
            if locale == "ko"
            else f"{hidden} older period{'s' if hidden > 1 else ''} not shown (narrow window)"
        )
        lines.extend(wrap_text(Text(more, styles.muted, end=""), width))
    return Text("\n", end="").join(lines)


def short_periods(columns: list[str]) -> list[str]:
    """Period labels in fewer cells: ``2025`` for year ends that share a day (annual
    statements), ``2025-09`` for other dates; anything else as it is."""
    if not columns or not all(_is_iso_date(c) for c in columns):
        return columns
    if len({c[5:] for c in columns}) == 1:
        return [c[:4] for c in columns]
    return [c[:7] for c in columns]


def _is_iso_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()


def _fit_statement(
    layouts: list[tuple[list[Text], list[list[Text]]]], width: int
) -> tuple[tuple[list[Text], list[list[Text]]], int]:
    """Which layout (header and rows: full or short period labels, full or short row
    labels, in that order of preference) and how many periods, newest first, fit
    ``width``. First choice: every period beside whole row labels; then as many periods as
    fit, at least two, beside whole labels; then row labels wrapped at spaces — a word is
    never cut and a number never split, before a period is given up."""
    periods = max(len(r) for r in layouts[0][1]) - 1

    def label_widths(layout: tuple[list[Text], list[list[Text]]]) -> tuple[int, int]:
        labels = [layout[0][0]] + [row[0] for row in layout[1]]
        whole = max(label.cell_len for label in labels)
        words = (cell_len(word) for label in labels for word in label.plain.split())
        return whole, max(words, default=1)

    def fitting(layout: tuple[list[Text], list[list[Text]]], label_width: int) -> int:
        header, rows = layout
        shown, used = 0, label_width
        for column in range(1, periods + 1):
            cells = [r[column] for r in [header, *rows] if column < len(r)]
            figure = max((c.cell_len for c in cells), default=0)
            if used + 2 + figure > width:
                break
            shown, used = shown + 1, used + 2 + figure
        return shown

    for enough in (periods, min(2, periods)):
        options = [(fitting(lay, label_widths(lay)[0]), -i) for i, lay in enumerate(layouts)]
        shown, rank = max(options)
        if shown >= enough:
            return layouts[-rank], shown
    narrowest = layouts[-1]
    whole, word = label_widths(narrowest)
    return narrowest, max(fitting(narrowest, max(word, min(whole, MIN_LABEL))), 1)


def kv_table(
    display: dict[str, Any], width: int, styles: TableStyles, locale: Locale = "en"
) -> Text:
    """``{"title", "items": [[key, value, kind?], …], "currency"?}`` as two aligned columns;
    a value with a kind (``"price"``, ``"amount"``, ``"change"``…) is written as that kind
    in the display's currency, any other as a plain figure."""
    lines = _title_lines(display, width, styles, locale)
    currency = display.get("currency")
    rows = []
    for item in display.get("items") or []:
        if not isinstance(item, (list, tuple)) or len(item) not in (2, 3):
            continue
        key, value = item[0], item[1]
        # A display stored before displays said each value's kind: known by its label.
        kind = str(item[2]) if len(item) == 3 else quote_value_kind(one_line(key))
        text = _figure(value, partial(numfmt.fmt, kind=kind, code=currency, locale=locale))
        style = styles.negative if _is_negative(value) else styles.number
        name = one_line(local_label(one_line(key), locale))
        rows.append([Text(name, styles.key, end=""), Text(text, style, end="")])
    if rows:
        lines.extend(layout_table([], rows, ["left", "left"], width, styles.rule))
    else:
        lines.append(Text("nothing to show", styles.muted, end=""))
    return Text("\n", end="").join(lines)


def item_list(
    display: dict[str, Any], width: int, styles: TableStyles, locale: Locale = "en"
) -> Text:
    """``{"title", "items": [{"title", "subtitle", "url"?}]}``: a short list, one entry a
    line or two, links shown in full (never as clickable hyperlinks)."""
    lines = _title_lines(display, width, styles, locale)
    items = [i for i in display.get("items") or [] if isinstance(i, dict)]
    for item in items[:LIST_LIMIT]:
        entry = Text.assemble(("• ", styles.muted), end="")
        entry.append(one_line(item.get("title") or ""), styles.label)
        subtitle = item.get("subtitle")
        if subtitle:
            entry.append(" — ", styles.muted)
            entry.append(one_line(subtitle), styles.muted)
        lines.extend(wrap_text(entry, width))
        url = item.get("url")
        if url:
            link = Text("  ", end="")
            link.append(one_line(url), styles.link)
            lines.extend(wrap_text(link, width))
    if len(items) > LIST_LIMIT:
        lines.append(Text(f"… {len(items) - LIST_LIMIT} more", styles.muted, end=""))
    if not items:
        lines.append(Text("nothing found", styles.muted, end=""))
    return Text("\n", end="").join(lines)


def json_text(output: str | None, *, limit: int = JSON_LIMIT) -> Text:
    """A tool's raw output, pretty-printed when it is JSON, highlighted, and cut to
    ``limit`` characters (saying how many more there were)."""
    from rich.highlighter import JSONHighlighter

    if output is None:
        return Text("no output", Style(dim=True), end="")
    try:
        pretty = dumps_safe(json.loads(output), indent=2)
    except (ValueError, TypeError):
        return Text(truncate(for_terminal(output), limit), end="")
    text = Text(truncate(pretty, limit), end="")
    JSONHighlighter().highlight(text)
    return text
