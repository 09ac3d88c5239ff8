"""The analyst's answers in Markdown: the report computed from tool outputs, and the help.

Text that came from a tool (names, headlines, error messages) is data: it is escaped so
it reads literally and can't open a link, break a table row or start a new block.
"""

from __future__ import annotations

import re
import time
from typing import Any

from . import signals as sig
from .i18n import (
    Lang,
    fmt_amount,
    fmt_multiple,
    fmt_pct,
    fmt_price,
    fmt_ratio,
    fmt_timestamp,
    join_list,
    num,
    t,
)  # fmt: skip
from .intents import SELLING
from .metrics import (
    STATEMENT_ROWS,
    Statement,
    as_list,
    balance_figures,
    drawdown_pct,
    free_cash_flow,
    income_figures,
    pct_change,
    read_statement,
    sparkline,
    weekly_closes,
)  # fmt: skip
from .plan import DATA_KINDS, Company, Kind, Observation, Plan

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_URL = re.compile(r"https?://[^\s()<>\[\]|]+")
_EXAMPLE_KEYS: tuple[tuple[str, tuple[Kind, ...]], ...] = (
    ("ex_buy", ("income", "balance", "performance")),
    ("ex_balance", ("balance",)),
    ("ex_income", ("income",)),
    ("ex_performance", ("performance",)),
    ("ex_cash_flow", ("cash_flow",)),
    ("ex_quote", ("quote",)),
    ("ex_news", ("news",)),
    ("ex_recommendations", ("recommendations",)),
    ("ex_compare", ("compare",)),
)
_INTENT_EXAMPLE = {
    "buy": "ex_buy", "income": "ex_income", "balance": "ex_balance",
    "performance": "ex_performance", "cash_flow": "ex_cash_flow", "quote": "ex_quote",
    "news": "ex_news", "recommendations": "ex_recommendations", "compare": "ex_compare",
}  # fmt: skip


