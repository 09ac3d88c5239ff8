"""The analyst's answers in Markdown: the report computed from tool outputs, and the help.

Text that came from a tool (names, headlines, error messages) is data: it is escaped so
it reads literally and can't open a link, break a table row or start a new block.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ... import numfmt
from ...numfmt import number as num
from .i18n import Lang, fmt_timestamp, join_list, t
from .intents import SELLING
from .metrics import (
    PER_SHARE,
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
from .names import reader_name
from .plan import DATA_KINDS, Company, Kind, Observation, Plan
from .signals import Signal, consensus_of
from .signals import collect as collect_signals

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
    # Said only over figures: not when every data call was denied or failed (a lookup in
    # the demo table shows none).
    if any(
        o.envelope.get("source") == "demo"
        and o.error is None
        and o.kind in (*DATA_KINDS, "compare")
        for o in plan.observations
    ):
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
    name = reader_name(
        plan.question.text,
        lang,
        company.symbol,
        company.target.query,
        company.name or _name_from(observations),
    )
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
    figures = collect_signals(**found)
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
        statement = read_statement(data, kind, currency)
        if statement is None or not statement.values:
            return [
                t(lang, f"sec_{kind}"),
                t(lang, "failed", what=_capital(t(lang, f"kind_{kind}")), error="no rows"),
            ]
        found[kind] = statement
        return [
            t(lang, f"sec_{kind}"),
            _statement_table(statement, lang),
            *_statement_notes(statement, lang),
        ]
    if kind == "performance":
        found["performance"] = data
        return _performance(data, lang, currency)
    if kind == "quote":
        found["quote"] = data
        return _quote(data, lang, currency)
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


def _statement_table(s: Statement, lang: Lang) -> str:
    """Periods as columns; the unit said once, in the corner (``단위: 조 원``), so the cells
    are bare aligned figures. Per-share rows carry their own currency."""
    ncols = min(2, len(s.periods)) or 1
    keys = [
        key
        for key in STATEMENT_ROWS[s.kind]
        if key in s.values and any(v is not None for v in s.values[key][:ncols])
    ]
    unit = numfmt.table_unit(
        [s.get(key, i) for key in keys if key not in PER_SHARE for i in range(ncols)],
        s.currency,
        lang,
    )
    corner = unit.label or (inline(s.currency) if s.currency else "")
    head = [corner] + [s.label(i) or "–" for i in range(ncols)]
    with_change = ncols >= 2
    if with_change:
        head.append(t(lang, "col_change"))
    lines = [
        "| " + " | ".join(_cell(h) for h in head) + " |",
        "|---" + "|---:" * (len(head) - 1) + "|",
    ]
    for key in keys:
        cells = [
            numfmt.price(s.get(key, i), s.currency, lang) if key in PER_SHARE else unit.cell(s.get(key, i))
            for i in range(ncols)
        ]  # fmt: skip
        if with_change:
            cells.append(numfmt.change(pct_change(s.get(key, 0), s.get(key, 1)), lang))
        row = [t(lang, f"row_{key}"), *cells]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _statement_notes(s: Statement, lang: Lang) -> list[str]:
    notes: list[str] = []
    cur = s.currency
    if s.kind == "income":
        inc = income_figures(s)
        if inc.revenue_growth is not None:
            notes.append(
                t(
                    lang,
                    "revenue_growth",
                    growth=numfmt.change(inc.revenue_growth, lang),
                    new=numfmt.amount(inc.revenue, cur, lang),
                    old=numfmt.amount(inc.revenue_prev, cur, lang),
                )
            )
        if any(v is not None for v in (inc.gross_margin, inc.operating_margin, inc.net_margin)):
            notes.append(
                t(
                    lang,
                    "margins",
                    period=s.label(0) or "–",
                    gross=numfmt.percent(inc.gross_margin, lang),
                    operating=numfmt.percent(inc.operating_margin, lang),
                    net=numfmt.percent(inc.net_margin, lang),
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
                    de=numfmt.ratio(bal.debt_to_equity, lang),
                    cr=numfmt.ratio(bal.current_ratio, lang),
                    net_label=t(lang, "net_cash" if net_cash else "net_debt"),
                    net=numfmt.amount(
                        abs(bal.net_debt) if bal.net_debt is not None else None, cur, lang
                    ),
                )
            )
    elif s.kind == "cash_flow":
        fcf = free_cash_flow(s)
        if fcf is not None:
            notes.append(
                t(
                    lang,
                    "fcf_margin",
                    period=s.label(0) or "–",
                    fcf=numfmt.amount(fcf, cur, lang),
                )
            )
    return [" ".join(notes)] if notes else []


def _point(value: Any) -> dict[str, Any]:
    """A price point: ``{"value", "date"}``, or a bare number."""
    return value if isinstance(value, dict) else {"value": value}


def _performance(d: dict[str, Any], lang: Lang, currency: Any) -> list[str]:
    days = int(num(d.get("days")) or 100)
    high, low = _point(d.get("high")), _point(d.get("low"))

    def price(value: Any) -> str:
        return numfmt.price(value, currency, lang)

    lines = [
        t(
            lang,
            "perf_close",
            first=price(d.get("first_close")),
            last=price(d.get("last_close")),
            ret=numfmt.change(d.get("return_pct"), lang),
            days=days,
            start=inline(d.get("start") or "–"),
            end=inline(d.get("end") or "–"),
        ),
        t(
            lang,
            "perf_range",
            high=price(high.get("value")),
            high_date=inline(high.get("date") or "–"),
            low=price(low.get("value")),
            low_date=inline(low.get("date") or "–"),
        ),
        t(
            lang,
            "perf_risk",
            vol=numfmt.percent(d.get("volatility_annualized_pct"), lang),
            dd=numfmt.percent(drawdown_pct(d.get("max_drawdown_pct")), lang),
        ),
    ]
    if num(d.get("avg_volume")) is not None:
        volume = numfmt.count(d.get("avg_volume"), lang, word=t(lang, "shares_word"))
        lines.append(t(lang, "perf_volume", volume=volume))
    closes = weekly_closes(d)
    if len(closes) >= 2:
        lines.append(
            t(
                lang,
                "perf_weekly",
                spark=sparkline(closes),
                range=numfmt.price_range(min(closes), max(closes), currency, lang),
            )
        )
    return [t(lang, "sec_performance", days=days), "\n".join(f"- {line}" for line in lines)]


def _quote(d: dict[str, Any], lang: Lang, currency: Any) -> list[str]:
    lines = [
        t(
            lang,
            "quote_price",
            price=numfmt.price(d.get("price"), currency, lang),
            change=numfmt.change(d.get("change_pct"), lang),
        )
    ]
    if any(num(d.get(k)) is not None for k in ("market_cap", "pe_ratio", "forward_pe")):
        lines.append(
            t(
                lang,
                "quote_valuation",
                cap=numfmt.amount(d.get("market_cap"), currency, lang),
                pe=numfmt.ratio(d.get("pe_ratio"), lang),
                fpe=numfmt.ratio(d.get("forward_pe"), lang),
            )
        )
    low, high, price = (
        num(d.get("fifty_two_week_low")),
        num(d.get("fifty_two_week_high")),
        num(d.get("price")),
    )
    if low is not None and high is not None:
        pos = (price - low) / (high - low) * 100 if price is not None and high > low else None
        lines.append(
            t(
                lang,
                "quote_range",
                range=numfmt.price_range(low, high, currency, lang),
                pos=numfmt.percent(pos, lang),
            )
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
                numfmt.count(p.get(k), lang)
                for k in ("strongBuy", "buy", "hold", "sell", "strongSell")
            ]
            rows.append("| " + " | ".join([_cell(inline(p.get("period") or "–")), *counts]) + " |")
        out.append("\n".join(rows))
    consensus = consensus_of(d)
    if consensus:
        out.append(t(lang, "reco_consensus", consensus=inline(consensus)))
    return out


def _compare(obs: Observation, lang: Lang) -> list[str]:
    if obs.error:
        return [t(lang, "failed", what=_capital(t(lang, "kind_compare")), error=inline(obs.error))]
    data = obs.data if isinstance(obs.data, dict) else {}
    currency = obs.envelope.get("currency")  # set only when every stock trades in it
    stocks = [s for s in as_list(data.get("stocks")) if isinstance(s, dict)]
    rows = [t(lang, "compare_header"), "|---|---:|---:|---:|---:|---:|"]
    for s in stocks:
        if s.get("error"):
            rows.append(
                f"| {_cell(inline(s.get('symbol') or '?'))} | ⚠ {_cell(inline(s['error']))} | | | | |"
            )
            continue
        rows.append("| " + " | ".join([
            _cell(inline(s.get("symbol") or "?")),
            numfmt.price(s.get("first_close"), currency, lang), numfmt.price(s.get("last_close"), currency, lang),
            numfmt.change(s.get("return_pct"), lang), numfmt.percent(s.get("volatility_annualized_pct"), lang),
            numfmt.percent(drawdown_pct(s.get("max_drawdown_pct")), lang),
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
                best_ret=numfmt.change(best["return_pct"], lang),
                calm=inline(quiet.get("symbol")),
                calm_vol=numfmt.percent(quiet["volatility_annualized_pct"], lang),
            )
        )
    return out


def _signal_text(s: Signal, lang: Lang) -> str:
    return t(lang, s.key, v=inline(s.figure(lang)), days=s.days or 100)


def _signal_lists(signals: list[Signal], lang: Lang) -> str:
    pros = [_signal_text(s, lang) for s in signals if s.positive]
    cons = [_signal_text(s, lang) for s in signals if not s.positive]
    none = t(lang, "sig_none")
    return "\n".join([
        t(lang, "sig_for"), *(f"- {p}" for p in pros or [none]),
        "", t(lang, "sig_against"), *(f"- {c}" for c in cons or [none]),
    ])  # fmt: skip


def _verdict(signals: list[Signal], lang: Lang) -> list[str]:
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
