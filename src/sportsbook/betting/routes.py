"""HTTP for bets: place one, list yours, read one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from starlette.responses import Response
from starlette.types import Scope

from sportsbook.betting import refusals
from sportsbook.betting.jobs import JobStatus, SettlementJob, SettlementJobNotFound
from sportsbook.betting.model import SETTLED, UNSETTLED, Bet, BetStatus, BetType, OddsChange
from sportsbook.betting.placement import BetRequest, LegRequest
from sportsbook.betting.settlement_rules import InvalidSettlement
from sportsbook.betting.settlements import EventAlreadyResulted, MarketAlreadySettled, Outcome, SettlementNotFound
from sportsbook.catalog.model import EventNotFound, MarketNotFound
from sportsbook.core.errors import InvalidCursor, InvalidRequest
from sportsbook.core.markets import Score
from sportsbook.core.odds import InvalidOdds, odds_text, parse_odds
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.idempotency.service import Answer, Once, idempotency_key, is_idempotency_key, request_fingerprint
from sportsbook.ops.fastlane import Headers
from sportsbook.ops.http import FastJSONResponse
from sportsbook.ops.openapi import error_responses
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import bearer_token_of, current_player, player_of, require_role
from sportsbook.players.model import Principal, Role

router = APIRouter(tags=["bets"])
T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LegIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selection_id: UUID
    odds: str = Field(description='Decimal odds as seen on the slip, e.g. "1.95"', max_length=12)


class BetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["single", "multiple", "system"]
    system: str | None = Field(default=None, max_length=16)
    legs: list[LegIn] = Field(min_length=1, max_length=20)
    stake: StrictInt = Field(gt=0, le=10**15, description="Per line, in minor units")
    each_way: StrictBool = False
    odds_change: Literal["none", "higher", "any"] = "none"


class LegOut(BaseModel):
    selection_id: UUID
    market_id: UUID
    event_id: UUID
    odds: str
    result: str | None = None


class PlacedOut(BaseModel):
    id: UUID
    status: Literal["accepted", "pending", "rejected"]
    lines: int
    stake: int
    total_stake: int
    potential_return: int
    currency: str
    reject_code: str | None
    legs: list[LegOut]
    placed_at: datetime


class QuoteLegOut(BaseModel):
    selection_id: UUID
    market_id: UUID
    event_id: UUID
    odds: str


class QuoteOut(BaseModel):
    lines: int
    stake: int
    total_stake: int
    potential_return: int
    currency: str
    in_play_delay_s: int
    min_stake: int = Field(description="The smallest stake per line the slip's markets take")
    max_stake: int = Field(
        description="The largest stake per line the stake and payout limits and the liability room left take "
        "(0 when none does)"
    )
    reject_code: str | None = Field(
        description="What would refuse the slip at this stake (stake_too_low, stake_too_high, liability_exceeded), "
        "funds aside; null when it would be struck"
    )
    legs: list[QuoteLegOut]


class BetOut(BaseModel):
    id: UUID
    type: str
    system: str | None
    each_way: bool
    status: str
    stake: int
    lines: int
    total_stake: int
    potential_return: int
    currency: str
    reject_code: str | None
    legs: list[LegOut]
    placed_at: datetime
    settled_at: datetime | None
    return_: int | None = Field(alias="return", serialization_alias="return")

    model_config = ConfigDict(populate_by_name=True)


class BetsOut(BaseModel):
    items: list[BetOut]
    next_cursor: str | None


def _legs(bet: Bet) -> list[LegOut]:
    return [
        LegOut(
            selection_id=leg.selection_id,
            market_id=leg.market_id,
            event_id=leg.event_id,
            odds=odds_text(leg.odds),
            result=leg.result,
        )
        for leg in bet.legs
    ]


_PLACED_STATUS = {BetStatus.PENDING: "pending", BetStatus.REJECTED: "rejected"}  # else accepted


def _placed_json(bet: Bet) -> dict[str, Any]:
    """A placed bet as PlacedOut serialises it."""
    return {
        "id": str(bet.id),
        "status": _PLACED_STATUS.get(bet.status, "accepted"),
        "lines": bet.lines,
        "stake": bet.stake,
        "total_stake": bet.total_stake,
        "potential_return": bet.potential_return,
        "currency": bet.currency,
        "reject_code": bet.reject_code,
        "legs": [
            {
                "selection_id": str(leg.selection_id),
                "market_id": str(leg.market_id),
                "event_id": str(leg.event_id),
                "odds": odds_text(leg.odds),
                "result": leg.result,
            }
            for leg in bet.legs
        ],
        "placed_at": bet.placed_at,
    }


def _bet_out(bet: Bet) -> BetOut:
    return BetOut(
        id=bet.id,
        type=bet.type,
        system=bet.system,
        each_way=bet.each_way,
        status=bet.status.value,
        stake=bet.stake,
        lines=bet.lines,
        total_stake=bet.total_stake,
        potential_return=bet.potential_return,
        currency=bet.currency,
        reject_code=bet.reject_code,
        legs=_legs(bet),
        placed_at=bet.placed_at,
        settled_at=bet.settled_at,
        return_=bet.return_amount,
    )


@router.post(
    "/api/v1/bets",
    status_code=201,
    response_model=PlacedOut,
    responses=error_responses(*refusals.PLACEMENT),
)
async def post_bet(
    body: BetIn,
    request: Request,
    key: str = Depends(idempotency_key),
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> FastJSONResponse:
    """Place a bet. `stake` is per line; the response counts the lines (an each-way line counts twice)."""
    return await _place(platform, player, body, key, request.url.path)


async def post_bet_fast(scope: Scope, headers: Headers, body: bytes) -> Response | None:
    """post_bet through the fast lane (ops/fastlane.py), for a request it would take as it is: JSON the model
    takes, a usable Idempotency-Key and a Bearer token. None hands anything else to post_bet, so every refusal
    but the token's and the bet's own comes from the route, in its order."""
    key = headers.get(b"idempotency-key")
    token = bearer_token_of(headers.get(b"authorization"))
    if headers.get(b"content-type") != b"application/json" or not body or key is None or token is None:
        return None
    key_text = key.decode("latin-1")
    if not is_idempotency_key(key_text):
        return None
    try:
        # Straight from the bytes, no dicts first. Before the token: the route refuses a malformed body first.
        slip = BetIn.model_validate_json(body)
    except ValidationError:
        return None
    platform: Platform = scope["app"].state.platform
    player = await player_of(platform, token)
    return await _place(platform, player, slip, key_text, _BETS_PATH)


_BETS_PATH = "/api/v1/bets"


async def _place(platform: Platform, player: Principal, body: BetIn, key: str, path: str) -> FastJSONResponse:
    assert player.currency is not None
    fingerprint = request_fingerprint("POST", path, body.model_dump(mode="json"))
    bet = await platform.betting.place(player.id, player.currency, _bet_request(body), key, fingerprint)
    # Built straight to JSON (PlacedOut documents it): validating our own answer again cost every bet.
    return FastJSONResponse(_placed_json(bet), status_code=201)


@router.post(
    "/api/v1/bets/quote",
    response_model=QuoteOut,
    responses=error_responses(*refusals.PRICING),
)
async def post_quote(
    body: BetIn,
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> QuoteOut:
    """Price a bet slip without placing it: its terms now, the smallest and largest stake per line it would be
    struck at (stake and payout limits, and the liability room left on its selections), and what would refuse
    it at its own stake. Nothing is reserved, so a bet placed afterwards is checked again."""
    assert player.currency is not None
    slip = await platform.betting.quote_slip(_bet_request(body))
    terms = slip.terms
    return QuoteOut(
        lines=len(terms.lines),
        stake=terms.stake,
        total_stake=terms.total_stake,
        potential_return=terms.potential_return,
        currency=player.currency,
        in_play_delay_s=terms.delay_s,
        min_stake=slip.min_stake,
        max_stake=slip.max_stake,
        reject_code=slip.refusal,
        legs=[
            QuoteLegOut(
                selection_id=leg.selection_id, market_id=leg.market_id, event_id=leg.event_id, odds=odds_text(leg.odds)
            )
            for leg in terms.legs
        ],
    )


def _bet_request(body: BetIn) -> BetRequest:
    if (body.type == "system") != (body.system is not None):
        raise InvalidRequest("`system` is given exactly when `type` is system", code="invalid_bet")
    return BetRequest(
        type=BetType(body.type),
        system=body.system,
        legs=tuple(LegRequest(leg.selection_id, parse_odds(leg.odds)) for leg in body.legs),
        stake=body.stake,
        each_way=body.each_way,
        odds_change=OddsChange(body.odds_change),
    )


@router.get("/api/v1/bets", response_model=BetsOut, response_model_by_alias=True)
async def get_bets(
    status: Annotated[Literal["open", "settled"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> BetsOut:
    """Your bets, newest first: `open` (including pending) or `settled` (including cashed out)."""
    statuses = {"open": UNSETTLED, "settled": SETTLED, None: None}[status]
    after: tuple[datetime, UUID] | None = None
    if cursor is not None:
        # the cursor is the last bet shown: its placement time (microseconds since the epoch) and its id
        micros, _, bet_id = cursor.partition(".")
        try:
            if not micros.isdigit() or len(micros) > 18:
                raise ValueError(cursor)
            after = (_EPOCH + timedelta(microseconds=int(micros)), UUID(hex=bet_id))
        except ValueError as exc:
            raise InvalidRequest("the cursor is not one this API gave out", code="invalid_cursor") from exc
    found = await platform.betting.bets(player.id, statuses, limit + 1, after)
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        next_cursor = f"{(last.placed_at - _EPOCH) // timedelta(microseconds=1)}.{last.id.hex}"
    return BetsOut(items=[_bet_out(b) for b in page], next_cursor=next_cursor)


@router.get(
    "/api/v1/bets/{bet_id}",
    response_model=BetOut,
    response_model_by_alias=True,
    responses=error_responses(refusals.BetNotFound),
)
async def get_bet(
    bet_id: UUID, player: Principal = Depends(current_player), platform: Platform = Depends(get_platform)
) -> BetOut:
    return _bet_out(await platform.betting.bet(player.id, bet_id))


# ---- settlement, staff ----


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selection_id: UUID
    result: Literal["won", "placed", "lost", "void"]
    void_factor: Annotated[Decimal, Field(gt=0, le=1, max_digits=12)] | None = None
    dead_heat_factor: Annotated[Decimal, Field(gt=0, le=1, max_digits=12)] | None = None


class SettlementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: list[OutcomeIn] = Field(max_length=500)


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: StrictInt = Field(ge=0, le=999)
    away: StrictInt = Field(ge=0, le=999)


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: ScoreIn


class JobErrorOut(BaseModel):
    code: str
    message: str


class SettlementJobOut(BaseModel):
    """A settlement job: `report` (counts and money by outcome) once it has succeeded, `error` if it failed."""

    id: UUID
    kind: Literal["settle", "rollback", "bet_cancel"]
    market_id: UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    bets_total: int
    bets_done: int
    report: dict[str, Any] | None
    error: JobErrorOut | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SettlementJobsOut(BaseModel):
    items: list[SettlementJobOut]
    next_cursor: str | None


class NonRunnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selection_id: UUID
    odds_at_withdrawal: str = Field(max_length=12)


class NonRunnerOut(BaseModel):
    selection_id: UUID
    rule4_deduction: str = Field(description='The Tattersalls deduction in the pound, e.g. "0.25"')


class CashoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(gt=0, le=10**15)


class CashoutQuoteOut(BaseModel):
    amount: int


class CashedOutOut(BaseModel):
    status: Literal["cashed_out"]
    return_: int = Field(serialization_alias="return")


def _job_out(job: SettlementJob) -> SettlementJobOut:
    return SettlementJobOut(
        id=job.id,
        kind=job.kind.value,
        market_id=job.market_id,
        status=job.status.value,
        bets_total=job.bets_total,
        bets_done=job.bets_done,
        report=job.report,
        error=JobErrorOut(**job.error) if job.error is not None else None,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _accepted(job: SettlementJob) -> tuple[int, dict[str, Any]]:
    return 202, _job_out(job).model_dump(mode="json")


def _accepted_all(jobs: list[SettlementJob]) -> tuple[int, dict[str, Any]]:
    return 202, {"items": [_job_out(job).model_dump(mode="json") for job in jobs], "next_cursor": None}


def _job_answer(status: int, payload: dict[str, Any]) -> JSONResponse:
    """A job's 202 with its Location, or the refusal the key answered first."""
    headers = {"Location": f"/api/v1/admin/settlement-jobs/{payload['id']}"} if status == 202 else None
    return JSONResponse(payload, status_code=status, headers=headers)


