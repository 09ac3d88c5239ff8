"""What changes when the app runs in a browser tab (``investor-assistant web``; Textual's web
driver, ``App.is_web``): keys the browser keeps for itself get alternatives, the help lists
them, and exports are also downloaded by the browser.

Checked in headless Chromium 150 through textual-serve's xterm.js: every key of the app
reaches it, and Alt+letter arrives as ``alt+letter``. But a browser window with tabs keeps
Ctrl+N, Ctrl+T, Ctrl+W, Ctrl+Tab and Ctrl+PageUp/PageDown (Chromium's reserved shortcuts;
the page never sees them), and F-keys are media keys on many laptops and browser keys on
ChromeOS. Ctrl+B, Ctrl+F, Ctrl+L, Ctrl+O, Ctrl+P, Ctrl+R and Ctrl+G do reach the page (xterm.js
stops the browser's own action). Option+letter on macOS types a character; there the
browser's shortcuts use Cmd, so the terminal's Ctrl keys work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App

#: Binding id → keys in a browser tab, the browser-safe key first (the footer shows it).
#: The panes' keys are unchanged: listed so the footer keeps its order (a keymap moves the
#: bindings it names to the end).
BROWSER_KEYMAP: dict[str, str] = {
    "main.new_thread": "alt+n,ctrl+n",
    "main.inspector": "alt+i,ctrl+t,f3",
    "main.toggle_threads": "ctrl+b,f9",
    "main.toggle_run_panel": "ctrl+r,f10",
    "main.rename_thread": "alt+r,f2",
    "main.delete_thread": "alt+x,f8",
    "main.focus_prompt": "alt+l,ctrl+l",
    "main.help": "alt+k,f1",
}

#: The help's key labels (``help.KEYS``) as they read in a browser tab.
BROWSER_KEY_LABELS: dict[str, str] = {
    "Ctrl+N": "Alt+N",
    "Ctrl+T / F3": "Alt+I",
    "F2": "Alt+R",
    "F8": "Alt+X",
    "Ctrl+L": "Alt+L / Ctrl+L",
    "Ctrl+B or F9": "Ctrl+B",
    "Ctrl+R or F10": "Ctrl+R",
    "F1": "Alt+K / F1",
    "Ctrl+Q": "Ctrl+Q / close the tab",
}

BROWSER_NOTE = (
    "In a browser tab Ctrl+N, Ctrl+T and Ctrl+W open and close windows and tabs, and F-keys "
    "may belong to the browser or the system: the keys above work in a tab (on macOS the "
    "Ctrl keys work too). In the prompt Alt+Backspace deletes a word (Ctrl+W would close "
    "the tab; the page asks first). Copy (Y) goes to the browser's clipboard; exports are "
    "also downloaded by the browser. Closing the tab ends this session's app."
)


def offer_export(app: App[Any], path: Path, what: str) -> None:
    """Tell the user where an export was written; in a browser tab also download it there
    (textual-serve streams the file from this process to the browser)."""
    if not app.is_web:
        app.notify(f"{what} to {path}", timeout=10, markup=False)
        return
    app.deliver_text(path, encoding="utf-8", name=path.name)
    app.notify(
        f"{what} to {path} on the server; your browser is downloading {path.name}.",
        timeout=10,
        markup=False,
    )
