"""Deciding one model turn from the request, as a tool-calling model would.

Stateless: everything is read back from ``request.input`` (the question, the tool calls
already made in this run and their outputs, earlier turns for follow-ups), so the runtime
can replay, truncate or resume a run and the analyst still does the right next thing.

Turn 1 looks the company up (``get_ticker``) when the user named it; turn 2 calls the data
tools for the question, in parallel; turn 3 answers. Only tools in ``request.tools`` are
ever called.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from ...market.known_companies import lookup_known
from ..base import InputItem, ModelRequest
from .client_outputs import read_client_output
from .i18n import Lang
from .intents import (
    CURRENCY_CODES,
    MAX_TARGETS,
    Intent,
    Question,
    Target,
    find_targets,
    parse_question,
)

Kind = Literal[
    "ticker", "income", "balance", "performance", "cash_flow", "quote", "news",
    "recommendations", "compare",
]  # fmt: skip

# Tool names per kind of data, first match wins (the investor tools' names first).
KIND_TOOLS: dict[Kind, tuple[str, ...]] = {
    "ticker": ("get_ticker", "lookup_ticker"),
    "income": ("get_income_statement",),
    "balance": ("get_balance_sheet",),
    "performance": ("get_daily_stock_performance", "get_stock_performance"),
    "cash_flow": ("get_cash_flow", "get_cash_flow_statement"),
    "quote": ("get_stock_quote", "get_quote"),
    "news": ("get_company_news", "get_news"),
    "recommendations": ("get_analyst_recommendations", "get_recommendations"),
    "compare": ("compare_stocks",),
}
DATA_KINDS: tuple[Kind, ...] = (
    "income", "balance", "cash_flow", "performance", "quote", "recommendations", "news",
)  # fmt: skip
# What each intent needs; "buy" asks for everything a buyer should see. Kinds marked
# optional are used when the assistant has the tool and not missed when it hasn't.
_INTENT_KINDS: dict[Intent, tuple[Kind, ...]] = {
    "buy": ("income", "balance", "performance", "quote"),
    "income": ("income",),
    "balance": ("balance",),
    "performance": ("performance",),
    "cash_flow": ("cash_flow",),
    "quote": ("quote",),
    "news": ("news",),
    "recommendations": ("recommendations",),
    "compare": ("compare",),
}
_OPTIONAL: dict[Intent, frozenset[Kind]] = {"buy": frozenset({"quote"})}
#: Tool-calling turns allowed in one run before the analyst answers with what it has.
MAX_TOOL_TURNS = 6
#: Earlier turns a follow-up question is read against (for its company and intent).
FOLLOW_UP_TURNS = 8

_SYMBOL_KEYS = ("ticker", "symbol", "ticker_symbol", "stock", "stock_symbol")
_SYMBOLS_KEYS = ("tickers", "symbols")
_NAME_KEYS = ("company_name", "company", "name", "query")
_SYMBOL = re.compile(r"\^?[A-Z0-9]{1,6}(?:[.\-=][A-Z0-9]{1,3})?")
_PAREN_SYMBOL = re.compile(r"\((" + _SYMBOL.pattern + r")\)")
_CURRENCIES = frozenset(
    [
        *CURRENCY_CODES,
        "HKD",
        "TWD",
        "CHF",
        "CAD",
        "AUD",
        "INR",
        "TTM",
        "YOY",
    ]
)


@dataclass
class Call:
    name: str
    arguments: dict[str, Any]
    kind: Kind


@dataclass
class Observation:
    """One tool call of this run and what it returned."""

    call_id: str
    name: str
    kind: Kind | None
    arguments: dict[str, Any]
    envelope: dict[str, Any]  # the parsed output: {"data"| "error", "symbol", "source", …}
    error: str | None

    @property
    def data(self) -> Any:
        return self.envelope.get("data")

    @property
    def symbol(self) -> str | None:
        """The symbol this call asked about (the tool may normalise it: BRK.B → BRK-B)."""
        value = _arg(self.arguments, _SYMBOL_KEYS)
        if isinstance(value, str) and value:
            return value.upper()
        for value in self.arguments.values():  # a test tool's own parameter name
            if isinstance(value, str) and _SYMBOL.fullmatch(value.upper()):
                return value.upper()
        value = self.envelope.get("symbol")
        return value.upper() if isinstance(value, str) and value else None


@dataclass
class Company:
    """A target after the lookup step: a symbol to fetch, or why there is none."""

    target: Target
    symbol: str | None
    name: str | None
    lookup: Observation | None = None
    used_fallback: bool = False  # the lookup failed; the built-in table gave the symbol
    failure: str | None = None  # the lookup error, when no symbol could be found


Answer = Literal["report", "help", "ask_company", "lookup_failed", "no_tools"]


@dataclass
class Plan:
    question: Question
    lang: Lang
    tools: ToolBox
    calls: list[Call] = field(default_factory=list)
    answer: Answer | None = None
    intents: list[Intent] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    missing: list[Kind] = field(default_factory=list)  # wanted, but no tool for it


class ToolBox:
    """The tools of this request, by kind, with their parameter schemas."""

    def __init__(self, tools: list[dict[str, Any]]) -> None:
        self.params: dict[str, dict[str, Any]] = {}
        for spec in tools:
            fn = spec.get("function") if isinstance(spec, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                self.params[fn["name"]] = fn.get("parameters") or {}
            elif isinstance(spec, dict) and isinstance(spec.get("name"), str):  # flat form
                self.params[spec["name"]] = spec.get("parameters") or {}

    def __bool__(self) -> bool:
        return bool(self.params)

    def tool_for(self, kind: Kind) -> str | None:
        return next((n for n in KIND_TOOLS[kind] if n in self.params), None)

    def kind_of(self, name: str) -> Kind | None:
        return next((k for k, names in KIND_TOOLS.items() if name in names), None)

    def has(self, kind: Kind) -> bool:
        return self.tool_for(kind) is not None

    def arguments(
        self,
        name: str,
        *,
        symbol: str | None = None,
        symbols: list[str] | None = None,
        company: str | None = None,
    ) -> dict[str, Any]:
        """Arguments for ``name`` filled from its own schema, so test tools work too."""
        schema = self.params.get(name) or {}
        props: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = list(schema.get("required") or [])
        args: dict[str, Any] = {}
        for key, prop in props.items():
            ptype = prop.get("type") if isinstance(prop, dict) else None
            if key in _SYMBOLS_KEYS and symbols:
                args[key] = symbols if ptype != "string" else ",".join(symbols)
            elif key in _SYMBOL_KEYS and symbol:
                args[key] = symbol
            elif key in _NAME_KEYS and company:
                args[key] = company
        value = company or symbol or (",".join(symbols) if symbols else None)
        for key in required:
            if key in args:
                continue
            prop = _as_dict(props.get(key))
            if prop.get("enum"):
                args[key] = prop["enum"][0]
            elif "default" in prop:
                args[key] = prop["default"]
            elif prop.get("type", "string") == "string" and value:
                args[key] = value  # an unfamiliar required name: the one thing we have
        return args


# -- reading the input ---------------------------------------------------------------------
def _text(item: InputItem) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as some clients send them
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict)) or " ".join(
            str(p) for p in content if isinstance(p, str)
        )
    return ""


def _arg(arguments: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((arguments[k] for k in keys if k in arguments), None)


def _parse_arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (model and tool data are
    untrusted: any field may be missing or of another type)."""
    return value if isinstance(value, dict) else {}


