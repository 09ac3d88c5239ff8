"""Replays the recorded Yahoo Finance responses to yfinance, with no network.

``YahooReplay(fixtures_dir).session()`` is a ``requests.Session`` whose transport adapter
answers by URL path from the recorded bodies in ``yahoo_finance/`` (see PROVENANCE.md), so
``yf.Ticker(sym, session=s)`` / ``yf.Search(q, session=s)`` run yfinance's own request and
parsing code on real Yahoo data:

- ``fc.yahoo.com`` and ``/v1/test/getcrumb``: the cookie/crumb handshake.
- ``/v1/finance/search?q=…``: the recorded search for that exact query; any other query
  gets Yahoo's "nothing found" answer (no quotes).
- ``/v8/finance/chart/{AAPL,MSFT}``: the recorded daily chart, whatever the query params
  (yfinance also asks for range=1d to learn the timezone); other symbols get Yahoo's 404.
- ``/ws/fundamentals-timeseries/…/AAPL``: the series of the recorded annual income statement
  and balance sheet whose types are in the ``type`` list yfinance sends; nothing recorded for
  the request (cash flow, quarterly, other symbols) → an empty result, as Yahoo does.
- everything else (quoteSummary, …) was not recorded: a 404 like Yahoo's.

Faults for tests: ``rate_limit(n)`` (HTTP 429 on the next n data requests), ``offline()``
(every request raises ConnectionError), ``gate`` (a threading.Event data requests wait on).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

CHART_FILES = {
    "AAPL": "yahoo-finance2_chart-AAPL-2020-08-31-to-2020-11-07.json",
    "MSFT": "yahoo-finance2_historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.json",
}
SEARCH_FILES = {
    "AAPL": "yahoo-finance2_search-AAPL.json",
    "Bayerische Motoren Werke AG": "yahoo-finance2_search-Bayerische_Motoren_Werke_AG.json",
}
# Recorded fundamentals-timeseries bodies per symbol; a request gets the series of the types it
# asks for (as Yahoo answers), so yfinance's one-URL and chunked requests both work.
TIMESERIES_FILES = {
    "AAPL": (
        "yahoo-finance2_fundamentalsTimeSeries-AAPL-financials-annual.json",
        "yahoo-finance2_fundamentalsTimeSeries-AAPL-balance-sheet-annual.json",
    ),
}
DATA_PATHS = (
    "/v8/finance/chart/",
    "/ws/fundamentals-timeseries/",
    "/v1/finance/search",
    "/v10/finance/quoteSummary/",
)

_EMPTY_SEARCH = {
    "explains": [],
    "count": 0,
    "quotes": [],
    "news": [],
    "nav": [],
    "lists": [],
    "researchReports": [],
    "screenerFieldResults": [],
    "totalTime": 10,
    "timeTakenForQuotes": 5,
    "timeTakenForNews": 0,
    "timeTakenForAlgowatchlist": 400,
    "timeTakenForPredefinedScreener": 400,
    "timeTakenForCrunchbase": 0,
    "timeTakenForNav": 400,
    "timeTakenForResearchReports": 0,
    "timeTakenForScreenerField": 0,
    "timeTakenForCulturalAssets": 0,
}


def _not_found(kind: str, symbol: str) -> dict[str, Any]:
    description = (
        "No data found, symbol may be delisted"
        if kind == "chart"
        else f"Quote not found for symbol: {symbol}"
    )
    return {kind: {"result": None, "error": {"code": "Not Found", "description": description}}}


class YahooReplay:
    def __init__(self, fixtures_dir: Path) -> None:
        self.dir = Path(fixtures_dir) / "yahoo_finance"
        self._bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.requests: list[str] = []  # every URL asked for, in order
        self._rate_limited = 0  # data requests still to refuse with 429
        self._offline = False
        self.gate: threading.Event | None = None

    # -- set-up ------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        """A fresh session answering from the recordings. Also forgets yfinance's in-process
        response memo, so each test sees its own replay (and its own faults)."""
        forget_yfinance_responses()
        session = requests.Session()
        adapter = _ReplayAdapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def rate_limit(self, times: int) -> None:
        with self._lock:
            self._rate_limited = times

    def offline(self, value: bool = True) -> None:
        with self._lock:
            self._offline = value

    def count(self, path_part: str) -> int:
        with self._lock:
            return sum(1 for url in self.requests if path_part in url)

    def paths(self) -> Counter[str]:
        with self._lock:
            return Counter(urlsplit(url).path for url in self.requests)

    # -- answering -----------------------------------------------------------------------------
    def body(self, name: str) -> bytes:
        if name not in self._bodies:
            record = json.loads((self.dir / name).read_text(encoding="utf-8"))
            self._bodies[name] = json.dumps(record["response"]["bodyJson"]).encode()
        return self._bodies[name]

    def timeseries(self, symbol: str, types: list[str]) -> bytes:
        wanted = set(types)
        result = [
            series
            for name in TIMESERIES_FILES.get(symbol, ())
            for series in json.loads(self.body(name))["timeseries"]["result"]
            if set(series.get("meta", {}).get("type", [])) & wanted
        ]
        return json.dumps({"timeseries": {"result": result, "error": None}}).encode()

    def answer(self, request: requests.PreparedRequest) -> tuple[int, bytes, str]:
        url = urlsplit(request.url or "")
        query = parse_qs(url.query)
        path = url.path
        with self._lock:
            self.requests.append(request.url or "")
            if self._offline:
                raise requests.ConnectionError(f"replay is offline: {url.hostname}")
            is_data = path.startswith(DATA_PATHS)
            if is_data and self._rate_limited > 0:
                self._rate_limited -= 1
                return 429, b"Too Many Requests", "text/plain"
        if is_data and self.gate is not None:
            self.gate.wait(10)
        if url.hostname == "fc.yahoo.com":
            return 200, b"", "text/html"
        if path.endswith("/v1/test/getcrumb"):
            return 200, b"replay-crumb", "text/plain"
        if path == "/v1/finance/search":
            name = SEARCH_FILES.get(query.get("q", [""])[0])
            return (
                200,
                (self.body(name) if name else json.dumps(_EMPTY_SEARCH).encode()),
                "application/json",
            )
        if path.startswith("/v8/finance/chart/"):
            symbol = path.rsplit("/", 1)[-1]
            if symbol in CHART_FILES:
                return 200, self.body(CHART_FILES[symbol]), "application/json"
            return 404, json.dumps(_not_found("chart", symbol)).encode(), "application/json"
        if path.startswith("/ws/fundamentals-timeseries/"):
            return (
                200,
                self.timeseries(path.rsplit("/", 1)[-1], query.get("type", [""])[0].split(",")),
                "application/json",
            )
        symbol = path.rsplit("/", 1)[-1]
        return 404, json.dumps(_not_found("quoteSummary", symbol)).encode(), "application/json"


class _ReplayAdapter(BaseAdapter):
    def __init__(self, replay: YahooReplay) -> None:
        super().__init__()
        self.replay = replay

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        status, body, content_type = self.replay.answer(request)
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}.get(status, "")
        response._content = body
        response.headers["content-type"] = content_type
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def forget_yfinance_responses() -> None:
    """Reset yfinance's per-process state that would leak between tests: its memo of GET
    responses (``YfData.cache_get``) and its sticky "fundamentals in chunks" switch."""
    try:
        from yfinance.data import SingletonMeta, YfData
    except ImportError:
        return
    YfData.cache_get.cache_clear()
    instance = SingletonMeta._instances.get(YfData)
    if instance is not None:
        instance.fundamentals_use_chunked = False
