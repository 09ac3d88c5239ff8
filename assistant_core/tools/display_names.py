"""What a tool display's rows, keys and titles are called, in the answer's language.

Displays are stored as the tools build them, in English (``summaries.py``: Yahoo's row names,
the quote's keys, the titles); a card shown beside a Korean answer names them as a Korean
investor reads a statement (K-IFRS terms: 매출액, 영업이익, 자산총계…), and a narrow table
uses a shorter form of a long name in either language. A label this vocabulary does not know
is shown as it was stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..numfmt import Locale

# Shorter names for the long rows of Yahoo's statements, used when a table is narrow.
SHORT_LABELS = {
    "Total Liabilities Net Minority Interest": "Total Liabilities",
    "Cash Cash Equivalents And Short Term Investments": "Cash & Short-Term Inv.",
    "Cash And Cash Equivalents": "Cash & Equivalents",
    "Research And Development": "R&D",
    "Selling General And Administration": "SG&A",
    "Depreciation And Amortization": "D&A",
    "Repurchase Of Capital Stock": "Buybacks",
    "Diluted Average Shares": "Diluted Shares",
    "Ordinary Shares Number": "Shares Outstanding",
    "Stock Based Compensation": "Stock Comp.",
    "Change In Working Capital": "Δ Working Capital",
    "Net Income Common Stockholders": "Net Income",
}

# Korean: (name, shorter name for a narrow table or None).
KOREAN: dict[str, tuple[str, str | None]] = {
    # -- income statement
    "Total Revenue": ("매출액", "매출"),
    "Cost Of Revenue": ("매출원가", None),
    "Gross Profit": ("매출총이익", None),
    "Research And Development": ("연구개발비", None),
    "Operating Income": ("영업이익", None),
    "Pretax Income": ("법인세비용차감전순이익", "세전이익"),
    # Yahoo's net income, equity and share count are the parent's (without non-controlling
    # interests) and net of treasury shares: named as Korean portals name those figures.
    "Net Income": ("당기순이익(지배)", "순이익"),
    "Net Income Common Stockholders": ("보통주귀속순이익", None),
    "EBITDA": ("EBITDA", None),
    "Basic EPS": ("기본주당이익", "기본 EPS"),  # K-IFRS 1033's names
    "Diluted EPS": ("희석주당이익", "희석 EPS"),
    "Selling General And Administration": ("판매비와관리비", "판관비"),
    "Operating Expense": ("영업비용", None),
    "Interest Expense": ("이자비용", None),
    "Tax Provision": ("법인세비용", None),
    "Diluted Average Shares": ("희석가중평균주식수", "희석주식수"),
    # -- balance sheet
    "Total Assets": ("자산총계", None),
    "Total Liabilities Net Minority Interest": ("부채총계", None),
    "Stockholders Equity": ("지배기업소유주지분", "지배주주지분"),
    "Cash And Cash Equivalents": ("현금및현금성자산", "현금성자산"),
    "Cash Cash Equivalents And Short Term Investments": ("현금및단기투자자산", "현금·단기투자"),
    "Current Assets": ("유동자산", None),
    "Current Liabilities": ("유동부채", None),
    "Total Debt": ("총차입금", None),
    "Long Term Debt": ("장기차입금", None),
    "Net Debt": ("순차입금", None),
    "Working Capital": ("운전자본", None),
    "Retained Earnings": ("이익잉여금", None),
    "Inventory": ("재고자산", None),
    "Accounts Receivable": ("매출채권", None),
    "Accounts Payable": ("매입채무", None),
    "Net PPE": ("유형자산", None),
    "Goodwill": ("영업권", None),
    "Ordinary Shares Number": ("유통주식수", None),
    # -- cash flow statement
    "Operating Cash Flow": ("영업활동현금흐름", "영업CF"),
    "Capital Expenditure": ("자본적지출", "CAPEX"),
    "Free Cash Flow": ("잉여현금흐름", "FCF"),
    "Investing Cash Flow": ("투자활동현금흐름", "투자CF"),
    "Financing Cash Flow": ("재무활동현금흐름", "재무CF"),
    "Repurchase Of Capital Stock": ("자기주식취득", "자사주매입"),
    "Cash Dividends Paid": ("배당금지급", None),
    "Depreciation And Amortization": ("감가상각비및상각비", "감가상각비"),
    "End Cash Position": ("기말현금", None),
    "Stock Based Compensation": ("주식보상비용", None),
    "Change In Working Capital": ("운전자본변동", None),
    "Issuance Of Debt": ("차입금증가", None),
    "Repayment Of Debt": ("차입금상환", None),
    # -- quote
    "Price": ("현재가", None),
    "Previous close": ("전일 종가", None),
    "Change": ("전일 대비", None),
    "Change %": ("등락률", None),
    "Market cap": ("시가총액", None),
    "P/E (trailing)": ("PER", None),
    "P/E (forward)": ("선행 PER", None),
    "52-week low": ("52주 최저", None),
    "52-week high": ("52주 최고", None),
    "Volume": ("거래량", None),
    # -- analyst recommendations (rows, and the table's unit)
    "Strong buy": ("적극 매수", None),
    "Buy": ("매수", None),
    "Hold": ("보유", None),
    "Sell": ("매도", None),
    "Strong sell": ("적극 매도", None),
    "analysts": ("애널리스트 수", None),
}

_KOREAN_WORDS = {
    "income statement": "손익계산서",
    "balance sheet": "재무상태표",
    "cash flow statement": "현금흐름표",
    "annual": "연간",
    "quarterly": "분기",
    "strong buy": "적극 매수",
    "buy": "매수",
    "hold": "보유",
    "sell": "매도",
    "strong sell": "적극 매도",
    "none": "없음",
}


def _word(match: re.Match[str], group: str) -> str:
    return _KOREAN_WORDS.get(match[group], match[group])


# The titles ``summaries.py`` and ``investor.py`` build, and how a Korean card says them.
_KOREAN_TITLES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(
            r"(?P<symbol>\S+) (?P<kind>income statement|balance sheet|cash flow statement)"
            r" \((?P<period>annual|quarterly)\)"
        ),
        lambda m: f"{m['symbol']} {_word(m, 'kind')} ({_word(m, 'period')})",
    ),
    (
        re.compile(r"(?P<symbol>\S*) quote(?P<rest> — .+)?"),
        lambda m: f"{m['symbol']} 시세{m['rest'] or ''}",
    ),
    (re.compile(r"(?P<symbol>\S+) news"), lambda m: f"{m['symbol']} 뉴스"),
    (
        re.compile(r"(?P<symbol>\S+) analyst recommendations \(consensus: (?P<verdict>[a-z ]+)\)"),
        lambda m: f"{m['symbol']} 애널리스트 투자의견 (컨센서스: {_word(m, 'verdict')})",
    ),
    (
        re.compile(r"Ticker lookup: (?P<name>.+) \(via (?P<source>[^()]+)\)"),
        lambda m: f"종목 검색: {m['name']} (출처: {m['source']})",
    ),
)


def local_label(label: str, locale: Locale) -> str:
    """``label`` (a row, a key, a unit) as the answer's language calls it."""
    if locale == "ko" and label in KOREAN:
        return KOREAN[label][0]
    return label


def short_label(label: str, locale: Locale = "en") -> str:
    """A statement row's name in fewer cells (``R&D``, ``판관비``); ``And`` as ``&``."""
    if locale == "ko" and label in KOREAN:
        name, short = KOREAN[label]
        return short or name
    return SHORT_LABELS.get(label) or label.replace(" And ", " & ")


def local_title(title: str, locale: Locale) -> str:
    """A display's title as the answer's language says it (the symbol and the company's
    name are kept as they are)."""
    if locale != "ko":
        return title
    for pattern, say in _KOREAN_TITLES:
        match = pattern.fullmatch(title)
        if match:
            return say(match)
    return title
