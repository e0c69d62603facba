"""Payment routing, pure: which connectors a card payment tries, in which order, and whether it needs 3-D Secure
or may not be tried at all. No I/O: the service hands in what it knows (the request, the rules, the connectors'
profiles, their outcome statistics, which breakers are open, a random generator) and gets a `Decision`.

How a decision is made:
1. The block list (card fingerprint, 8- and 6-digit BIN) refuses a card before any rule is read.
2. Rules are read in order and the first that matches gives the candidates and their static order (operators
   write them as JSON: `rules_from_json`). A rule may block, force 3-D Secure, or keep its order as a mandate
   (`keep_order`: high-risk cards go to the high-risk acquirer first, whatever the statistics say).
3. Candidates that are not configured, whose breaker is open (`unhealthy`) or that cannot take the currency are
   left out; the cascade is cut at `Policy.max_attempts`.
4. Adaptive routing reorders the rest by expected value: a success probability sampled for the request's
   `Segment`, times the amount, less the connector's fee (`FeeModel`) weighed by `Policy.fee_weight`. With
   probability `Policy.exploration` the order is a random permutation instead, so a connector that lost traffic
   keeps being measured.

Why Thompson sampling over discounted Beta counts (`SuccessStats`), not sliding windows: a connector's approvals
and declines in a segment are Beta counts that decay by `discount` (0.98) at each new outcome in that cell, so
the counts weigh the last ~1/(1 - 0.98) = 50 outcomes: a connector that degrades is noticed within tens of
outcomes, and the memory is two floats per cell rather than a window of outcomes. Sampling from the posterior
rather than ranking by its mean explores in proportion to uncertainty: a new or rarely used connector gets
traffic until its counts say otherwise, and a settled one keeps its share. A segment with fewer than
`min_observations` (effective) outcomes for a connector falls back to that connector's counts over all segments.
The price of a short memory is noise: where the rules' order is already the best, sampling from ~50 outcomes
(and from all segments' counts in a sparse segment) approves ~2 points fewer than the static order; where the
best connector degrades, it approves ~8 points more (`sportsbook bench routing`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from sportsbook.core.money import CURRENCY_EXPONENTS


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What routing knows of a card payment."""

    bin: str  # the first 8 digits (6 for a short card)
    scheme: str  # visa, mastercard, ... (lower case, as the BIN table says)
    card_type: str | None  # credit, debit
    prepaid: bool
    country: str | None  # issuer's, ISO 3166 alpha-2
    currency: str
    amount: int  # minor units
    risk: int  # the player's risk score, 0..100
    fingerprint: str  # keyed fingerprint of the card number


@dataclass(frozen=True, slots=True)
class Rule:
    """One routing rule: what it matches (an empty or None field matches anything; all given fields must match)
    and what it gives. The first matching rule of a list wins."""

    name: str
    connectors: tuple[str, ...] = ()  # the static order; names not configured are skipped
    bin_prefixes: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    card_types: tuple[str, ...] = ()
    prepaid: bool | None = None
    countries: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    min_amount: int | None = None  # minor units, inclusive
    max_amount: int | None = None  # minor units, inclusive
    min_risk: int | None = None  # inclusive
    force_3ds: bool = False
    block: bool = False
    keep_order: bool = False  # a mandate: adaptive routing may not reorder these connectors

    def __post_init__(self) -> None:
        # Rules are compared with what the BIN table and the money kernel say: lower-case schemes and card types,
        # upper-case countries and currencies. Normalising here means a rule is written in whichever case.
        norm = object.__setattr__
        norm(self, "schemes", tuple(s.lower() for s in self.schemes))
        norm(self, "card_types", tuple(s.lower() for s in self.card_types))
        norm(self, "countries", tuple(s.upper() for s in self.countries))
        norm(self, "currencies", tuple(s.upper() for s in self.currencies))
        if not self.name:
            raise ValueError("a rule needs a name")
        if not self.block and not self.connectors:
            raise ValueError(f"rule {self.name!r}: give connectors, or block")
        if len(set(self.connectors)) != len(self.connectors):
            raise ValueError(f"rule {self.name!r}: a connector is named twice")
        if any(not p.isdigit() or not 1 <= len(p) <= 8 for p in self.bin_prefixes):
            raise ValueError(f"rule {self.name!r}: BIN prefixes are 1 to 8 digits")
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError(f"rule {self.name!r}: min_amount is above max_amount")
        if self.min_risk is not None and not 0 <= self.min_risk <= 100:
            raise ValueError(f"rule {self.name!r}: min_risk is 0..100")

    def matches(self, r: RouteRequest) -> bool:
        """Whether every field this rule gives holds for the request."""
        # Cheapest and most selective tests first: most requests fall through high-risk rules on min_risk.
        if self.min_risk is not None and r.risk < self.min_risk:
            return False
        if self.prepaid is not None and r.prepaid is not self.prepaid:
            return False
        if self.min_amount is not None and r.amount < self.min_amount:
            return False
        if self.max_amount is not None and r.amount > self.max_amount:
            return False
        if self.currencies and r.currency not in self.currencies:
            return False
        if self.countries and r.country not in self.countries:
            return False
        if self.schemes and r.scheme not in self.schemes:
            return False
        if self.card_types and r.card_type not in self.card_types:
            return False
        return not self.bin_prefixes or r.bin.startswith(self.bin_prefixes)


