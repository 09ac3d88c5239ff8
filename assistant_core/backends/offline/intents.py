"""Reading one question: what the user wants (intents) and which companies it names.

Pure text → data; the planner (plan.py) decides which tools to call from the result.
English patterns match whole words; Korean keywords match inside words because particles
follow them ("부채는", "애플의").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from ...market.known_companies import KnownCompany, find_in_text, normalise_name
from .i18n import Lang, language_of

Intent = Literal[
    "buy", "income", "balance", "performance", "cash_flow", "quote", "news",
    "recommendations", "compare",
]  # fmt: skip

_EN: dict[Intent, str] = {
    "buy": r"buy|buying|invest(?:ing|ment)?|worth (?:it|buying)|good (?:stock|pick)|sell|selling",
    "cash_flow": r"cash ?flows?|free cash|fcf|capex|capital expenditures?",
    "balance": r"balance sheets?|balance|debts?|leverage|liabilit(?:y|ies)|assets?|solvency|"
    r"liquidity|cash(?! ?flow)",
    "income": r"income(?: statements?)?|earnings|revenues?|sales|profits?|profitab\w*|margins?|eps|p&l",
    "performance": r"\d+\s*(?:trading\s+)?days?|performance|chart|price|prices|trend|returns?|"
    r"volatility|drawdown|how (?:has|did) it (?:do|done|perform)",
    "quote": r"quote|current price|market cap\w*|valuation|p/?e(?: ratio)?|52[- ]week",
    "news": r"news|headlines?|what'?s happening",
    "recommendations": r"analysts?|recommend\w*|ratings?|price targets?|target price|consensus|"
    r"upgrades?|downgrades?",
    "compare": r"compare|comparison|vs\.?|versus|which is better",
}
_KO: dict[Intent, str] = {
    "buy": r"사도|살까|사야|사는 게|매수|투자(?!의견)|팔까|매도|괜찮을까",
    "cash_flow": r"현금\s?흐름|잉여현금",
    "balance": r"재무상태표|대차대조표|부채|자산|자본|재무구조|유동비율|빚|현금(?!\s?흐름)",
    "income": r"손익계산서|실적|매출|이익|수익성|마진",
    "performance": r"주가(?!수익비율)|차트|추이|성과|수익률|변동성|거래일|\d+\s*일",
    "quote": r"시가총액|시총|현재가|밸류에이션|주가수익비율|(?<![a-z])per(?![a-z])",
    "news": r"뉴스|소식|기사",
    "recommendations": r"목표가|추천|애널리스트|투자의견|컨센서스",
    "compare": r"비교|대비|어느 쪽|뭐가 나아|중에",
}
# Opinion words ("what do you think", "어때") mean "should I buy" only when nothing more
# specific was asked: "테슬라 재무상태표 어때?" is about the balance sheet.
_WEAK_BUY = re.compile(
    r"(?<![\w])(?:should i|what do you think|outlook|hold|worth)(?![\w])|어때|어떨까|어떤가|전망|괜찮",
    re.IGNORECASE,
)
_EN_RE = {k: re.compile(rf"(?<![\w])(?:{v})(?![\w])", re.IGNORECASE) for k, v in _EN.items()}
_KO_RE = {k: re.compile(v, re.IGNORECASE) for k, v in _KO.items()}
_GREETING = re.compile(
    r"^\s*(?:hello|hi|hey|yo|hiya|good (?:morning|afternoon|evening)|greetings|help|"
    r"what can you do|안녕\w*|하이|헬로|도움말|뭘 할 수)",
    re.IGNORECASE,
)
SELLING = re.compile(r"(?<![\w])(?:sell|selling|dump)(?![\w])|팔까|팔아|매도", re.IGNORECASE)
# Order of intents in a report, whatever order the question mentions them in.
INTENT_ORDER: tuple[Intent, ...] = tuple(_EN)


@dataclass(frozen=True)
class Target:
    """A company the question is about.

    ``symbol`` is known when the user typed a ticker or the built-in table knows the name;
    ``query`` is set when the name should go through ``get_ticker`` first (as the
    tutorial's model does), even if the table already knows it.
    """

    symbol: str | None
    name: str | None = None
    query: str | None = None
    known: KnownCompany | None = field(default=None, compare=False)


@dataclass
class Question:
    text: str
    lang: Lang
    intents: list[Intent]
    targets: list[Target]
    greeting: bool


def parse_question(text: str) -> Question:
    intents = detect_intents(text)
    targets = find_targets(text, allow_unknown=bool(intents), comparing="compare" in intents)
    greeting = bool(_GREETING.match(text)) and not targets and not intents
    return Question(text, language_of(text), intents, targets, greeting)


def detect_intents(text: str) -> list[Intent]:
    lowered = unicodedata.normalize("NFKC", text).lower()
    found: set[Intent] = set()
    # Korean patterns only on Korean text: "per" is P/E there, a preposition in English.
    for patterns in (_EN_RE, _KO_RE) if language_of(text) == "ko" else (_EN_RE,):
        for intent, pattern in patterns.items():
            if pattern.search(lowered):
                found.add(intent)
    if not found and _WEAK_BUY.search(lowered):
        found.add("buy")
    return [i for i in INTENT_ORDER if i in found]


# -- companies ---------------------------------------------------------------------------
MAX_TARGETS = 3

_DOLLAR_TICKER = re.compile(r"\$([A-Za-z][A-Za-z0-9]{0,5}(?:[.\-][A-Za-z]{1,3})?)(?![\w])")
_SUFFIX_TICKER = re.compile(r"(?<![\w.])(\d{4,6}\.(?:KS|KQ|T|HK|SS|SZ))(?![\w])", re.IGNORECASE)
_BARE_TICKER = re.compile(r"(?<![\w$.])([A-Z]{2,5}(?:[.\-][A-Z]{1,2})?)(?![\w])")
#: Currency codes a question may name, never tickers (``plan`` knows a few more).
CURRENCY_CODES = ("USD", "KRW", "EUR", "JPY", "GBP", "CNY")
# Upper-case words that are finance or chat vocabulary, not tickers.
_NOT_TICKERS = frozenset(
    [
        "AI",
        "CEO",
        "CFO",
        "CTO",
        "COO",
        "USA",
        "US",
        "UK",
        "EU",
        "EPS",
        "PE",
        "PER",
        "PBR",
        "ROE",
        "ROA",
        "ROI",
        "FY",
        "YOY",
        "QOQ",
        "TTM",
        "ETF",
        "IPO",
        "OK",
        *CURRENCY_CODES,
        "GDP",
        "CPI",
        "FED",
        "FOMC",
        "SEC",
        "NYSE",
        "KOSPI",
        "KOSDAQ",
        "EBIT",
        "EBITDA",
        "FCF",
        "ESG",
        "API",
        "LLM",
        "GPT",
        "IT",
        "VS",
        "THE",
        "AND",
        "OR",
        "FOR",
        "OF",
        "TO",
        "IN",
        "ON",
        "AT",
        "IS",
        "IT",
        "BUY",
        "SELL",
        "HOLD",
        "DCF",
        "EV",
        "PEG",
        "ATH",
        "YTD",
        "MTD",
        "NEWS",
        "HI",
        "HELLO",
        "HEY",
        "LOL",
        "PS",
        "PM",
        "AM",
        "TV",
        "RD",
        "MA",
        "IMO",
        "TLDR",
        "FAQ",
        "PDF",
        "CSV",
        "DM",
        "PR",
        "HR",
        "IR",
        "NAV",
        "AUM",
    ]
)
# Words around a company name in English questions (lower-case).
_EN_STOP = frozenset(
    [
        "should",
        "i",
        "me",
        "my",
        "we",
        "you",
        "your",
        "how",
        "is",
        "are",
        "was",
        "were",
        "what",
        "whats",
        "what's",
        "show",
        "tell",
        "give",
        "get",
        "can",
        "could",
        "would",
        "will",
        "please",
        "the",
        "a",
        "an",
        "and",
        "or",
        "its",
        "it",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "of",
        "for",
        "about",
        "on",
        "in",
        "to",
        "do",
        "does",
        "did",
        "buy",
        "sell",
        "hold",
        "invest",
        "investing",
        "investment",
        "worth",
        "now",
        "today",
        "right",
        "last",
        "days",
        "day",
        "hello",
        "hi",
        "hey",
        "thanks",
        "thank",
        "ok",
        "okay",
        "yes",
        "no",
        "compare",
        "comparison",
        "vs",
        "versus",
        "with",
        "stock",
        "stocks",
        "share",
        "shares",
        "company",
        "companies",
        "price",
        "prices",
        "balance",
        "sheet",
        "sheets",
        "income",
        "statement",
        "statements",
        "cash",
        "flow",
        "flows",
        "news",
        "analyst",
        "analysts",
        "recommendation",
        "recommendations",
        "rating",
        "ratings",
        "performance",
        "chart",
        "revenue",
        "revenues",
        "earnings",
        "debt",
        "profit",
        "profits",
        "margin",
        "margins",
        "quote",
        "latest",
        "recent",
        "trading",
        "good",
        "bad",
        "better",
        "best",
        "year",
        "years",
        "quarter",
        "quarterly",
        "annual",
        "also",
        "tell",
        "me",
        "us",
        "which",
        "one",
        "let's",
        "lets",
        "look",
        "check",
        "see",
        "think",
        "outlook",
        "say",
        "says",
        "said",
        "any",
        "some",
        "more",
        "info",
        "information",
        "valuation",
        "market",
        "cap",
        "target",
        "targets",
        "consensus",
        "there",
        "here",
        "than",
    ]
)
_EN_CONNECTORS = frozenset({"of", "and", "&", "de", "the"})
_EN_TOKEN = re.compile(r"[A-Za-z0-9&][A-Za-z0-9&.\-]*(?:['’]s)?")
_EN_AFTER_VERB = re.compile(
    r"\b(?:buy|sell|invest in|about|on|of|for|into)\s+(?:the\s+)?(?:(?:stock|shares)\s+of\s+)?"
    r"([a-z0-9&.\- ]{2,40}?)(?:['’]s)?(?:\s+(?:stock|stocks|shares?|now|today|right now))*\s*(?:[?.!,]|$)"
)
# Korean words that are not part of a name, and particles that follow one.
_KO_FILLERS = (
    "그럼",
    "그리고",
    "그러면",
    "그러면은",
    "이번엔",
    "이번에는",
    "혹시",
    "지금",
    "요즘",
    "오늘",
    "최근",
    "또",
    "근데",
)
_KO_NOT_NAME = (
    "주식",
    "주가",
    "종목",
    "회사",
    "기업",
    "보여",
    "알려",
    "어때",
    "어떄",
    "될까",
    "해줘",
    "분석",
    "좀",
    "정보",
)
_KO_PARTICLES = ("에서", "이랑", "하고", "의", "은", "는", "을", "를", "랑", "와", "과", "가", "도")


def find_targets(text: str, *, allow_unknown: bool, comparing: bool = False) -> list[Target]:
    """Companies named in ``text``, in order of appearance (at most ``MAX_TARGETS``).

    Tickers and well-known names always count; a name the table doesn't know is guessed
    from the wording only when the question asks for something (``allow_unknown``), so
    "Hello there" is not a company. A bare upper-case word ("BIG", "PLUG") counts as a
    ticker only when nothing surer was found, or when comparing.
    """
    norm = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, Target]] = []
    taken: list[tuple[int, int]] = []
    for company in find_in_text(norm):
        span = _first_span(norm, company)
        if span is None:
            continue
        start, end = span
        typed = norm[start:end]
        taken.append(span)
        if typed.lstrip("$").lower() == company.symbol.lower():
            found.append((start, Target(company.symbol, company.name, None, company)))
        else:
            query = typed if typed.isascii() else company.name
            found.append((start, Target(company.symbol, company.name, query, company)))
    sure, bare = _explicit_tickers(norm)
    if not (found or sure) or comparing:
        sure += bare
    for start, symbol in sure:
        if any(a <= start < b for a, b in taken):
            continue
        if all(t.symbol != symbol for _, t in found):
            found.append((start, Target(symbol)))
    if not found and allow_unknown:
        name = unknown_name(norm)
        if name:
            found.append((0, Target(None, None, name)))
    found.sort(key=lambda pair: pair[0])
    return [t for _, t in found][:MAX_TARGETS]


def _first_span(text: str, company: KnownCompany) -> tuple[int, int] | None:
    """Where the company is first named in ``text`` (same matching rules as the table)."""
    lowered = text.lower()
    best: tuple[int, int] | None = None
    for alias in (*company.aliases, company.symbol.lower(), normalise_name(company.name)):
        if not alias:
            continue
        if alias.isascii():
            if len(alias) <= 2:
                m = re.search(r"(?<![\w$])\$?" + re.escape(alias.upper()) + r"(?!\w)", text)
            else:
                m = re.search(r"(?<![\w$])\$?" + re.escape(alias) + r"(?!\w)", lowered)
            span = (m.start(), m.end()) if m else None
        else:
            idx = lowered.find(alias)
            span = (idx, idx + len(alias)) if idx >= 0 else None
        if span and (
            best is None or span[0] < best[0] or (span[0] == best[0] and span[1] > best[1])
        ):
            best = span
    return best


def _explicit_tickers(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """($-prefixed and exchange-suffixed tickers, bare upper-case words that may be tickers)."""
    sure = [(m.start(), m.group(1).upper()) for m in _DOLLAR_TICKER.finditer(text)]
    sure += [(m.start(), m.group(1).upper()) for m in _SUFFIX_TICKER.finditer(text)]
    bare: list[tuple[int, str]] = []
    words = re.findall(r"[A-Za-z]+", text)
    shouting = len(words) >= 3 and sum(w.isupper() for w in words) / len(words) > 0.6
    if not shouting:
        bare = [
            (m.start(), m.group(1))
            for m in _BARE_TICKER.finditer(text)
            if m.group(1) not in _NOT_TICKERS
        ]
    known = {symbol for _, symbol in sure}
    return sorted(sure), [(start, symbol) for start, symbol in bare if symbol not in known]


def unknown_name(text: str) -> str | None:
    """The likely company phrase in a question about a company the table doesn't know.

    "Should I buy Acme Robotics?" → "Acme Robotics"; "아크메 로보틱스 주식 사도 될까?" →
    "아크메 로보틱스"; "should i buy acme?" → "acme".
    """
    return _capitalised_run(text) or _korean_leading_name(text) or _after_verb(text)


def _capitalised_run(text: str) -> str | None:
    runs: list[list[str]] = []
    current: list[str] = []
    last_end = -1
    for m in _EN_TOKEN.finditer(text):
        word = re.sub(r"['’]s$", "", m.group(0)).rstrip(".")
        contiguous = last_end >= 0 and text[last_end : m.start()].strip() == ""
        is_name = word[:1].isupper() or (word[:1].isdigit() and any(c.isalpha() for c in word))
        if is_name and word.lower() not in _EN_STOP:
            if current and not contiguous:
                runs.append(current)
                current = []
            current.append(word)
        elif current and contiguous and word.lower() in _EN_CONNECTORS:
            current.append(word)
        elif current:
            runs.append(current)
            current = []
        last_end = m.end()
        if m.group(0).endswith(("'s", "’s")) and current:
            runs.append(current)  # a possessive ends the name: "Acme's balance sheet"
            current = []
    if current:
        runs.append(current)
    for run in runs:
        while run and run[-1].lower() in _EN_CONNECTORS:
            run.pop()
        if run:
            return " ".join(run)
    return None


def _korean_leading_name(text: str) -> str | None:
    if language_of(text) != "ko":
        return None
    tokens = [tok.strip("?!.,~ ") for tok in text.split()]
    tokens = [tok for tok in tokens if tok]
    while tokens and tokens[0] in _KO_FILLERS:
        tokens.pop(0)
    name: list[str] = []
    for tok in tokens:
        bare = _strip_particle(tok)
        lowered = bare.lower()
        if any(p.search(lowered) for p in _KO_RE.values()) or _WEAK_BUY.search(lowered):
            break
        if any(w in lowered for w in _KO_NOT_NAME):
            break
        name.append(bare)
        if bare != tok:
            break  # a particle closes the noun phrase: "아크메의 …"
    return " ".join(name) or None


def _strip_particle(token: str) -> str:
    for particle in _KO_PARTICLES:
        if token.endswith(particle) and len(token) > len(particle) + 1:
            return token[: -len(particle)]
    return token


def _after_verb(text: str) -> str | None:
    m = _EN_AFTER_VERB.search(text.lower())
    if not m:
        return None
    words = [w for w in m.group(1).split() if w not in _EN_STOP]
    return " ".join(words) or None
