"""Yahoo Finance through yfinance (imported on first use), turned into plain data.

yfinance never retries a rate limit and reports many failures as empty frames; this module
retries ``YFRateLimitError`` with a 2/4/8 s backoff and turns every failure into a
MarketDataError whose message is one line.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .. import paths
from ..text import one_line
from .base import (
    MarketDataError,
    NewsItem,
    NoDataError,
    PriceHistory,
    ProviderUnavailableError,
    Quote,
    RateLimitedError,
    RecommendationPeriod,
    SearchHit,
    Statement,
    StatementKind,
    StatementPeriod,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_BACKOFF_S: tuple[float, ...] = (2.0, 4.0, 8.0)
REQUEST_TIMEOUT_S = 15

_STATEMENT_LABELS = {
    "income": "income statement",
    "balance": "balance sheet",
    "cash_flow": "cash flow",
}
_TRANSIENT_NAMES = {
    "Timeout",
    "TimeoutError",
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "ChunkedEncodingError",
    "RemoteDisconnected",
    "DNSError",
    "ProxyError",
    "SSLError",
}

_configure_lock = threading.Lock()


def _yfinance() -> Any:
    """Import yfinance and set it up once per process."""
    import yfinance as yf

    with _configure_lock:
        _configure_once(yf)
    return yf


@functools.cache
def _configure_once(yf: Any) -> None:
    # yfinance keeps a ticker→timezone database; keep it in our cache dir. It can only be
    # pointed somewhere before first use, hence once per process.
    yf.set_tz_cache_location(str(paths.private_dir(paths.cache_dir() / "yfinance")))
    # Raise instead of logging and returning an empty frame: we turn exceptions into
    # precise messages, and log lines on stderr would garble the terminal UI.
    yf.config.debug.hide_exceptions = False
    logging.getLogger("yfinance").addHandler(logging.NullHandler())
    # yfinance on pandas 3 emits deprecation warnings on every call.
    warnings.filterwarnings("ignore", module=r"^yfinance")


def _num(value: Any, digits: int = 6) -> float | None:
    """A plain float, or None for NaN/None/garbage."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return round(number, digits)


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


