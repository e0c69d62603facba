"""The Stripe connector, through Stripe's own SDK, against `sportsbook psp-sim stripe` run as a real process: a
deposit, a 3-D Secure step, declines in network codes, a refund, a payout, status queries, and signed webhooks
received over HTTP (a forged or stale one refused)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sportsbook.core.clock import ManualClock, SystemClock
from sportsbook.payments.connectors.base import (
    CardData,
    CardProfile,
    ChargeRequest,
    InvalidWebhook,
    Kind,
    Outcome,
    PayoutRequest,
    RefundRequest,
    WebhookEvent,
    WebhookType,
)
from sportsbook.payments.connectors.simulated import sign
from sportsbook.payments.connectors.stripe import StripeConnector

# the SDK's HTTPX client hands its form body to httpx as `data=`, which httpx deprecates for raw strings
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

API_KEY = "sk_test_integration"
SECRET = "whsec_integration"
VISA = CardProfile(bin="42424242", last4="4242", scheme="visa", card_type="credit", prepaid=False, country="US")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """A webhook endpoint: every POST's body and lower-cased headers."""

    url: str
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, type_: str, key: str, value: str, timeout: float = 10.0) -> tuple[bytes, dict[str, str]]:
        """The first webhook of this type whose object's `key` (or metadata reference) is `value`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for body, headers in self.received:
                    event = json.loads(body)
                    obj = event["data"]["object"]
                    found = obj.get(key) if key != "reference" else obj.get("metadata", {}).get("reference")
                    if event["type"] == type_ and found == value:
                        return body, headers
            time.sleep(0.02)
        raise AssertionError(f"no {type_} webhook for {value}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def simulator(receiver: Receiver) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "sportsbook.cli", "psp-sim", "stripe", "--port", str(port), "--api-key", API_KEY,
            "--webhook-url", receiver.url, "--webhook-secret", SECRET, "--latency-scale", "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                process.kill()
                pytest.fail(f"the Stripe simulator did not start: {output}")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout:
        process.stdout.close()


def connector(base_url: str, clock: ManualClock | None = None, api_key: str = API_KEY) -> StripeConnector:
    return StripeConnector(
        api_key=api_key, webhook_secret=SECRET, base_url=base_url, timeout_s=5, clock=clock or SystemClock()
    )


def card(number: str) -> CardData:
    return CardData(number=number, expiry_month=12, expiry_year=2031, cvc="314", holder="Integration Player")


def charge(reference: str, number: str = "4242424242424242", amount: int = 2_500, **kw: object) -> ChargeRequest:
    return ChargeRequest(reference, amount, "EUR", card(number), VISA, **kw)  # type: ignore[arg-type]


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


async def test_a_deposit_is_approved_and_replayed_by_reference(simulator: str) -> None:
    stripe_ = connector(simulator)
    reference = unique("dep")
    try:
        result = await stripe_.charge(charge(reference))
        assert result.outcome is Outcome.APPROVED
        assert result.psp_reference is not None
        assert result.psp_reference.startswith("pi_")
        assert await stripe_.charge(charge(reference)) == result  # Stripe's Idempotency-Key: the same intent
        assert (await stripe_.status(Kind.CHARGE, reference)).outcome is Outcome.APPROVED
    finally:
        await stripe_.close()


async def test_a_3ds_step_then_approval_or_failure(simulator: str) -> None:
    stripe_ = connector(simulator)
    try:
        answers = ((True, Outcome.APPROVED, None), (False, Outcome.DECLINED, "authentication_failed"))
        for passed, outcome, code in answers:
            reference = unique("3ds")
            first = await stripe_.charge(charge(reference, "4000000000003220"))
            assert first.outcome is Outcome.REQUIRES_ACTION
            assert first.next_action is not None
            assert first.psp_reference is not None
            assert first.psp_reference in first.next_action.url
            done = await stripe_.complete_action(reference, first.psp_reference, passed=passed)
            assert (done.outcome, done.decline_code) == (outcome, code)
        asked = await stripe_.charge(charge(unique("ask"), three_ds=True))
        assert asked.outcome is Outcome.REQUIRES_ACTION  # request_three_d_secure=any
    finally:
        await stripe_.close()


@pytest.mark.parametrize(
    ("number", "attempt", "code", "word"),
    [
        ("4000000000009995", 1, "51", "insufficient_funds"),
        ("4100000000000019", 1, "43", "stolen_card"),
        ("4000000000000069", 1, "54", "expired_card"),
        ("4000000000000119", 1, "96", "processing_error"),
    ],
)
async def test_declines_come_back_as_network_codes(
    simulator: str, number: str, attempt: int, code: str, word: str
) -> None:
    stripe_ = connector(simulator)
    try:
        result = await stripe_.charge(charge(unique("dec"), number, attempt_number=attempt))
        assert (result.outcome, result.decline_code, result.message) == (Outcome.DECLINED, code, word)
        assert result.psp_reference is not None
    finally:
        await stripe_.close()


async def test_the_malfunction_card_passes_on_a_later_attempt(simulator: str) -> None:
    stripe_ = connector(simulator)
    try:
        result = await stripe_.charge(charge(unique("cascade"), "4000000000000119", attempt_number=2))
        assert result.outcome is Outcome.APPROVED
    finally:
        await stripe_.close()


async def test_a_refund_up_to_the_captured_amount(simulator: str) -> None:
    stripe_ = connector(simulator)
    try:
        charged = await stripe_.charge(charge(unique("ref"), amount=5_000))
        assert charged.psp_reference is not None
        first_ref = unique("rf")
        refund = await stripe_.refund(RefundRequest(first_ref, charged.psp_reference, 3_000, "EUR"))
        assert refund.outcome is Outcome.APPROVED
        assert refund.psp_reference is not None
        assert refund.psp_reference.startswith("re_")
        over = await stripe_.refund(RefundRequest(unique("rf"), charged.psp_reference, 2_001, "EUR"))
        assert (over.outcome, over.decline_code) == (Outcome.DECLINED, "13")
        assert (await stripe_.status(Kind.REFUND, first_ref)).outcome is Outcome.APPROVED
    finally:
        await stripe_.close()


async def test_a_payout_is_pending_then_paid_by_webhook(simulator: str, receiver: Receiver) -> None:
    stripe_ = connector(simulator)
    try:
        for number, type_, code in (("4242424242424242", WebhookType.PAYOUT_PAID, None),
                                    ("4000000000009995", WebhookType.PAYOUT_FAILED, "51")):  # fmt: skip
            reference = unique("po")
            result = await stripe_.payout(PayoutRequest(reference, 10_000, "EUR", card(number), VISA))
            assert result.outcome is Outcome.PENDING
            body, headers = receiver.wait_for(str(type_), "reference", reference)
            event = stripe_.verify_webhook(body, headers)
            assert (event.type, event.reference, event.amount, event.currency, event.decline_code) == (
                type_, reference, 10_000, "EUR", code,
            )  # fmt: skip
            status = await stripe_.status(Kind.PAYOUT, reference)
            assert status.outcome is (Outcome.APPROVED if code is None else Outcome.DECLINED)
    finally:
        await stripe_.close()


async def test_a_status_query_finds_what_another_process_did(simulator: str) -> None:
    made, fresh = connector(simulator), connector(simulator)  # fresh: no memory of the reference
    try:
        reference, refund_ref = unique("st"), unique("st-rf")
        charged = await made.charge(charge(reference))
        assert charged.psp_reference is not None
        await made.refund(RefundRequest(refund_ref, charged.psp_reference, 100, "EUR"))
        by_search = await fresh.status(Kind.CHARGE, reference)
        assert (by_search.outcome, by_search.psp_reference) == (Outcome.APPROVED, charged.psp_reference)
        assert (await fresh.status(Kind.REFUND, refund_ref)).outcome is Outcome.APPROVED
        assert (await fresh.status(Kind.CHARGE, unique("never"))).outcome is Outcome.NOT_FOUND
        assert (await fresh.status(Kind.PAYOUT, unique("never"))).outcome is Outcome.NOT_FOUND
    finally:
        await made.close()
        await fresh.close()


async def test_webhooks_verify_and_forgeries_are_refused(simulator: str, receiver: Receiver) -> None:
    clock = ManualClock(start=SystemClock().now())
    stripe_ = connector(simulator, clock)
    try:
        reference = unique("wh")
        charged = await stripe_.charge(charge(reference))
        body, headers = receiver.wait_for("payment_intent.succeeded", "reference", reference)
        event: WebhookEvent = stripe_.verify_webhook(body, headers)
        assert (event.type, event.reference, event.psp_reference, event.amount, event.currency) == (
            WebhookType.CHARGE_SUCCEEDED, reference, charged.psp_reference, 2_500, "EUR",
        )  # fmt: skip
        assert event.id.startswith("evt_")
        forged = {"stripe-signature": sign(body, "whsec_guessed", int(clock.now().timestamp()))}
        with pytest.raises(InvalidWebhook):
            stripe_.verify_webhook(body, forged)
        with pytest.raises(InvalidWebhook):
            stripe_.verify_webhook(body.replace(b"2500", b"9500"), headers)
        with pytest.raises(InvalidWebhook):
            stripe_.verify_webhook(body, {})
        clock.advance(301)
        with pytest.raises(InvalidWebhook, match="tolerance"):
            stripe_.verify_webhook(body, headers)
    finally:
        await stripe_.close()


async def test_a_decline_and_a_dispute_arrive_as_webhooks(simulator: str, receiver: Receiver) -> None:
    stripe_ = connector(simulator)
    try:
        declined_ref = unique("wh-dec")
        await stripe_.charge(charge(declined_ref, "4000000000009995"))
        body, headers = receiver.wait_for("payment_intent.payment_failed", "reference", declined_ref)
        failed = stripe_.verify_webhook(body, headers)
        assert (failed.type, failed.decline_code) == (WebhookType.CHARGE_FAILED, "51")

        reference = unique("cb")
        charged = await stripe_.charge(charge(reference))
        async with httpx.AsyncClient(base_url=simulator, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            answer = await http.post(f"/v1/test_helpers/payment_intents/{charged.psp_reference}/dispute")
            assert answer.status_code == 200
        body, headers = receiver.wait_for("charge.dispute.created", "payment_intent", charged.psp_reference or "")
        dispute = stripe_.verify_webhook(body, headers)
        assert (dispute.type, dispute.reference, dispute.amount) == (WebhookType.CHARGEBACK, reference, 2_500)
        # the same dispute at a node that did not make the charge: no reference of ours, the intent's id only
        elsewhere = connector(simulator).verify_webhook(body, headers)
        assert (elsewhere.type, elsewhere.reference, elsewhere.psp_reference) == (
            WebhookType.CHARGEBACK,
            "",
            charged.psp_reference,
        )
    finally:
        await stripe_.close()


async def test_a_wrong_key_is_an_error_and_no_answer_is_a_timeout(simulator: str) -> None:
    wrong = connector(simulator, api_key="sk_test_wrong")
    nobody = connector(f"http://127.0.0.1:{free_port()}")
    try:
        refused = await wrong.charge(charge(unique("key")))
        assert refused.outcome is Outcome.ERROR
        assert "AuthenticationError" in refused.message
        unknown = await nobody.charge(charge(unique("down")))
        assert unknown.outcome is Outcome.TIMEOUT  # the connector cannot tell that nothing moved
    finally:
        await wrong.close()
        await nobody.close()


async def test_the_simulator_speaks_stripes_errors(simulator: str) -> None:
    async with httpx.AsyncClient(base_url=simulator) as http:
        unauthorised = await http.post("/v1/payment_intents", data={"amount": "100"})
        assert unauthorised.status_code == 401
        assert unauthorised.json()["error"]["type"] == "invalid_request_error"
        headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": unique("idem")}
        first = await http.post("/v1/payment_methods", data={"type": "card", "card[number]": "4242424242424241"},
                                headers=headers)  # fmt: skip
        assert first.status_code == 402
        assert first.json()["error"]["code"] == "incorrect_number"
        replay = await http.post("/v1/payment_methods", data={"type": "card", "card[number]": "4242424242424241"},
                                 headers=headers)  # fmt: skip
        assert replay.headers["Idempotent-Replayed"] == "true"
        other = await http.post("/v1/payment_methods", data={"type": "card", "card[number]": "4242424242424242"},
                                headers=headers)  # fmt: skip
        assert other.json()["error"]["type"] == "idempotency_error"
