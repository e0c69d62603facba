"""Payment routing: rules (first match wins), the block list, fees, what a cascade leaves out, and adaptive routing
that learns from outcomes and moves traffic off a connector that degrades."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.payments.routing import (
    ATLAS,
    BLOCKLIST_RULE,
    DEFAULT_CONNECTORS,
    DEFAULT_RULES,
    EUROPA,
    HARBOUR,
    NO_RULE,
    BlockList,
    ConnectorProfile,
    Decision,
    FeeModel,
    Policy,
    RouteRequest,
    Rule,
    Segment,
    SuccessStats,
    decide,
    rules_from_json,
    rules_to_json,
    segment_of,
)

REQUEST = RouteRequest(
    bin="45717360",
    scheme="visa",
    card_type="debit",
    prepaid=False,
    country="DE",
    currency="EUR",
    amount=5_000,
    risk=10,
    fingerprint="fp-1",
)
STATIC = Policy(adaptive=False)


def req(**changes: Any) -> RouteRequest:
    return dataclasses.replace(REQUEST, **changes)


def route(request: RouteRequest = REQUEST, **kwargs: Any) -> Decision:
    options: dict[str, Any] = {
        "rules": DEFAULT_RULES,
        "connectors": DEFAULT_CONNECTORS,
        "stats": SuccessStats(),
        "rng": random.Random(1),
        "policy": STATIC,
    }
    options.update(kwargs)
    return decide(request, **options)


# --- rules -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "request_changes", "matches"),
    [
        ({}, {}, True),  # a rule without conditions matches anything
        ({"bin_prefixes": ("4571",)}, {}, True),
        ({"bin_prefixes": ("5", "4571736")}, {}, True),
        ({"bin_prefixes": ("4572",)}, {}, False),
        ({"bin_prefixes": ("45717360",)}, {"bin": "457173"}, False),  # a 6-digit BIN cannot hold an 8-digit prefix
        ({"schemes": ("visa", "mastercard")}, {}, True),
        ({"schemes": ("VISA",)}, {}, True),  # rules are normalised to the BIN table's case
        ({"schemes": ("mastercard",)}, {}, False),
        ({"card_types": ("debit",)}, {}, True),
        ({"card_types": ("credit",)}, {}, False),
        ({"card_types": ("credit",)}, {"card_type": None}, False),  # unknown is not credit
        ({"prepaid": True}, {}, False),
        ({"prepaid": True}, {"prepaid": True}, True),
        ({"prepaid": False}, {}, True),
        ({"prepaid": False}, {"prepaid": True}, False),
        ({"countries": ("de", "FR")}, {}, True),
        ({"countries": ("FR",)}, {}, False),
        ({"countries": ("FR",)}, {"country": None}, False),
        ({"currencies": ("eur",)}, {}, True),
        ({"currencies": ("USD",)}, {}, False),
        ({"min_amount": 5_000}, {}, True),  # bounds are inclusive
        ({"min_amount": 5_001}, {}, False),
        ({"max_amount": 5_000}, {}, True),
        ({"max_amount": 4_999}, {}, False),
        ({"min_risk": 10}, {}, True),
        ({"min_risk": 11}, {}, False),
        ({"countries": ("DE",), "min_risk": 80}, {}, False),  # every given field must hold
        ({"countries": ("DE",), "min_risk": 80}, {"risk": 95}, True),
    ],
)
def test_a_rule_matches_when_every_field_it_gives_holds(
    fields: dict[str, Any], request_changes: dict[str, Any], matches: bool
) -> None:
    rule = Rule("r", (ATLAS,), **fields)
    assert rule.matches(req(**request_changes)) is matches


def test_the_first_matching_rule_wins() -> None:
    rules = (
        Rule("us", (ATLAS,), countries=("US",)),
        Rule("germany", (HARBOUR,), countries=("DE",), force_3ds=True),
        Rule("visa", (EUROPA,), schemes=("visa",)),
    )
    decision = route(rules=rules)
    assert (decision.rule, decision.connectors, decision.force_3ds) == ("germany", (HARBOUR,), True)


def test_no_matching_rule_routes_nowhere() -> None:
    decision = route(rules=(Rule("us", (ATLAS,), countries=("US",)),))
    assert (decision.connectors, decision.rule, decision.blocked) == ((), NO_RULE, None)


@pytest.mark.parametrize(
    ("request_changes", "rule", "connectors", "force_3ds"),
    [
        ({}, "eea", (EUROPA, ATLAS, HARBOUR), False),
        ({"country": "US", "currency": "USD"}, "rest-of-world", (ATLAS, HARBOUR), False),  # europa: no USD
        ({"country": "GB", "currency": "GBP"}, "rest-of-world", (ATLAS, EUROPA, HARBOUR), False),
        ({"risk": 80}, "high-risk-player", (HARBOUR, ATLAS), True),
        ({"prepaid": True}, "prepaid", (HARBOUR, ATLAS), True),
    ],
)
def test_default_rules_send_eea_cards_to_europa_and_high_risk_to_harbour(
    request_changes: dict[str, Any], rule: str, connectors: tuple[str, ...], force_3ds: bool
) -> None:
    decision = route(req(**request_changes))
    assert (decision.rule, decision.connectors, decision.force_3ds) == (rule, connectors, force_3ds)


# --- the block list --------------------------------------------------------------------------------------------

BLOCKS = BlockList(fingerprints=frozenset({"fp-stolen"}), bins6=frozenset({"411111"}), bins8=frozenset({"45717360"}))


@pytest.mark.parametrize(
    ("request_changes", "reason"),
    [
        ({"fingerprint": "fp-stolen"}, "card"),
        ({}, "bin"),  # 45717360: its 8-digit BIN
        ({"bin": "41111199"}, "bin"),  # its 6-digit BIN
        ({"bin": "411111"}, "bin"),  # a short card's 6-digit BIN
        ({"bin": "45717361"}, None),  # 457173 is not blocked, nor is this 8-digit BIN
        ({"bin": "457173"}, None),  # a 6-digit BIN never matches an 8-digit entry
    ],
)
def test_the_block_list_refuses_cards_by_fingerprint_and_by_6_or_8_digit_bin(
    request_changes: dict[str, Any], reason: str | None
) -> None:
    request = req(**request_changes)
    assert BLOCKS.blocks(request) == reason
    decision = route(request, blocklist=BLOCKS)
    if reason is None:
        assert decision.connectors
        assert decision.blocked is None
    else:
        assert (decision.connectors, decision.blocked, decision.rule) == ((), reason, BLOCKLIST_RULE)


def test_a_blocking_rule_routes_nowhere_and_says_so() -> None:
    rules = (Rule("no-amex", schemes=("amex",), block=True), *DEFAULT_RULES)
    decision = route(req(scheme="amex"), rules=rules)
    assert (decision.connectors, decision.blocked, decision.rule) == ((), "rule", "no-amex")
    assert route(rules=rules).blocked is None


# --- fees ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "amount", "cost"),
    [
        (FeeModel(120, 10), 10_000, 130),
        (FeeModel(120, 10), 0, 10),
        (FeeModel(120, 10), 1, 11),  # 0.012 of a minor unit rounds up to 1
        (FeeModel(120, 10), 8_334, 111),  # 100.008 -> 101
        (FeeModel(120, 10), 8_333, 110),  # 99.996 -> 100
        (FeeModel(350, 0), 20_000, 700),  # exact: nothing to round
        (FeeModel(0, 25), 123_456, 25),
    ],
)
def test_a_fee_rounds_its_percentage_up_to_the_minor_unit(fee: FeeModel, amount: int, cost: int) -> None:
    assert fee.cost(amount) == cost


# --- what a cascade leaves out ---------------------------------------------------------------------------------


def test_unhealthy_connectors_are_left_out() -> None:
    assert route(unhealthy=frozenset({EUROPA})).connectors == (ATLAS, HARBOUR)
    assert route(unhealthy=frozenset({EUROPA, ATLAS, HARBOUR})).connectors == ()


def test_connectors_that_cannot_take_the_currency_are_left_out() -> None:
    connectors = {**DEFAULT_CONNECTORS, ATLAS: ConnectorProfile(ATLAS, FeeModel(0, 0), frozenset({"USD"}))}
    assert route(connectors=connectors).connectors == (EUROPA, HARBOUR)
    assert route(req(currency="USD"), connectors=connectors).connectors == (ATLAS, HARBOUR)


def test_connectors_not_configured_are_skipped() -> None:
    rules = (Rule("all", ("stripe", ATLAS, "acme", EUROPA)),)
    assert route(rules=rules).connectors == (ATLAS, EUROPA)
    stripe = ConnectorProfile("stripe", FeeModel(290, 25))
    assert route(rules=rules, connectors={**DEFAULT_CONNECTORS, "stripe": stripe}).connectors == (
        "stripe",
        ATLAS,
        EUROPA,
    )


@pytest.mark.parametrize(
    ("max_attempts", "expected"), [(1, (EUROPA,)), (2, (EUROPA, ATLAS)), (5, (EUROPA, ATLAS, HARBOUR))]
)
def test_the_cascade_is_cut_at_max_attempts(max_attempts: int, expected: tuple[str, ...]) -> None:
    assert route(policy=Policy(adaptive=False, max_attempts=max_attempts)).connectors == expected


def test_static_routing_keeps_the_rule_order_whatever_the_statistics() -> None:
    stats = SuccessStats()
    segment = segment_of(REQUEST)
    for _ in range(200):
        stats.record(EUROPA, segment, approved=False)
        stats.record(HARBOUR, segment, approved=True)
    assert route(stats=stats).connectors == (EUROPA, ATLAS, HARBOUR)
    assert route(stats=stats, policy=Policy()).connectors[0] == HARBOUR  # adaptive: the one that approves


def test_a_rule_that_keeps_its_order_is_not_reordered_by_adaptive_routing() -> None:
    stats = SuccessStats()
    segment = segment_of(req(prepaid=True))
    for _ in range(200):
        stats.record(HARBOUR, segment, approved=False)
        stats.record(ATLAS, segment, approved=True)
    for seed in range(50):
        decision = route(req(prepaid=True), stats=stats, policy=Policy(exploration=0.5), rng=random.Random(seed))
        assert (decision.connectors, decision.explored) == ((HARBOUR, ATLAS), False)


def test_adaptive_routing_prefers_the_cheaper_connector_when_approvals_are_alike() -> None:
    stats = SuccessStats()
    segment = segment_of(REQUEST)
    for i in range(2_000):  # both approve 90%: counts settle near 45 to 5
        for name in (EUROPA, ATLAS):
            stats.record(name, segment, approved=i % 10 != 0)
    rules = (Rule("both", (ATLAS, EUROPA)),)
    policy = Policy(exploration=0.0, fee_weight=20.0)  # a fee weighing this much outweighs the sampling noise
    firsts = [route(rules=rules, stats=stats, policy=policy, rng=random.Random(s)).connectors[0] for s in range(200)]
    assert firsts.count(EUROPA) >= 190


# --- rules as JSON ---------------------------------------------------------------------------------------------


def test_rules_are_read_from_json() -> None:
    text = json.dumps(
        [
            {"name": "block-bin", "bin_prefixes": ["411111"], "block": True},
            {
                "name": "big-eea",
                "countries": ["de", "FR"],
                "currencies": ["EUR"],
                "min_amount": 50_000,
                "prepaid": None,
                "connectors": ["sim-atlas", "sim-europa"],
                "force_3ds": True,
            },
            {"name": "rest", "connectors": ["sim-atlas"]},
        ]
    )
    assert rules_from_json(text) == (
        Rule("block-bin", bin_prefixes=("411111",), block=True),
        Rule(
            "big-eea", (ATLAS, EUROPA), countries=("DE", "FR"), currencies=("EUR",), min_amount=50_000, force_3ds=True
        ),
        Rule("rest", (ATLAS,)),
    )


def test_default_rules_survive_a_json_round_trip() -> None:
    assert rules_from_json(rules_to_json(DEFAULT_RULES)) == DEFAULT_RULES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[", "not JSON"),
        ("{}", "non-empty JSON list"),
        ("[]", "non-empty JSON list"),
        ("[1]", "rule #1 is not an object"),
        ('[{"connectors": ["a"]}]', "rule #1: a rule needs a name"),
        ('[{"name": "x", "connector": ["a"]}]', "rule 'x': unknown field(s) connector"),
        ('[{"name": "x"}]', "rule 'x': give connectors, or block"),
        ('[{"name": "x", "connectors": "sim-atlas"}]', "rule 'x': connectors is a list of non-empty strings"),
        ('[{"name": "x", "connectors": [""]}]', "connectors is a list of non-empty strings"),
        ('[{"name": "x", "connectors": ["a", "a"]}]', "named twice"),
        ('[{"name": "x", "connectors": ["a"], "min_risk": "80"}]', "rule 'x': min_risk is an integer"),
        ('[{"name": "x", "connectors": ["a"], "min_risk": true}]', "min_risk is an integer"),
        ('[{"name": "x", "connectors": ["a"], "min_risk": 101}]', "min_risk is 0..100"),
        ('[{"name": "x", "connectors": ["a"], "prepaid": "yes"}]', "prepaid is true, false or null"),
        ('[{"name": "x", "connectors": ["a"], "block": 1}]', "block is true or false"),
        ('[{"name": "x", "connectors": ["a"], "bin_prefixes": ["4x"]}]', "BIN prefixes are 1 to 8 digits"),
        ('[{"name": "x", "connectors": ["a"], "bin_prefixes": ["411111111"]}]', "BIN prefixes are 1 to 8 digits"),
        ('[{"name": "x", "connectors": ["a"], "min_amount": 10, "max_amount": 5}]', "min_amount is above"),
        ('[{"name": "x", "connectors": ["a"]}, {"name": "x", "connectors": ["b"]}]', "rule 'x' is named twice"),
        ('[{"name": 7, "connectors": ["a"]}]', "rule #1: name is a string"),
    ],
)
def test_bad_rules_json_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        rules_from_json(text)


# --- segments and statistics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "band"),
    [
        ("EUR", 1_999, 0),
        ("EUR", 2_000, 1),
        ("EUR", 9_999, 1),
        ("EUR", 10_000, 2),
        ("EUR", 49_999, 2),
        ("EUR", 50_000, 3),
        ("JPY", 19, 0),  # no minor unit: 20 yen is 20
        ("JPY", 20, 1),
        ("XXX", 2_000, 1),  # a currency the platform does not know: exponent 2
    ],
)
def test_amount_bands_are_in_major_units_of_the_currency(currency: str, amount: int, band: int) -> None:
    segment = segment_of(req(currency=currency, amount=amount))
    assert segment == Segment("visa", "debit", False, "DE", currency, band)


def test_counts_decay_so_recent_outcomes_weigh_most() -> None:
    stats = SuccessStats(discount=0.5)
    segment = segment_of(REQUEST)
    for approved in (True, True, False):
        stats.record(ATLAS, segment, approved)
    # approvals: (1 * 0.5 + 1) * 0.5 = 0.75; declines: 1
    assert stats.counts(ATLAS) == (0.75, 1.0)


def test_a_segment_with_few_outcomes_falls_back_to_the_connectors_overall_counts() -> None:
    stats = SuccessStats(discount=1.0, min_observations=10)
    seen, new = segment_of(REQUEST), segment_of(req(country="FR"))
    for i in range(9):
        stats.record(ATLAS, seen, approved=i < 3)
    stats.record(ATLAS, new, approved=True)
    assert stats.counts(ATLAS, seen) == (4.0, 6.0)  # 9 in the segment: too few, so all 10 of the connector's
    stats.record(ATLAS, seen, approved=True)
    assert stats.counts(ATLAS, seen) == (4.0, 6.0)  # now the segment's own 10
    assert stats.counts(ATLAS, new) == (5.0, 6.0)
    assert stats.rate(ATLAS, seen) == pytest.approx(5 / 12)
    assert stats.counts(EUROPA, seen) == (0.0, 0.0)
    assert stats.rate(EUROPA) == 0.5


def test_the_snapshot_lists_each_connector_overall_then_per_segment() -> None:
    stats = SuccessStats(discount=1.0)
    segment = segment_of(REQUEST)
    stats.record(ATLAS, segment, approved=True)
    stats.record(EUROPA, segment, approved=False)
    rows = [(r.connector, r.segment, r.approvals, r.declines, r.rate) for r in stats.snapshot()]
    assert rows == [
        (ATLAS, None, 1.0, 0.0, 2 / 3),
        (EUROPA, None, 0.0, 1.0, 1 / 3),
        (ATLAS, segment, 1.0, 0.0, 2 / 3),
        (EUROPA, segment, 0.0, 1.0, 1 / 3),
    ]


# --- properties ------------------------------------------------------------------------------------------------

NAMES = (EUROPA, ATLAS, HARBOUR, "stripe", "acme")
profiles = st.builds(
    lambda name, bp, fixed, currencies: ConnectorProfile(name, FeeModel(bp, fixed), frozenset(currencies)),
    st.sampled_from(NAMES),
    st.integers(0, 500),
    st.integers(0, 50),
    st.sets(st.sampled_from(("EUR", "USD", "GBP")), max_size=2),
)
requests = st.builds(
    RouteRequest,
    bin=st.text("0123456789", min_size=6, max_size=8),
    scheme=st.sampled_from(("visa", "mastercard", "amex")),
    card_type=st.sampled_from(("credit", "debit", None)),
    prepaid=st.booleans(),
    country=st.sampled_from(("DE", "FR", "US", "GB", None)),
    currency=st.sampled_from(("EUR", "USD", "GBP")),
    amount=st.integers(0, 10**7),
    risk=st.integers(0, 100),
    fingerprint=st.sampled_from(("fp-1", "fp-2")),
)
rule_lists = st.lists(
    st.builds(
        Rule,
        name=st.text("abcdefgh", min_size=1, max_size=4),
        connectors=st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True).map(tuple),
        countries=st.lists(st.sampled_from(("DE", "FR", "US")), max_size=2).map(tuple),
        prepaid=st.sampled_from((None, True, False)),
        min_risk=st.sampled_from((None, 50, 80)),
        keep_order=st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@given(
    request=requests,
    rules=rule_lists,
    configured=st.lists(profiles, max_size=5, unique_by=lambda p: p.name),
    unhealthy=st.frozensets(st.sampled_from(NAMES)),
    policy=st.builds(Policy, adaptive=st.booleans(), exploration=st.floats(0, 1), max_attempts=st.integers(1, 5)),
    outcomes=st.lists(st.tuples(st.sampled_from(NAMES), st.booleans()), max_size=30),
    seed=st.integers(0, 2**32),
)
def test_a_decision_only_holds_healthy_capable_distinct_connectors_of_its_rule(
    request: RouteRequest,
    rules: list[Rule],
    configured: list[ConnectorProfile],
    unhealthy: frozenset[str],
    policy: Policy,
    outcomes: list[tuple[str, bool]],
    seed: int,
) -> None:
    stats = SuccessStats()
    for name, approved in outcomes:
        stats.record(name, segment_of(request), approved)
    connectors = {p.name: p for p in configured}
    decision = decide(
        request, rules=rules, connectors=connectors, stats=stats, unhealthy=unhealthy, policy=policy,
        rng=random.Random(seed),
    )  # fmt: skip
    matched = next((r for r in rules if r.matches(request)), None)
    assert decision.rule == (matched.name if matched else NO_RULE)
    chosen = decision.connectors
    assert len(chosen) == len(set(chosen)) <= policy.max_attempts
    assert not set(chosen) & unhealthy
    assert all(name in connectors and connectors[name].takes(request.currency) for name in chosen)
    if matched is not None:
        assert set(chosen) <= set(matched.connectors)
        usable = [n for n in matched.connectors if n in connectors and n not in unhealthy]
        usable = [n for n in usable if connectors[n].takes(request.currency)]
        assert len(chosen) == min(len(usable), policy.max_attempts)  # nothing usable is dropped but by the cut
        if not policy.adaptive or matched.keep_order:
            assert chosen == tuple(usable[: policy.max_attempts])
            assert not decision.explored


def test_the_exploration_share_is_close_to_the_policys() -> None:
    policy = Policy(exploration=0.05)
    explored = sum(route(policy=policy, rng=random.Random(seed)).explored for seed in range(10_000))
    assert 0.04 <= explored / 10_000 <= 0.06  # 500 expected, sd ~22


def test_a_decision_without_a_choice_to_make_never_counts_as_exploration() -> None:
    rules = (Rule("one", (ATLAS,)),)
    assert not any(route(rules=rules, policy=Policy(exploration=1.0), rng=random.Random(s)).explored for s in range(50))


# --- learning: one connector degrades --------------------------------------------------------------------------

# First-attempt approval rates: europa is the best acquirer for EEA cards until it degrades half-way.
APPROVAL = {
    (EUROPA, True): 0.90,
    (ATLAS, True): 0.86,
    (ATLAS, False): 0.90,
    (HARBOUR, True): 0.84,
    (HARBOUR, False): 0.84,
}
DEGRADED = 0.50


def degradation_run(policy: Policy, seed: int, payments: int = 6_000) -> tuple[float, list[str], list[str]]:
    """Payments through the default rules (70% German cards in euros over three amount bands, 30% US cards in
    dollars), first attempts only, each outcome recorded; europa approves 50% from half-way. The approval rate,
    and the connector each EEA payment tried first before and after the switch."""
    rng, outcomes = random.Random(seed), random.Random(seed + 1)
    stats = SuccessStats()
    approved = 0
    before: list[str] = []
    after: list[str] = []
    for i in range(payments):
        eea = outcomes.random() < 0.7
        request = req(amount=outcomes.randrange(1_000, 20_000)) if eea else req(country="US", currency="USD")
        decision = decide(
            request, rules=DEFAULT_RULES, connectors=DEFAULT_CONNECTORS, stats=stats, policy=policy, rng=rng
        )
        first = decision.connectors[0]
        switched = i >= payments // 2
        ok = outcomes.random() < (DEGRADED if switched and first == EUROPA else APPROVAL[first, eea])
        stats.record(first, decision.segment, ok)
        approved += ok
        if eea:
            (after if switched else before).append(first)
    return approved / payments, before, after


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adaptive_routing_approves_3_points_more_than_static_when_a_connector_degrades(seed: int) -> None:
    adaptive, _, _ = degradation_run(Policy(), seed)
    static, _, _ = degradation_run(STATIC, seed)
    assert adaptive >= static + 0.03  # measured: about 10 points (europa's EEA traffic moves to atlas)


def test_adaptive_routing_moves_traffic_off_a_degraded_connector_within_a_bounded_number_of_outcomes() -> None:
    _, before, after = degradation_run(Policy(), seed=4)
    assert before[-300:].count(EUROPA) / 300 >= 0.5  # the best EEA acquirer leads while it is
    # 200 EEA payments after the switch is under 70 outcomes in each of the three amount bands' segments; what
    # europa keeps after that is exploration and the odd optimistic sample.
    assert after[200:500].count(EUROPA) / 300 <= 0.15
