"""A built-in table of well-known companies: the last step of the ticker lookup chain and
the offline analyst's way to spot a company in a question (English and Korean names)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownCompany:
    symbol: str
    name: str
    exchange: str
    currency: str
    aliases: tuple[str, ...]  # lower-case English and Korean names people type


KNOWN_COMPANIES: tuple[KnownCompany, ...] = (
    KnownCompany("AAPL", "Apple Inc.", "NASDAQ", "USD", ("apple", "apple inc", "애플")),
    KnownCompany(
        "MSFT", "Microsoft Corporation", "NASDAQ", "USD", ("microsoft", "마이크로소프트", "마소")
    ),
    KnownCompany(
        "GOOGL", "Alphabet Inc.", "NASDAQ", "USD", ("alphabet", "google", "구글", "알파벳")
    ),
    KnownCompany("AMZN", "Amazon.com, Inc.", "NASDAQ", "USD", ("amazon", "아마존")),
    KnownCompany(
        "META",
        "Meta Platforms, Inc.",
        "NASDAQ",
        "USD",
        ("meta", "meta platforms", "facebook", "메타", "페이스북"),
    ),
    KnownCompany("TSLA", "Tesla, Inc.", "NASDAQ", "USD", ("tesla", "테슬라")),
    KnownCompany("NVDA", "NVIDIA Corporation", "NASDAQ", "USD", ("nvidia", "엔비디아")),
    KnownCompany("NFLX", "Netflix, Inc.", "NASDAQ", "USD", ("netflix", "넷플릭스")),
    KnownCompany(
        "AMD", "Advanced Micro Devices, Inc.", "NASDAQ", "USD", ("amd", "advanced micro devices")
    ),
    KnownCompany("INTC", "Intel Corporation", "NASDAQ", "USD", ("intel", "인텔")),
    KnownCompany("AVGO", "Broadcom Inc.", "NASDAQ", "USD", ("broadcom", "브로드컴")),
    KnownCompany("ORCL", "Oracle Corporation", "NYSE", "USD", ("oracle", "오라클")),
    KnownCompany("CRM", "Salesforce, Inc.", "NYSE", "USD", ("salesforce", "세일즈포스")),
    KnownCompany("ADBE", "Adobe Inc.", "NASDAQ", "USD", ("adobe", "어도비")),
    KnownCompany("IBM", "International Business Machines Corporation", "NYSE", "USD", ("ibm",)),
    KnownCompany("CSCO", "Cisco Systems, Inc.", "NASDAQ", "USD", ("cisco", "시스코")),
    KnownCompany("QCOM", "QUALCOMM Incorporated", "NASDAQ", "USD", ("qualcomm", "퀄컴")),
    KnownCompany(
        "TSM",
        "Taiwan Semiconductor Manufacturing Company Limited",
        "NYSE",
        "USD",
        ("tsmc", "taiwan semiconductor", "tsm"),
    ),
    KnownCompany(
        "BRK-B",
        "Berkshire Hathaway Inc.",
        "NYSE",
        "USD",
        ("berkshire", "berkshire hathaway", "버크셔", "버크셔 해서웨이"),
    ),
    KnownCompany(
        "JPM",
        "JPMorgan Chase & Co.",
        "NYSE",
        "USD",
        ("jpmorgan", "jp morgan", "jpmorgan chase", "제이피모건", "jp모건"),
    ),
    KnownCompany(
        "BAC", "Bank of America Corporation", "NYSE", "USD", ("bank of america", "뱅크오브아메리카")
    ),
    KnownCompany(
        "GS", "The Goldman Sachs Group, Inc.", "NYSE", "USD", ("goldman sachs", "골드만삭스")
    ),
    KnownCompany("V", "Visa Inc.", "NYSE", "USD", ("visa", "비자")),
    KnownCompany("MA", "Mastercard Incorporated", "NYSE", "USD", ("mastercard", "마스터카드")),
    KnownCompany("WMT", "Walmart Inc.", "NYSE", "USD", ("walmart", "월마트")),
    KnownCompany("COST", "Costco Wholesale Corporation", "NASDAQ", "USD", ("costco", "코스트코")),
    KnownCompany(
        "KO", "The Coca-Cola Company", "NYSE", "USD", ("coca-cola", "coca cola", "coke", "코카콜라")
    ),
    KnownCompany("PEP", "PepsiCo, Inc.", "NASDAQ", "USD", ("pepsico", "pepsi", "펩시코", "펩시")),
    KnownCompany(
        "MCD", "McDonald's Corporation", "NYSE", "USD", ("mcdonald's", "mcdonalds", "맥도날드")
    ),
    KnownCompany("SBUX", "Starbucks Corporation", "NASDAQ", "USD", ("starbucks", "스타벅스")),
    KnownCompany("NKE", "NIKE, Inc.", "NYSE", "USD", ("nike", "나이키")),
    KnownCompany(
        "DIS", "The Walt Disney Company", "NYSE", "USD", ("disney", "walt disney", "디즈니")
    ),
    KnownCompany(
        "JNJ",
        "Johnson & Johnson",
        "NYSE",
        "USD",
        ("johnson & johnson", "johnson and johnson", "존슨앤존슨"),
    ),
    KnownCompany("PFE", "Pfizer Inc.", "NYSE", "USD", ("pfizer", "화이자")),
    KnownCompany(
        "LLY", "Eli Lilly and Company", "NYSE", "USD", ("eli lilly", "lilly", "일라이릴리")
    ),
    KnownCompany(
        "XOM",
        "Exxon Mobil Corporation",
        "NYSE",
        "USD",
        ("exxon", "exxon mobil", "exxonmobil", "엑슨모빌"),
    ),
    KnownCompany("BA", "The Boeing Company", "NYSE", "USD", ("boeing", "보잉")),
    KnownCompany("UBER", "Uber Technologies, Inc.", "NYSE", "USD", ("uber", "우버")),
    KnownCompany("PLTR", "Palantir Technologies Inc.", "NASDAQ", "USD", ("palantir", "팔란티어")),
    KnownCompany("SPOT", "Spotify Technology S.A.", "NYSE", "USD", ("spotify", "스포티파이")),
    KnownCompany(
        "005930.KS",
        "Samsung Electronics Co., Ltd.",
        "KSC",
        "KRW",
        ("samsung", "samsung electronics", "삼성전자", "삼성"),
    ),
    KnownCompany(
        "000660.KS", "SK hynix Inc.", "KSC", "KRW", ("sk hynix", "hynix", "sk하이닉스", "하이닉스")
    ),
    KnownCompany("035420.KS", "NAVER Corporation", "KSC", "KRW", ("naver", "네이버")),
    KnownCompany("035720.KS", "Kakao Corp.", "KSC", "KRW", ("kakao", "카카오")),
    KnownCompany(
        "005380.KS",
        "Hyundai Motor Company",
        "KSC",
        "KRW",
        ("hyundai", "hyundai motor", "현대차", "현대자동차"),
    ),
    KnownCompany("000270.KS", "Kia Corporation", "KSC", "KRW", ("kia", "기아")),
    KnownCompany("051910.KS", "LG Chem, Ltd.", "KSC", "KRW", ("lg chem", "lg화학")),
    KnownCompany(
        "373220.KS",
        "LG Energy Solution, Ltd.",
        "KSC",
        "KRW",
        ("lg energy solution", "lg에너지솔루션"),
    ),
    KnownCompany(
        "005490.KS",
        "POSCO Holdings Inc.",
        "KSC",
        "KRW",
        ("posco", "포스코", "posco홀딩스", "포스코홀딩스"),
    ),
    KnownCompany(
        "7203.T", "Toyota Motor Corporation", "JPX", "JPY", ("toyota", "도요타", "토요타")
    ),
    KnownCompany("6758.T", "Sony Group Corporation", "JPX", "JPY", ("sony", "소니")),
    KnownCompany(
        "BMW.DE",
        "Bayerische Motoren Werke Aktiengesellschaft",
        "XETRA",
        "EUR",
        ("bmw", "bayerische motoren werke", "bayerische motoren werke ag"),
    ),
    KnownCompany("SAP", "SAP SE", "NYSE", "USD", ("sap",)),
    KnownCompany("ASML", "ASML Holding N.V.", "NASDAQ", "USD", ("asml",)),
    KnownCompany("NVO", "Novo Nordisk A/S", "NYSE", "USD", ("novo nordisk", "노보 노디스크")),
    KnownCompany("BABA", "Alibaba Group Holding Limited", "NYSE", "USD", ("alibaba", "알리바바")),
)

# The name a Korean reader knows each company by (the KRX listing name for Korean shares),
# used by Korean answers in place of the English legal name. Each resolves back to its
# company through the aliases above.
KOREAN_NAMES: dict[str, str] = {
    "AAPL": "애플", "MSFT": "마이크로소프트", "GOOGL": "알파벳", "AMZN": "아마존",
    "META": "메타", "TSLA": "테슬라", "NVDA": "엔비디아", "NFLX": "넷플릭스", "INTC": "인텔",
    "AVGO": "브로드컴", "ORCL": "오라클", "CRM": "세일즈포스", "ADBE": "어도비",
    "CSCO": "시스코", "QCOM": "퀄컴", "BRK-B": "버크셔 해서웨이", "JPM": "JP모건",
    "BAC": "뱅크오브아메리카", "GS": "골드만삭스", "V": "비자", "MA": "마스터카드",
    "WMT": "월마트", "COST": "코스트코", "KO": "코카콜라", "PEP": "펩시코",
    "MCD": "맥도날드", "SBUX": "스타벅스", "NKE": "나이키", "DIS": "디즈니",
    "JNJ": "존슨앤존슨", "PFE": "화이자", "LLY": "일라이릴리", "XOM": "엑슨모빌",
    "BA": "보잉", "UBER": "우버", "PLTR": "팔란티어", "SPOT": "스포티파이",
    "005930.KS": "삼성전자", "000660.KS": "SK하이닉스", "035420.KS": "NAVER",
    "035720.KS": "카카오", "005380.KS": "현대차", "000270.KS": "기아",
    "051910.KS": "LG화학", "373220.KS": "LG에너지솔루션", "005490.KS": "POSCO홀딩스",
    "7203.T": "도요타", "6758.T": "소니", "NVO": "노보 노디스크", "BABA": "알리바바",
}  # fmt: skip


def korean_name(symbol: str | None) -> str | None:
    """The Korean name of a company in the table (``삼성전자`` for ``005930.KS``), or None."""
    return KOREAN_NAMES.get(symbol or "")


_SUFFIXES = re.compile(
    r"\b(inc|inc\.|incorporated|corp|corp\.|corporation|co|co\.|company|ltd|ltd\.|limited|plc|ag|se|sa|n\.v\.|holdings?)\b\.?",
)


def normalise_name(text: str) -> str:
    """Lower-case, NFKC, without punctuation at the ends or legal suffixes."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = text.strip(" \t\n\"'`.,?!")
    stripped = _SUFFIXES.sub("", text).strip(" ,.")
    return re.sub(r"\s+", " ", stripped or text)


