"""The simulated PSPs: API.md's test cards everywhere, a reproducible approval model, switches, timeouts that a
status query resolves, idempotent references, refunds, payouts and chargebacks by webhook, signatures, chaos."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import pycountry
import pytest

from sportsbook.core.clock import ManualClock
from sportsbook.payments.connectors.base import (
    CardData,
    CardProfile,
    ChargeRequest,
    InvalidWebhook,
    Kind,
    Outcome,
    PayoutRequest,
    RefundRequest,
    Simulation,
    WebhookEvent,
    WebhookType,
)
from sportsbook.payments.connectors.simulated import (
    EEA,
    PROFILES,
    SimulatedConnector,
    WebhookChaos,
    approval_probability,
    sign,
)

NAMES = sorted(PROFILES)
DE_DEBIT = CardProfile(bin="42424242", last4="4242", scheme="visa", card_type="debit", prepaid=False, country="DE")


def card(number: str) -> CardData:
    return CardData(number=number, expiry_month=12, expiry_year=2030, cvc="123", holder="A Player")


def charge_request(
    reference: str,
    number: str = "4242424242424242",
    amount: int = 2_000,
    profile: CardProfile = DE_DEBIT,
    *,
    three_ds: bool = False,
    attempt: int = 1,
) -> ChargeRequest:
    return ChargeRequest(
        reference=reference, amount=amount, currency="EUR", card=card(number), profile=profile, three_ds=three_ds,
        attempt_number=attempt,
    )  # fmt: skip


def quiet(name: str, clock: ManualClock | None = None, **kwargs: object) -> SimulatedConnector:
    """A connector that never times out by chance and never sleeps, for exact tests."""
    profile = replace(PROFILES[name], timeout_rate=0.0, challenge_rate=0.0, sca_decline_rate=0.0)
    return SimulatedConnector(profile, clock=clock or ManualClock(), latency_scale=0, **kwargs)  # type: ignore[arg-type]


def events(connector: SimulatedConnector) -> list[dict[str, object]]:
    return [json.loads(body) for body in connector.sent]


# --- test cards ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("number", "outcome", "code"),
    [
        ("4242424242424242", Outcome.APPROVED, None),
        ("4100000000000019", Outcome.DECLINED, "43"),
        ("4000000000000069", Outcome.DECLINED, "54"),
        ("4000000000009995", Outcome.DECLINED, "51"),
        ("4000000000000119", Outcome.DECLINED, "96"),
    ],
)
async def test_test_cards_answer_as_api_md_says(name: str, number: str, outcome: Outcome, code: str | None) -> None:
    # the full profile (challenges, SCA soft declines and all): test cards ignore the model
    connector = SimulatedConnector(PROFILES[name], clock=ManualClock(), latency_scale=0)
    connector.profile = replace(connector.profile, timeout_rate=0.0)
    for i in range(20):
        result = await connector.charge(charge_request(f"{name}-{number}-{i}", number))
        assert (result.outcome, result.decline_code) == (outcome, code)


@pytest.mark.parametrize("name", NAMES)
async def test_the_malfunction_card_is_approved_at_the_next_connector(name: str) -> None:
    connector = quiet(name)
    result = await connector.charge(charge_request("r-2", "4000 0000 0000 0119", attempt=2))
    assert result.outcome is Outcome.APPROVED


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("passed", "outcome", "code"), [(True, Outcome.APPROVED, None), (False, Outcome.DECLINED,
                                                          "authentication_failed")])  # fmt: skip
async def test_the_3ds_card_is_challenged_then_decided_by_the_cardholder(
    name: str, passed: bool, outcome: Outcome, code: str | None
) -> None:
    connector = quiet(name)
    first = await connector.charge(charge_request("r-3ds", "4000000000003220"))
    assert first.outcome is Outcome.REQUIRES_ACTION
    assert first.next_action is not None
    assert first.next_action.type == "three_ds_challenge"
    assert first.psp_reference is not None
    assert first.psp_reference in first.next_action.url
    assert connector.sent == []  # nothing decided yet
    done = await connector.complete_action("r-3ds", first.psp_reference, passed=passed)
    assert (done.outcome, done.decline_code) == (outcome, code)
    assert (await connector.status(Kind.CHARGE, "r-3ds")).outcome is outcome
    again = await connector.complete_action("r-3ds", first.psp_reference, passed=not passed)
    assert again.outcome is outcome  # a challenge is answered once
    kinds = [e["type"] for e in events(connector)]
    assert kinds == ["charge.succeeded" if passed else "charge.failed"]


async def test_asking_for_3ds_challenges_any_card_and_its_answer_follows() -> None:
    connector = quiet("sim-europa")
    first = await connector.charge(charge_request("r-ask", "4000000000009995", three_ds=True))
    assert first.outcome is Outcome.REQUIRES_ACTION
    assert first.psp_reference is not None
    done = await connector.complete_action("r-ask", first.psp_reference, passed=True)
    assert (done.outcome, done.decline_code) == (Outcome.DECLINED, "51")


async def test_completing_an_unknown_challenge_is_not_found() -> None:
    connector = quiet("sim-atlas")
    assert (await connector.complete_action("nope", "ch_x", passed=True)).outcome is Outcome.NOT_FOUND


# --- the approval model -------------------------------------------------------------------------------------------


def model_card(country: str | None, card_type: str | None, *, prepaid: bool = False) -> CardProfile:
    return CardProfile("52000000", "0008", "mastercard", card_type, prepaid, country)


async def approval_share(connector: SimulatedConnector, profile: CardProfile, amount: int, n: int = 1_500) -> float:
    approved = 0
    for i in range(n):
        result = await connector.charge(
            charge_request(f"{profile.country}-{profile.card_type}-{profile.prepaid}-{amount}-{i}",
                           "5200000000000007", amount, profile)
        )  # fmt: skip
        approved += result.outcome is Outcome.APPROVED
    return approved / n


async def test_europa_approves_eea_cards_more_than_others() -> None:
    connector = quiet("sim-europa")
    eea = await approval_share(connector, model_card("FR", "debit"), 2_000)
    other = await approval_share(connector, model_card("US", "debit"), 2_000)
    assert eea > other + 0.08
    assert eea == pytest.approx(0.93, abs=0.03)


async def test_atlas_approves_the_same_wherever_the_card_is_from() -> None:
    connector = quiet("sim-atlas")
    eea = await approval_share(connector, model_card("FR", "debit"), 2_000)
    other = await approval_share(connector, model_card("BR", "debit"), 2_000)
    assert eea == pytest.approx(other, abs=0.04)


@pytest.mark.parametrize("name", NAMES)
async def test_prepaid_is_approved_less_than_debit(name: str) -> None:
    connector = quiet(name)
    debit = await approval_share(connector, model_card("US", "debit"), 2_000)
    prepaid = await approval_share(connector, model_card("US", "debit", prepaid=True), 2_000)
    assert prepaid < debit


@pytest.mark.parametrize("name", NAMES)
def test_larger_amounts_are_approved_less(name: str) -> None:
    profile = PROFILES[name]
    card_ = model_card("DE", "credit")
    chances = [approval_probability(profile, card_, amount) for amount in (1_000, 30_000, 100_000, 500_000)]
    assert chances == sorted(chances, reverse=True)
    assert chances[-1] < chances[0]


def test_harbour_keeps_more_of_prepaid_than_europa() -> None:
    prepaid = model_card("US", "debit", prepaid=True)
    debit = model_card("US", "debit")
    harbour, europa = PROFILES["sim-harbour"], PROFILES["sim-europa"]
    ratio_h = approval_probability(harbour, prepaid, 2_000) / approval_probability(harbour, debit, 2_000)
    ratio_e = approval_probability(europa, prepaid, 2_000) / approval_probability(europa, debit, 2_000)
    assert ratio_h > ratio_e


async def test_declines_carry_real_codes_and_mastercard_advice_on_hard_ones() -> None:
    connector = quiet("sim-harbour")
    codes: set[str] = set()
    advice: set[str] = set()
    for i in range(1_500):
        result = await connector.charge(charge_request(f"d-{i}", "5200000000000007", 2_000, model_card("US", "credit")))
        if result.outcome is Outcome.DECLINED:
            assert result.decline_code is not None
            codes.add(result.decline_code)
            if result.advice_code is not None:
                assert result.decline_code in {"57", "62", "14", "54", "43", "41", "59"}
                advice.add(result.advice_code)
    assert {"05", "51", "57", "62"} <= codes
    assert advice == {"03", "21"}


async def test_some_eea_cards_get_an_sca_soft_decline_without_3ds() -> None:
    connector = SimulatedConnector(replace(PROFILES["sim-europa"], timeout_rate=0.0), latency_scale=0)
    soft = []
    for i in range(1_000):
        it_debit = model_card("IT", "debit")
        result = await connector.charge(charge_request(f"sca-{i}", "5200000000000007", 2_000, it_debit))
        if result.decline_code == "authentication_required":
            soft.append(f"sca-{i}")
    assert 10 < len(soft) < 60  # ~3%
    stepped_up = await connector.charge(
        charge_request(soft[0] + "-3ds", "5200000000000007", 2_000, model_card("IT", "debit"), three_ds=True)
    )
    assert stepped_up.outcome is Outcome.REQUIRES_ACTION


@pytest.mark.parametrize("name", NAMES)
async def test_decisions_depend_on_seed_and_reference_only(name: str) -> None:
    pl_credit = model_card("PL", "credit")
    requests = [charge_request(f"det-{i}", "5200000000000007", 2_000 + i, pl_credit) for i in range(200)]
    a, b = quiet(name), quiet(name)
    in_order = [await a.charge(r) for r in requests]
    concurrently = await asyncio.gather(*(b.charge(r) for r in reversed(requests)))
    assert in_order == list(reversed(concurrently))
    reseeded = SimulatedConnector(replace(a.profile, seed=99), latency_scale=0)
    other = [await reseeded.charge(r) for r in requests]
    assert [r.outcome for r in other] != [r.outcome for r in in_order]


def test_the_eea_list_is_thirty_real_countries() -> None:
    assert len(EEA) == 30
    assert all(pycountry.countries.get(alpha_2=code) is not None for code in EEA)
    assert {"DE", "NO", "IS", "LI"} <= EEA
    assert not {"GB", "CH", "US"} & EEA


def test_fees_are_basis_points_plus_a_fixed_part() -> None:
    connector = quiet("sim-europa")
    assert connector.fee(10_000) == 120 + 10
    assert connector.fee(1) == 0 + 10
    assert SimulatedConnector(PROFILES["sim-harbour"]).fee(10_000) > connector.fee(10_000)


# --- switches, latency and timeouts -------------------------------------------------------------------------------


async def test_an_outage_refuses_every_call_and_moves_nothing() -> None:
    connector = quiet("sim-atlas")
    connector.simulate(Simulation(outage=True))
    assert connector.simulation.outage
    result = await connector.charge(charge_request("out-1"))
    assert (result.outcome, result.message) == (Outcome.ERROR, "connection refused")
    assert (await connector.charge(charge_request("out-2", "4000000000000119", attempt=1))).outcome is Outcome.ERROR
    connector.simulate(Simulation())
    assert (await connector.status(Kind.CHARGE, "out-1")).outcome is Outcome.NOT_FOUND
    assert connector.sent == []


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)])
async def test_an_approval_rate_override_degrades_the_model(rate: float, expected: float) -> None:
    connector = quiet("sim-atlas")
    connector.simulate(Simulation(approval_rate=rate))
    share = await approval_share(connector, model_card("US", "debit"), 2_000, n=1_000)
    assert share == pytest.approx(expected, abs=0.05)
    assert (await connector.charge(charge_request("still-4242"))).outcome is Outcome.APPROVED


def test_switches_are_checked() -> None:
    connector = quiet("sim-atlas")
    with pytest.raises(ValueError, match="approval_rate"):
        connector.simulate(Simulation(approval_rate=1.5))
    with pytest.raises(ValueError, match="latency_ms"):
        connector.simulate(Simulation(latency_ms=-1))


async def test_latency_is_slept_scaled_and_overridable() -> None:
    profile = replace(PROFILES["sim-europa"], timeout_rate=0.0, latency_sigma=0.0, median_latency_ms=100)
    connector = SimulatedConnector(profile, latency_scale=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await connector.charge(charge_request("lat-1"))
    assert 0.045 <= loop.time() - started < 0.5  # 100 ms at half scale
    connector.simulate(Simulation(latency_ms=10))
    started = loop.time()
    await connector.charge(charge_request("lat-2"))
    assert loop.time() - started < 0.045


async def test_a_timed_out_charge_is_revealed_by_a_status_query() -> None:
    # every latency far above the timeout: each attempt times out; the PSP decides anyway (or never heard of it)
    profile = replace(PROFILES["sim-atlas"], timeout_rate=0.0, median_latency_ms=10_000, latency_sigma=0.0)
    connector = SimulatedConnector(profile, latency_scale=0)
    seen = set()
    for i in range(40):
        reference = f"to-{i}"
        result = await connector.charge(charge_request(reference))
        assert result.outcome is Outcome.TIMEOUT
        truth = await connector.status(Kind.CHARGE, reference)
        seen.add(truth.outcome)
        if truth.outcome is Outcome.APPROVED:
            assert [e["data"]["reference"] for e in events(connector)][-1] == reference  # type: ignore[index]
    assert seen == {Outcome.APPROVED, Outcome.NOT_FOUND}  # money moved, or the request never arrived


async def test_a_timeout_sleeps_the_timeout_not_the_latency() -> None:
    profile = replace(PROFILES["sim-atlas"], timeout_rate=1.0, timeout_ms=40, latency_sigma=0.0)
    connector = SimulatedConnector(profile, latency_scale=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await connector.charge(charge_request("t-1"))).outcome is Outcome.TIMEOUT
    assert 0.035 <= loop.time() - started < 0.2


# --- idempotency, refunds, payouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
async def test_a_reference_replayed_answers_the_first_answer(name: str) -> None:
    connector = quiet(name)
    first = await connector.charge(charge_request("same", "4000000000009995"))
    again = await connector.charge(charge_request("same", "4000000000009995"))
    assert again == first
    assert len(connector.sent) == 1  # decided once
    changed = await connector.charge(charge_request("same", "4000000000009995", amount=9_999))
    assert changed.outcome is Outcome.ERROR


async def test_refunds_are_limited_to_the_captured_amount() -> None:
    connector = quiet("sim-europa")
    charged = await connector.charge(charge_request("c-1", amount=5_000))
    assert charged.psp_reference is not None

    def refund(reference: str, amount: int, psp: str = charged.psp_reference or "") -> RefundRequest:
        return RefundRequest(reference=reference, charge_psp_reference=psp, amount=amount, currency="EUR")

    assert (await connector.refund(refund("rf-1", 3_000))).outcome is Outcome.APPROVED
    assert (await connector.refund(refund("rf-1", 3_000))).outcome is Outcome.APPROVED  # a replay, not a second one
    over = await connector.refund(refund("rf-2", 2_001))
    assert (over.outcome, over.decline_code) == (Outcome.DECLINED, "13")
    assert (await connector.refund(refund("rf-3", 2_000))).outcome is Outcome.APPROVED
    unknown = await connector.refund(refund("rf-4", 1, psp="ch_nope"))
    assert (unknown.outcome, unknown.decline_code) == (Outcome.DECLINED, "12")
    assert (await connector.status(Kind.REFUND, "rf-3")).outcome is Outcome.APPROVED
    refunds = [e for e in events(connector) if e["type"] == "refund.succeeded"]
    assert [(e["data"]["reference"], e["data"]["amount"]) for e in refunds] == [("rf-1", 3_000), ("rf-3", 2_000)]  # type: ignore[index]


async def test_a_declined_charge_cannot_be_refunded() -> None:
    connector = quiet("sim-europa")
    declined = await connector.charge(charge_request("c-d", "4000000000009995"))
    result = await connector.refund(RefundRequest("rf", declined.psp_reference or "", 100, "EUR"))
    assert (result.outcome, result.decline_code) == (Outcome.DECLINED, "12")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("number", "webhook", "code"),
    [("4242424242424242", "payout.paid", None), ("4000000000009995", "payout.failed", "51"),
     ("4000000000000069", "payout.failed", "54")],
)  # fmt: skip
async def test_payouts_are_pending_and_their_result_comes_by_webhook(
    name: str, number: str, webhook: str, code: str | None
) -> None:
    received: list[WebhookEvent] = []
    connector: SimulatedConnector

    async def deliver(_name: str, body: bytes, headers: dict[str, str]) -> None:
        received.append(connector.verify_webhook(body, {k.lower(): v for k, v in headers.items()}))

    connector = quiet(name, deliver=deliver)
    result = await connector.payout(PayoutRequest("po-1", 7_500, "EUR", card(number), DE_DEBIT))
    assert result.outcome is Outcome.PENDING
    assert result.psp_reference is not None
    await connector.drain()
    assert [(e.type, e.reference, e.amount, e.decline_code) for e in received] == [
        (WebhookType(webhook), "po-1", 7_500, code)
    ]
    status = await connector.status(Kind.PAYOUT, "po-1")
    assert status.outcome is (Outcome.APPROVED if code is None else Outcome.DECLINED)


async def test_a_chargeback_sends_a_webhook_about_the_charge() -> None:
    connector = quiet("sim-harbour")
    await connector.charge(charge_request("cb-1", amount=4_000))
    await connector.chargeback("cb-1", 1_500)
    await connector.chargeback("cb-1")  # the rest
    backs = [e for e in events(connector) if e["type"] == "chargeback.created"]
    assert [(e["data"]["reference"], e["data"]["amount"]) for e in backs] == [("cb-1", 1_500), ("cb-1", 2_500)]  # type: ignore[index]
    assert len({e["id"] for e in backs}) == 2
    with pytest.raises(ValueError, match="disputed"):
        await connector.chargeback("cb-1", 1)
    with pytest.raises(ValueError, match="no captured charge"):
        await connector.chargeback("nope")


# --- webhook signatures -------------------------------------------------------------------------------------------


async def signed_webhook(clock: ManualClock) -> tuple[SimulatedConnector, bytes, dict[str, str]]:
    connector = quiet("sim-europa", clock)
    await connector.charge(charge_request("w-1"))
    body = connector.sent[0]
    return connector, body, {k.lower(): v for k, v in connector.signature_headers(body).items()}


async def test_a_valid_webhook_verifies_into_an_event() -> None:
    clock = ManualClock()
    connector, body, headers = await signed_webhook(clock)
    clock.advance(299)
    event = connector.verify_webhook(body, headers)
    assert (event.type, event.reference, event.amount, event.currency) == (
        WebhookType.CHARGE_SUCCEEDED, "w-1", 2_000, "EUR",
    )  # fmt: skip
    assert event.occurred_at == clock.now().replace(microsecond=0) - timedelta(seconds=299)
    assert event.psp_reference is not None
    assert event.id.startswith("evt_")


async def test_a_forged_or_tampered_webhook_is_refused() -> None:
    clock = ManualClock()
    connector, body, headers = await signed_webhook(clock)
    forged = sign(body, "whsec_guessed", int(clock.now().timestamp()))
    with pytest.raises(InvalidWebhook, match="does not match"):
        connector.verify_webhook(body, {"sim-signature": forged})
    with pytest.raises(InvalidWebhook, match="does not match"):
        connector.verify_webhook(body.replace(b"2000", b"9000"), headers)


async def test_a_stale_webhook_is_refused() -> None:
    clock = ManualClock()
    connector, body, headers = await signed_webhook(clock)
    clock.advance(301)
    with pytest.raises(InvalidWebhook, match="tolerance"):
        connector.verify_webhook(body, headers)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=123", "t=abc,v1=00", "nonsense"])
async def test_a_malformed_signature_header_is_refused(header: str | None) -> None:
    connector, body, _ = await signed_webhook(ManualClock())
    with pytest.raises(InvalidWebhook):
        connector.verify_webhook(body, {} if header is None else {"sim-signature": header})


async def test_a_well_signed_unreadable_body_is_refused() -> None:
    connector = quiet("sim-europa")
    for body in (b"not json", b'{"id": "evt_1", "type": "charge.exploded", "created": 0, "data": {}}', b"[]"):
        headers = {k.lower(): v for k, v in connector.signature_headers(body).items()}
        with pytest.raises(InvalidWebhook, match="unreadable"):
            connector.verify_webhook(body, headers)


# --- chaos in delivery --------------------------------------------------------------------------------------------


async def run_chaos(chaos: WebhookChaos, n: int = 30) -> tuple[list[str], list[str]]:
    """Charges n references; answers (emitted event ids in order, delivered event ids in order)."""
    delivered: list[str] = []
    connector: SimulatedConnector

    async def deliver(_name: str, body: bytes, headers: dict[str, str]) -> None:
        delivered.append(connector.verify_webhook(body, {k.lower(): v for k, v in headers.items()}).id)

    connector = quiet("sim-atlas", deliver=deliver, chaos=chaos)
    for i in range(n):
        await connector.charge(charge_request(f"chaos-{i}"))
    await connector.drain()
    return [json.loads(b)["id"] for b in connector.sent], delivered


async def test_chaos_duplicates_and_reorders_reproducibly() -> None:
    chaos = WebhookChaos(delay_ms=(0, 5), duplicate_rate=0.3, reorder_rate=0.2, reorder_window_ms=20, seed=7)
    emitted, delivered = await run_chaos(chaos)
    assert set(delivered) == set(emitted)  # none lost
    assert len(delivered) > len(emitted)  # some twice
    firsts = list(dict.fromkeys(delivered))
    assert firsts != emitted  # some overtaken
    _, again = await run_chaos(chaos)
    assert sorted(again) == sorted(delivered)  # the same duplicates, from the same seed


async def test_without_chaos_every_webhook_arrives_once_in_order() -> None:
    emitted, delivered = await run_chaos(WebhookChaos())
    assert delivered == emitted


async def test_a_failing_receiver_is_retried_then_given_up() -> None:
    calls: list[bytes] = []

    async def flaky(_name: str, body: bytes, _headers: dict[str, str]) -> None:
        calls.append(body)
        if len(calls) < 3:
            raise ConnectionError("receiver down")

    connector = quiet("sim-europa", deliver=flaky, chaos=WebhookChaos(retry_backoff_ms=1))
    await connector.charge(charge_request("flaky"))
    await connector.drain()
    assert len(calls) == 3
    assert connector.undelivered == 0

    async def dead(_name: str, _body: bytes, _headers: dict[str, str]) -> None:
        raise ConnectionError("receiver gone")

    connector = quiet("sim-europa", deliver=dead, chaos=WebhookChaos(retry_backoff_ms=1, max_attempts=2))
    await connector.charge(charge_request("dead"))
    await connector.drain()
    assert connector.undelivered == 1


async def test_close_cancels_pending_deliveries() -> None:
    delivered: list[bytes] = []

    async def deliver(_name: str, body: bytes, _headers: dict[str, str]) -> None:
        delivered.append(body)

    connector = quiet("sim-europa", deliver=deliver, chaos=WebhookChaos(delay_ms=(10_000, 10_000)))
    await connector.charge(charge_request("late"))
    await connector.close()
    await connector.drain()
    assert delivered == []
