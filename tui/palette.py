"""Command palette entries (Ctrl+P): threads, inspector, export, approval, model, market
data. (The theme is Textual's own "Theme" command, which lists every theme.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from assistant_core.text import one_line

from .app import InvestorApp
from .panels.thread_list import UNTITLED

MAX_THREADS = 200


def literal_highlight(matcher: Matcher, text: str) -> Content:
    """Like ``Matcher.highlight`` but never parses ``text`` as markup (thread titles are
    user/model text)."""
    content = Content(text)
    _, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class InvestorCommands(Provider):
    @property
    def investor_app(self) -> InvestorApp:
        # As Textual's ``getters.app`` does for widgets (a provider is not one): these
        # commands are only ever offered by the investor app.
        app = self.app
        assert isinstance(app, InvestorApp)
        return app

    def commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app = self.investor_app
        if app.session is None or app._main is None:
            return  # still starting: nothing to act on yet
        approval = app.session.runtime.approval
        other = "ask" if approval == "auto" else "auto"
        yield ("New thread", "Start a new conversation (Ctrl+N)", app.action_new_thread)
        yield (
            "Retry / regenerate the last answer",
            "Answer the thread's last question again; the old answer stays (r in the chat)",
            app.main.action_redo_last,
        )
        yield (
            "Open tool-call inspector",
            "Every tool call of this thread (Ctrl+T)",
            app.action_inspector,
        )
        yield (
            "Export thread as Markdown",
            "Write the shown thread to a .md file",
            partial(app.export_thread, "md"),
        )
        yield (
            "Export thread as JSON",
            "Write the shown thread to a .json file",
            partial(app.export_thread, "json"),
        )
        yield (
            f"Toggle approval mode (now {approval})",
            f"Switch to '{other}': {'ask before each tool call' if other == 'ask' else 'run tools without asking'}",
            app.action_toggle_approval,
        )
        yield (
            "Switch model / provider",
            "OpenAI, an OpenAI-compatible server, or the offline analyst",
            app.action_switch_model,
        )
        if app.session.settings.data == "demo":
            yield (
                "Use Yahoo Finance market data",
                "Real prices and statements instead of DEMO data, for new runs",
                partial(app.switch_market_data, "yahoo"),
            )
        else:
            yield (
                "Use demo market data",
                "Synthetic DEMO data, no network (e.g. when Yahoo Finance cannot be reached)",
                partial(app.switch_market_data, "demo"),
            )

    async def startup(self) -> None:
        # Read once per palette opening, not on every keystroke.
        session = self.investor_app.session
        self.threads = session.store.list_threads(limit=MAX_THREADS) if session else []

    def thread_commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app = self.investor_app
        for thread in getattr(self, "threads", []):
            title = one_line(thread.title or UNTITLED, 60)
            yield (f"Switch to thread: {title}", "", partial(app.switch_thread, thread.id))

    async def discover(self) -> Hits:
        for name, help_text, command in self.commands():
            yield DiscoveryHit(Content(name), command, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entries in (self.commands(), self.thread_commands()):
            for name, help_text, command in entries:
                score = matcher.match(name)
                if score > 0:
                    yield Hit(
                        score,
                        literal_highlight(matcher, name),
                        command,
                        text=name,
                        help=help_text or None,
                    )
