"""The number formats (assistant_core.numfmt): every figure reads back as the value it shows,
within the rounding the format promises, in both languages and the currencies people meet."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from assistant_core import numfmt
from assistant_core.numfmt import Locale

LOCALES: tuple[Locale, ...] = ("en", "ko")
CURRENCIES = ("KRW", "USD", "JPY", "EUR", "GBp")
UNITS = {
    "en": {"": 1, "M": 10**6, "B": 10**9, "T": 10**12},
    "ko": {"": 1, "만": 10**4, "억": 10**8, "조": 10**12, "경": 10**16},
}
# Grouped digits, at most one decimal point; nothing else (no exponent, no "nan", no "inf").
DIGITS = r"\d{1,3}(?:,\d{3})*(?:\.\d+)?"


class Shown(NamedTuple):
    value: Decimal
    half: Decimal  # half a step of the last digit shown: the rounding the format promises
    unit: str
    digits: str  # as written, without sign, unit or currency

    @property
    def decimals(self) -> str:
        return self.digits.partition(".")[2]

    def three_significant(self) -> bool:
        """From 1 up, at least three significant digits."""
        if int(self.digits.partition(".")[0].replace(",", "")) < 1:
            return True
        return len(self.digits.replace(",", "").replace(".", "").lstrip("0")) >= 3


def parse(text: str, locale: Locale, code: str | None) -> Shown:
    """A formatted figure read back: the reader's parser, written from the rules, not from
    the code."""
    assert text and text.strip() == text and "nan" not in text.lower(), repr(text)
    cur = numfmt.currency(code)
    body = text
    if cur is not None:
        if locale == "ko":
            word = cur.word_ko or cur.code
            assert body.endswith(word), text
            body = body[: -len(word)].rstrip(" ")
        elif cur.suffix:
            assert body.endswith(cur.suffix), text
            body = body[: -len(cur.suffix)]
        else:
            prefix = cur.symbol or f"{cur.code} "
            sign = body[0] if body[0] in "+-" else ""
            assert body[len(sign) :].startswith(prefix), text
            body = sign + body[len(sign) + len(prefix) :]
    units = "|".join(u for u in UNITS[locale] if u)
    m = re.fullmatch(rf"([+-]?)({DIGITS})({units})?", body)
    assert m, f"{text!r} is not [sign]digits[unit][currency]"
    sign, digits, unit = m.group(1), m.group(2), m.group(3) or ""
    size = UNITS[locale][unit]
    decimals = digits.partition(".")[2]
    value = Decimal(digits.replace(",", "")) * size * (-1 if sign == "-" else 1)
    half = Decimal(1).scaleb(-len(decimals)) / 2 * size
    return Shown(value, half, unit, digits)


figures = st.one_of(
    st.integers(min_value=1, max_value=10**15),
    st.floats(min_value=1, max_value=1e15),
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    st.floats(min_value=0, max_value=1),
    st.just(0.0),
)


def close(value: float, shown: Decimal, half: Decimal) -> bool:
    # Decimal(value) is the float's exact value; the format rounds that value.
    return abs(Decimal(value) - shown) <= half * (1 + Decimal("1e-9"))


@given(figures, st.sampled_from(CURRENCIES), st.sampled_from(LOCALES))
@example(999_960_000, "USD", "en")  # rounds up into the next unit
@example(9_999.6e8, "KRW", "ko")
@example(-0.001, "USD", "en")  # no "-0.00"
def test_amounts_read_back(value: float, code: str, locale: Locale) -> None:
    text = numfmt.amount(value, code, locale)
    cur = numfmt.currency(code)
    assert cur is not None
    shown = parse(text, locale, cur.major or code)
    unit, decimals = shown.unit, shown.decimals
    assert close(value / cur.per_major, shown.value, shown.half), (value, text)
    if unit:
        assert len(decimals) <= 2 and shown.three_significant(), text
        if locale == "en":
            assert 1 <= abs(shown.value) / UNITS[locale][unit] < 1000 or unit == "T", text
    elif cur.major is None:
        # Below a million: a price in the currency's own precision (pounds for pence).
        assert len(decimals) == cur.minor or abs(value) < 1, text
    if code in ("KRW", "JPY") and not unit:
        assert "." not in text
    if shown.value == 0:
        assert not text.startswith(("-", "+")), text


@given(figures, st.sampled_from(CURRENCIES), st.sampled_from(LOCALES), st.booleans())
@example(244_054.04, "KRW", "ko", False)
@example(0.0034, "USD", "en", False)
def test_prices_read_back(value: float, code: str, locale: Locale, signed: bool) -> None:
    text = numfmt.price(value, code, locale, signed=signed)
    shown = parse(text, locale, code)
    decimals = shown.decimals
    assert not shown.unit, "prices are never abbreviated"
    assert close(value, shown.value, shown.half), (value, text)
    cur = numfmt.currency(code)
    assert cur is not None
    if cur.minor == 0:
        assert "." not in text, f"{code} has no minor unit: {text}"
    else:
        assert len(decimals) == cur.minor or (abs(value) < 1 and len(decimals) <= 4), text
    if signed and shown.value > 0:
        assert text.startswith("+")
    if shown.value == 0:
        assert not text.startswith(("-", "+"))


@given(figures, st.sampled_from(LOCALES))
def test_counts_read_back(value: float, locale: Locale) -> None:
    text = numfmt.count(value, locale)
    shown = parse(text, locale, None)
    assert close(value, shown.value, shown.half), (value, text)
    if shown.unit:
        assert shown.three_significant(), text
    else:
        assert not shown.decimals, "counts below a million are whole numbers"


@given(figures, st.sampled_from(LOCALES), st.booleans())
def test_percents_and_ratios_read_back(value: float, locale: Locale, signed: bool) -> None:
    pct = numfmt.change(value, locale) if signed else numfmt.percent(value, locale)
    assert pct.endswith("%")
    shown = parse(pct[:-1], locale, None)
    assert not shown.unit and close(value, shown.value, shown.half), (value, pct)
    assert len(shown.decimals) <= 2 and shown.three_significant(), pct
    if signed and shown.value != 0:
        assert pct[0] in "+-"
    ratio = parse(numfmt.ratio(value, locale), locale, None)
    assert close(value, ratio.value, ratio.half) and ratio.three_significant()


@given(
    st.lists(figures, min_size=1, max_size=8),
    st.sampled_from(CURRENCIES),
    st.sampled_from(LOCALES),
)
def test_a_table_shares_one_unit_and_reads_back(
    values: list[float], code: str, locale: Locale
) -> None:
    unit = numfmt.table_unit(values, code, locale)
    cells = [unit.cell(v) for v in values]
    assert len({len(c.partition(".")[2]) for c in cells}) == 1, "one number of decimals"
    cur = numfmt.currency(code)
    assert cur is not None
    label_word = (cur.major or code) if locale == "en" else None
    assert unit.label and (label_word is None or label_word in unit.label)
    for value, cell in zip(values, cells):
        shown = parse(cell, locale, None)
        scale = Decimal(unit.size) * unit.per_major
        assert close(value, shown.value * scale, shown.half * scale), (value, cell, unit)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), "n/a", "", True, [1]])
def test_missing_values_are_a_dash(bad: object) -> None:
    for kind in numfmt.KINDS:
        assert numfmt.fmt(bad, kind, "USD", "ko") == numfmt.MISSING


def test_the_examples_of_the_issue() -> None:
    assert numfmt.amount(391_035_000_000, "USD", "en") == "$391.0B"
    assert numfmt.amount(391_035_000_000, "USD", "ko") == "3,910억 달러"
    assert numfmt.amount(136_500_000_000_000, "KRW", "ko") == "136.5조 원"
    assert numfmt.price(244_054.04, "KRW", "ko") == "244,054원"
    assert numfmt.price(244_054.04, "KRW", "en") == "₩244,054"
    assert numfmt.price(3_450.2, "JPY", "en") == "¥3,450"
    assert numfmt.change(1.434) == "+1.43%" and numfmt.change(-0.372, "ko") == "-0.37%"
    assert numfmt.price_range(201_365.65, 275_421.43, "KRW", "ko") == "201,366 – 275,421원"
    assert numfmt.price_range(164.08, 237.49, "USD", "en") == "$164.08 – $237.49"
    assert numfmt.count(52_300_000, "ko", word="주") == "5,230만 주"
    assert numfmt.count(5_000, "ko", word="주") == "5,000주"


def test_currencies_yahoo_returns() -> None:
    assert numfmt.price(245.6, "GBp", "en") == "245.60p"
    assert numfmt.amount(2_500_000_000, "GBp", "en") == "£25.0M"  # pence → pounds
    assert numfmt.price(1.2346, "KWD") == "KWD 1.235"
    assert numfmt.price(5_000, "CLP") == "CLP 5,000"  # ISO 4217: no minor unit
    assert numfmt.price(12.3, "CHF", "ko") == "12.30스위스프랑"
    assert numfmt.price(12.3, "XYZ", "ko") == "12.30 XYZ"
    assert numfmt.currency("analysts") is None and numfmt.currency(None) is None


def test_table_labels() -> None:
    assert numfmt.table_unit([136.5e12], "KRW", "ko").label == "단위: 조 원"
    assert numfmt.table_unit([391e9], "USD", "ko").label == "단위: 억 달러"
    assert numfmt.table_unit([391e9], "USD", "en").label == "in billions of USD"
    assert numfmt.table_unit([850_000], "USD", "en").label == "in USD"
    assert numfmt.table_unit([136.5e12, 8.21e12], "KRW", "ko").cell(8.21e12) == "8.2"


async def test_what_the_model_reads_keeps_machine_numbers() -> None:
    """Formatting is for people: tool outputs sent to a model carry plain numbers, and the
    display says how to write each one."""
    import json

    from assistant_core.market import create_market
    from assistant_core.tools.investor import build_investor_tools

    registry = build_investor_tools(create_market("demo"))
    result = await registry.execute("get_stock_quote", json.dumps({"ticker": "005930.KS"}))
    body = json.loads(result.to_model())
    assert body["currency"] == "KRW" and isinstance(body["data"]["price"], float)
    assert all(v is None or isinstance(v, (int, float)) for v in body["data"].values())
    assert result.display is not None and result.display["currency"] == "KRW"
    kinds = {item[0]: item[2] for item in result.display["items"]}
    assert kinds["Price"] == "price" and kinds["Market cap"] == "amount"
    assert kinds["Change %"] == "change" and kinds["Volume"] == "count"
