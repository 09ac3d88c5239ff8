"""Browser fixtures: Playwright on Debian's Chromium (/usr/bin/chromium, never a download),
a fresh profile per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.web_browser import chromium_missing, launch


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    missing = chromium_missing()
    if missing:
        pytest.fail(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    context = launch(playwright, tmp_path / "chromium-profile", accept_downloads=True)
    context.set_default_timeout(60_000)
    try:
        yield context
    finally:
        context.close()