def inline(text: Any) -> str:
    """Tool text as one literal Markdown line."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def render(plan: Plan) -> str:
    lang = plan.lang
    if plan.answer == "help":
        return help_text(plan)
    if plan.answer == "no_tools":
        return t(lang, "help_no_tools")
    if plan.answer == "ask_company":
        example = _INTENT_EXAMPLE.get(plan.intents[0] if plan.intents else "buy", "ex_buy")
        return t(lang, "ask_company", example=t(lang, example))
    if plan.answer == "lookup_failed":
        return "\n\n".join(_lookup_failure(c, lang) for c in plan.companies if not c.symbol)
    return _report(plan)


def help_text(plan: Plan) -> str:
    lang = plan.lang
    parts = []
    if plan.question.greeting:
        parts.append(t(lang, "hello"))
    parts.append(t(lang, "help_intro"))
    examples = [
        t(lang, key) for key, kinds in _EXAMPLE_KEYS if any(plan.tools.has(k) for k in kinds)
    ]
    if examples:
        parts.append(t(lang, "help_examples") + "\n" + "\n".join(f"- *{e}*" for e in examples))
        parts.append(t(lang, "help_followup"))
        parts.append(t(lang, "help_other_lang"))
    else:
        parts.append(t(lang, "help_no_tools"))
    parts.append(t(lang, "help_llm"))
    return "\n\n".join(parts)


def _lookup_failure(company: Company, lang: Lang) -> str:
    query = inline(company.target.query or "?")
    if company.lookup is None:
        return t(lang, "no_lookup_tool", query=query)
    why = t(lang, "lookup_failed_why", error=inline(company.failure)) if company.failure else ""
    return t(lang, "lookup_failed", query=query, why=why)


# -- the report ----------------------------------------------------------------------------
def _report(plan: Plan) -> str:
    lang = plan.lang
    blocks: list[str] = []
    if any(o.envelope.get("source") == "demo" for o in plan.observations):
        blocks.append(t(lang, "demo_notice"))
    per_company = [o for o in plan.observations if o.kind in DATA_KINDS]
    for company in plan.companies:
        if not company.symbol:
            blocks.append(_lookup_failure(company, lang))
            continue
        mine = [o for o in per_company if o.symbol == company.symbol]
        if mine or "compare" not in plan.intents:
            blocks.extend(_company_blocks(plan, company, mine))
    for obs in plan.observations:
        if obs.kind == "compare":
            symbols = [c.symbol for c in plan.companies if c.symbol]
            blocks.append("## " + " vs ".join(inline(s) for s in symbols))
            blocks.extend(_compare(obs, lang))
    if plan.missing:
        what = ", ".join(t(lang, f"kind_{k}") for k in plan.missing)
        blocks.append(
            t(lang, "not_available", what=what)
            if per_company or plan.observations
            else t(lang, "no_tool_for", what=what)
        )
    sources = _sources(plan.observations, lang)
    if sources:
        blocks.append(sources)
    blocks.append(t(lang, "disclaimer"))
    return "\n\n".join(b for b in blocks if b)


def _company_blocks(plan: Plan, company: Company, observations: list[Observation]) -> list[str]:
    lang = plan.lang
    name = company.name or _name_from(observations)
    title = (
        f"## {inline(name)} ({inline(company.symbol)})"
        if name and name != company.symbol
        else f"## {inline(company.symbol)}"
    )
    blocks = [title]
    if company.lookup is not None and company.used_fallback:
        blocks.append(
            t(
                lang,
                "lookup_fallback",
                symbol=inline(company.symbol),
                error=inline(company.lookup.error or "?"),
            )
        )
    elif company.lookup is not None:
        data = company.lookup.data if isinstance(company.lookup.data, dict) else {}
        exchange = f" ({inline(data['exchange'])})" if data.get("exchange") else ""
        source = str(data.get("lookup_source") or company.lookup.envelope.get("source") or "?")
        source = t(lang, f"source_{source}") if f"source_{source}" in _SOURCE_KEYS else source
        blocks.append(
            t(
                lang,
                "lookup_line",
                symbol=inline(company.symbol),
                exchange=exchange,
                query=inline(company.target.query or ""),
                source=inline(source),
            )
        )
    kinds = [k for k in DATA_KINDS if any(o.kind == k for o in observations)]
    if kinds:
        parts = join_list(lang, [t(lang, f"kind_{k}") for k in kinds])
        if "buy" in plan.intents:
            intro = "intro_sell" if SELLING.search(plan.question.text) else "intro_buy"
            blocks.append(t(lang, intro, name=inline(name or company.symbol), parts=parts))
    found: dict[str, Any] = {}
    for kind in DATA_KINDS:
        for obs in (o for o in observations if o.kind == kind):
            blocks.extend(_section(obs, lang, found))
    figures = sig.collect(**found)
    if "buy" in plan.intents:
        blocks.extend(_verdict(figures, lang))
    elif figures:
        marks = [f"- {'▲' if s.positive else '▼'} {_signal_text(s, lang)}" for s in figures]
        blocks.append("\n".join([t(lang, "sig_notable"), *marks]))
    return blocks


def _name_from(observations: list[Observation]) -> str | None:
    for obs in observations:
        name = obs.data.get("name") if isinstance(obs.data, dict) else None
        if isinstance(name, str):
            return name
    return None


def _section(obs: Observation, lang: Lang, found: dict[str, Any]) -> list[str]:
    kind = obs.kind
    assert kind is not None
    if obs.error:
        return [t(lang, "failed", what=_capital(t(lang, f"kind_{kind}")), error=inline(obs.error))]
    data = obs.data if isinstance(obs.data, dict) else {}
    currency = obs.envelope.get("currency")
    if kind in ("income", "balance", "cash_flow"):
        statement = read_statement(data, kind)
        if statement is None or not statement.values:
            return [
                t(lang, f"sec_{kind}"),
                t(lang, "failed", what=_capital(t(lang, f"kind_{kind}")), error="no rows"),
            ]
        found[kind] = statement
        return [
            t(lang, f"sec_{kind}"),
            _statement_table(statement, lang, currency),
            *_statement_notes(statement, lang),
        ]
    if kind == "performance":
        found["performance"] = data
        return _performance(data, lang)
    if kind == "quote":
        found["quote"] = data
        return _quote(data, lang)
    if kind == "recommendations":
        found["recommendations"] = data
        return _recommendations(data, lang)
    if kind == "news":
        return _news(data, lang)
    return []


def _capital(text: str) -> str:
    for prefix in ("the ", "The "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text[:1].upper() + text[1:]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _statement_table(s: Statement, lang: Lang, currency: Any) -> str:
    ncols = min(2, len(s.periods)) or 1
    head = [inline(currency) if currency else ""] + [s.label(i) or "–" for i in range(ncols)]
    with_change = ncols >= 2
    if with_change:
        head.append(t(lang, "col_change"))
    lines = [
        "| " + " | ".join(_cell(h) for h in head) + " |",
        "|---" + "|---:" * (len(head) - 1) + "|",
    ]
    for key in STATEMENT_ROWS[s.kind]:
        if key not in s.values or all(v is None for v in s.values[key][:ncols]):
            continue
        fmt = fmt_price if key == "eps" else fmt_amount
        row = [t(lang, f"row_{key}")] + [fmt(s.get(key, i)) for i in range(ncols)]
        if with_change:
            row.append(fmt_pct(pct_change(s.get(key, 0), s.get(key, 1)), signed=True))
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _statement_notes(s: Statement, lang: Lang) -> list[str]:
    notes: list[str] = []
    if s.kind == "income":
        inc = income_figures(s)
        if inc.revenue_growth is not None:
            notes.append(
                t(
                    lang,
                    "revenue_growth",
                    growth=fmt_pct(inc.revenue_growth, signed=True),
                    new=fmt_amount(inc.revenue),
                    old=fmt_amount(inc.revenue_prev),
                )
            )
        if any(v is not None for v in (inc.gross_margin, inc.operating_margin, inc.net_margin)):
            notes.append(
                t(
                    lang,
                    "margins",
                    period=s.label(0) or "–",
                    gross=fmt_pct(inc.gross_margin),
                    operating=fmt_pct(inc.operating_margin),
                    net=fmt_pct(inc.net_margin),
                )
            )
    elif s.kind == "balance":
        bal = balance_figures(s)
        if (
            bal.debt_to_equity is not None
            or bal.current_ratio is not None
            or bal.net_debt is not None
        ):
            net_cash = bal.net_debt is not None and bal.net_debt < 0
            notes.append(
                t(
                    lang,
                    "leverage",
                    de=fmt_ratio(bal.debt_to_equity),
                    cr=fmt_ratio(bal.current_ratio),
                    net_label=t(lang, "net_cash" if net_cash else "net_debt"),
                    net=fmt_amount(abs(bal.net_debt) if bal.net_debt is not None else None),
                )
            )
    elif s.kind == "cash_flow":
        fcf = free_cash_flow(s)
        if fcf is not None:
            notes.append(t(lang, "fcf_margin", period=s.label(0) or "–", fcf=fmt_amount(fcf)))
    return [" ".join(notes)] if notes else []


def _point(value: Any) -> dict[str, Any]:
    """A price point: ``{"value", "date"}``, or a bare number."""
    return value if isinstance(value, dict) else {"value": value}


def _performance(d: dict[str, Any], lang: Lang) -> list[str]:
    days = int(num(d.get("days")) or 100)
    high, low = _point(d.get("high")), _point(d.get("low"))
    lines = [
        t(
            lang,
            "perf_close",
            first=fmt_price(d.get("first_close")),
            last=fmt_price(d.get("last_close")),
            ret=fmt_pct(d.get("return_pct"), signed=True),
            days=days,
            start=inline(d.get("start") or "–"),
            end=inline(d.get("end") or "–"),
        ),
        t(
            lang,
            "perf_range",
            high=fmt_price(high.get("value")),
            high_date=inline(high.get("date") or "–"),
            low=fmt_price(low.get("value")),
            low_date=inline(low.get("date") or "–"),
        ),
        t(
            lang,
            "perf_risk",
            vol=fmt_pct(d.get("volatility_annualized_pct")),
            dd=fmt_pct(drawdown_pct(d.get("max_drawdown_pct"))),
        ),
    ]
    if num(d.get("avg_volume")) is not None:
        lines.append(t(lang, "perf_volume", volume=fmt_amount(d.get("avg_volume"))))
    closes = weekly_closes(d)
    if len(closes) >= 2:
        lines.append(
            t(
                lang,
                "perf_weekly",
                spark=sparkline(closes),
                lo=fmt_price(min(closes)),
                hi=fmt_price(max(closes)),
            )
        )
    return [t(lang, "sec_performance", days=days), "\n".join(f"- {line}" for line in lines)]


def _quote(d: dict[str, Any], lang: Lang) -> list[str]:
    change = num(d.get("change_pct"))
    lines = [
        t(lang, "quote_price", price=fmt_price(d.get("price")), change=fmt_pct(change, signed=True))
    ]
    if any(num(d.get(k)) is not None for k in ("market_cap", "pe_ratio", "forward_pe")):
        lines.append(
            t(
                lang,
                "quote_valuation",
                cap=fmt_amount(d.get("market_cap")),
                pe=fmt_multiple(d.get("pe_ratio")),
                fpe=fmt_multiple(d.get("forward_pe")),
            )
        )
    lo, hi, price = (
        num(d.get("fifty_two_week_low")),
        num(d.get("fifty_two_week_high")),
        num(d.get("price")),
    )
    if lo is not None and hi is not None:
        pos = (price - lo) / (hi - lo) * 100 if price is not None and hi > lo else None
        lines.append(
            t(lang, "quote_range", low=fmt_price(lo), high=fmt_price(hi), pos=fmt_pct(pos))
        )
    return [t(lang, "sec_quote"), "\n".join(f"- {line}" for line in lines)]


def _news(d: dict[str, Any], lang: Lang) -> list[str]:
    items = [i for i in as_list(d.get("items")) if isinstance(i, dict)][:8]
    if not items:
        return [t(lang, "sec_news"), t(lang, "news_none")]
    lines = []
    for item in items:
        meta = ", ".join(
            inline(x) for x in (item.get("publisher"), _date(item.get("published"))) if x
        )
        line = f"- {inline(item.get('title') or '–')}" + (f" — {meta}" if meta else "")
        url = item.get("url")
        if isinstance(url, str) and _URL.fullmatch(url):
            line += f" ([{t(lang, 'link')}]({url}))"
        lines.append(line)
    return [t(lang, "sec_news"), "\n".join(lines)]


def _date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    v = num(value)
    if v is not None and v > 10_000_000:  # Unix seconds (or milliseconds)
        try:
            return time.strftime("%Y-%m-%d", time.gmtime(v / 1000 if v > 1e11 else v))
        except (OverflowError, OSError, ValueError):
            return None
    return str(value)[:10]


def _recommendations(d: dict[str, Any], lang: Lang) -> list[str]:
    out = [t(lang, "sec_recommendations")]
    periods = [p for p in as_list(d.get("periods")) if isinstance(p, dict)][:3]
    if periods:
        rows = [t(lang, "reco_header"), "|---|---:|---:|---:|---:|---:|"]
        for p in periods:
            counts = [
                fmt_amount(p.get(k)) for k in ("strongBuy", "buy", "hold", "sell", "strongSell")
            ]
            rows.append("| " + " | ".join([_cell(inline(p.get("period") or "–")), *counts]) + " |")
        out.append("\n".join(rows))
    consensus = sig.consensus_of(d)
    if consensus:
        out.append(t(lang, "reco_consensus", consensus=inline(consensus)))
    return out


def _compare(obs: Observation, lang: Lang) -> list[str]:
    if obs.error:
        return [t(lang, "failed", what=_capital(t(lang, "kind_compare")), error=inline(obs.error))]
    data = obs.data if isinstance(obs.data, dict) else {}
    stocks = [s for s in as_list(data.get("stocks")) if isinstance(s, dict)]
    rows = [t(lang, "compare_header"), "|---|---:|---:|---:|---:|---:|"]
    for s in stocks:
        if s.get("error"):
            rows.append(
                f"| {_cell(inline(s.get('symbol') or '?'))} | ⚠ {_cell(inline(s['error']))} | | | | |"
            )
            continue
        rows.append("| " + " | ".join([
            _cell(inline(s.get("symbol") or "?")), fmt_price(s.get("first_close")), fmt_price(s.get("last_close")),
            fmt_pct(s.get("return_pct"), signed=True), fmt_pct(s.get("volatility_annualized_pct")),
            fmt_pct(drawdown_pct(s.get("max_drawdown_pct"))),
        ]) + " |")  # fmt: skip
    for failure in as_list(data.get("errors")):
        if isinstance(failure, dict):
            symbol, error = (
                inline(failure.get("symbol") or "?"),
                inline(failure.get("error") or "?"),
            )
            rows.append(f"| {_cell(symbol)} | ⚠ {_cell(error)} | | | | |")
    period = f" ({inline(data['period'])})" if data.get("period") else ""
    out = [t(lang, "sec_compare", period=period), "\n".join(rows)]
    ranked = [s for s in stocks if num(s.get("return_pct")) is not None]
    calm = [s for s in stocks if num(s.get("volatility_annualized_pct")) is not None]
    if len(ranked) >= 2 and calm:
        best = max(ranked, key=lambda s: num(s["return_pct"]) or 0.0)
        quiet = min(calm, key=lambda s: num(s["volatility_annualized_pct"]) or 0.0)
        out.append(
            t(
                lang,
                "compare_best",
                best=inline(best.get("symbol")),
                best_ret=fmt_pct(best["return_pct"], signed=True),
                calm=inline(quiet.get("symbol")),
                calm_vol=fmt_pct(quiet["volatility_annualized_pct"]),
            )
        )
    return out


def _signal_text(s: sig.Signal, lang: Lang) -> str:
    return t(lang, s.key, v=s.value, days=s.days or 100)


def _signal_lists(signals: list[sig.Signal], lang: Lang) -> str:
    pros = [_signal_text(s, lang) for s in signals if s.positive]
    cons = [_signal_text(s, lang) for s in signals if not s.positive]
    none = t(lang, "sig_none")
    return "\n".join([
        t(lang, "sig_for"), *(f"- {p}" for p in pros or [none]),
        "", t(lang, "sig_against"), *(f"- {c}" for c in cons or [none]),
    ])  # fmt: skip


def _verdict(signals: list[sig.Signal], lang: Lang) -> list[str]:
    out = [t(lang, "sec_verdict")]
    if not signals:
        return [*out, t(lang, "verdict_no_data"), t(lang, "verdict_caveat")]
    pros = sum(s.positive for s in signals)
    cons = len(signals) - pros
    key = (
        "verdict_positive"
        if pros - cons >= 2
        else "verdict_negative"
        if cons - pros >= 2
        else "verdict_mixed"
    )
    return [
        *out,
        _signal_lists(signals, lang),
        t(lang, key, pros=pros, cons=cons) + " " + t(lang, "verdict_caveat"),
    ]


def _sources(observations: list[Observation], lang: Lang) -> str:
    names: list[str] = []
    as_of: list[str] = []
    stale = False
    for obs in observations:
        if obs.error:
            continue
        source = obs.envelope.get("source")
        if isinstance(source, str) and source:
            label = (
                t(lang, f"source_{source}")
                if f"source_{source}" in _SOURCE_KEYS
                else inline(source)
            )
            if label not in names:
                names.append(label)
        if isinstance(obs.envelope.get("as_of"), str):
            as_of.append(obs.envelope["as_of"])
        stale = stale or bool(obs.envelope.get("stale"))
    if not names:
        return ""
    text = ", ".join(names)
    extras = [t(lang, "as_of", as_of=inline(fmt_timestamp(max(as_of))))] if as_of else []
    if stale:
        extras.append(t(lang, "stale"))
    if extras:
        text += " (" + "; ".join(extras) + ")"
    return t(lang, "sources", sources=text)


_SOURCE_KEYS = frozenset(
    {"source_yahoo", "source_cache", "source_demo", "source_web", "source_builtin"}
)
