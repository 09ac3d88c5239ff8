"""Numbers the way the reader reads them: one formatter for every figure a person sees.

``(locale of the answer, currency of the figure, kind of figure) → text``. The offline
analyst's reports, the app's tool cards, statement tables and charts, and the command line
format through here; what a model reads keeps plain machine numbers (``ToolResult.to_model``).

One rule per kind, the same in both languages:

- **price**: the currency's own precision (ISO 4217 minor units: KRW and JPY none, USD and
  EUR two, KWD three); below one unit up to four decimals where the currency has a minor
  unit (penny stocks). Never abbreviated: ``$189.50``, ``246,178원``.
- **amount**: abbreviated from one million, in the reader's units: ``$391.0B`` (M, B, T) in
  English, ``3,910억 달러`` and ``136.5조 원`` (만, 억, 조, 경) in Korean. Below a million, as a price.
- **count** (shares, volume, analysts): abbreviated like an amount, whole numbers below a
  million, no currency.
- **percent** (``26.8%``), **change** (a percent with its sign: ``+1.43%``), **ratio** (``0.83``).

Significant digits, one rule for every abbreviated figure, percent and ratio: two decimals
below 10, one below 1,000, none from 1,000 — at least three significant digits from 1 up, and
never more than two decimals. A statement table shares one unit and one number of decimals
(``TableUnit``) so its header says the unit once and its columns line up.

Signs are ASCII: ``-`` for negatives (the Unicode minus is an ambiguous-width character that
takes two cells in CJK terminals and breaks column alignment), ``+`` only for changes or
where asked, and never on a figure that rounds to zero. Missing, NaN and infinite values are
``–``; scientific notation never appears.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

Locale = Literal["en", "ko"]
Kind = Literal["price", "price_change", "amount", "count", "percent", "change", "ratio"]
KINDS: tuple[Kind, ...] = (
    "price", "price_change", "amount", "count", "percent", "change", "ratio",
)  # fmt: skip

MISSING = "–"
ABBREVIATE_FROM = 1_000_000
PENNY_DECIMALS = 4  # prices below one unit (the tools round them to four decimals)

_HANGUL = re.compile(r"[\u1100-\u11ff\u3131-\u318e\uac00-\ud7a3]")
# (size, English suffix / Korean word), largest first.
_UNITS: dict[Locale, tuple[tuple[float, str], ...]] = {
    "en": ((1e12, "T"), (1e9, "B"), (1e6, "M")),
    "ko": ((1e16, "경"), (1e12, "조"), (1e8, "억"), (1e4, "만")),
}
_UNIT_NAMES_EN = {"T": "trillions", "B": "billions", "M": "millions"}


def locale_of(text: str) -> Locale:
    """Korean when the text has any Hangul (the tutorial's language), else English."""
    return "ko" if _HANGUL.search(text) else "en"


# -- currencies ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Currency:
    code: str
    minor: int  # decimals of a price
    symbol: str = ""  # English: before the number ("$"); "" → the code, spaced
    suffix: str = ""  # English: after the number ("p" for pence)
    word_ko: str = ""  # Korean: after the number ("원"); "" → the code, spaced
    major: str | None = None  # a subunit's main currency (GBp → GBP)
    per_major: int = 1  # subunits in one main unit


_TABLE = (
    Currency("USD", 2, "$", word_ko="달러"),
    Currency("EUR", 2, "€", word_ko="유로"),
    Currency("GBP", 2, "£", word_ko="파운드"),
    Currency("JPY", 0, "¥", word_ko="엔"),
    Currency("KRW", 0, "₩", word_ko="원"),
    Currency("CNY", 2, "CN¥", word_ko="위안"),
    Currency("HKD", 2, "HK$", word_ko="홍콩달러"),
    Currency("TWD", 2, "NT$", word_ko="대만달러"),
    Currency("CAD", 2, "CA$", word_ko="캐나다달러"),
    Currency("AUD", 2, "A$", word_ko="호주달러"),
    Currency("NZD", 2, "NZ$", word_ko="뉴질랜드달러"),
    Currency("SGD", 2, "S$", word_ko="싱가포르달러"),
    Currency("INR", 2, "₹", word_ko="루피"),
    Currency("CHF", 2, word_ko="스위스프랑"),
    Currency("ZAR", 2, word_ko="랜드"),
    Currency("ILS", 2, "₪", word_ko="셰켈"),
    Currency("BRL", 2, "R$", word_ko="헤알"),
    Currency("MXN", 2, "MX$", word_ko="멕시코페소"),
    Currency("VND", 0, "₫", word_ko="동"),
    Currency("KWD", 3, word_ko="쿠웨이트디나르"),
    # Yahoo prices some exchanges in a subunit: London in pence, Johannesburg in cents,
    # Tel Aviv in agorot, Kuwait in fils. Amounts are shown in the main currency.
    Currency("GBp", 2, suffix="p", word_ko="펜스", major="GBP", per_major=100),
    Currency("ZAc", 0, suffix="c", word_ko="센트", major="ZAR", per_major=100),
    Currency("ILA", 0, suffix=" ag.", word_ko="아고라", major="ILS", per_major=100),
    Currency("KWF", 0, suffix=" fils", word_ko="필스", major="KWD", per_major=1000),
)
_BY_CODE = {c.code: c for c in _TABLE}
# ISO 4217 minor units other than two, for the codes the table above doesn't name.
_ISO_MINOR = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "KMF", "PYG", "RWF", "UGX", "UYI",
                     "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "LYD", "OMR", "TND"], 3),
}  # fmt: skip
_CODE = re.compile(r"[A-Za-z]{3}")