def _parse_output(content: str) -> tuple[dict[str, Any], str | None]:
    client = read_client_output(content)  # a client's own function output (DataFrame JSON…)
    if client is not None:
        return client
    try:
        parsed = json.loads(content)
    except (TypeError, ValueError):
        text = content.strip() or "empty output"
        return {}, text[:300]
    if not isinstance(parsed, dict):
        return {"data": parsed}, None
    error = parsed.get("error")
    if error is not None:
        return parsed, str(error)[:300] or "error"
    if "data" not in parsed:  # a bare object from a test tool: the object is the data
        parsed = {"data": parsed}
    return parsed, None


def _user_positions(items: list[InputItem], count: int) -> list[int]:
    """Indexes of the last ``count`` user items, newest first (a scan from the end)."""
    found: list[int] = []
    for i in range(len(items) - 1, -1, -1):
        if items[i].get("role") == "user":
            found.append(i)
            if len(found) == count:
                break
    return found


def _split(items: list[InputItem]) -> tuple[list[InputItem], str, list[InputItem]]:
    """(recent history before the question, the question, this run's items after it).

    The history is the last ``FOLLOW_UP_TURNS`` turns only: a follow-up ("and its debt?")
    refers to the recent conversation, and reading further back would make every turn cost
    more the longer the thread grows."""
    users = _user_positions(items, FOLLOW_UP_TURNS + 1)
    if not users:
        return [], "", list(items)
    last_user = users[0]
    first_kept = users[-1] if len(users) > FOLLOW_UP_TURNS else 0
    run = items[last_user + 1 :]
    # A text answer already in the run (a re-run of an answered question): start over
    # after it rather than stopping with nothing to say.
    texts = [
        i for i, it in enumerate(run) if it.get("role") == "assistant" and not it.get("tool_calls")
    ]
    if texts:
        run = run[texts[-1] + 1 :]
    history = items[first_kept:last_user]
    if first_kept and items[0].get("role") == "system":
        history.insert(0, items[0])  # a running summary of the older part still counts
    return history, _text(items[last_user]), run