class YahooProvider:
    """Market data from Yahoo Finance. ``session``: a requests-like session for yfinance (tests
    pass a replay session); ``sleep`` and ``backoff`` are injectable so tests never wait."""

    name = "yahoo"

    def __init__(
        self,
        session: Any = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Sequence[float] = DEFAULT_BACKOFF_S,
        timeout: int = REQUEST_TIMEOUT_S,
    ) -> None:
        self._session = session
        self._sleep = sleep
        self._backoff = tuple(backoff)
        self._timeout = timeout

    # -- plumbing ------------------------------------------------------------------------
    def _ticker(self, symbol: str) -> Any:
        return _yfinance().Ticker(symbol, session=self._session)

    def _call(self, what: str, symbol: str, fetch: Callable[[], T]) -> T:
        """Run ``fetch``, retrying rate limits with backoff; any failure → MarketDataError."""
        from yfinance.exceptions import YFRateLimitError

        attempt = 0
        while True:
            try:
                return fetch()
            except YFRateLimitError:
                if attempt >= len(self._backoff):
                    raise RateLimitedError(
                        f"Yahoo Finance is rate-limiting requests ({what} for {symbol}: {attempt + 1} tries "
                        f"over {sum(self._backoff):g} s); wait a minute and try again"
                    ) from None
                delay = self._backoff[attempt]
                log.info("Yahoo rate limit on %s %s; retrying in %g s", what, symbol, delay)
                self._sleep(delay)
                attempt += 1
            except MarketDataError:
                raise
            except Exception as exc:
                raise _translate(exc, what, symbol) from exc

    def _search(self, yf: Any, text: str, *, quotes: int, news: int) -> Any:
        """yfinance's search for ``text``: up to ``quotes`` symbols and ``news`` articles."""
        return yf.Search(
            text,
            max_results=quotes,
            news_count=news,
            lists_count=0,
            include_cb=False,
            recommended=0,
            session=self._session,
            timeout=self._timeout,
        )

    # -- MarketProvider --------------------------------------------------------------------
    def search(self, query: str) -> list[SearchHit]:
        yf = _yfinance()

        def fetch() -> list[dict[str, Any]]:
            return list(self._search(yf, query, quotes=8, news=0).quotes)

        quotes = self._call("search", repr(query), fetch)
        hits: list[SearchHit] = []
        for quote in quotes:
            symbol = quote.get("symbol") if isinstance(quote, dict) else None
            if not isinstance(symbol, str) or not symbol:
                continue  # e.g. crunchbase entries for private companies
            hits.append(
                SearchHit(
                    symbol=symbol,
                    name=quote.get("longname") or quote.get("shortname") or quote.get("name"),
                    exchange=quote.get("exchange"),
                    type=quote.get("quoteType"),
                )
            )
        return hits

    def history(self, symbol: str, period: str) -> PriceHistory:
        def fetch() -> tuple[Any, str | None]:
            ticker = self._ticker(symbol)
            frame = ticker.history(
                period=period,
                interval="1d",
                auto_adjust=False,
                actions=False,
                timeout=self._timeout,
            )
            currency = None
            try:  # filled in by the history() call above, no extra request
                currency = (ticker.history_metadata or {}).get("currency")
            except Exception:
                pass
            return frame, currency

        frame, currency = self._call("price history", symbol, fetch)
        if frame is None or frame.empty or "Close" not in frame:
            raise _no_data("price history", symbol)
        frame = frame.dropna(subset=["Close"])
        if frame.empty:
            raise _no_data("price history", symbol)

        def column(name: str) -> list[float | None]:
            return [_num(v) for v in frame[name]] if name in frame else [None] * len(frame)

        return PriceHistory(
            symbol=symbol,
            currency=currency,
            dates=[ts.strftime("%Y-%m-%d") for ts in frame.index],
            open=column("Open"),
            high=column("High"),
            low=column("Low"),
            close=column("Close"),
            volume=[_int(v) for v in frame["Volume"]] if "Volume" in frame else [None] * len(frame),
        )

    def statement(self, symbol: str, kind: StatementKind, period: StatementPeriod) -> Statement:
        label = _STATEMENT_LABELS[kind]
        freq = "yearly" if period == "annual" else "quarterly"

        def fetch() -> tuple[Any, str | None]:
            ticker = self._ticker(symbol)
            getter = {
                "income": ticker.get_income_stmt,
                "balance": ticker.get_balance_sheet,
                "cash_flow": ticker.get_cash_flow,
            }[kind]
            frame = getter(pretty=True, freq=freq)
            return frame, self._currency(ticker) if frame is not None and not frame.empty else None

        frame, currency = self._call(label, symbol, fetch)
        if frame is None or frame.empty:
            raise _no_data(f"{period} {label}", symbol)
        frame = frame[sorted(frame.columns, reverse=True)].dropna(axis=1, how="all")
        rows: dict[str, list[float | None]] = {}
        for name, values in frame.iterrows():
            numbers = [_num(v) for v in values]
            if any(v is not None for v in numbers):
                rows[str(name)] = numbers
        if not rows:
            raise _no_data(f"{period} {label}", symbol)
        return Statement(
            symbol=symbol,
            currency=currency,
            statement=kind,
            period=period,
            periods=[ts.strftime("%Y-%m-%d") for ts in frame.columns],
            rows=rows,
        )

    def _currency(self, ticker: Any) -> str | None:
        """Trading currency from the chart metadata; a statement without it is still useful."""
        try:
            return (ticker.get_history_metadata() or {}).get("currency")
        except Exception:
            return None

    def quote(self, symbol: str) -> Quote:
        def fetch() -> Quote:
            ticker = self._ticker(symbol)
            info = self._info(ticker)
            quote = Quote(
                symbol=symbol,
                currency=info.get("currency"),
                name=info.get("longName") or info.get("shortName"),
                price=_num(info.get("currentPrice") or info.get("regularMarketPrice")),
                previous_close=_num(
                    info.get("previousClose") or info.get("regularMarketPreviousClose")
                ),
                market_cap=_num(info.get("marketCap")),
                pe_ratio=_num(info.get("trailingPE")),
                forward_pe=_num(info.get("forwardPE")),
                fifty_two_week_low=_num(info.get("fiftyTwoWeekLow")),
                fifty_two_week_high=_num(info.get("fiftyTwoWeekHigh")),
                volume=_int(info.get("volume") or info.get("regularMarketVolume")),
            )
            if quote["price"] is None:
                self._fill_from_chart(ticker, quote)
            return quote

        quote = self._call("quote", symbol, fetch)
        if quote.get("price") is None:
            raise _no_data("quote", symbol)
        return quote

    def _info(self, ticker: Any) -> dict[str, Any]:
        from yfinance.exceptions import YFRateLimitError

        try:
            info = ticker.info
        except YFRateLimitError:
            raise
        except Exception as exc:  # quoteSummary often fails where the chart works
            log.info(
                "Yahoo info for %s failed (%s); using the chart metadata",
                ticker.ticker,
                one_line(exc, 200),
            )
            return {}
        return info if isinstance(info, dict) else {}

    def _fill_from_chart(self, ticker: Any, quote: Quote) -> None:
        """Quote fields from the chart endpoint's metadata (one small request) when quoteSummary
        fails. Everything comes from the same response, so the fields describe the same moment."""
        frame = ticker.history(
            period="5d", interval="1d", auto_adjust=False, actions=False, timeout=self._timeout
        )
        meta = ticker.history_metadata or {}
        quote["price"] = _num(meta.get("regularMarketPrice"))
        quote["fifty_two_week_low"] = _num(meta.get("fiftyTwoWeekLow"))
        quote["fifty_two_week_high"] = _num(meta.get("fiftyTwoWeekHigh"))
        quote["volume"] = _int(meta.get("regularMarketVolume"))
        quote["currency"] = quote.get("currency") or meta.get("currency")
        quote["name"] = quote.get("name") or meta.get("longName") or meta.get("shortName")
        quote["previous_close"] = _num(meta.get("previousClose")) or _previous_close(
            frame, meta.get("regularMarketTime")
        )

    def news(self, symbol: str) -> list[NewsItem]:
        yf = _yfinance()

        def fetch() -> list[Any]:
            items = list(self._search(yf, symbol, quotes=1, news=8).news)
            if not items:
                items = list(self._ticker(symbol).get_news(count=8))
            return items

        items = [
            item for item in (_news_item(raw) for raw in self._call("news", symbol, fetch)) if item
        ]
        if not items:
            raise NoDataError(f"no news found for {symbol}")
        return items[:8]

    def recommendations(self, symbol: str) -> list[RecommendationPeriod]:
        frame = self._call(
            "analyst recommendations", symbol, lambda: self._ticker(symbol).recommendations
        )
        if frame is None or getattr(frame, "empty", True):
            raise NoDataError(f"no analyst recommendations for {symbol}")
        periods: list[RecommendationPeriod] = []
        for _, row in frame.iterrows():
            periods.append(
                RecommendationPeriod(
                    period=str(row.get("period", "")),
                    strongBuy=_int(row.get("strongBuy")) or 0,
                    buy=_int(row.get("buy")) or 0,
                    hold=_int(row.get("hold")) or 0,
                    sell=_int(row.get("sell")) or 0,
                    strongSell=_int(row.get("strongSell")) or 0,
                )
            )
        return periods


