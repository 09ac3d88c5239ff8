"""PriceChart: a tool's price series drawn with plotext 6 inside a widget of our own.

textual-plotext pins plotext < 6 and no longer imports, so the figure is built here with
plotext's explicit-figure API, turned into a ``Text`` with ``Text.from_ansi`` and painted
at the widget's size, in the app theme's colours. One series: close line, high and low
marked, volume bars below. Several series (``compare_stocks``): one line each, rebased to
the % change since the first day, so different price levels compare.

plotext is imported on first paint, never at start-up, and the figure is drawn in a worker
thread (the caption shows at once; the figure ~25 ms later).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from assistant_core.text import one_line

from .tables import format_number
from .theme import theme_style

CAPTION_LINES = 1
VOLUME_ROWS = 6  # volume subplot height, frame included
THEME_NAME = "investor-assistant"


@dataclass
class Series:
    symbol: str
    dates: list[str]
    close: list[float]
    volume: list[float] | None
    high: list[float] | None
    low: list[float] | None

    @classmethod
    def from_display(cls, data: dict[str, Any]) -> Series | None:
        close = _floats(data.get("close"))
        if not close:
            return None
        size = len(close)
        dates = [one_line(d)[:10] for d in (data.get("dates") or [])][:size]
        dates += [str(i + 1) for i in range(len(dates), size)]

        def aligned(key: str) -> list[float] | None:
            values = _floats(data.get(key))
            return values if values and len(values) == size else None

        return cls(
            symbol=one_line(data.get("symbol") or "?")[:16],
            dates=dates,
            close=close,
            volume=aligned("volume"),
            high=aligned("high"),
            low=aligned("low"),
        )


def _floats(values: Any) -> list[float]:
    if not isinstance(values, (list, tuple)):
        return []
    out: list[float] = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        out.append(number)
    # Gaps (NaN) are carried forward so a line stays continuous.
    last = next((v for v in out if not math.isnan(v)), math.nan)
    for index, value in enumerate(out):
        if math.isnan(value):
            out[index] = last
        else:
            last = value
    return [] if math.isnan(last) else out


def series_from_display(display: dict[str, Any] | None) -> list[Series]:
    raw = (display or {}).get("series") or []
    return [s for s in (Series.from_display(d) for d in raw if isinstance(d, dict)) if s]


class PriceChart(Widget):
    """Draws ``display["series"]`` of a ``"prices"`` tool result."""

    DEFAULT_CSS = """
    PriceChart {
        height: 18;
        min-width: 30;
    }
    """

    def __init__(self, display: dict[str, Any] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.series = series_from_display(display)
        self._figure_key: tuple[object, ...] | None = None
        self._figure: Text | None = None
        self._drawing: tuple[object, ...] | None = None  # key being drawn in a thread

    @property
    def drawn(self) -> bool:
        """The figure for the current size is on screen (not the placeholder)."""
        return self._figure is not None and self._figure_key == self._key()

    def _key(self) -> tuple[object, ...]:
        width, height = self.content_size
        return (width, height - CAPTION_LINES, self.app.theme)

    def render(self) -> Text:
        # The caption is cheap and drawn here; the figure (plotext, ~25 ms) is drawn in a
        # thread so that a chart never stalls the event loop, and shown when ready.
        if not self.series:
            return Text("no price data", self._style("chart--muted"), end="")
        text = self._caption()
        width, height = self._key()[:2]
        if width < 20 or height < 5:  # type: ignore[operator]
            return text
        key = self._key()
        if self._figure is not None and self._figure_key == key:
            text.append("\n")
            text.append_text(self._figure)
        elif self._drawing != key:
            self._drawing = key
            colors = {name: self._rgb(name) for name in _COLOR_NAMES}
            self.run_worker(
                partial(self._draw_in_thread, key, width, height, colors),  # type: ignore[arg-type]
                thread=True,
                exit_on_error=False,
                group="chart",
            )
        return text

    def _draw_in_thread(
        self,
        key: tuple[object, ...],
        width: int,
        height: int,
        colors: dict[str, tuple[int, int, int]],
    ) -> None:
        figure = draw_figure(self.series, width, height, colors)
        self.app.call_from_thread(self._drawn, key, figure)

    def _drawn(self, key: tuple[object, ...], figure: Text) -> None:
        self._drawing = None
        self._figure, self._figure_key = figure, key
        self.refresh()

    def _style(self, name: str) -> Style:
        return theme_style(self, name)

    def _rgb(self, name: str) -> tuple[int, int, int]:
        color = self._style(name).color
        if color is None:
            return (128, 128, 128)
        triplet = color.get_truecolor()
        return (triplet.red, triplet.green, triplet.blue)

    def _caption(self) -> Text:
        text = Text(end="", no_wrap=True, overflow="ellipsis")
        if len(self.series) == 1:
            series = self.series[0]
            first, last = series.close[0], series.close[-1]
            change = (last / first - 1) * 100 if first else 0.0
            highs, lows = series.high or series.close, series.low or series.close
            text.append(series.symbol, self._style("chart--caption") + Style(bold=True))
            text.append(f"  {last:,.2f}  ")
            text.append(
                f"{change:+.1f}%", self._style("chart--high" if change >= 0 else "chart--low")
            )
            text.append(f" over {len(series.close)} days", self._style("chart--muted"))
            top, bottom = _argmax(highs), _argmin(lows)
            text.append("  ▲ ", self._style("chart--high"))
            text.append(f"{highs[top]:,.2f} {series.dates[top]}", self._style("chart--muted"))
            text.append("  ▼ ", self._style("chart--low"))
            text.append(f"{lows[bottom]:,.2f} {series.dates[bottom]}", self._style("chart--muted"))
            return text
        for index, series in enumerate(self.series):
            first, last = series.close[0], series.close[-1]
            change = (last / first - 1) * 100 if first else 0.0
            if index:
                text.append("   ")
            text.append("━ ", self._style(_series_class(index)))
            text.append(f"{series.symbol} ", Style(bold=True))
            text.append(
                f"{change:+.1f}%", self._style("chart--high" if change >= 0 else "chart--low")
            )
        text.append("  (% since first day)", self._style("chart--muted"))
        return text


_COLOR_NAMES = (
    "chart--axes",
    "chart--line",
    "chart--volume",
    "chart--high",
    "chart--low",
    *(f"chart--series-{i}" for i in range(1, 7)),
)
# plotext draws on one global figure: one drawing at a time.
_PLOTEXT_LOCK = threading.Lock()


def draw_figure(
    series: list[Series], width: int, height: int, colors: dict[str, tuple[int, int, int]]
) -> Text:
    """The plotext figure for ``series`` at ``width`` x ``height`` cells, as ``Text``."""
    with _PLOTEXT_LOCK:
        import plotext as plt

        # Size to the widget, not to the terminal plotext thinks it prints to.
        plt.terminal.limit(False, False)
        plt.add_theme(
            THEME_NAME,
            text=colors["chart--axes"],
            sequence=[colors[_series_class(i)] for i in range(6)],
        )
        figure = plt.figure
        figure.clear()
        first = series[0]
        single = len(series) == 1
        with_volume = single and first.volume is not None and height >= VOLUME_ROWS + 6
        if with_volume:
            figure.subplots(2, 1)
            figure.plot_size(width, height)
            top, bottom = figure.subplot(1, 1), figure.subplot(2, 1)
            top.plot_size(width, height - VOLUME_ROWS)
            plots = [top, bottom]
        else:
            figure.plot_size(width, height)
            top, bottom = figure, None
            plots = [figure]
        for plot in plots:
            plot.theme(THEME_NAME)
        if single:
            _draw_price(plt, top, first, colors)
        else:
            _draw_compare(plt, top, series, colors)
        if bottom is not None and first.volume is not None:
            _draw_volume(plt, bottom, first.volume, colors)
        # The figure's labels carry tool data (symbols, dates): sanitised in Series.
        return Text.from_ansi(figure.build().string().rstrip("\n"), end="", no_wrap=True)


def _draw_price(
    plt: Any, plot: Any, series: Series, colors: dict[str, tuple[int, int, int]]
) -> None:
    xs = list(range(len(series.close)))
    line = plot.signal(xs, series.close, marker=plt.marker("hd", plt.pixel(colors["chart--line"])))
    line.lines()
    plot.draw(line)
    highs, lows = series.high or series.close, series.low or series.close
    top, bottom = _argmax(highs), _argmin(lows)
    for index, value, name, glyph in (
        (top, highs[top], "chart--high", "▲"),
        (bottom, lows[bottom], "chart--low", "▼"),
    ):
        label = plt.colorize(f"{glyph}{value:,.2f}", plt.pixel(colors[name]))
        # Labels read away from the nearer edge, so they are not cut off.
        align = "right" if index > len(xs) / 2 else "left"
        plot.draw(plot.text(index, value, label, alignment=align))
    # Room above the high and below the low, so their labels are not on the frame.
    pad = (highs[top] - lows[bottom]) * 0.08 or abs(highs[top]) * 0.01 or 1.0
    plot.ruler("y").lim(lows[bottom] - pad, highs[top] + pad)
    _date_ticks(plot, series.dates)


def _draw_compare(
    plt: Any, plot: Any, series: list[Series], colors: dict[str, tuple[int, int, int]]
) -> None:
    for index, one in enumerate(series):
        base = one.close[0] or 1.0
        rebased = [(value / base - 1) * 100 for value in one.close]
        line = plot.signal(
            list(range(len(rebased))),
            rebased,
            marker=plt.marker("hd", plt.pixel(colors[_series_class(index)])),
        )
        line.lines()
        plot.draw(line)
    _date_ticks(plot, max((s.dates for s in series), key=len))


def _draw_volume(
    plt: Any, plot: Any, volume: list[float], colors: dict[str, tuple[int, int, int]]
) -> None:
    bars = plot.bar(
        list(range(len(volume))),
        volume,
        marker=plt.marker("full", plt.pixel(colors["chart--volume"])),
        width=0.6,
        lines=False,
    )
    plot.draw(bars)
    peak = max(volume) if volume else 0
    plot.ruler("x").ticks([], [])
    if peak > 0:
        plot.ruler("y").ticks([0, peak], ["0", format_number(peak, decimals=0)])


def _series_class(index: int) -> str:
    return f"chart--series-{index % 6 + 1}"


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _argmin(values: list[float]) -> int:
    return min(range(len(values)), key=values.__getitem__)


def _date_ticks(plot: Any, dates: list[str], count: int = 5) -> None:
    size = len(dates)
    if size == 0:
        return
    step = max(1, (size - 1) // (count - 1)) if size > 1 else 1
    positions = list(range(0, size, step))[:count]
    plot.ruler("x").ticks(positions, [dates[i] for i in positions])