def _observations(run: list[InputItem], tools: ToolBox) -> tuple[list[Observation], int]:
    """This run's tool calls with their outputs, and how many tool-calling turns it took."""
    outputs = {it.get("tool_call_id"): it for it in run if it.get("role") == "tool"}
    observations: list[Observation] = []
    turns = 0
    for item in run:
        calls = item.get("tool_calls") if item.get("role") == "assistant" else None
        if not calls:
            continue
        turns += 1
        for call in calls:
            fn = _as_dict(call.get("function")) or call
            name = str(fn.get("name") or "")
            out = outputs.get(call.get("id"))
            envelope: dict[str, Any]
            error: str | None
            if out is None:
                envelope, error = {}, "no output was returned"
            else:
                envelope, error = _parse_output(_text(out))
            observations.append(
                Observation(
                    call_id=str(call.get("id") or ""),
                    name=name,
                    kind=tools.kind_of(name) or _kind_from_shape(envelope.get("data")),
                    arguments=_parse_arguments(fn.get("arguments")),
                    envelope=envelope,
                    error=error,
                )
            )
    return observations, turns


def _kind_from_shape(data: Any) -> Kind | None:
    """Recognise a result by its fields, for tools with names we don't know."""
    if not isinstance(data, dict):
        return None
    statement = data.get("statement")
    if statement == "income" or statement == "balance" or statement == "cash_flow":
        return cast(Kind, statement)
    if "stocks" in data:
        return "compare"
    if "return_pct" in data or "first_close" in data:
        return "performance"
    if "price" in data and ("market_cap" in data or "previous_close" in data):
        return "quote"
    if "items" in data:
        return "news"
    if "consensus" in data or (data.get("periods") and "rows" not in data):
        return "recommendations"
    if "lookup_source" in data or ("symbol" in data and "exchange" in data):
        return "ticker"
    return None