_traders = require_role(Role.TRADER)


_SETTLING = (MarketNotFound, InvalidSettlement, MarketAlreadySettled)
_JOB_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": SettlementJobOut, "description": "The job, queued; `Location` is where to follow it"}
}


@router.post(
    "/api/v1/admin/markets/{market_id}/settlement",
    status_code=202,
    response_model=SettlementJobOut,
    responses={**_JOB_RESPONSES, **error_responses(*_SETTLING)},
)
async def post_settlement(
    market_id: UUID,
    body: SettlementIn,
    request: Request,
    key: str = Depends(idempotency_key),
    staff: Principal = Depends(_traders),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """Result a market (unnamed running selections lose): the market closes to bets at once and a job settles
    its bets through the ledger. A repeat of the key answers the same job."""
    outcomes = [Outcome(o.selection_id, o.result, o.void_factor, o.dead_heat_factor) for o in body.outcomes]
    use_case = partial(platform.jobs.settle_market, market_id=market_id, outcomes=outcomes)
    return _job_answer(*await _once(platform, staff, key, request, body, use_case, _accepted))


@router.delete(
    "/api/v1/admin/markets/{market_id}/settlement",
    status_code=202,
    response_model=SettlementJobOut,
    responses={**_JOB_RESPONSES, **error_responses(MarketNotFound, SettlementNotFound)},
)
async def delete_settlement(
    market_id: UUID,
    request: Request,
    key: str = Depends(idempotency_key),
    staff: Principal = Depends(_traders),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """Roll a market's settlement back: the market is suspended again at once, and a job reopens its bets and
    takes their returns back. A repeat of the key answers the same job."""
    use_case = partial(platform.jobs.rollback, market_id=market_id)
    return _job_answer(*await _once(platform, staff, key, request, None, use_case, _accepted))


@router.post(
    "/api/v1/admin/events/{event_id}/result",
    status_code=202,
    response_model=SettlementJobsOut,
    responses=error_responses(EventNotFound, InvalidSettlement, EventAlreadyResulted),
)
async def post_result(
    event_id: UUID,
    body: ResultIn,
    request: Request,
    key: str = Depends(idempotency_key),
    staff: Principal = Depends(_traders),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """End the event with its final score: every open score-based market is resulted and closes to bets at
    once, with a settlement job each. A repeat of the key answers the same jobs."""
    use_case = partial(platform.jobs.result_event, event_id=event_id, score=Score(body.score.home, body.score.away))
    status, payload = await _once(platform, staff, key, request, body, use_case, _accepted_all)
    return JSONResponse(payload, status_code=status)


@router.get(
    "/api/v1/admin/settlement-jobs/{job_id}",
    response_model=SettlementJobOut,
    responses=error_responses(SettlementJobNotFound),
)
async def get_settlement_job(
    job_id: UUID,
    _staff: Principal = Depends(require_role(Role.TRADER, Role.RISK)),
    platform: Platform = Depends(get_platform),
) -> SettlementJobOut:
    """A settlement job and its progress."""
    return _job_out(await platform.jobs.job(job_id))


@router.get(
    "/api/v1/admin/settlement-jobs",
    response_model=SettlementJobsOut,
    responses=error_responses(InvalidCursor),
)
async def get_settlement_jobs(
    status: Annotated[Literal["queued", "running", "succeeded", "failed"] | None, Query()] = None,
    market_id: Annotated[UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    _staff: Principal = Depends(require_role(Role.TRADER, Role.RISK)),
    platform: Platform = Depends(get_platform),
) -> SettlementJobsOut:
    """Settlement jobs, newest first."""
    jobs, next_cursor = await platform.jobs.jobs(JobStatus(status) if status else None, market_id, limit, cursor)
    return SettlementJobsOut(items=[_job_out(j) for j in jobs], next_cursor=next_cursor)


@router.post(
    "/api/v1/admin/markets/{market_id}/non-runners",
    status_code=201,
    response_model=NonRunnerOut,
    responses=error_responses(MarketNotFound, InvalidSettlement, InvalidOdds),
)
async def post_non_runner(
    market_id: UUID,
    body: NonRunnerIn,
    _staff: Principal = Depends(_traders),
    platform: Platform = Depends(get_platform),
) -> NonRunnerOut:
    """Withdraw a runner: its bets are void; winning bets struck before now lose its Rule 4 deduction."""
    deduction = await platform.settlements.non_runner(market_id, body.selection_id, parse_odds(body.odds_at_withdrawal))
    return NonRunnerOut(
        selection_id=body.selection_id, rule4_deduction=f"{Decimal(deduction.numerator) / deduction.denominator:.2f}"
    )


@router.get(
    "/api/v1/bets/{bet_id}/cashout",
    response_model=CashoutQuoteOut,
    responses=error_responses(refusals.BetNotFound, refusals.BetNotOpen, refusals.CashoutUnavailable),
)
async def get_cashout(
    bet_id: UUID, player: Principal = Depends(current_player), platform: Platform = Depends(get_platform)
) -> CashoutQuoteOut:
    return CashoutQuoteOut(amount=await platform.settlements.cashout_quote(player.id, bet_id))


@router.post(
    "/api/v1/bets/{bet_id}/cashout",
    response_model=CashedOutOut,
    response_model_by_alias=True,
    responses=error_responses(*refusals.CASHOUT),
)
async def post_cashout(
    bet_id: UUID,
    body: CashoutIn,
    request: Request,
    key: str = Depends(idempotency_key),
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """Close the bet for the quoted amount, or 409 `cashout_price_changed` if its value fell below it. Moves
    money, so it takes an Idempotency-Key: a repeat answers as the first did (a lost answer is safe to retry)."""

    use_case = partial(platform.settlements.cashout_in, player_id=player.id, bet_id=bet_id, amount=body.amount)
    status, payload = await _once(platform, player, key, request, body, use_case, _cashed_out)
    return JSONResponse(payload, status_code=status)


async def _once(
    platform: Platform,
    who: Principal,
    key: str,
    request: Request,
    body: BaseModel | None,
    use_case: Callable[[UnitOfWork], Awaitable[T]],
    answer: Callable[[T], Answer],
) -> Answer:
    """Run a money-moving use case at most once per (caller, Idempotency-Key), this request's method, path and
    body making its fingerprint: a replay answers what the first answered."""
    fingerprinted = body.model_dump(mode="json") if body is not None else None
    once = Once.of(f"user:{who.id}", key, request.method, request.url.path, fingerprinted)
    return await platform.idempotency.run(once, use_case, answer)


def _cashed_out(paid: int) -> tuple[int, dict[str, Any]]:
    return 200, CashedOutOut(status="cashed_out", return_=paid).model_dump(mode="json", by_alias=True)


@router.get("/api/v1/admin/liabilities")
async def get_liabilities(
    event_id: UUID,
    _staff: Principal = Depends(require_role(Role.TRADER, Role.RISK)),
    platform: Platform = Depends(get_platform),
) -> dict[str, object]:
    """What each market and selection of an event could cost the house, from the open bets."""
    event = platform.catalog.event(event_id)
    exposure = await platform.betting.exposures([m.id for m in event.markets])
    return {
        "event_id": str(event.id),
        "markets": [
            {
                "market_id": str(m.id),
                "type": m.type.value,
                "exposure": max((exposure.get(s.id, 0) for s in m.selections), default=0),
                "limit": m.market_liability_limit,
                "selections": [
                    {
                        "selection_id": str(s.id),
                        "outcome": s.outcome,
                        "exposure": exposure.get(s.id, 0),
                        "limit": m.selection_liability_limit,
                    }
                    for s in m.selections
                ],
            }
            for m in event.markets
        ],
    }


class BetCancellationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="Bets placed from this moment (inclusive), ISO 8601 UTC")
    end: datetime = Field(description="... to this moment (exclusive)")


@router.post(
    "/api/v1/admin/markets/{market_id}/bet-cancellations",
    status_code=202,
    response_model=SettlementJobOut,
    responses={**_JOB_RESPONSES, **error_responses(MarketNotFound, InvalidSettlement)},
)
async def post_bet_cancellation(
    market_id: UUID,
    body: BetCancellationIn,
    request: Request,
    key: str = Depends(idempotency_key),
    staff: Principal = Depends(_traders),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """A feed's bet cancel: legs on this market of bets placed in [start, end) are void, settled ones resettle,
    through a job; from now on a bet priced in the window is refused. A repeat of the key answers the same job."""
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise InvalidRequest("times need a zone (UTC), e.g. 2026-01-01T15:00:00Z")
    use_case = partial(platform.jobs.cancel_bets, market_id=market_id, start=body.start, end=body.end)
    return _job_answer(*await _once(platform, staff, key, request, body, use_case, _accepted))