def _previous_close(frame: Any, market_time: Any) -> float | None:
    """The close before the latest session, from daily bars — only if those bars are current
    (within a week of the quote's time), never mixing a stale series into a fresh quote."""
    if (
        frame is None
        or frame.empty
        or "Close" not in frame
        or not isinstance(market_time, (int, float))
    ):
        return None
    closes = frame["Close"].dropna()
    if closes.empty:
        return None
    quote_day = dt.datetime.fromtimestamp(market_time, tz=dt.UTC).date()
    last_day = closes.index[-1].date()
    if abs((quote_day - last_day).days) > 7:
        return None
    if last_day >= quote_day:
        return _num(closes.iloc[-2]) if len(closes) >= 2 else None
    return _num(closes.iloc[-1])


def _no_data(what: str, symbol: str) -> NoDataError:
    subject = "data" if what in ("price history", "quote") else f"{what} data"
    return NoDataError(f"no {subject} for {symbol} — delisted or wrong symbol?")


def _news_item(raw: Any) -> NewsItem | None:
    """One news entry from either of Yahoo's formats (search: flat; ncp: under "content")."""
    if not isinstance(raw, dict):
        return None
    inner = raw.get("content")
    content: dict[str, Any] = inner if isinstance(inner, dict) else raw
    title = content.get("title")
    if not isinstance(title, str) or not title.strip():
        return None
    provider = content.get("provider")
    publisher = (
        provider.get("displayName") if isinstance(provider, dict) else content.get("publisher")
    )
    published: str | None = None
    if isinstance(content.get("providerPublishTime"), (int, float)):
        stamp = dt.datetime.fromtimestamp(content["providerPublishTime"], tz=dt.UTC)
        published = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(content.get("pubDate"), str):
        published = content["pubDate"]
    url = content.get("link")
    for key in ("canonicalUrl", "clickThroughUrl"):
        if not url and isinstance(content.get(key), dict):
            url = content[key].get("url")
    return NewsItem(
        title=one_line(title, 200),
        publisher=one_line(publisher, 80) if isinstance(publisher, str) else None,
        published=published,
        url=url if isinstance(url, str) and url.startswith(("https://", "http://")) else None,
    )


