"""A local simulator of the part of Stripe's HTTP API that `StripeConnector` uses, to test that connector as it
talks to Stripe: form-encoded bodies with bracket keys, Bearer API keys, `Idempotency-Key` replays, Stripe's object
and error shapes, search, and webhooks signed with `Stripe-Signature`. Run it with `sportsbook psp-sim stripe`.

Its issuers are a simulated profile's (`connectors.simulated`): API.md's test cards answer as written (they are
Stripe's own test cards) and every other card follows the approval model. Stripe's decline words are sent with
the network's code beside them (`network_decline_code`, as Stripe does), from one table shared with the connector.

Beyond Stripe's API, two test helpers of ours: `POST /v1/test_helpers/payment_intents/{id}/authenticate`
(`result=pass|fail`: the cardholder's answer to a 3-D Secure challenge, which on Stripe happens on its own page)
and `POST /v1/test_helpers/payment_intents/{id}/dispute` (a cardholder's dispute). Card numbers stay in this
process's memory, as in a vault, and are never logged or sent back."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sportsbook.payments.bins import BinTable
from sportsbook.payments.connectors.base import CardProfile
from sportsbook.payments.connectors.simulated import (
    AUTHENTICATION_FAILED,
    PROFILES,
    Authorisation,
    SimProfile,
    decide_charge,
    decide_payout,
    sample_latency,
    sign,
)
from sportsbook.payments.stripe_codes import network_to_stripe

log = structlog.get_logger(__name__)

Json = dict[str, Any]
Handler = Callable[[Request, Json], Awaitable[Response]]


class StripeApiError(Exception):
    """An error answered in Stripe's shape: `{"error": {...}}` with its HTTP status."""

    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {"error": {"type": type_, "message": message, **extra}}


def nest(pairs: list[tuple[str, str]]) -> Json:
    """Stripe's form encoding (`a[b][c]=v`, `l[0]=v`) as nested dicts (list indices become dict keys)."""
    root: Json = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    if len(digits) < 12 or len(digits) != len(number):
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@dataclass
class _Card:
    """A card the simulator holds (a PaymentMethod, or a card from a token)."""

    number: str  # kept in memory only: never logged, never answered
    profile: CardProfile
    exp_month: int
    exp_year: int

    def public(self) -> Json:
        return {
            "brand": self.profile.scheme or "unknown",
            "last4": self.profile.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "funding": "prepaid" if self.profile.prepaid else (self.profile.card_type or "unknown"),
            "country": self.profile.country,
        }


