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
from typing import TYPE_CHECKING, Any, Unpack

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from assistant_core import numfmt
from assistant_core.numfmt import Locale
from assistant_core.text import one_line

from .rendered import LinePart, fit_parts, line_of
from .theme import theme_style

if TYPE_CHECKING:
    from .options import WidgetOptions

CAPTION_LINES = 1
VOLUME_ROWS = 6  # volume subplot height, frame included
Y_TICKS = 5  # price-axis labels: about this many, at round values
THEME_NAME = "investor-assistant"
#: What a drawn figure depends on: the plot's width and height (cells) and the theme.
FigureKey = tuple[int, int, str]


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
        self,
        display: dict[str, Any] | None,
        figures: Figures | None = None,
        **options: Unpack[WidgetOptions],
    ) -> None:
        super().__init__(**options)
        self.series = series_from_display(display)
        self.figures = figures or Figures()
        self._figure_key: FigureKey | None = None
        self._figure: Text | None = None
        self._drawing: FigureKey | None = None  # key being drawn in a thread

    @property
    def drawn(self) -> bool:
        """The figure for the current size is on screen (not the placeholder)."""
        return self._figure is not None and self._figure_key == self._key()

    def _key(self) -> FigureKey:
        width, height = self.content_size
        return (width, height - CAPTION_LINES, self.app.theme)

    def render(self) -> Text:
        # The caption is cheap and drawn here; the figure (plotext, ~25 ms) is drawn in a
        # thread so that a chart never stalls the event loop, and shown when ready — until
        # then the slot says what it is waiting for.
        key = self._key()
        width, height, _theme = key
        if not self.series:
            return Text("no price data", self._style("chart--muted"), end="")
        text = self._caption(width)
        if width < 20 or height < 5:
            return text
        text.append("\n")
        if self._figure is not None and self._figure_key == key:
            text.append_text(self._figure)
            return text
        if self._drawing != key:
            self._drawing = key
            colors = {name: self._rgb(name) for name in _COLOR_NAMES}
            self.run_worker(
                partial(self._draw_in_thread, key, width, height, colors),
                thread=True,
                exit_on_error=False,
                group="chart",
            )
        text.append_text(self._placeholder(width, height))
        return text

    def _placeholder(self, width: int, height: int) -> Text:
        """The figure's slot while it is drawn: a dim frame saying what will be in it."""
        style = self._style("chart--muted")
        days = max(len(s.close) for s in self.series)
        symbols = ", ".join(s.symbol for s in self.series)
        note = Text(
            f" 차트를 그리는 중: {symbols}, {days}일… "
            if self.figures.locale == "ko"
            else f" drawing the chart: {symbols}, {days} days… ",
            end="",
        )
        inner = max(width - 2, 1)
        note.truncate(inner, overflow="ellipsis")
        note.align("center", inner)
        lines = ["┌" + "┄" * inner + "┐"]
        middle = (height - 2) // 2
        for row in range(height - 2):
            body = note.plain if row == middle else " " * inner
            lines.append("┆" + body + "┆")
        lines.append("└" + "┄" * inner + "┘")
        return Text("\n".join(lines), style, end="", no_wrap=True)

    def _draw_in_thread(
        self,
        key: FigureKey,
        width: int,
        height: int,
        colors: dict[str, tuple[int, int, int]],
    ) -> None:
        figure = draw_figure(self.series, width, height, colors, self.figures)
        self.app.call_from_thread(self._drawn, key, figure)

    def _drawn(self, key: FigureKey, figure: Text) -> None:
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

    def _period(self, days: int) -> str:
        return f" {days}일간" if self.figures.locale == "ko" else f" over {days} days"

    def _caption(self, width: int) -> Text:
        """One line above the figure, fitted to ``width``: the price, the change and the
        range; the dates of the high and low and the period go first when it is narrow."""
        figures = self.figures
        muted = self._style("chart--muted")
        parts: list[LinePart] = []
        if len(self.series) == 1:
            series = self.series[0]
            first, last = series.close[0], series.close[-1]
            change = (last / first - 1) * 100 if first else 0.0
            highs, lows = series.high or series.close, series.low or series.close
            top, bottom = _argmax(highs), _argmin(lows)
            symbol_style = self._style("chart--caption") + Style(bold=True)
            parts += [
                ([(series.symbol, symbol_style), (f"  {figures.price(last)}  ", Style())], 0),
                ([(numfmt.change(change, figures.locale), self._change_style(change))], 0),
                ([(self._period(len(series.close)), muted)], 3),
                (
                    [("  ▲ ", self._style("chart--high")), (figures.price(highs[top]), muted)],
                    1,
                ),
                ([(f" {series.dates[top]}", muted)], 2),
                ([("  ▼ ", self._style("chart--low")), (figures.price(lows[bottom]), muted)], 1),
                ([(f" {series.dates[bottom]}", muted)], 2),
            ]
        else:
            for index, series in enumerate(self.series):
                first, last = series.close[0], series.close[-1]
                change = (last / first - 1) * 100 if first else 0.0
                pieces = [
                    ("   " if index else "", Style()),
                    ("━ ", self._style(_series_class(index))),
                    (f"{series.symbol} ", Style(bold=True)),
                    (numfmt.change(change, self.figures.locale), self._change_style(change)),
                ]
                parts.append((pieces, 0))
            parts.append(([("  (% since first day)", muted)], 3))
        return line_of(fit_parts(parts, width), width)

    def _change_style(self, change: float) -> Style:
        return self._style("chart--high" if change >= 0 else "chart--low")


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
    """The plotext figure for ``series`` at ``width`` x ``height`` cells, as ``Text``.

    The price plot and the volume plot under it share their x axis: their y labels are
    padded to one width so both plot areas start in the same column, and the dates are
    labelled under their ticks, as many as fit without overlapping."""
    figures = figures or Figures()
    first = series[0]
    single = len(series) == 1
    with_volume = single and first.volume is not None and height >= VOLUME_ROWS + 6
    # The axes first: their labels decide where the plot areas start.
    price_axis = _price_axis(first) if single else _compare_axis(series)
    axes = [price_axis]
    volume_axis = _volume_axis(first.volume, figures) if with_volume and first.volume else None
    if volume_axis is not None:
        axes.append(volume_axis)
    labels_width = max((len(label) for axis in axes for label in axis.labels), default=0)
    wide: dict[str, str] = {}
    for axis in axes:
        axis.labels, stand_ins = _narrow(axis.labels, start=len(wide))
        wide.update(stand_ins)
        axis.labels = [label.rjust(labels_width) for label in axis.labels]
    plot_width = max(width - labels_width - 3, 10)  # the frame and the tick mark
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
        if volume_axis is not None:
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
            _draw_compare(plt, top, series, colors)
        price_axis.apply(top)
        _date_ticks(top, max((s.dates for s in series), key=len), plot_width)
        if bottom is not None and volume_axis is not None and first.volume is not None:
            _draw_volume(plt, bottom, first.volume, colors)
            volume_axis.apply(bottom)
        # The figure's labels carry tool data (symbols, dates): sanitised in Series.
        drawn = figure.build().string().rstrip("\n")
        for stand_in, label in wide.items():
            drawn = drawn.replace(stand_in, label)
        return Text.from_ansi(drawn, end="", no_wrap=True)