# -- follow-ups: the company and the question from earlier turns ---------------------------
def context_targets(history: list[InputItem]) -> list[Target]:
    """The company (or companies) the conversation was last about, newest evidence first."""
    for item in reversed(history):
        role = item.get("role")
        if role == "tool":
            envelope, error = _parse_output(_text(item))
            data = _as_dict(envelope.get("data"))
            stocks = data.get("stocks")
            if not error and isinstance(stocks, list):
                found = [
                    Target(str(s["symbol"]).upper())
                    for s in stocks
                    if isinstance(s, dict) and s.get("symbol")
                ]
                if found:
                    return found[:MAX_TARGETS]
            symbol = envelope.get("symbol") or data.get("symbol")
            if not error and isinstance(symbol, str) and _SYMBOL.fullmatch(symbol.upper()):
                name = data.get("name") if isinstance(data.get("name"), str) else None
                return [Target(symbol.upper(), name)]
        elif role == "assistant" and item.get("tool_calls"):
            for call in item["tool_calls"]:
                fn = _as_dict(call.get("function")) or call
                args = _parse_arguments(fn.get("arguments"))
                many = _arg(args, _SYMBOLS_KEYS)
                if isinstance(many, str):
                    many = [s.strip() for s in many.split(",") if s.strip()]
                if isinstance(many, list) and many:
                    return [Target(str(s).upper()) for s in many][:MAX_TARGETS]
                one = _arg(args, _SYMBOL_KEYS)
                if isinstance(one, str) and one:
                    return [Target(one.upper())]
        elif role == "assistant":
            symbol = _symbol_in_answer(_text(item))
            if symbol:
                return [Target(symbol)]
        elif role in ("user", "system"):
            found = find_targets(_text(item), allow_unknown=role == "user")
            if found:  # a name the table knows was settled then: no second lookup
                return [replace(t, query=None) if t.symbol else t for t in found]
    return []


def _symbol_in_answer(text: str) -> str | None:
    """ "Apple Inc. (AAPL)" in an earlier answer (ours or a model's); not "(USD)", "(FY2024)"."""
    for m in _PAREN_SYMBOL.finditer(text):
        symbol = m.group(1)
        if symbol in _CURRENCIES or re.fullmatch(r"FY\d+|Q\d|\d+", symbol):
            continue
        return symbol
    return None


def previous_intents(history: list[InputItem]) -> list[Intent]:
    for item in reversed(history):
        if item.get("role") == "user":
            intents = parse_question(_text(item)).intents
            if intents:
                return intents
    return []


# -- the decision ------------------------------------------------------------------------
def plan_turn(request: ModelRequest) -> Plan:
    tools = ToolBox(request.tools)
    history, text, run = _split(request.input)
    question = parse_question(text)
    plan = Plan(question=question, lang=question.lang, tools=tools)
    observations, tool_turns = _observations(run, tools)
    plan.observations = observations

    targets = question.targets
    intents = list(question.intents)
    if not targets and intents:  # a follow-up: "and its income statement?"
        targets = context_targets(history)
    elif len(targets) == 1 and "compare" in intents:  # "compare it with MSFT"
        earlier = [t for t in context_targets(history) if t.symbol != targets[0].symbol]
        targets = [*earlier, *targets][:MAX_TARGETS]
    if targets and not intents:
        # "What about Microsoft?" after a balance-sheet question asks the same of Microsoft.
        intents = previous_intents(history) or ["buy"]
    plan.intents = intents

    if not intents:
        plan.answer = "help"
        return plan
    if not tools:
        plan.answer = "no_tools"
        return plan
    if not targets:
        plan.answer = "ask_company"
        return plan

    calls, companies, pending_lookup = _lookups(
        targets, observations, tools, request.parallel_tool_calls
    )
    plan.companies = companies
    if pending_lookup and tool_turns < MAX_TOOL_TURNS:
        plan.calls = calls
        return plan

    resolved = [c for c in companies if c.symbol]
    if not resolved:
        plan.answer = "lookup_failed"
        return plan

    wanted, plan.missing = _wanted_kinds(intents, len(resolved), tools)
    needed = _data_calls(wanted, resolved, tools, observations)
    if needed and tool_turns < MAX_TOOL_TURNS:
        plan.calls = needed if request.parallel_tool_calls else needed[:1]
        return plan
    plan.answer = "report"
    return plan