def currency(code: object) -> Currency | None:
    """The currency for a code as Yahoo spells it (``"GBp"`` is pence, not pounds), or None
    when the value is no currency code at all (``"analysts"``, None)."""
    if not isinstance(code, str) or not _CODE.fullmatch(code.strip()):
        return None
    code = code.strip()
    known = _BY_CODE.get(code) or _BY_CODE.get(code.upper())
    if known is not None:
        return known
    upper = code.upper()
    return Currency(upper, _ISO_MINOR.get(upper, 2))


def _main(cur: Currency | None, value: float) -> tuple[Currency | None, float]:
    """An amount in a subunit (pence) as an amount in the main currency (pounds)."""
    if cur is not None and cur.major is not None:
        return _BY_CODE[cur.major], value / cur.per_major
    return cur, value


# -- digits --------------------------------------------------------------------------------
def number(value: Any) -> float | None:
    """A finite float from whatever a tool sent (int, float, numeric string), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def grouped(value: float, decimals: int) -> str:
    """``1234567.891, 2`` → ``1,234,567.89``: thousands grouped, ASCII minus, no ``-0``."""
    text = f"{abs(value):,.{decimals}f}"
    return "-" + text if value < 0 and _nonzero(text) else text


def _nonzero(digits: str) -> bool:
    return any(ch in "123456789" for ch in digits)


def _decimals(magnitude: float) -> int:
    return 2 if magnitude < 10 else 1 if magnitude < 1000 else 0


def significant(magnitude: float) -> str:
    """A non-negative figure by the significant-digit rule, grouped (``8.21``, ``136.5``,
    ``3,910``). Decimals follow the rounded value: 9.996 is ``10.0``, not ``10.00``."""
    decimals = _decimals(magnitude)
    text = f"{magnitude:,.{decimals}f}"
    rounded = _decimals(float(text.replace(",", "")))
    return text if rounded == decimals else f"{magnitude:,.{rounded}f}"


def _signed(text: str, negative: bool, plus: bool) -> str:
    if not _nonzero(text):
        return text
    return ("-" if negative else "+" if plus else "") + text


def _abbreviate(magnitude: float, locale: Locale) -> tuple[str, str] | None:
    """(digits, unit) for a magnitude from ``ABBREVIATE_FROM`` up, else None. A value that
    rounds up to the next unit moves there (999,960,000 is 1.00B, not 1,000.0M)."""
    if magnitude < ABBREVIATE_FROM:
        return None
    units = _UNITS[locale]
    for index, (size, unit) in enumerate(units):
        if magnitude < size:
            continue
        digits = significant(magnitude / size)
        if index > 0:
            bigger, bigger_unit = units[index - 1]
            if float(digits.replace(",", "")) >= bigger / size:
                return significant(magnitude / bigger), bigger_unit
        return digits, unit
    return None


def _with_currency(text: str, cur: Currency | None, locale: Locale, *, after_unit: bool) -> str:
    """Digits (and unit) with the currency in the reader's way; the sign stays in front."""
    if cur is None:
        return text
    sign, body = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    if locale == "ko":
        if not cur.word_ko:
            return f"{sign}{body} {cur.code}"
        # Korean writes 246,178원 but 136.5조 원: a unit word is spaced from the currency.
        return f"{sign}{body}{' ' if after_unit else ''}{cur.word_ko}"
    if cur.suffix:
        return f"{sign}{body}{cur.suffix}"
    if cur.symbol:
        return f"{sign}{cur.symbol}{body}"
    return f"{sign}{cur.code} {body}"