_BY_ALIAS: dict[str, KnownCompany] = {}
for _company in KNOWN_COMPANIES:
    for _alias in (*_company.aliases, _company.symbol.lower(), normalise_name(_company.name)):
        _BY_ALIAS.setdefault(normalise_name(_alias), _company)


def lookup_known(name: str) -> KnownCompany | None:
    """Exact match of a company name, alias or symbol (case-insensitive)."""
    return _BY_ALIAS.get(normalise_name(name))


def find_in_text(text: str) -> list[KnownCompany]:
    """Companies named in free text, in order of appearance (for the offline analyst).

    Korean names match inside words too (조사 follow the name: "애플의", "테슬라는");
    English names and symbols only as whole words.
    """
    lowered = unicodedata.normalize("NFKC", text).lower()
    hits: list[tuple[int, int, KnownCompany]] = []
    for alias, company in _BY_ALIAS.items():
        if not alias:
            continue
        match: re.Match[str] | _Span | None
        if alias.isascii():
            pattern = r"(?<![\w$])\$?" + re.escape(alias) + r"(?![\w])"
            if len(alias) <= 2:  # "v", "ma", "ba": only as an upper-case ticker in the original
                pattern = r"(?<![\w$])\$?" + re.escape(alias.upper()) + r"(?![\w])"
                match = re.search(pattern, unicodedata.normalize("NFKC", text))
            else:
                match = re.search(pattern, lowered)
        else:
            idx = lowered.find(alias)
            match = None if idx < 0 else _Span(idx, idx + len(alias))
        if match:
            hits.append((match.start(), -(match.end() - match.start()), company))
    hits.sort(key=lambda h: (h[0], h[1]))
    seen: list[KnownCompany] = []
    covered_until = -1
    for start, neg_len, company in hits:
        if start < covered_until:
            continue  # inside a longer name already matched ("samsung" in "samsung electronics")
        covered_until = start - neg_len
        if company not in seen:
            seen.append(company)
    return seen


@dataclass(frozen=True)
class _Span:
    _start: int
    _end: int

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end