def _lookups(
    targets: list[Target], observations: list[Observation], tools: ToolBox, parallel: bool
) -> tuple[list[Call], list[Company], bool]:
    """Resolve each target to a symbol, or the get_ticker calls still needed to do so."""
    lookup_tool = tools.tool_for("ticker")
    calls: list[Call] = []
    companies: list[Company] = []
    for target in targets:
        if target.query is None:
            companies.append(
                Company(target, target.symbol, target.name or _known_name(target.symbol))
            )
            continue
        done = next(
            (
                o
                for o in observations
                if o.kind == "ticker"
                and str(_arg(o.arguments, _NAME_KEYS) or "").casefold() == target.query.casefold()
            ),
            None,
        )
        if done is None and lookup_tool is not None:
            calls.append(
                Call(lookup_tool, tools.arguments(lookup_tool, company=target.query), "ticker")
            )
            companies.append(Company(target, None, target.name))
            continue
        data = done.data if done is not None and isinstance(done.data, dict) else {}
        symbol = data.get("symbol") if done is not None and not done.error else None
        if isinstance(symbol, str) and symbol:
            name = data.get("name") if isinstance(data.get("name"), str) else target.name
            companies.append(Company(target, symbol.upper(), name, lookup=done))
        elif target.symbol:  # lookup failed or no lookup tool: the built-in table knows it
            companies.append(
                Company(
                    target, target.symbol, target.name, lookup=done, used_fallback=done is not None
                )
            )
        else:
            why = (done.error or "no symbol in the answer") if done is not None else None
            companies.append(Company(target, None, None, lookup=done, failure=why))
    if calls and not parallel:
        calls = calls[:1]
    return calls, companies, bool(calls)


def _known_name(symbol: str | None) -> str | None:
    known = lookup_known(symbol) if symbol else None
    return known.name if known is not None and known.symbol == symbol else None


def _wanted_kinds(
    intents: list[Intent], n_companies: int, tools: ToolBox
) -> tuple[list[Kind], list[Kind]]:
    wanted: list[Kind] = []
    missing: list[Kind] = []
    for intent in intents:
        kinds = _INTENT_KINDS[intent]
        if intent == "compare" and (n_companies < 2 or not tools.has("compare")):
            kinds = ("performance",)  # one company, or no compare tool: each one's 100 days
        for kind in kinds:
            if kind in wanted or kind in missing:
                continue
            if tools.has(kind):
                wanted.append(kind)
            elif kind not in _OPTIONAL.get(intent, frozenset()):
                missing.append(kind)
    order = {k: i for i, k in enumerate(("compare", *DATA_KINDS))}
    return sorted(wanted, key=order.__getitem__), missing


def _data_calls(
    wanted: list[Kind], companies: list[Company], tools: ToolBox, observations: list[Observation]
) -> list[Call]:
    made = {(o.name, json.dumps(o.arguments, sort_keys=True, default=str)) for o in observations}
    calls: list[Call] = []
    symbols = [c.symbol for c in companies if c.symbol]
    for kind in wanted:
        name = tools.tool_for(kind)
        assert name is not None
        if kind == "compare":
            arg_sets = [tools.arguments(name, symbols=symbols)]
        else:
            arg_sets = [tools.arguments(name, symbol=s) for s in symbols]
        for args in arg_sets:
            if (name, json.dumps(args, sort_keys=True, default=str)) not in made:
                calls.append(Call(name, args, kind))
    return calls


__all__ = [
    "Call", "Company", "Kind", "Observation", "Plan", "ToolBox", "plan_turn",
]  # fmt: skip
