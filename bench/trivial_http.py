"""The HTTP bench's baseline: a FastAPI app whose `POST /api/v1/bets` parses the same bet body (the bet route's own
pydantic model) and the same two headers (Authorization, Idempotency-Key), then answers 201 at once, without
authenticating, pricing or storing anything; `POST /api/v1/deposits` does the same with the deposit route's body
(the payments bench's baseline), answering a succeeded payment's shape without charging or storing anything.
Served as `sportsbook serve` serves the platform: uvicorn with uvloop and httptools, one worker process, no access
log. What it answers per second under the bench's load is what FastAPI and uvicorn themselves cost on this
machine, so the real route's rate is read as a ratio to it.

Run: `python -m bench.trivial_http --port N` (the HTTP bench starts it on a free 127.0.0.1 port)."""

from __future__ import annotations

import argparse
from typing import Annotated, Any

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

from sportsbook.betting.routes import BetIn
from sportsbook.ops.http import FastJSONResponse
from sportsbook.payments.routes import PaymentIn


def create_app() -> FastAPI:
    app = FastAPI(title="Sportsbook HTTP baseline", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/api/v1/bets", status_code=201)
    async def post_bet(
        body: BetIn,
        authorization: Annotated[str, Header()],
        idempotency_key: Annotated[str, Header(min_length=1, max_length=255)],
    ) -> JSONResponse:
        """Parse, then answer as the real route does (orjson, 201), with what was parsed."""
        if not authorization.startswith("Bearer "):
            return FastJSONResponse({"error": {"code": "unauthorized", "message": "no bearer token"}}, status_code=401)
        return FastJSONResponse(answer(body, idempotency_key), status_code=201)

    @app.post("/api/v1/deposits", status_code=201)
    async def post_deposit(
        body: PaymentIn,
        authorization: Annotated[str, Header()],
        idempotency_key: Annotated[str, Header(min_length=1, max_length=255)],
    ) -> JSONResponse:
        """Parse, then answer as the real route does (orjson, 201) with a succeeded payment's shape."""
        if not authorization.startswith("Bearer "):
            return FastJSONResponse({"error": {"code": "unauthorized", "message": "no bearer token"}}, status_code=401)
        return FastJSONResponse(deposit_answer(body, idempotency_key), status_code=201)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def answer(body: BetIn, key: str) -> dict[str, Any]:
    """A placed bet's shape, made from the request alone."""
    return {
        "id": key,
        "status": "accepted",
        "lines": 1,
        "stake": body.stake,
        "total_stake": body.stake,
        "legs": [{"selection_id": str(leg.selection_id), "odds": leg.odds} for leg in body.legs],
    }


def deposit_answer(body: PaymentIn, key: str) -> dict[str, Any]:
    """A succeeded deposit's shape (the fields of the real route's answer), made from the request alone."""
    digits = "".join(ch for ch in body.card.number if ch.isdigit())
    return {
        "id": key,
        "direction": "deposit",
        "status": "succeeded",
        "amount": body.amount,
        "currency": body.currency,
        "connector": "trivial",
        "decline_code": None,
        "attempts": [{"connector": "trivial", "outcome": "approved", "decline_code": None}],
        "card": {
            "bin": digits[:6],
            "last4": digits[-4:],
            "scheme": "visa",
            "card_type": None,
            "prepaid": False,
            "country": None,
        },
        "next_action": None,
        "parent_id": None,
        "refunded": 0,
    }


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
