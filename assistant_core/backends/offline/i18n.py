"""The offline analyst's words, in English and Korean, and its number formats.

Every sentence the analyst writes comes from ``STRINGS`` so both languages stay in step;
a missing Korean entry falls back to English rather than failing mid-answer.
"""

from __future__ import annotations

import re
from typing import Any

from ... import numfmt
from ...tools.display_names import local_label, short_label

Lang = numfmt.Locale


def _card(label: str) -> str:
    """A statement row's Korean name, as the tool cards say it."""
    return local_label(label, "ko")


language_of = numfmt.locale_of  # Korean when the question has any Hangul, else English


STRINGS: dict[str, tuple[str, str]] = {
    # -- help and fallbacks ----------------------------------------------------------------
    "hello": ("Hello!", "안녕하세요!"),
    "help_intro": (
        "I'm the **offline analyst**: a rule-based assistant that works without a language "
        "model or an API key. I find the company, call the market-data tools and write a "
        "report computed from their numbers.",
        "저는 **오프라인 애널리스트**입니다. 언어 모델이나 API 키 없이 규칙에 따라 동작합니다. "
        "회사를 찾고, 시장 데이터 도구를 호출한 뒤, 그 수치로 계산한 보고서를 작성합니다.",
    ),
    "help_examples": ("Things you can ask:", "이렇게 물어보세요:"),
    "help_followup": (
        "Follow-ups in the same thread work too: *and its income statement?*",
        "같은 대화에서 이어서 물어봐도 됩니다: *그럼 손익계산서는?*",
    ),
    "help_other_lang": (
        "I also understand Korean: *애플 주식 사도 될까?*, *테슬라 재무상태표 보여줘*.",
        "영어 질문도 이해합니다: *Should I buy Apple?*, *How is Tesla's balance sheet?*",
    ),
    "help_llm": (
        "For free-form questions, connect a model (an OpenAI key or an OpenAI-compatible "
        "base URL).",
        "자유로운 질문을 하려면 모델을 연결하세요 (OpenAI 키 또는 OpenAI 호환 base URL).",
    ),
    "help_no_tools": (
        "This assistant has no market-data tools enabled, so I have nothing to look up. "
        "Enable its tools and ask again.",
        "이 어시스턴트에는 시장 데이터 도구가 없어 조회할 수 없습니다. 도구를 켜고 다시 물어보세요.",
    ),
    "ex_buy": ("Should I buy Apple?", "애플 주식 사도 될까?"),
    "ex_balance": ("How is Tesla's balance sheet?", "테슬라 재무상태표 보여줘"),
    "ex_income": ("What are Microsoft's earnings?", "마이크로소프트 실적 알려줘"),
    "ex_performance": ("Show me MSFT's last 100 days", "엔비디아 최근 100일 주가 보여줘"),
    "ex_cash_flow": ("What is Amazon's cash flow?", "아마존 현금흐름 보여줘"),
    "ex_quote": ("What is NVDA's P/E and market cap?", "삼성전자 시가총액 알려줘"),
    "ex_news": ("Latest news on Netflix", "넷플릭스 뉴스 알려줘"),
    "ex_recommendations": ("What do analysts say about AMZN?", "애플 목표가랑 투자의견은?"),
    "ex_compare": ("Compare AAPL and MSFT", "애플이랑 마이크로소프트 비교해줘"),
    "ask_company": (
        "Which company do you mean? Name it or give its ticker, for example: *{example}*",
        "어느 회사를 말씀하시나요? 회사 이름이나 티커를 알려주세요. 예: *{example}*",
    ),
    "no_tool_for": (
        "The tools I'd need for that ({what}) aren't available in this assistant.",
        "그 질문에 필요한 도구({what})가 이 어시스턴트에 없습니다.",
    ),
    "lookup_failed": (
        "I couldn't find a ticker symbol for “{query}”{why}. Try the exact ticker, e.g. *$AAPL*.",
        "“{query}”의 티커를 찾지 못했습니다{why}. 정확한 티커로 물어봐 주세요. 예: *$AAPL*",
    ),
    "lookup_failed_why": (" ({error})", " ({error})"),
    "no_lookup_tool": (
        "I don't know the ticker of “{query}” and the get_ticker tool isn't available.",
        "“{query}”의 티커를 모르고, get_ticker 도구도 없습니다.",
    ),
    # -- report scaffolding ------------------------------------------------------------------
    "intro_buy": (
        "**Should you buy {name}?** Here is what {parts} say.",
        "**{name}, 지금 사도 될까요?** {parts} 데이터를 정리했습니다.",
    ),
    "intro_sell": (
        "**Should you sell {name}?** Here is what {parts} say.",
        "**{name}, 지금 팔아야 할까요?** {parts} 데이터를 정리했습니다.",
    ),
    "lookup_line": (
        "Ticker: **{symbol}**{exchange} — looked up “{query}” (via {source}).",
        "티커: **{symbol}**{exchange} — “{query}” 조회 결과 (출처: {source}).",
    ),
    "lookup_fallback": (
        "Ticker: **{symbol}** from the built-in table (the lookup failed: {error}).",
        "티커: **{symbol}** (내장 목록 사용, 조회 실패: {error}).",
    ),
    "failed": ("⚠ {what} unavailable: {error}", "⚠ {what} 조회 실패: {error}"),
    "not_available": (
        "Not covered (no tool for it here): {what}.",
        "도구가 없어 확인하지 못한 항목: {what}.",
    ),
    "sources": ("Sources: {sources}.", "데이터 출처: {sources}."),
    "as_of": ("as of {as_of}", "{as_of} 기준"),
    "stale": ("stale: the live fetch failed", "오래된 데이터: 실시간 조회 실패"),
    "demo_notice": (
        "> **DEMO DATA** — these figures are synthetic, not real market data.",
        "> **DEMO 데이터** — 실제 시장 데이터가 아닌 합성 수치입니다.",
    ),
    "disclaimer": (
        "_Rule-based summary of public data by the offline analyst; not financial advice._",
        "_오프라인 애널리스트가 공개 데이터를 규칙에 따라 요약한 것이며, 투자 권유가 아닙니다._",
    ),
    "source_yahoo": ("Yahoo Finance", "Yahoo Finance"),
    "source_cache": ("Yahoo Finance (cached)", "Yahoo Finance (캐시)"),
    "source_demo": ("DEMO data", "DEMO 데이터"),
    "source_web": ("web search", "웹 검색"),
    "source_builtin": ("built-in table", "내장 목록"),
    # -- what each tool covers (intro lists, failures) ---------------------------------------
    "kind_ticker": ("the ticker lookup", "티커 조회"),
    "kind_income": ("the income statement", "손익계산서"),
    "kind_balance": ("the balance sheet", "재무상태표"),
    "kind_performance": ("the last 100 trading days", "최근 100거래일 주가"),
    "kind_cash_flow": ("the cash-flow statement", "현금흐름표"),
    "kind_quote": ("the current quote", "현재 시세"),
    "kind_news": ("recent news", "최근 뉴스"),
    "kind_recommendations": ("analyst recommendations", "애널리스트 투자의견"),
    "kind_compare": ("the comparison", "종목 비교"),
    # -- section titles ----------------------------------------------------------------------
    "sec_income": ("### Income statement", "### 손익계산서"),
    "sec_balance": ("### Balance sheet", "### 재무상태표"),
    "sec_cash_flow": ("### Cash flow", "### 현금흐름표"),
    "sec_performance": ("### Last {days} trading days", "### 최근 {days}거래일 주가"),
    "sec_quote": ("### Quote", "### 현재 시세"),
    "sec_news": ("### Recent news", "### 최근 뉴스"),
    "sec_recommendations": ("### Analyst recommendations", "### 애널리스트 투자의견"),
    "sec_compare": ("### Side by side{period}", "### 종목 비교{period}"),
    "sec_verdict": ("### Verdict", "### 종합 의견"),
    # -- statement rows ----------------------------------------------------------------------
    # Korean: the names the tool cards beside the answer use (one vocabulary).
    "row_revenue": ("Revenue", _card("Total Revenue")),
    "row_gross_profit": ("Gross profit", _card("Gross Profit")),
    "row_operating_income": ("Operating income", _card("Operating Income")),
    "row_net_income": ("Net income", _card("Net Income")),
    "row_eps": ("Diluted EPS", short_label("Diluted EPS", "ko")),
    "row_total_assets": ("Total assets", _card("Total Assets")),
    "row_total_liabilities": (
        "Total liabilities",
        _card("Total Liabilities Net Minority Interest"),
    ),
    "row_equity": ("Shareholders' equity", _card("Stockholders Equity")),
    "row_cash": ("Cash and equivalents", _card("Cash And Cash Equivalents")),
    "row_total_debt": ("Total debt", _card("Total Debt")),
    "row_current_assets": ("Current assets", _card("Current Assets")),
    "row_current_liabilities": ("Current liabilities", _card("Current Liabilities")),
    "row_operating_cash_flow": ("Operating cash flow", _card("Operating Cash Flow")),
    "row_capex": ("Capital expenditure", _card("Capital Expenditure")),
    "row_free_cash_flow": ("Free cash flow", _card("Free Cash Flow")),
    "col_change": ("Change", "증감"),
    # -- metric lines ------------------------------------------------------------------------
    "margins": (
        "Margins ({period}): gross {gross} · operating {operating} · net {net}.",
        "이익률 ({period}): 매출총이익률 {gross} · 영업이익률 {operating} · 순이익률 {net}.",
    ),
    "revenue_growth": (
        "Revenue growth: {growth} ({new} vs {old}).",
        "매출 성장률: {growth} ({new} vs {old}).",
    ),
    "leverage": (
        "Debt/equity {de} · current ratio {cr} · {net_label} {net}.",
        "부채비율(차입금/자본) {de} · 유동비율 {cr} · {net_label} {net}.",
    ),
    "net_debt": ("net debt", "순차입금"),
    "net_cash": ("net cash", "순현금"),
    "fcf_margin": ("Free cash flow {period}: {fcf}.", "잉여현금흐름 ({period}): {fcf}."),
    "perf_close": (
        "Close {first} → {last} (**{ret}**) over {days} trading days ({start} – {end}).",
        "종가 {first} → {last} (**{ret}**), {days}거래일 ({start} – {end}).",
    ),
    "perf_range": (
        "High {high} ({high_date}) · low {low} ({low_date}).",
        "최고 {high} ({high_date}) · 최저 {low} ({low_date}).",
    ),
    "perf_risk": (
        "Annualised volatility {vol} · maximum drawdown {dd}.",
        "연환산 변동성 {vol} · 최대 낙폭 {dd}.",
    ),
    "perf_volume": ("Average daily volume {volume}.", "일평균 거래량 {volume}."),
    "shares_word": ("", "주"),  # after a share count; English says "52.3M" alone
    "perf_weekly": (
        "Weekly closes: {spark} ({range})",
        "주간 종가 추이: {spark} ({range})",
    ),
    "quote_price": ("Price {price} ({change} today).", "현재가 {price} (오늘 {change})."),
    "quote_valuation": (
        "Market cap {cap} · P/E {pe} · forward P/E {fpe}.",
        "시가총액 {cap} · PER {pe} · 선행 PER {fpe}.",
    ),
    "quote_range": (
        "52-week range {range} (price at {pos} of the range).",
        "52주 범위 {range} (범위의 {pos} 위치).",
    ),
    "reco_consensus": ("Consensus: **{consensus}**.", "컨센서스: **{consensus}**."),
    "reco_header": (
        "| Period | Strong buy | Buy | Hold | Sell | Strong sell |",
        "| 기간 | 적극 매수 | 매수 | 보유 | 매도 | 적극 매도 |",
    ),
    "compare_header": (
        "| Symbol | First close | Last close | Return | Volatility | Max drawdown |",
        "| 종목 | 시작 종가 | 마지막 종가 | 수익률 | 변동성 | 최대 낙폭 |",
    ),
    "compare_best": (
        "Best return: **{best}** ({best_ret}); lowest volatility: **{calm}** ({calm_vol}).",
        "수익률 1위: **{best}** ({best_ret}); 변동성 최저: **{calm}** ({calm_vol}).",
    ),
    "news_none": ("No recent news items.", "최근 뉴스가 없습니다."),
    "link": ("link", "링크"),
    # -- signals (verdict) -------------------------------------------------------------------
    "sig_for": ("**Signals for**", "**긍정적 신호**"),
    "sig_against": ("**Signals against**", "**부정적 신호**"),
    "sig_none": ("none in the data fetched", "가져온 데이터에서는 없음"),
    "sig_notable": ("**What stands out**", "**눈에 띄는 점**"),
    "sig_rev_up": ("Revenue grew {v} year over year", "매출이 전년 대비 {v} 성장"),
    "sig_rev_down": ("Revenue fell {v} year over year", "매출이 전년 대비 {v} 감소"),
    "sig_op_up": ("Operating income grew {v}", "영업이익 {v} 증가"),
    "sig_op_down": ("Operating income fell {v}", "영업이익 {v} 감소"),
    "sig_ni_down": ("Net income fell {v}", "순이익 {v} 감소"),
    "sig_ni_up": ("Net income grew {v}", "순이익 {v} 증가"),
    "sig_margin_high": ("High net margin ({v})", "높은 순이익률 ({v})"),
    "sig_margin_thin": ("Thin net margin ({v})", "낮은 순이익률 ({v})"),
    "sig_loss": ("Net loss ({v})", "순손실 ({v})"),
    "sig_de_high": ("High leverage: debt/equity {v}", "높은 부채 부담: 차입금/자본 {v}"),
    "sig_de_low": ("Low leverage: debt/equity {v}", "낮은 부채 부담: 차입금/자본 {v}"),
    "sig_equity_negative": ("Negative shareholders' equity", "자본잠식 (자본총계 음수)"),
    "sig_cr_low": ("Current ratio below 1 ({v})", "유동비율 1 미만 ({v})"),
    "sig_cr_high": ("Comfortable current ratio ({v})", "여유 있는 유동비율 ({v})"),
    "sig_net_cash": ("More cash than debt (net cash {v})", "차입금보다 현금이 많음 (순현금 {v})"),
    "sig_ret_up": (
        "Stock up {v} over the last {days} trading days",
        "최근 {days}거래일 주가 {v} 상승",
    ),
    "sig_ret_down": (
        "Stock down {v} over the last {days} trading days",
        "최근 {days}거래일 주가 {v} 하락",
    ),
    "sig_vol_high": ("Volatile: {v} annualised", "높은 변동성: 연 {v}"),
    "sig_vol_low": ("Calm trading: {v} annualised volatility", "낮은 변동성: 연 {v}"),
    "sig_dd_deep": ("Deep drawdown in the period ({v})", "기간 중 큰 낙폭 ({v})"),
    "sig_pe_high": ("Rich valuation: P/E {v}", "높은 밸류에이션: PER {v}"),
    "sig_pe_low": ("Modest valuation: P/E {v}", "낮은 밸류에이션: PER {v}"),
    "sig_fcf_pos": ("Positive free cash flow ({v})", "잉여현금흐름 흑자 ({v})"),
    "sig_fcf_neg": ("Negative free cash flow ({v})", "잉여현금흐름 적자 ({v})"),
    "sig_reco_buy": ("Analyst consensus: {v}", "애널리스트 컨센서스: {v}"),
    "sig_reco_sell": ("Analyst consensus: {v}", "애널리스트 컨센서스: {v}"),
    "verdict_positive": (
        "On balance the data leans **positive** ({pros} for, {cons} against).",
        "종합하면 데이터는 **긍정적인 쪽**입니다 (긍정 {pros}, 부정 {cons}).",
    ),
    "verdict_negative": (
        "On balance the data leans **negative** ({pros} for, {cons} against).",
        "종합하면 데이터는 **부정적인 쪽**입니다 (긍정 {pros}, 부정 {cons}).",
    ),
    "verdict_mixed": (
        "On balance the picture is **mixed** ({pros} for, {cons} against).",
        "종합하면 신호가 **엇갈립니다** (긍정 {pros}, 부정 {cons}).",
    ),
    "verdict_no_data": (
        "There isn't enough data here to weigh the stock.",
        "판단할 만큼 데이터가 충분하지 않습니다.",
    ),
    "verdict_caveat": (
        "These are descriptions of past numbers, not a forecast: nobody knows where the price "
        "goes next. Weigh your time horizon, diversification and the price you pay.",
        "과거 수치를 정리한 것일 뿐 전망이 아닙니다. 주가의 향방은 누구도 확신할 수 없으니 "
        "투자 기간, 분산 투자, 매수 가격을 함께 고려하세요.",
    ),
}


def join_list(lang: Lang, items: list[str]) -> str:
    """ "a, b and c" in English; "a, b, c" in Korean."""
    if lang == "ko" or len(items) < 2:
        return ", ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def t(lang: Lang, key: str, **kw: Any) -> str:
    en, ko = STRINGS[key]
    text = ko if lang == "ko" and ko else en
    return text.format(**kw) if kw else text


def fmt_timestamp(value: str) -> str:
    """ "2026-11-02T21:00:00Z" → "2026-11-02 21:00 UTC"; anything else as given."""
    m = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]00:?00)?", value
    )
    if not m:
        return value
    return f"{m.group(1)} {m.group(2)}" + (" UTC" if m.group(3) else "")
