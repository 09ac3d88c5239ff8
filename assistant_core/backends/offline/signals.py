"""Signals for and against a stock, read off the fetched figures with fixed thresholds.

The thresholds are plain rules of thumb, deliberately simple and visible in the answer
("High leverage: debt/equity 1.87"); the verdict only counts them, it predicts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import numfmt
from ...numfmt import number as num
from .i18n import Lang
from .metrics import (
    Statement,
    as_list,
    balance_figures,
    drawdown_pct,
    free_cash_flow,
    income_figures,
)


@dataclass(frozen=True)
class Signal:
    """A signal and its figure, formatted when the answer is written (in its language)."""

    positive: bool
    key: str  # an i18n key, "sig_…"
    value: float | str  # the figure (a consensus is words)
    kind: str = "percent"  # how to write it: numfmt kind ("percent", "ratio", "amount")
    days: int | None = None
    currency: str | None = None  # of an amount

    def figure(self, lang: Lang) -> str:
        if isinstance(self.value, str):
            return self.value
        return numfmt.fmt(self.value, self.kind, self.currency, lang)


def collect(
    *,
    income: Statement | None = None,
    balance: Statement | None = None,
    cash_flow: Statement | None = None,
    performance: dict[str, Any] | None = None,
    quote: dict[str, Any] | None = None,
    recommendations: dict[str, Any] | None = None,
) -> list[Signal]:
    out: list[Signal] = []
    if income is not None:
        out += _income(income)
    if balance is not None:
        out += _balance(balance)
    if cash_flow is not None:
        fcf = free_cash_flow(cash_flow)
        if fcf is not None and fcf != 0:
            key = "sig_fcf_pos" if fcf > 0 else "sig_fcf_neg"
            out.append(Signal(fcf > 0, key, fcf, "amount", currency=cash_flow.currency))
    if performance:
        out += _performance(performance)
    if quote:
        pe = num(quote.get("pe_ratio"))
        if pe is not None and pe >= 35:
            out.append(Signal(False, "sig_pe_high", pe, "ratio"))
        elif pe is not None and 0 < pe <= 15:
            out.append(Signal(True, "sig_pe_low", pe, "ratio"))
    if recommendations:
        consensus = consensus_of(recommendations)
        if consensus and "buy" in consensus.lower():
            out.append(Signal(True, "sig_reco_buy", consensus))
        elif consensus and ("sell" in consensus.lower() or "underperform" in consensus.lower()):
            out.append(Signal(False, "sig_reco_sell", consensus))
    return out


def _income(s: Statement) -> list[Signal]:
    f = income_figures(s)
    out: list[Signal] = []
    if f.revenue_growth is not None and f.revenue_growth >= 3:
        out.append(Signal(True, "sig_rev_up", f.revenue_growth))
    elif f.revenue_growth is not None and f.revenue_growth <= -3:
        out.append(Signal(False, "sig_rev_down", abs(f.revenue_growth)))
    if f.operating_growth is not None and f.operating_growth >= 5:
        out.append(Signal(True, "sig_op_up", f.operating_growth))
    elif f.operating_growth is not None and f.operating_growth <= -5:
        out.append(Signal(False, "sig_op_down", abs(f.operating_growth)))
    if f.net_income_growth is not None and f.net_income_growth <= -5 and (f.net_income or 0) > 0:
        out.append(Signal(False, "sig_ni_down", abs(f.net_income_growth)))
    elif f.net_income_growth is not None and f.net_income_growth >= 10:
        out.append(Signal(True, "sig_ni_up", f.net_income_growth))
    if f.net_income is not None and f.net_income < 0:
        out.append(Signal(False, "sig_loss", f.net_income, "amount", currency=s.currency))
    elif f.net_margin is not None and f.net_margin >= 15:
        out.append(Signal(True, "sig_margin_high", f.net_margin))
    elif f.net_margin is not None and f.net_margin < 5:
        out.append(Signal(False, "sig_margin_thin", f.net_margin))
    return out


def _balance(s: Statement) -> list[Signal]:
    f = balance_figures(s)
    out: list[Signal] = []
    if f.equity is not None and f.equity <= 0:
        out.append(Signal(False, "sig_equity_negative", f.equity, "amount", currency=s.currency))
    elif f.debt_to_equity is not None and f.debt_to_equity > 1.5:
        out.append(Signal(False, "sig_de_high", f.debt_to_equity, "ratio"))
    elif f.debt_to_equity is not None and f.debt_to_equity < 0.5:
        out.append(Signal(True, "sig_de_low", f.debt_to_equity, "ratio"))
    if f.current_ratio is not None and f.current_ratio < 1:
        out.append(Signal(False, "sig_cr_low", f.current_ratio, "ratio"))
    elif f.current_ratio is not None and f.current_ratio >= 1.5:
        out.append(Signal(True, "sig_cr_high", f.current_ratio, "ratio"))
    if f.net_debt is not None and f.net_debt < 0:
        out.append(Signal(True, "sig_net_cash", -f.net_debt, "amount", currency=s.currency))
    return out


def _performance(p: dict[str, Any]) -> list[Signal]:
    out: list[Signal] = []
    days = int(num(p.get("days")) or 100)
    ret = num(p.get("return_pct"))
    if ret is not None and ret >= 5:
        out.append(Signal(True, "sig_ret_up", ret, days=days))
    elif ret is not None and ret <= -5:
        out.append(Signal(False, "sig_ret_down", abs(ret), days=days))
    vol = num(p.get("volatility_annualized_pct"))
    if vol is not None and vol >= 45:
        out.append(Signal(False, "sig_vol_high", vol))
    elif vol is not None and vol <= 20:
        out.append(Signal(True, "sig_vol_low", vol))
    dd = drawdown_pct(p.get("max_drawdown_pct"))
    if dd is not None and dd <= -20:
        out.append(Signal(False, "sig_dd_deep", dd))
    return out


def consensus_of(data: dict[str, Any]) -> str | None:
    """The tool's consensus, or one computed from the newest period's counts."""
    consensus = data.get("consensus")
    if isinstance(consensus, str) and consensus.strip():
        return consensus.strip()
    periods = as_list(data.get("periods"))
    if not periods or not isinstance(periods[0], dict):
        return None
    p = periods[0]
    counts = [num(p.get(k)) or 0 for k in ("strongBuy", "buy", "hold", "sell", "strongSell")]
    total = sum(counts)
    if total <= 0:
        return None
    score = (2 * counts[0] + counts[1] - counts[3] - 2 * counts[4]) / total
    if score >= 1.2:
        return "strong buy"
    if score >= 0.5:
        return "buy"
    if score > -0.5:
        return "hold"
    return "sell"