@dataclass
class StripeSimulator:
    """The simulator's state and its HTTP API."""

    api_key: str
    webhook_url: str | None = None
    webhook_secret: str = "whsec_simulated"
    profile: SimProfile = field(default_factory=lambda: PROFILES["sim-atlas"])
    latency_scale: float = 0.0
    public_url: str = "http://127.0.0.1"
    bins: BinTable = field(default_factory=BinTable.shipped)
    objects: dict[str, Json] = field(default_factory=dict)
    cards: dict[str, _Card] = field(default_factory=dict)
    pending: dict[str, Authorisation] = field(default_factory=dict)  # a challenged intent's answer once passed
    idempotent: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)  # keys whose first request is still running
    events: list[Json] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _http: httpx.AsyncClient | None = None

    # -- the ASGI app

    def app(self) -> Starlette:
        def route(path: str, handler: Handler, method: str) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._handle(request, handler)

            return Route(path, endpoint, methods=[method])

        return Starlette(
            routes=[
                route("/v1/payment_methods", self.create_payment_method, "POST"),
                route("/v1/payment_intents", self.create_payment_intent, "POST"),
                route("/v1/payment_intents/search", self.search_payment_intents, "GET"),
                route("/v1/payment_intents/{id}", self.retrieve, "GET"),
                route("/v1/test_helpers/payment_intents/{id}/authenticate", self.authenticate, "POST"),
                route("/v1/test_helpers/payment_intents/{id}/dispute", self.dispute, "POST"),
                route("/v1/refunds", self.create_refund, "POST"),
                route("/v1/refunds", self.list_refunds, "GET"),
                route("/v1/refunds/{id}", self.retrieve, "GET"),
                route("/v1/tokens", self.create_token, "POST"),
                route("/v1/payouts", self.create_payout, "POST"),
                route("/v1/payouts", self.list_payouts, "GET"),
                route("/v1/payouts/{id}", self.retrieve, "GET"),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        yield
        await self.close()

    async def _handle(self, request: Request, handler: Handler) -> Response:
        request_id = f"req_{next(self._ids):012d}"
        try:
            self._authenticate(request)
            body = await request.body()
            params = nest(parse_qsl(body.decode(), keep_blank_values=True) + list(request.query_params.multi_items()))
            key = request.headers.get("idempotency-key")
            if request.method == "POST" and key is not None:
                fingerprint = hashlib.sha256(request.url.path.encode() + b"\x1f" + body).hexdigest()
                replay = self.idempotent.get(key)
                if replay is not None:
                    if replay[0] != fingerprint:
                        raise StripeApiError(
                            400, "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were first "
                            "used with.",
                        )  # fmt: skip
                    return Response(
                        replay[2], replay[1], media_type="application/json",
                        headers={"Request-Id": request_id, "Idempotent-Replayed": "true"},
                    )  # fmt: skip
                if key in self.in_flight:
                    raise StripeApiError(
                        409, "idempotency_error",
                        "There is currently another in-progress request using this Idempotent Key.",
                        code="idempotency_key_in_use",
                    )  # fmt: skip
                self.in_flight.add(key)
            try:
                response = await handler(request, params)
            except StripeApiError as exc:
                response = JSONResponse(exc.body, exc.status)
            finally:
                if key is not None:
                    self.in_flight.discard(key)
            if request.method == "POST" and key is not None and response.status_code < 500:
                self.idempotent[key] = (fingerprint, response.status_code, bytes(response.body))
        except StripeApiError as exc:
            response = JSONResponse(exc.body, exc.status)
        response.headers["Request-Id"] = request_id
        return response

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise StripeApiError(
                401, "invalid_request_error", "You did not provide an API key. Provide it as a Bearer token."
            )
        if not hashlib.sha256(token.encode()).digest() == hashlib.sha256(self.api_key.encode()).digest():
            raise StripeApiError(401, "invalid_request_error", f"Invalid API Key provided: {token[:7]}***")

    # -- objects

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{hashlib.sha256(f'{prefix}{next(self._ids)}{id(self)}'.encode()).hexdigest()[:24]}"

    def _get(self, id_: str, object_: str | None = None) -> Json:
        found = self.objects.get(id_)
        if found is None or (object_ is not None and found["object"] != object_):
            raise StripeApiError(
                404, "invalid_request_error", f"No such {object_ or 'object'}: '{id_}'", code="resource_missing",
                param="id",
            )  # fmt: skip
        return found

    def _card(self, data: Json) -> _Card:
        number = str(data.get("number", "")).replace(" ", "")
        if not luhn_valid(number):
            raise StripeApiError(
                402, "card_error", "Your card number is incorrect.", code="incorrect_number", param="number"
            )
        info = self.bins.lookup(number)
        profile = CardProfile(
            bin=number[:8] if len(number) >= 16 else number[:6], last4=number[-4:],
            scheme=(info.scheme if info and info.scheme else _scheme(number)),
            card_type=info.card_type if info else None, prepaid=bool(info and info.prepaid),
            country=info.country if info else None,
        )  # fmt: skip
        return _Card(number, profile, int(data.get("exp_month", 0) or 0), int(data.get("exp_year", 0) or 0))

    @staticmethod
    def _amount(params: Json) -> int:
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError) as exc:
            raise StripeApiError(
                400, "invalid_request_error", "Missing or invalid amount.", code="parameter_missing", param="amount"
            ) from exc
        if amount <= 0:
            raise StripeApiError(400, "invalid_request_error", "Invalid positive integer", param="amount")
        return amount

    # -- payment methods and intents

    async def create_payment_method(self, request: Request, params: Json) -> Response:
        if params.get("type") != "card":
            raise StripeApiError(400, "invalid_request_error", "This simulator takes card payment methods only.")
        card = self._card(params.get("card", {}))
        pm_id = self._id("pm")
        self.cards[pm_id] = card
        return JSONResponse({"id": pm_id, "object": "payment_method", "type": "card", "card": card.public()})

    async def create_payment_intent(self, request: Request, params: Json) -> Response:
        amount = self._amount(params)
        currency = str(params.get("currency", "")).lower()
        card = self.cards.get(str(params.get("payment_method", "")))
        if card is None:
            raise StripeApiError(
                400, "invalid_request_error", "No such PaymentMethod.", code="resource_missing",
                param="payment_method",
            )  # fmt: skip
        if params.get("confirm") != "true":
            raise StripeApiError(400, "invalid_request_error", "This simulator creates confirmed intents only.")
        metadata = {str(k): str(v) for k, v in params.get("metadata", {}).items()}
        pi_id = self._id("pi")
        requested = params.get("payment_method_options", {}).get("card", {}).get("request_three_d_secure")
        decision = decide_charge(
            self.profile,
            reference=metadata.get("reference", pi_id),
            number=card.number,
            card=card.profile,
            amount=amount,
            three_ds=requested in ("any", "challenge"),
            attempt_number=int(metadata.get("attempt_number", "1")),
        )
        await asyncio.sleep(sample_latency(self.profile, pi_id) * self.latency_scale / 1000)
        intent: Json = {
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_received": 0, "currency": currency,
            "status": "processing", "metadata": metadata, "created": int(time.time()), "livemode": False,
            "capture_method": "automatic", "confirmation_method": "automatic",
            "client_secret": f"{pi_id}_secret_{self._id('s')[2:]}", "payment_method": params["payment_method"],
            "latest_charge": None, "last_payment_error": None, "next_action": None,
            "return_url": params.get("return_url"),
        }  # fmt: skip
        self.objects[pi_id] = intent
        if decision.challenge:
            self.pending[pi_id] = decision.authorisation
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": f"{self.public_url}/3ds/{pi_id}", "return_url": params.get("return_url")},
            }
            return JSONResponse(intent)
        return self._authorise(intent, decision.authorisation)

    def _authorise(self, intent: Json, answer: Authorisation) -> Response:
        """Apply an issuer's answer to an intent: a charge succeeds, or a card error answers 402."""
        charge_id = self._id("ch")
        intent["latest_charge"] = charge_id
        intent["next_action"] = None
        if answer.approved:
            intent.update(status="succeeded", amount_received=intent["amount"])
            self.objects[charge_id] = {
                "id": charge_id, "object": "charge", "payment_intent": intent["id"], "amount": intent["amount"],
                "amount_refunded": 0, "status": "succeeded",
            }  # fmt: skip
            self._emit("payment_intent.succeeded", intent)
            return JSONResponse(intent)
        error = _card_error(answer, charge_id)
        intent.update(status="requires_payment_method", last_payment_error=error)
        self._emit("payment_intent.payment_failed", intent)
        return JSONResponse({"error": {**error, "payment_intent": intent}}, 402)

    async def retrieve(self, request: Request, params: Json) -> Response:
        return JSONResponse(self._get(request.path_params["id"]))

    async def search_payment_intents(self, request: Request, params: Json) -> Response:
        query = str(params.get("query", ""))
        match = re.fullmatch(r"\s*metadata\[['\"](\w+)['\"]\]\s*:\s*['\"]([^'\"]*)['\"]\s*", query)
        if match is None:
            raise StripeApiError(
                400, "invalid_request_error", "This simulator searches by one metadata key.", param="query"
            )
        key, value = match.groups()
        found = [
            o for o in self.objects.values() if o["object"] == "payment_intent" and o["metadata"].get(key) == value
        ]
        found.sort(key=lambda o: o["created"], reverse=True)
        return JSONResponse(
            {"object": "search_result", "data": found, "has_more": False, "next_page": None,
             "url": "/v1/payment_intents/search", "total_count": len(found)}
        )  # fmt: skip

    async def authenticate(self, request: Request, params: Json) -> Response:
        intent = self._get(request.path_params["id"], "payment_intent")
        if intent["status"] != "requires_action":
            return JSONResponse(intent)
        answer = self.pending.pop(intent["id"])
        if params.get("result") == "pass":
            response = self._authorise(intent, answer)
            return JSONResponse(intent) if response.status_code == 402 else response
        intent.update(
            status="requires_payment_method", next_action=None,
            last_payment_error={
                "type": "card_error", "code": "payment_intent_authentication_failure",
                "message": "The provided PaymentMethod has failed authentication.",
                "network_decline_code": AUTHENTICATION_FAILED,
            },
        )  # fmt: skip
        self._emit("payment_intent.payment_failed", intent)
        return JSONResponse(intent)

    async def dispute(self, request: Request, params: Json) -> Response:
        intent = self._get(request.path_params["id"], "payment_intent")
        if intent["status"] != "succeeded":
            raise StripeApiError(400, "invalid_request_error", "Only a succeeded payment can be disputed.")
        amount = int(params.get("amount") or intent["amount"])
        dispute = {
            "id": self._id("dp"), "object": "dispute", "amount": amount, "currency": intent["currency"],
            "charge": intent["latest_charge"], "payment_intent": intent["id"], "reason": "fraudulent",
            "status": "needs_response", "metadata": {}, "created": int(time.time()),
        }  # fmt: skip
        self.objects[dispute["id"]] = dispute
        self._emit("charge.dispute.created", dispute)
        return JSONResponse(dispute)

    # -- refunds

    async def create_refund(self, request: Request, params: Json) -> Response:
        intent = self._get(str(params.get("payment_intent", "")), "payment_intent")
        if intent["status"] != "succeeded":
            raise StripeApiError(
                400, "invalid_request_error", "This PaymentIntent has no successful charge to refund.",
                code="charge_not_refundable",
            )  # fmt: skip
        charge = self.objects[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        amount = self._amount(params) if "amount" in params else left
        if left == 0:
            raise StripeApiError(
                400, "invalid_request_error", f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )  # fmt: skip
        if amount > left:
            raise StripeApiError(
                400, "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large", param="amount",
            )  # fmt: skip
        charge["amount_refunded"] += amount
        refund = {
            "id": self._id("re"), "object": "refund", "amount": amount, "currency": intent["currency"],
            "payment_intent": intent["id"], "charge": charge["id"], "status": "succeeded",
            "metadata": {str(k): str(v) for k, v in params.get("metadata", {}).items()}, "created": int(time.time()),
        }  # fmt: skip
        self.objects[refund["id"]] = refund
        self._emit("refund.created", refund)
        return JSONResponse(refund)

    async def list_refunds(self, request: Request, params: Json) -> Response:
        return self._list("refund", params, lambda o: params.get("payment_intent") in (None, o["payment_intent"]))

    # -- payouts

    async def create_token(self, request: Request, params: Json) -> Response:
        card = self._card(params.get("card", {}))
        card_id = self._id("card")
        self.cards[card_id] = card
        token = {"id": self._id("tok"), "object": "token", "type": "card", "used": False,
                 "card": {"id": card_id, "object": "card", **card.public()}}  # fmt: skip
        return JSONResponse(token)

    async def create_payout(self, request: Request, params: Json) -> Response:
        amount = self._amount(params)
        destination = str(params.get("destination", ""))
        card = self.cards.get(destination)
        if card is None or not destination.startswith("card_"):
            raise StripeApiError(
                400, "invalid_request_error", f"No such external account: '{destination}'", code="resource_missing",
                param="destination",
            )  # fmt: skip
        metadata = {str(k): str(v) for k, v in params.get("metadata", {}).items()}
        payout = {
            "id": self._id("po"), "object": "payout", "amount": amount, "currency": str(params.get("currency", "")),
            "method": params.get("method", "standard"), "destination": destination, "status": "pending",
            "metadata": metadata, "failure_code": None, "failure_message": None, "created": int(time.time()),
            "arrival_date": int(time.time()), "type": "card",
        }  # fmt: skip
        self.objects[payout["id"]] = payout
        answer = decide_payout(self.profile, reference=metadata.get("reference", payout["id"]), number=card.number)
        response = JSONResponse(payout)  # rendered now: the answer says pending
        # the simulator settles at once; the result goes out by webhook and shows on a later retrieve
        if answer.approved:
            payout["status"] = "paid"
            self._emit("payout.paid", payout)
        else:
            code = network_to_stripe(answer.decline_code)
            payout.update(status="failed", failure_code=code, failure_message=f"The payout failed: {code}.")
            self._emit("payout.failed", payout)
        return response

    async def list_payouts(self, request: Request, params: Json) -> Response:
        return self._list("payout", params, lambda o: True)

    def _list(self, object_: str, params: Json, keep: Callable[[Json], bool]) -> Response:
        limit = max(1, min(100, int(params.get("limit", 10))))
        found = [o for o in reversed(self.objects.values()) if o["object"] == object_ and keep(o)]
        return JSONResponse(
            {"object": "list", "data": found[:limit], "has_more": len(found) > limit, "url": f"/v1/{object_}s"}
        )

    # -- webhooks

    def _emit(self, type_: str, obj: Json) -> None:
        event = {
            "id": self._id("evt"), "object": "event", "api_version": "2025-01-27.acacia", "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": type_,
        }  # fmt: skip
        self.events.append(event)
        if self.webhook_url:
            task = asyncio.get_running_loop().create_task(self._deliver(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: Json, attempts: int = 5) -> None:
        assert self.webhook_url is not None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        body = json.dumps(event).encode()
        for attempt in range(attempts):
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(body, self.webhook_secret, int(time.time())),
            }
            try:
                response = await self._http.post(self.webhook_url, content=body, headers=headers)
                if response.status_code < 300:
                    return
                log.warning("webhook refused", event=event["id"], status=response.status_code)
            except httpx.HTTPError as exc:
                log.warning("webhook delivery failed", event=event["id"], error=repr(exc))
            await asyncio.sleep(0.2 * 2**attempt)
        log.error("webhook given up", event=event["id"])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()


def _scheme(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


def _card_error(answer: Authorisation, charge_id: str) -> Json:
    """Stripe's card error for an issuer's decline, with the network's code beside Stripe's word."""
    word = network_to_stripe(answer.decline_code)
    code = {"expired_card": "expired_card", "incorrect_number": "incorrect_number",
            "processing_error": "processing_error"}.get(word, "card_declined")  # fmt: skip
    error: Json = {
        "type": "card_error", "code": code, "decline_code": word, "charge": charge_id,
        "message": "Your card was declined." if code == "card_declined" else f"Your card was declined: {word}.",
        "network_decline_code": answer.decline_code, "doc_url": f"https://stripe.com/docs/error-codes/{code}",
    }  # fmt: skip
    if answer.advice_code is not None:
        error["network_advice_code"] = answer.advice_code
    return error