_TUPLE_FIELDS = frozenset({"connectors", "bin_prefixes", "schemes", "card_types", "countries", "currencies"})
_BOOL_FIELDS = frozenset({"force_3ds", "block", "keep_order"})
_INT_FIELDS = frozenset({"min_amount", "max_amount", "min_risk"})
_RULE_FIELDS = frozenset(f.name for f in fields(Rule))


def rules_from_json(text: str) -> tuple[Rule, ...]:
    """Rules from an operator's JSON: a list of objects with `Rule`'s field names, e.g.
    `[{"name": "eea", "countries": ["DE", "FR"], "connectors": ["sim-europa", "sim-atlas"]}]`. ValueError names
    the rule and the field at fault."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"routing rules are not JSON: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise ValueError("routing rules are a non-empty JSON list of rule objects")
    rules: list[Rule] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        rule = _rule_from_object(item, f"rule #{i + 1}")
        if rule.name in names:
            raise ValueError(f"rule {rule.name!r} is named twice")
        names.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def _rule_from_object(item: object, where: str) -> Rule:
    if not isinstance(item, dict):
        raise ValueError(f"{where} is not an object")
    if isinstance(item.get("name"), str):
        where = f"rule {item['name']!r}"
    unknown = sorted(set(item) - _RULE_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in item.items():
        if key == "name":
            if not isinstance(value, str):
                raise ValueError(f"{where}: name is a string")
        elif key == "prepaid":
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{where}: prepaid is true, false or null")
        elif key in _TUPLE_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{where}: {key} is a list of non-empty strings")
            value = tuple(value)
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                raise ValueError(f"{where}: {key} is true or false")
        elif key in _INT_FIELDS and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{where}: {key} is an integer")
        values[key] = value
    if "name" not in values:
        raise ValueError(f"{where}: a rule needs a name")
    return Rule(**values)


def rules_to_json(rules: Sequence[Rule]) -> str:
    """The rules as `rules_from_json` reads them, fields left at their defaults omitted (for the staff API)."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        obj: dict[str, Any] = {}
        for f in fields(Rule):
            value = getattr(rule, f.name)
            if value != f.default:
                obj[f.name] = list(value) if isinstance(value, tuple) else value
        out.append(obj)
    return json.dumps(out, indent=2)


