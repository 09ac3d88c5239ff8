"""The tool-call inspector: every tool call of a thread in a table, filterable by tool and
status; the highlighted call's arguments and output as highlighted JSON, its error and
timing; copy one call, or export the (filtered) list as JSON Lines."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Select, Static

from assistant_core import paths
from assistant_core.store import ToolCallRecord
from assistant_core.store_interface import ThreadStore
from assistant_core.text import dumps_safe, for_terminal, format_duration, one_line

from ..browser import offer_export
from ..panels.fmt import args_summary, clock_time
from ..panels.key_footer import KeyFooter

# Rich styles (the table's cells are Rich Text).
STATUS_COLOURS = {
    "completed": "green",
    "error": "bold red",
    "denied": "yellow",
    "cancelled": "dim",
    "awaiting_approval": "bold yellow",
    "running": "cyan",
}
COLUMNS = ("Time", "Run", "Tool", "Arguments", "Status", "Duration", "Source", "Cache")
# A retry of a model call is a row too: the run's timeline has its failures and waits.
RETRY_TOOL = "(model retry)"
NARROW = 110  # terminal columns below which the table is narrowed (see _set_columns)
RETRY_STATUS = "retried"


def _retry_key(run_id: str, retry: dict[str, Any]) -> str:
    return f"retry:{run_id}:{retry.get('attempt')}:{retry.get('at')}"


def exports_dir() -> Path:
    """Where the app writes exports: ``<user data dir>/exports`` (shown to the user)."""
    return paths.private_dir(paths.data_dir() / "exports")


def record_json(record: ToolCallRecord, run_number: int | None = None) -> dict[str, Any]:
    """One JSON Lines row: where the call happened plus the call in its stored form."""
    row: dict[str, Any] = {
        "thread_id": record.thread_id,
        "run_id": record.run_id,
        "step_id": record.step_id,
        "created_at": record.created_at,
    }
    if run_number is not None:
        row["run_number"] = run_number
    row["call"] = record.call.to_dict()
    return row


def pretty_json(raw: str | None) -> tuple[str, bool]:
    """(text, is_json): raw JSON re-indented, or the text as it was (made visible)."""
    if raw is None:
        return "", False
    try:
        # The JSON rule of the text policy: exact, with invisible and control characters as \u escapes.
        return dumps_safe(json.loads(raw), indent=2), True
    except (json.JSONDecodeError, TypeError):
        return for_terminal(raw), False


class InspectorScreen(Screen[None]):
    """Every tool call of one thread (and each model call that was retried), as a table
    with tool and status filters, and the selected row's details beside it. Pushed by
    ``InvestorApp.action_inspector``; reads the store, so it shows runs of any process.

    | Key(s) | Description |
    | :- | :- |
    | escape, q | Close. |
    | c, y | Copy the selected call as JSON. |
    | x | Export the shown calls as JSON Lines. |
    | r | Reload from the database. |
    | t | Focus the tool filter. |
    | s | Focus the status filter. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("c,y", "copy_call", "Copy call"),
        Binding("x", "export", "Export JSONL"),
        Binding("r", "reload", "Reload"),
        Binding("t", "focus_filter('#tool-filter')", "Tool filter"),
        Binding("s", "focus_filter('#status-filter')", "Status filter"),
    ]

    def __init__(self, store: ThreadStore, thread_id: str, *, title: str = "") -> None:
        super().__init__(id="inspector")
        self.store = store
        self.thread_id = thread_id
        self.thread_title = title
        self.records: list[ToolCallRecord] = []
        self.shown: list[ToolCallRecord] = []
        self.run_numbers: dict[str, int] = {}
        self.selected: ToolCallRecord | None = None
        #: Each run's retries: (run id, the retry as the run recorded it).
        self.retries: list[tuple[str, dict[str, Any]]] = []
        self.narrow = False

    def compose(self) -> ComposeResult:
        yield Static(id="inspector-title")
        with Horizontal(id="inspector-filters"):
            yield Select[str]([], prompt="All tools", id="tool-filter", compact=True)
            yield Select[str]([], prompt="All statuses", id="status-filter", compact=True)
        table: DataTable[Any] = DataTable(id="calls", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="call-detail"):
            yield Static(id="call-detail-body")
        yield KeyFooter(keep=("close", "quit"))

    def on_mount(self) -> None:
        self._set_columns()
        self.load()
        self.query_one("#calls", DataTable).focus()

    def _set_columns(self) -> None:
        """The table's columns for the terminal's width: below ``NARROW`` columns the
        source and cache ones are left out and names and arguments cut shorter, so that
        the status and duration stay on screen."""
        self.narrow = self.app.size.width < NARROW
        table = self.query_one("#calls", DataTable)
        table.clear(columns=True)
        for column in COLUMNS[:6] if self.narrow else COLUMNS:
            table.add_column(column, key=column.lower())

    def on_resize(self) -> None:
        if self.is_mounted and self.narrow != (self.app.size.width < NARROW):
            self._set_columns()
            self.apply_filters()

    # -- data ----------------------------------------------------------------------------
    def load(self) -> None:
        self.records = self.store.list_tool_calls(thread_id=self.thread_id)
        runs = self.store.list_runs(self.thread_id)
        self.run_numbers = {run.id: number for number, run in enumerate(runs, start=1)}
        self.retries = [(run.id, retry) for run in runs for retry in run.retries]
        tools = sorted({r.call.function.name for r in self.records})
        statuses: list[str] = sorted({r.call.status for r in self.records})
        if self.retries:
            tools.append(RETRY_TOOL)
            statuses.append(RETRY_STATUS)
        self._set_filter_options("#tool-filter", tools)
        self._set_filter_options("#status-filter", statuses)
        self.apply_filters()

    def _set_filter_options(self, selector: str, values: Sequence[str]) -> None:
        select = self.query_one(selector, Select)
        current = select.value
        select.set_options([(Content(one_line(v)), v) for v in values])
        if isinstance(current, str) and current in values:
            select.value = current

    def _filter_value(self, selector: str) -> str | None:
        value = self.query_one(selector, Select).value
        return value if isinstance(value, str) else None

    def apply_filters(self) -> None:
        tool = self._filter_value("#tool-filter")
        status = self._filter_value("#status-filter")
        self.shown = [
            r
            for r in self.records
            if (tool is None or r.call.function.name == tool)
            and (status is None or r.call.status == status)
        ]
        retries = [
            (run_id, retry)
            for run_id, retry in self.retries
            if tool in (None, RETRY_TOOL) and status in (None, RETRY_STATUS)
        ]
        rows: list[tuple[float, tuple[Any, ...], str]] = []
        name_limit, arguments_limit = 32, 36
        if self.narrow:  # what the other columns leave (time, run, status, duration, gaps)
            name_limit = 22
            arguments_limit = max(12, self.app.size.width - name_limit - 42)
        for record in self.shown:
            call = record.call
            # Rich Text cells: the table measures them for column widths, and takes their
            # text literally.
            cells: tuple[Any, ...] = (
                clock_time(call.started_at or record.created_at),
                f"#{self.run_numbers.get(record.run_id, '?')}",
                Text(one_line(call.function.name, name_limit)),
                Text(args_summary(call.function.arguments, arguments_limit)),
                Text(call.status, style=STATUS_COLOURS.get(call.status, "")),
                format_duration(call.duration_ms, missing=""),
                Text(one_line(call.source or "")),
                "hit" if call.cache_hit else "",
            )
            rows.append((call.started_at or record.created_at, cells, call.id))
        for run_id, retry in retries:
            cells = (
                clock_time(retry.get("at")),
                f"#{self.run_numbers.get(run_id, '?')}",
                Text(RETRY_TOOL),
                Text(one_line(f"{retry.get('attempt')}/{retry.get('max')} {retry.get('reason')}")),
                Text(RETRY_STATUS, style="yellow"),
                format_duration((retry.get("wait_s") or 0) * 1000, missing=""),
                "",
                "",
            )
            rows.append((retry.get("at") or 0, cells, _retry_key(run_id, retry)))
        table = self.query_one("#calls", DataTable)
        table.clear()
        shown_columns = len(table.columns)
        for _, cells, key in sorted(rows, key=lambda row: row[0]):
            table.add_row(*cells[:shown_columns], key=key)
        self._update_title()
        if rows:
            table.move_cursor(row=0)
            self._show_row(min(rows, key=lambda row: row[0])[2])
        else:
            self.show_detail(None)

    def _update_title(self) -> None:
        count = (
            f"{len(self.shown)} of {len(self.records)}"
            if len(self.shown) != len(self.records)
            else str(len(self.records))
        )
        self.query_one("#inspector-title", Static).update(
            Content.assemble(
                ("Tool calls", "bold"),
                f" · {count} · ",
                (one_line(self.thread_title or self.thread_id, 60), "$text-muted"),
            )
        )

    # -- detail --------------------------------------------------------------------------
    def show_detail(self, record: ToolCallRecord | None) -> None:
        self.selected = record
        body = self.query_one("#call-detail-body", Static)
        if record is None:
            body.update(Content.styled("No tool calls in this thread yet.", "$text-muted"))
            return
        body.update(self._detail(record))
        self.query_one("#call-detail", VerticalScroll).scroll_home(animate=False)

    def _detail(self, record: ToolCallRecord) -> Any:
        from rich.console import Group

        call = record.call
        timing = [
            f"started {clock_time(call.started_at)}" if call.started_at else "",
            f"finished {clock_time(call.finished_at)}" if call.finished_at else "",
            format_duration(call.duration_ms, missing=""),
        ]
        head = Text.assemble(
            (one_line(call.function.name), "bold"),
            "  ",
            (call.status, "bold"),
            "\n",
            (
                f"run #{self.run_numbers.get(record.run_id, '?')} ({record.run_id}) · "
                f"step {record.step_id} · call {one_line(call.id)}",
                "dim",
            ),
            "\n",
            (" · ".join(t for t in timing if t) or "not started", "dim"),
            (f" · source {one_line(call.source)}" if call.source else "", "dim"),
            (" · cache hit" if call.cache_hit else "", "dim"),
        )
        parts: list[Any] = [head]
        if call.error:
            parts += [
                Text("\nError", style="bold red"),
                Text(for_terminal(call.error), style="red"),
            ]
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        for label, raw in (
            ("Arguments", call.function.arguments),
            ("Output", call.function.output),
        ):
            text, is_json = pretty_json(raw)
            parts.append(Text(f"\n{label}", style="bold"))
            if not text:
                parts.append(Text("(none)", style="dim"))
            elif is_json:
                parts.append(
                    Syntax(text, "json", theme=theme, word_wrap=True, background_color="default")
                )
            else:
                parts.append(Text(text))
        return Group(*parts)

    @on(DataTable.RowHighlighted, "#calls")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_row(str(event.row_key.value))

    def _show_row(self, key: str) -> None:
        retry = next(((r, x) for r, x in self.retries if _retry_key(r, x) == key), None)
        if retry is not None:
            self.selected = None
            self.query_one("#call-detail-body", Static).update(self._retry_detail(*retry))
            return
        record = next((r for r in self.shown if r.call.id == key), None)
        if record is not None and record is not self.selected:
            self.show_detail(record)

    def _retry_detail(self, run_id: str, retry: dict[str, Any]) -> Text:
        """A model call that failed and was tried again: why, and how long the run waited."""
        wait = retry.get("wait_s")
        return Text.assemble(
            ("Model call retried", "bold"),
            "  ",
            (f"attempt {retry.get('attempt')} of {retry.get('max')}", "bold yellow"),
            "\n",
            (f"run #{self.run_numbers.get(run_id, '?')} ({run_id})", "dim"),
            "\n",
            (f"at {clock_time(retry.get('at'))}" if retry.get("at") else "", "dim"),
            (f" · waited {wait:g} s" if wait else "", "dim"),
            "\n\nReason\n",
            (one_line(retry.get("reason", "")), "yellow"),
            "\n",
            one_line(retry.get("message", ""), None),
        )

    @on(DataTable.RowSelected, "#calls")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show_row(str(event.row_key.value))
        self.query_one("#call-detail").focus()

    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.apply_filters()

    # -- actions -------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        self.load()

    def action_focus_filter(self, selector: str) -> None:
        self.set_focus(self.query_one(selector))  # now: keys typed next go into it

    def action_copy_call(self) -> None:
        if self.selected is None:
            self.notify("No tool call selected.", markup=False)
            return
        row = record_json(self.selected, self.run_numbers.get(self.selected.run_id))
        self.app.copy_to_clipboard(dumps_safe(row, indent=2))
        name = one_line(self.selected.call.function.name, 60)
        self.notify(f"Copied {name} call as JSON.", markup=False)

    def action_export(self) -> None:
        if not self.shown:
            self.notify("Nothing to export.", markup=False)
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = exports_dir() / f"tool-calls-{self.thread_id}-{stamp}.jsonl"
        rows = (record_json(record, self.run_numbers.get(record.run_id)) for record in self.shown)
        paths.write_private_text(path, "".join(dumps_safe(row) + "\n" for row in rows))
        count = len(self.shown)
        offer_export(self.app, path, f"Exported {count} tool call{'' if count == 1 else 's'}")