# -- the kinds -----------------------------------------------------------------------------
def price(value: Any, code: object = None, locale: Locale = "en", *, signed: bool = False) -> str:
    """A price (or a price change, ``signed``) in the currency's precision: never abbreviated."""
    digits = price_digits(value, code, signed=signed)
    if digits == MISSING:
        return MISSING
    return _with_currency(digits, currency(code), locale, after_unit=False)


def price_digits(value: Any, code: object = None, *, signed: bool = False) -> str:
    """A price's digits in the currency's precision, without the currency (for labels
    whose currency is said nearby, such as a chart's): ``275,421`` for KRW, ``232.10``."""
    v = number(value)
    if v is None:
        return MISSING
    return _signed(_price_digits(abs(v), currency(code)), v < 0, signed)


def _price_digits(magnitude: float, cur: Currency | None) -> str:
    minor = cur.minor if cur is not None else 2
    if minor and magnitude < 1:
        whole, _, fraction = f"{magnitude:.{PENNY_DECIMALS}f}".rstrip("0").partition(".")
        return f"{whole}.{fraction.ljust(minor, '0')}"
    return f"{magnitude:,.{minor}f}"


def amount(value: Any, code: object = None, locale: Locale = "en", *, signed: bool = False) -> str:
    """A sum of money: ``$391.0B`` / ``3,910억 달러``; below a million, as a price."""
    v = number(value)
    if v is None:
        return MISSING
    cur, v = _main(currency(code), v)
    short = _abbreviate(abs(v), locale)
    if short is None:
        return price(v, cur.code if cur is not None else None, locale, signed=signed)
    text = _signed("".join(short), v < 0, signed)
    return _with_currency(text, cur, locale, after_unit=True)


def count(value: Any, locale: Locale = "en", *, word: str = "") -> str:
    """Shares, volume, analysts: ``52.3M`` / ``5,230만``, whole numbers below a million;
    ``word`` follows (``"주"`` → ``5,230만 주`` but ``5,000주``)."""
    v = number(value)
    if v is None:
        return MISSING
    short = _abbreviate(abs(v), locale)
    text = _signed("".join(short) if short else f"{abs(v):,.0f}", v < 0, False)
    if not word:
        return text
    if locale == "ko" and short is None:
        return text + word
    return f"{text} {word}"


def percent(value: Any, locale: Locale = "en", *, signed: bool = False) -> str:
    """``value`` is already in percent: 26.8 → ``26.8%``, signed 1.434 → ``+1.43%``."""
    v = number(value)
    if v is None:
        return MISSING
    return _signed(significant(abs(v)), v < 0, signed) + "%"


def change(value: Any, locale: Locale = "en") -> str:
    """A change in percent, always with its sign: ``+1.43%``, ``-0.37%``, ``0.00%``."""
    return percent(value, locale, signed=True)