@dataclass(frozen=True, slots=True)
class FeeModel:
    """What a connector charges for a card payment: basis points of the amount plus a fixed fee."""

    percent_bp: int
    fixed: int  # minor units

    def cost(self, amount: int) -> int:
        """The fee for `amount` minor units, the percentage rounded up to the minor unit."""
        return -(-amount * self.percent_bp // 10_000) + self.fixed


@dataclass(frozen=True, slots=True)
class ConnectorProfile:
    """What routing knows of a configured connector."""

    name: str
    fee: FeeModel
    currencies: frozenset[str] = frozenset()  # empty: any
    high_risk: bool = False  # a high-risk acquirer: takes the cards and players other acquirers would not

    def takes(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies


@dataclass(frozen=True, slots=True)
class BlockList:
    """Cards and BINs no payment may be tried with."""

    fingerprints: frozenset[str] = frozenset()
    bins6: frozenset[str] = frozenset()
    bins8: frozenset[str] = frozenset()

    def blocks(self, request: RouteRequest) -> str | None:
        """Why the request's card is blocked ("card" or "bin"), or None."""
        if request.fingerprint in self.fingerprints:
            return "card"
        if (len(request.bin) >= 8 and request.bin[:8] in self.bins8) or request.bin[:6] in self.bins6:
            return "bin"
        return None


EMPTY_BLOCKLIST = BlockList()


class Segment(NamedTuple):
    """The traffic a connector's success rate is learnt over: cards and amounts that behave alike."""

    scheme: str
    card_type: str | None
    prepaid: bool
    country: str | None
    currency: str
    band: int  # 0: < 20, 1: < 100, 2: < 500, 3: 500 and above, in major units of the currency


# The band limits in minor units, for each currency's exponent (2 where the platform does not know it).
_BAND_LIMITS: dict[str, tuple[int, int, int]] = {
    code: (20 * 10**exp, 100 * 10**exp, 500 * 10**exp) for code, exp in CURRENCY_EXPONENTS.items()
}
_DEFAULT_LIMITS = (2_000, 10_000, 50_000)


def segment_of(r: RouteRequest) -> Segment:
    """The segment a request's outcome counts in."""
    low, mid, high = _BAND_LIMITS.get(r.currency, _DEFAULT_LIMITS)
    amount = r.amount
    band = 0 if amount < low else 1 if amount < mid else 2 if amount < high else 3
    return Segment(r.scheme, r.card_type, r.prepaid, r.country, r.currency, band)


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One line of `SuccessStats.snapshot`: a connector's discounted counts in a segment (None: all segments)."""

    connector: str
    segment: Segment | None
    approvals: float
    declines: float
    rate: float  # the posterior mean, (approvals + 1) / (approvals + declines + 2)


class SuccessStats:
    """Discounted approval and decline counts per (connector, segment) and per connector: the Beta posteriors
    adaptive routing samples from. Fed by the service with every attempt's outcome; a connector error or timeout
    is the breaker's business, not an outcome here."""

    def __init__(self, *, discount: float = 0.98, min_observations: float = 10.0) -> None:
        if not 0.0 < discount <= 1.0:
            raise ValueError("discount is in (0, 1]")
        self.discount = discount
        self.min_observations = min_observations
        self._cells: dict[tuple[str, Segment], list[float]] = {}  # [approvals, declines]
        self._overall: dict[str, list[float]] = {}

    def record(self, connector: str, segment: Segment, approved: bool) -> None:
        """Count one attempt's outcome: an approval, or a decline by the issuer or the acquirer."""
        d = self.discount
        for cell in (self._cell(self._cells, (connector, segment)), self._cell(self._overall, connector)):
            cell[0] *= d
            cell[1] *= d
            cell[0 if approved else 1] += 1.0

    @staticmethod
    def _cell(table: dict[Any, list[float]], key: Any) -> list[float]:
        cell = table.get(key)
        if cell is None:
            cell = table[key] = [0.0, 0.0]
        return cell

    def counts(self, connector: str, segment: Segment | None = None) -> tuple[float, float]:
        """The (approvals, declines) routing uses for a connector in a segment: the segment's own, or the
        connector's over all segments while the segment has fewer than `min_observations`."""
        if segment is not None:
            cell = self._cells.get((connector, segment))
            if cell is not None and cell[0] + cell[1] >= self.min_observations:
                return cell[0], cell[1]
        overall = self._overall.get(connector)
        return (overall[0], overall[1]) if overall is not None else (0.0, 0.0)

    def rate(self, connector: str, segment: Segment | None = None) -> float:
        """The expected approval rate (posterior mean under a uniform prior)."""
        approvals, declines = self.counts(connector, segment)
        return (approvals + 1.0) / (approvals + declines + 2.0)

    def sample(self, connector: str, segment: Segment, rng: random.Random) -> float:
        """A draw from the approval rate's posterior: Thompson sampling's score."""
        approvals, declines = self.counts(connector, segment)
        return rng.betavariate(approvals + 1.0, declines + 1.0)

    def snapshot(self) -> tuple[StatsRow, ...]:
        """Every connector's counts overall, then per segment (for the staff API)."""
        rows = [StatsRow(c, None, a, d, (a + 1.0) / (a + d + 2.0)) for c, (a, d) in sorted(self._overall.items())]
        rows += [
            StatsRow(c, s, a, d, (a + 1.0) / (a + d + 2.0))
            for (c, s), (a, d) in sorted(self._cells.items(), key=lambda kv: (kv[0][0], repr(kv[0][1])))
        ]
        return tuple(rows)


@dataclass(frozen=True, slots=True)
class Policy:
    """How the router orders a rule's candidates."""

    adaptive: bool = True  # False: the rule's static order
    exploration: float = 0.05  # share of adaptive decisions given a random order
    fee_weight: float = 1.0  # how much one unit of fee counts against one unit of expected approved amount
    max_attempts: int = 3  # the cascade's length

    def __post_init__(self) -> None:
        if not 0.0 <= self.exploration <= 1.0:
            raise ValueError("exploration is a share, 0..1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts is at least 1")
        if self.fee_weight < 0:
            raise ValueError("fee_weight is not negative")


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a payment goes: the cascade's connectors in order (empty: nowhere), whether every attempt asks for
    3-D Secure, the rule that decided, why the card is blocked (None if it is not) and whether the order was a
    random exploration."""

    connectors: tuple[str, ...]
    force_3ds: bool
    rule: str
    blocked: str | None
    explored: bool
    segment: Segment


NO_RULE = "none"  # Decision.rule when no rule matched
BLOCKLIST_RULE = "blocklist"  # Decision.rule when the block list refused the card


def decide(
    request: RouteRequest,
    *,
    rules: Sequence[Rule],
    connectors: Mapping[str, ConnectorProfile],
    stats: SuccessStats,
    rng: random.Random,
    unhealthy: frozenset[str] = frozenset(),
    policy: Policy = Policy(),
    blocklist: BlockList = EMPTY_BLOCKLIST,
) -> Decision:
    """Route one payment (see the module's docstring for the steps)."""
    segment = segment_of(request)
    reason = blocklist.blocks(request)
    if reason is not None:
        return Decision((), False, BLOCKLIST_RULE, reason, False, segment)
    for rule in rules:
        if rule.matches(request):
            break
    else:
        return Decision((), False, NO_RULE, None, False, segment)
    if rule.block:
        return Decision((), rule.force_3ds, rule.name, "rule", False, segment)

    currency = request.currency
    candidates: list[ConnectorProfile] = []
    for name in rule.connectors:
        profile = connectors.get(name)
        if profile is not None and name not in unhealthy and profile.takes(currency):
            candidates.append(profile)

    explored = False
    if len(candidates) > 1 and policy.adaptive and not rule.keep_order:
        if rng.random() < policy.exploration:
            rng.shuffle(candidates)
            explored = True
        else:
            amount, weight = request.amount, policy.fee_weight
            # Highest expected value first; on a tie the rule's order (the index) decides.
            scored = sorted(
                (weight * p.fee.cost(amount) - stats.sample(p.name, segment, rng) * amount, i)
                for i, p in enumerate(candidates)
            )
            candidates = [candidates[i] for _cost, i in scored]
    chosen = tuple(p.name for p in candidates[: policy.max_attempts])
    return Decision(chosen, rule.force_3ds, rule.name, None, explored, segment)


# The simulated connectors' profiles and the platform's default rules for them. The European acquirer takes
# Europe's currencies at the lowest fee; the global acquirer takes any currency; the high-risk acquirer takes
# prepaid cards and high-risk players, always with 3-D Secure, at the highest fee.
EUROPA, ATLAS, HARBOUR = "sim-europa", "sim-atlas", "sim-harbour"
DEFAULT_CONNECTORS: Mapping[str, ConnectorProfile] = {
    EUROPA: ConnectorProfile(
        EUROPA,
        FeeModel(percent_bp=120, fixed=10),
        frozenset({"EUR", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "ISK"}),
    ),
    ATLAS: ConnectorProfile(ATLAS, FeeModel(percent_bp=190, fixed=20)),
    HARBOUR: ConnectorProfile(HARBOUR, FeeModel(percent_bp=350, fixed=30), high_risk=True),
}
EEA_COUNTRIES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT", "LI",
    "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
HIGH_RISK_SCORE = 80
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("high-risk-player", (HARBOUR, ATLAS), min_risk=HIGH_RISK_SCORE, force_3ds=True, keep_order=True),
    Rule("prepaid", (HARBOUR, ATLAS), prepaid=True, force_3ds=True, keep_order=True),
    Rule("eea", (EUROPA, ATLAS, HARBOUR), countries=EEA_COUNTRIES),
    Rule("rest-of-world", (ATLAS, EUROPA, HARBOUR)),
)