def _translate(exc: Exception, what: str, symbol: str) -> MarketDataError:
    from yfinance.exceptions import YFException, YFTickerMissingError, YFTzMissingError

    if isinstance(exc, YFTzMissingError):
        return NoDataError(
            f"no data for {symbol} — delisted or wrong symbol? (Yahoo has no timezone for it)"
        )
    if isinstance(exc, YFTickerMissingError):
        return _no_data("price history", symbol)
    if isinstance(exc, YFException):
        if "empty" in str(exc).lower():
            return _no_data(what, symbol)
        return MarketDataError(f"Yahoo Finance {what} for {symbol} failed: {one_line(exc, 200)}")
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        if status == 404:
            return _no_data(what, symbol)
        if status == 429:
            return RateLimitedError(
                f"Yahoo Finance is rate-limiting requests ({what} for {symbol}); wait a minute and try again"
            )
        return MarketDataError(
            f"Yahoo Finance answered HTTP {status} for {what} of {symbol}; try again later"
        )
    if type(exc).__name__ in _TRANSIENT_NAMES or isinstance(exc, (OSError, TimeoutError)):
        return ProviderUnavailableError(
            f"cannot reach Yahoo Finance ({type(exc).__name__}); check the connection, or use "
            "demo data (--data demo; in the app Ctrl+P → Use demo market data)"
        )
    if isinstance(exc, ValueError) and "json" in type(exc).__name__.lower():
        return MarketDataError(
            f"Yahoo Finance sent an unreadable answer for {what} of {symbol}; try again later"
        )
    return MarketDataError(
        f"Yahoo Finance {what} for {symbol} failed: {type(exc).__name__}: {one_line(exc, 200)}"
    )