@dataclass
class Axis:
    """A y axis: its range and its labelled ticks."""

    low: float
    high: float
    ticks: list[float]
    labels: list[str]

    def apply(self, plot: Any) -> None:
        ruler = plot.ruler("y")
        ruler.lim(self.low, self.high)
        ruler.ticks(self.ticks, self.labels)


def _price_axis(series: Series) -> Axis:
    highs, lows = series.high or series.close, series.low or series.close
    top, bottom = max(highs), min(lows)
    # Room above the high and below the low, so their labels are not on the frame.
    pad = (top - bottom) * 0.08 or abs(top) * 0.01 or 1.0
    return _value_axis(bottom - pad, top + pad, "")


def _compare_axis(series: list[Series]) -> Axis:
    rebased = [_rebased(one) for one in series]
    low, high = min(min(r) for r in rebased), max(max(r) for r in rebased)
    pad = (high - low) * 0.05 or 1.0
    return _value_axis(low - pad, high + pad, "%")


def _value_axis(low: float, high: float, suffix: str) -> Axis:
    """Round ticks labelled with grouped digits, ASCII minus and ``suffix`` (``%``, with
    a sign: a change since the first day)."""
    ticks, decimals = nice_ticks(low, high)
    plus = suffix == "%"
    labels = [
        ("+" if plus and round(t, decimals) > 0 else "") + numfmt.grouped(t, decimals) + suffix
        for t in ticks
    ]
    return Axis(low, high, ticks, labels)


