"""Tool results as text a person reads: statement tables, key/value tables, short lists,
and JSON for anything else.

Every string in a result came from a tool (Yahoo, the web): it goes through the text policy (``assistant_core.text``)
and into ``Text`` spans, never through markup.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from rich.style import Style
from rich.text import Text

from assistant_core.text import dumps_safe, for_terminal, one_line, truncate

from ..render.markdown import layout_table, measure_console

JSON_LIMIT = 4_000
LIST_LIMIT = 20
MISSING = "—"

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


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


def format_number(value: Any, *, decimals: int = 1) -> str:
    """A figure as people read it: 391035000000 → 391.0B, -1234567 → -1.2M, 6.11 → 6.11.

    Strings are returned as they are (sanitised); None and NaN become an em dash.
    """
    if value is None or isinstance(value, bool):
        return MISSING if value is None else str(value)
    if isinstance(value, str):
        return one_line(value)
    if not isinstance(value, (int, float)):
        return one_line(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return MISSING
    magnitude = abs(value)
    for threshold, suffix in _UNITS:
        if magnitude >= threshold:
            return f"{value / threshold:.{decimals}f}{suffix}"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}"


def _is_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


def _title(display: dict[str, Any], styles: TableStyles, extra: str = "") -> Text | None:
    title = display.get("title")
    if not title and not extra:
        return None
    text = Text(end="")
    if title:
        text.append(one_line(title), styles.title)
    if extra:
        text.append(f"  {extra}", styles.muted)
    return text


def statement_table(display: dict[str, Any], width: int, styles: TableStyles) -> Text:
    """``{"title", "columns": [periods], "rows": [[label, v1, v2, …]], "unit"}`` with the
    periods as columns and every figure formatted with its unit suffix."""
    columns = [one_line(c) for c in display.get("columns") or []]
    unit = display.get("unit")
    lines: list[Text] = []
    title = _title(display, styles, f"({one_line(unit)})" if unit else "")
    if title is not None:
        lines.append(title)
    header = [Text("", end="")] + [Text(c, styles.header, end="") for c in columns]
    rows: list[list[Text]] = []
    for raw in display.get("rows") or []:
        if not isinstance(raw, (list, tuple)) or not raw:
            continue
        label, *values = raw
        row = [Text(one_line(label), styles.label, end="")]
        for value in values:
            style = styles.negative if _is_negative(value) else styles.number
            row.append(Text(format_number(value), style, end=""))
        rows.append(row)
    if rows:
        aligns = ["left"] + ["right"] * (max(len(r) for r in rows) - 1)
        lines.extend(layout_table(header, rows, aligns, width, styles.rule))
    else:
        lines.append(Text("no rows", styles.muted, end=""))
    return Text("\n", end="").join(lines)


def kv_table(display: dict[str, Any], width: int, styles: TableStyles) -> Text:
    """``{"title", "items": [[key, value], …]}`` as two aligned columns."""
    lines: list[Text] = []
    title = _title(display, styles)
    if title is not None:
        lines.append(title)
    rows = [
        [
            Text(one_line(key), styles.key, end=""),
            Text(
                format_number(value),
                styles.negative if _is_negative(value) else styles.number,
                end="",
            ),
        ]
        for pair in display.get("items") or []
        if isinstance(pair, (list, tuple)) and len(pair) == 2
        for key, value in [pair]
    ]
    if rows:
        lines.extend(layout_table([], rows, ["left", "left"], width, styles.rule))
    else:
        lines.append(Text("nothing to show", styles.muted, end=""))
    return Text("\n", end="").join(lines)


def item_list(display: dict[str, Any], width: int, styles: TableStyles) -> Text:
    """``{"title", "items": [{"title", "subtitle", "url"?}]}``: a short list, one entry a
    line or two, links shown in full (never as clickable hyperlinks)."""
    lines: list[Text] = []
    title = _title(display, styles)
    if title is not None:
        lines.append(title)
    items = [i for i in display.get("items") or [] if isinstance(i, dict)]
    for item in items[:LIST_LIMIT]:
        entry = Text.assemble(("• ", styles.muted), end="")
        entry.append(one_line(item.get("title") or ""), styles.label)
        subtitle = item.get("subtitle")
        if subtitle:
            entry.append(" — ", styles.muted)
            entry.append(one_line(subtitle), styles.muted)
        lines.extend(entry.wrap(measure_console(), width, overflow="fold"))
        url = item.get("url")
        if url:
            link = Text("  ", end="")
            link.append(one_line(url), styles.link)
            lines.extend(link.wrap(measure_console(), width, overflow="fold"))
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
