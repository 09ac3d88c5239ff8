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

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from assistant_core import numfmt
from assistant_core.numfmt import Locale
from assistant_core.text import one_line

from .theme import theme_style

CAPTION_LINES = 1
VOLUME_ROWS = 6  # volume subplot height, frame included
Y_TICKS = 5  # price-axis labels: about this many, at round values
THEME_NAME = "investor-assistant"


@dataclass(frozen=True)
class Figures:
    """How the chart writes its numbers: the answer's locale and the prices' currency."""

    locale: Locale = "en"
    currency: str | None = None

    def price(self, value: float) -> str:
        return numfmt.price(value, self.currency, self.locale)

    def digits(self, value: float) -> str:
        """Inside the figure: no currency (plotext counts a wide 원 as one cell)."""
        return numfmt.price_digits(value, self.currency)


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

    def __init__(
        self, display: dict[str, Any] | None, figures: Figures | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.series = series_from_display(display)
        self.figures = figures or Figures()
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
        figure = draw_figure(self.series, width, height, colors, self.figures)
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
            figures = self.figures
            text.append(series.symbol, self._style("chart--caption") + Style(bold=True))
            text.append(f"  {figures.price(last)}  ")
            text.append(
                numfmt.change(change, figures.locale),
                self._style("chart--high" if change >= 0 else "chart--low"),
            )
            text.append(f" over {len(series.close)} days", self._style("chart--muted"))
            top, bottom = _argmax(highs), _argmin(lows)
            text.append("  ▲ ", self._style("chart--high"))
            text.append(
                f"{figures.price(highs[top])} {series.dates[top]}", self._style("chart--muted")
            )
            text.append("  ▼ ", self._style("chart--low"))
            text.append(
                f"{figures.price(lows[bottom])} {series.dates[bottom]}",
                self._style("chart--muted"),
            )
            return text
        for index, series in enumerate(self.series):
            first, last = series.close[0], series.close[-1]
            change = (last / first - 1) * 100 if first else 0.0
            if index:
                text.append("   ")
            text.append("━ ", self._style(_series_class(index)))
            text.append(f"{series.symbol} ", Style(bold=True))
            text.append(
                numfmt.change(change, self.figures.locale),
                self._style("chart--high" if change >= 0 else "chart--low"),
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
    series: list[Series],
    width: int,
    height: int,
    colors: dict[str, tuple[int, int, int]],
    figures: Figures | None = None,
) -> Text:
    """The plotext figure for ``series`` at ``width`` x ``height`` cells, as ``Text``."""
    figures = figures or Figures()
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
            _draw_price(plt, top, first, colors, figures)
        else:
            _draw_compare(plt, top, series, colors, figures)
        wide: dict[str, str] = {}
        if bottom is not None and first.volume is not None:
            wide = _draw_volume(plt, bottom, first.volume, colors, figures)
        # The figure's labels carry tool data (symbols, dates): sanitised in Series.
        drawn = figure.build().string().rstrip("\n")
        for stand_in, label in wide.items():
            drawn = drawn.replace(stand_in, label)
        return Text.from_ansi(drawn, end="", no_wrap=True)


def _draw_price(
    plt: Any,
    plot: Any,
    series: Series,
    colors: dict[str, tuple[int, int, int]],
    figures: Figures,
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
        label = plt.colorize(f"{glyph}{figures.digits(value)}", plt.pixel(colors[name]))
        # Labels read away from the nearer edge, so they are not cut off.
        align = "right" if index > len(xs) / 2 else "left"
        plot.draw(plot.text(index, value, label, alignment=align))
    # Room above the high and below the low, so their labels are not on the frame.
    pad = (highs[top] - lows[bottom]) * 0.08 or abs(highs[top]) * 0.01 or 1.0
    low, high = lows[bottom] - pad, highs[top] + pad
    plot.ruler("y").lim(low, high)
    _value_ticks(plot, low, high, "")
    _date_ticks(plot, series.dates)


def _draw_compare(
    plt: Any,
    plot: Any,
    series: list[Series],
    colors: dict[str, tuple[int, int, int]],
    figures: Figures,
) -> None:
    lows, highs = [], []
    for index, one in enumerate(series):
        base = one.close[0] or 1.0
        rebased = [(value / base - 1) * 100 for value in one.close]
        lows.append(min(rebased))
        highs.append(max(rebased))
        line = plot.signal(
            list(range(len(rebased))),
            rebased,
            marker=plt.marker("hd", plt.pixel(colors[_series_class(index)])),
        )
        line.lines()
        plot.draw(line)
    pad = (max(highs) - min(lows)) * 0.05 or 1.0
    low, high = min(lows) - pad, max(highs) + pad
    plot.ruler("y").lim(low, high)
    _value_ticks(plot, low, high, "%")
    _date_ticks(plot, max((s.dates for s in series), key=len))


def _draw_volume(
    plt: Any,
    plot: Any,
    volume: list[float],
    colors: dict[str, tuple[int, int, int]],
    figures: Figures,
) -> dict[str, str]:
    """Volume bars; returns the stand-ins used for labels with wide characters (see
    ``_narrow``)."""
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
    if peak <= 0:
        return {}
    labels, wide = _narrow(["0", numfmt.count(peak, figures.locale)])
    plot.ruler("y").ticks([0, peak], labels)
    return wide


def _narrow(labels: list[str]) -> tuple[list[str], dict[str, str]]:
    """plotext counts a character as one cell, so a label with a wide one (``2,259만``)
    would push its row out of line: such a label is drawn as a stand-in of its cell width
    (private-use characters) and swapped back in the finished figure."""
    out, wide = [], {}
    for index, label in enumerate(labels):
        if cell_len(label) != len(label):
            stand_in = chr(0xE000 + index) * cell_len(label)
            wide[stand_in] = label
            label = stand_in
        out.append(label)
    return out, wide


def _series_class(index: int) -> str:
    return f"chart--series-{index % 6 + 1}"


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _argmin(values: list[float]) -> int:
    return min(range(len(values)), key=values.__getitem__)


def nice_ticks(low: float, high: float, count: int = Y_TICKS) -> tuple[list[float], int]:
    """About ``count`` round values within [low, high] (steps of 1, 2, 2.5 or 5 × 10ⁿ) and
    the decimals they need: labels a reader can take in, never plotext's ``2.79e5``."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return [low], 2
    power = 10.0 ** math.floor(math.log10(span / max(count - 1, 1)))

    def ticks_of(step: float) -> list[float]:
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        return [i * step for i in range(first, last + 1)]

    steps = [m * power for m in (0.5, 1, 2, 2.5, 5, 10, 20)]
    fitting = [step for step in steps if 2 <= len(ticks_of(step)) <= count + 1]
    step = min(fitting or steps[-1:], key=lambda s: abs(len(ticks_of(s)) - count))
    decimals = 0
    while decimals < 12 and abs(round(step, decimals) - step) > step * 1e-9:
        decimals += 1
    return ticks_of(step), decimals


def _value_ticks(plot: Any, low: float, high: float, suffix: str) -> None:
    """Label the y axis ourselves: grouped digits, ASCII minus, ``suffix`` (``%``)."""
    ticks, decimals = nice_ticks(low, high)
    plus = suffix == "%"  # a change since the first day has a sign
    labels = [
        ("+" if plus and round(t, decimals) > 0 else "") + numfmt.grouped(t, decimals) + suffix
        for t in ticks
    ]
    plot.ruler("y").ticks(ticks, labels)


def _date_ticks(plot: Any, dates: list[str], count: int = 5) -> None:
    size = len(dates)
    if size == 0:
        return
    step = max(1, (size - 1) // (count - 1)) if size > 1 else 1
    positions = list(range(0, size, step))[:count]
    plot.ruler("x").ticks(positions, [dates[i] for i in positions])