def _volume_axis(volume: list[float], figures: Figures) -> Axis | None:
    """Volume scaled to its own range: bars rise from just under the quietest day (from 0
    they would be one solid block), the two ends labelled. The bars are drawn above that
    base (``_draw_volume``), so the axis runs from 0 to the peak above it."""
    peak = max(volume)
    if peak <= 0:
        return None
    base = _volume_base(volume)
    label = numfmt.count(base, figures.locale) if base else "0"
    return Axis(0.0, peak - base, [0.0, peak - base], [label, numfmt.count(peak, figures.locale)])


def _volume_base(volume: list[float]) -> float:
    peak, least = max(volume), min(volume)
    # A tenth of the range under the quietest day: its bar is short, not missing.
    return max(0.0, least - (peak - least) * 0.1) if peak > least else 0.0


def _rebased(series: Series) -> list[float]:
    """% change since the first day."""
    base = series.close[0] or 1.0
    return [(value / base - 1) * 100 for value in series.close]


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


def _draw_compare(
    plt: Any,
    plot: Any,
    series: list[Series],
    colors: dict[str, tuple[int, int, int]],
) -> None:
    for index, one in enumerate(series):
        rebased = _rebased(one)
        line = plot.signal(
            list(range(len(rebased))),
            rebased,
            marker=plt.marker("hd", plt.pixel(colors[_series_class(index)])),
        )
        line.lines()
        plot.draw(line)


def _draw_volume(
    plt: Any,
    plot: Any,
    volume: list[float],
    colors: dict[str, tuple[int, int, int]],
) -> None:

    base = _volume_base(volume)
    bars = plot.bar(
        list(range(len(volume))),
        [value - base for value in volume],
        marker=plt.marker("full", plt.pixel(colors["chart--volume"])),
        width=0.6,
        lines=False,
    )
    plot.draw(bars)
    plot.ruler("x").ticks([], [])


def _narrow(labels: list[str], start: int = 0) -> tuple[list[str], dict[str, str]]:
    """plotext counts a character as one cell, so a label with a wide one (``2,259만``)
    would push its row out of line: such a label is drawn as a stand-in of its cell width
    (private-use characters) and swapped back in the finished figure."""
    out, wide = [], {}
    for index, label in enumerate(labels):
        if cell_len(label) != len(label):
            stand_in = chr(0xE000 + start + index) * cell_len(label)
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


def _date_ticks(plot: Any, dates: list[str], plot_width: int, most: int = 5) -> None:
    """Dates under their ticks: as many as fit side by side (centred on their ticks, the
    first and last inside the plot), written short (``07-13``) when full dates would leave
    fewer than three."""
    size = len(dates)
    if size == 0:
        return
    labels = dates
    fitting = min(most, plot_width // (max(len(d) for d in dates) + 2))
    if fitting < 3 and all(_is_iso_date(d) for d in dates):
        labels = [d[5:] for d in dates]
        fitting = min(most, plot_width // (max(len(d) for d in labels) + 2))
    count = max(min(fitting, size), 1)
    # Inset the end ticks by half a label, in data units, so centred labels stay inside.
    half = max(len(d) for d in labels) / 2 + 1
    inset = min(half / max(plot_width, 1) * (size - 1), (size - 1) / 2)
    if count == 1:
        positions = [round((size - 1) / 2)]
    else:
        step = (size - 1 - 2 * inset) / (count - 1)
        positions = sorted({round(inset + i * step) for i in range(count)})
    ruler = plot.ruler("x")
    ruler.ticks(positions, [labels[p] for p in positions])
    ruler.alignment(tick="center")


def _is_iso_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-"
