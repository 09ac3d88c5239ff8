"""Signals for and against a stock, read off the fetched figures with fixed thresholds.

The thresholds are plain rules of thumb, deliberately simple and visible in the answer
("High leverage: debt/equity 1.87"); the verdict only counts them, it predicts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .i18n import fmt_amount, fmt_multiple, fmt_pct, fmt_ratio, num
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
    positive: bool
    key: str  # an i18n key, "sig_…"
    value: str  # the figure, already formatted
    days: int | None = None


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
            out.append(
                Signal(fcf > 0, "sig_fcf_pos" if fcf > 0 else "sig_fcf_neg", fmt_amount(fcf))
            )
    if performance:
        out += _performance(performance)
    if quote:
        pe = num(quote.get("pe_ratio"))
        if pe is not None and pe >= 35:
            out.append(Signal(False, "sig_pe_high", fmt_multiple(pe)))
        elif pe is not None and 0 < pe <= 15:
            out.append(Signal(True, "sig_pe_low", fmt_multiple(pe)))
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
        out.append(Signal(True, "sig_rev_up", fmt_pct(f.revenue_growth)))
    elif f.revenue_growth is not None and f.revenue_growth <= -3:
        out.append(Signal(False, "sig_rev_down", fmt_pct(abs(f.revenue_growth))))
    if f.operating_growth is not None and f.operating_growth >= 5:
        out.append(Signal(True, "sig_op_up", fmt_pct(f.operating_growth)))
    elif f.operating_growth is not None and f.operating_growth <= -5:
        out.append(Signal(False, "sig_op_down", fmt_pct(abs(f.operating_growth))))
    if f.net_income_growth is not None and f.net_income_growth <= -5 and (f.net_income or 0) > 0:
        out.append(Signal(False, "sig_ni_down", fmt_pct(abs(f.net_income_growth))))
    elif f.net_income_growth is not None and f.net_income_growth >= 10:
        out.append(Signal(True, "sig_ni_up", fmt_pct(f.net_income_growth)))
    if f.net_income is not None and f.net_income < 0:
        out.append(Signal(False, "sig_loss", fmt_amount(f.net_income)))
    elif f.net_margin is not None and f.net_margin >= 15:
        out.append(Signal(True, "sig_margin_high", fmt_pct(f.net_margin)))
    elif f.net_margin is not None and f.net_margin < 5:
        out.append(Signal(False, "sig_margin_thin", fmt_pct(f.net_margin)))
    return out


def _balance(s: Statement) -> list[Signal]:
    f = balance_figures(s)
    out: list[Signal] = []
    if f.equity is not None and f.equity <= 0:
        out.append(Signal(False, "sig_equity_negative", fmt_amount(f.equity)))
    elif f.debt_to_equity is not None and f.debt_to_equity > 1.5:
        out.append(Signal(False, "sig_de_high", fmt_ratio(f.debt_to_equity)))
    elif f.debt_to_equity is not None and f.debt_to_equity < 0.5:
        out.append(Signal(True, "sig_de_low", fmt_ratio(f.debt_to_equity)))
    if f.current_ratio is not None and f.current_ratio < 1:
        out.append(Signal(False, "sig_cr_low", fmt_ratio(f.current_ratio)))
    elif f.current_ratio is not None and f.current_ratio >= 1.5:
        out.append(Signal(True, "sig_cr_high", fmt_ratio(f.current_ratio)))
    if f.net_debt is not None and f.net_debt < 0:
        out.append(Signal(True, "sig_net_cash", fmt_amount(-f.net_debt)))
    return out


def _performance(p: dict[str, Any]) -> list[Signal]:
    out: list[Signal] = []
    days = int(num(p.get("days")) or 100)
    ret = num(p.get("return_pct"))
    if ret is not None and ret >= 5:
        out.append(Signal(True, "sig_ret_up", fmt_pct(ret), days))
    elif ret is not None and ret <= -5:
        out.append(Signal(False, "sig_ret_down", fmt_pct(abs(ret)), days))
    vol = num(p.get("volatility_annualized_pct"))
    if vol is not None and vol >= 45:
        out.append(Signal(False, "sig_vol_high", fmt_pct(vol)))
    elif vol is not None and vol <= 20:
        out.append(Signal(True, "sig_vol_low", fmt_pct(vol)))
    dd = drawdown_pct(p.get("max_drawdown_pct"))
    if dd is not None and dd <= -20:
        out.append(Signal(False, "sig_dd_deep", fmt_pct(dd)))
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