def ratio(value: Any, locale: Locale = "en") -> str:
    """Debt/equity, current ratio, P/E: ``0.83``, ``18.5``."""
    v = number(value)
    if v is None:
        return MISSING
    return _signed(significant(abs(v)), v < 0, False)


def fmt(value: Any, kind: str, code: object = None, locale: Locale = "en") -> str:
    """Any kind by name (for data that says its own kind, such as a display's items);
    ``price_change`` is a price with its sign, an unknown kind a plain figure."""
    if kind == "price":
        return price(value, code, locale)
    if kind == "price_change":
        return price(value, code, locale, signed=True)
    if kind == "amount":
        return amount(value, code, locale)
    if kind == "count":
        return count(value, locale)
    if kind == "percent":
        return percent(value, locale)
    if kind == "change":
        return change(value, locale)
    if kind == "ratio":
        return ratio(value, locale)
    return plain(value, locale)


def plain(value: Any, locale: Locale = "en") -> str:
    """A figure of unknown kind: abbreviated from a million, else as it is (two decimals
    at most)."""
    v = number(value)
    if v is None:
        return MISSING
    short = _abbreviate(abs(v), locale)
    if short is not None:
        return _signed("".join(short), v < 0, False)
    if v == int(v):
        return grouped(v, 0)
    return grouped(v, 2)


def price_range(low: Any, high: Any, code: object = None, locale: Locale = "en") -> str:
    """``$164.08 – $237.49``; in Korean the currency word once: ``201,366 – 275,421원``."""
    cur = currency(code)
    low_value, high_value = number(low), number(high)
    if locale == "ko" and cur is not None and low_value is not None and high_value is not None:
        digits = [
            _signed(_price_digits(abs(v), cur), v < 0, False) for v in (low_value, high_value)
        ]
        return _with_currency(" – ".join(digits), cur, locale, after_unit=False)
    return f"{price(low, code, locale)} – {price(high, code, locale)}"


# -- tables --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableUnit:
    """One unit and one number of decimals for a table of amounts, so the header says the
    unit once (``단위: 조 원``, ``in billions of USD``) and the cells are bare, aligned figures."""

    size: float  # 1, or the size of ``unit``
    unit: str  # "", or a unit of the locale ("B", "조")
    decimals: int
    currency: Currency | None  # the main currency (pounds for a table in pence)
    locale: Locale
    per_major: int = 1  # the table's figures are in a subunit: divide by this first

    def cell(self, value: Any) -> str:
        v = number(value)
        return MISSING if v is None else grouped(v / self.per_major / self.size, self.decimals)

    @property
    def label(self) -> str:
        cur = self.currency
        if self.locale == "ko":
            word = (cur.word_ko or cur.code) if cur is not None else ""
            words = " ".join(w for w in (self.unit, word) if w)
            return f"단위: {words}" if words else ""
        scale = _UNIT_NAMES_EN.get(self.unit, "")
        if scale and cur is not None:
            return f"in {scale} of {cur.code}"
        if scale:  # and no currency
            return f"in {scale}"
        return f"in {cur.code}" if cur is not None else ""


def table_unit(values: Any, code: object = None, locale: Locale = "en") -> TableUnit:
    """The unit of a table of amounts: the one its largest figure is written in."""
    given = currency(code)
    cur, per_major = given, 1
    if given is not None and given.major is not None:
        cur, per_major = _BY_CODE[given.major], given.per_major
    figures = [abs(v) / per_major for v in map(number, values) if v is not None]
    short = _abbreviate(max(figures, default=0.0), locale)
    if short is None:
        decimals = cur.minor if cur is not None else 2
        return TableUnit(1.0, "", decimals, cur, locale, per_major)
    digits, unit = short
    size = next(s for s, u in _UNITS[locale] if u == unit)
    decimals = _decimals(float(digits.replace(",", "")))
    return TableUnit(size, unit, decimals, cur, locale, per_major)
