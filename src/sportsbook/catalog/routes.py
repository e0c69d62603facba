"""HTTP for the catalogue: public listings from memory, and the staff API that creates and trades events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from sportsbook.catalog.model import (
    MAX_MARKETS_PER_EVENT,
    DuplicateMarket,
    Event,
    EventClosed,
    EventDraft,
    EventNotFound,
    EventStatus,
    ExternalIdTaken,
    InvalidEvent,
    InvalidScore,
    InvalidStatusTransition,
    Market,
    MarketClosed,
    MarketDraft,
    MarketNotFound,
    MarketStatus,
    SelectionClosed,
    SelectionDraft,
    SelectionNotFound,
    SelectionStatus,
)
from sportsbook.core.errors import IdempotencyKeyReused, InvalidCursor, InvalidRequest
from sportsbook.core.markets import InvalidMarket, Score
from sportsbook.core.odds import InvalidOdds, odds_text, to_american, to_fractional
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.idempotency.service import Once, idempotency_key
from sportsbook.ops.openapi import error_responses
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import require_role
from sportsbook.players.model import Principal, Role

T = TypeVar("T")

router = APIRouter(tags=["catalog"])

_trader = require_role(Role.TRADER)


# --- answers ---


class SportOut(BaseModel):
    key: str
    name: str
    upcoming: int
    live: int


class SportsOut(BaseModel):
    items: list[SportOut]
    next_cursor: str | None


class EachWayOut(BaseModel):
    fraction: str = Field(examples=["1/5"])
    places: int


class SelectionOut(BaseModel):
    id: UUID
    outcome: str
    name: str
    odds: str = Field(description="Decimal odds", examples=["2.50"])
    odds_fractional: str = Field(examples=["3/2"])
    odds_american: str = Field(examples=["+150"])
    status: str


class MarketOut(BaseModel):
    id: UUID
    type: str
    specifiers: dict[str, str]
    status: str
    in_play_delay_s: int
    each_way: EachWayOut | None
    selections: list[SelectionOut]


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: StrictInt
    away: StrictInt


class EventOut(BaseModel):
    id: UUID
    name: str
    sport: str
    competition: str | None
    start_time: datetime
    status: str
    competitors: list[str] | None
    runners: list[str] | None
    score: ScoreBody | None
    external_ids: dict[str, str] = Field(description="the event's ids at odds feeds, by provider")
    markets: list[MarketOut]


class EventsOut(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class LimitsOut(BaseModel):
    min_stake: int
    max_stake: int
    max_payout: int
    selection_liability_limit: int
    market_liability_limit: int


class AdminMarketOut(MarketOut):
    """A market as staff see it: with its limits, version, and whether a trader holds it against the odds feed."""

    event_id: UUID
    limits: LimitsOut
    version: int
    trader_override: bool = Field(
        description="a trader's status or prices hold against the odds feed until released (trader_override: false)"
    )


class AdminEventOut(BaseModel):
    """An event as staff see it: its markets with their limits and versions."""

    id: UUID
    name: str
    sport: str
    competition: str | None
    start_time: datetime
    status: str
    competitors: list[str] | None
    runners: list[str] | None
    score: ScoreBody | None
    external_ids: dict[str, str]
    markets: list[AdminMarketOut]
    version: int


def _each_way_out(market: Market) -> EachWayOut | None:
    if market.each_way is None:
        return None
    return EachWayOut(fraction=market.each_way.text(), places=market.each_way.places)


def _selections_out(market: Market) -> list[SelectionOut]:
    return [
        SelectionOut(
            id=s.id,
            outcome=s.outcome,
            name=s.name,
            odds=odds_text(s.odds),
            odds_fractional=to_fractional(s.odds),
            odds_american=to_american(s.odds),
            status=s.status.value,
        )
        for s in market.selections
    ]


def _score_out(event: Event) -> ScoreBody | None:
    return ScoreBody(home=event.score.home, away=event.score.away) if event.score is not None else None


def market_out(market: Market) -> MarketOut:
    return MarketOut(
        id=market.id,
        type=market.type.value,
        specifiers=market.specifiers,
        status=market.status.value,
        in_play_delay_s=market.in_play_delay_s,
        each_way=_each_way_out(market),
        selections=_selections_out(market),
    )


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        name=event.name,
        sport=event.sport,
        competition=event.competition,
        start_time=event.start_time,
        status=event.status.value,
        competitors=list(event.competitors) if event.competitors is not None else None,
        runners=list(event.runners) if event.runners is not None else None,
        score=_score_out(event),
        external_ids=dict(event.external_ids),
        markets=[market_out(m) for m in event.markets],
    )


def admin_market_out(market: Market) -> AdminMarketOut:
    return AdminMarketOut(
        id=market.id,
        event_id=market.event_id,
        type=market.type.value,
        specifiers=market.specifiers,
        status=market.status.value,
        in_play_delay_s=market.in_play_delay_s,
        each_way=_each_way_out(market),
        selections=_selections_out(market),
        limits=LimitsOut(
            min_stake=market.min_stake,
            max_stake=market.max_stake,
            max_payout=market.max_payout,
            selection_liability_limit=market.selection_liability_limit,
            market_liability_limit=market.market_liability_limit,
        ),
        version=market.version,
        trader_override=market.trader_override,
    )


def admin_event_out(event: Event) -> AdminEventOut:
    return AdminEventOut(
        id=event.id,
        name=event.name,
        sport=event.sport,
        competition=event.competition,
        start_time=event.start_time,
        status=event.status.value,
        competitors=list(event.competitors) if event.competitors is not None else None,
        runners=list(event.runners) if event.runners is not None else None,
        score=_score_out(event),
        external_ids=dict(event.external_ids),
        markets=[admin_market_out(m) for m in event.markets],
        version=event.version,
    )


# --- requests ---

# A whole number JSON tools (and the Idempotency-Key's fingerprint) carry; a wider one is out of range.
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_stake: Int64 | None = None
    max_stake: Int64 | None = None
    max_payout: Int64 | None = None
    selection_liability_limit: Int64 | None = None
    market_liability_limit: Int64 | None = None

    def changes(self) -> dict[str, int]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class EachWayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fraction: str = Field(max_length=8, examples=["1/5"])
    places: Int64


class SelectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(max_length=100)
    name: str | None = Field(default=None, max_length=100)
    odds: str = Field(max_length=16, description="Decimal odds, 1.01 to 1001", examples=["1.95"])


class MarketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=32)
    specifiers: dict[str, StrictStr | Int64 | StrictFloat] = Field(default_factory=dict, examples=[{"total": "2.5"}])
    in_play_delay_s: Int64 = 0
    each_way: EachWayIn | None = None
    limits: LimitsIn | None = Field(default=None, description="Overrides of the default limits, minor units")
    selections: list[SelectionIn] = Field(max_length=200)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sport: str = Field(max_length=40, examples=["football"])
    name: str = Field(max_length=200)
    competition: str | None = Field(default=None, max_length=200)
    start_time: AwareDatetime
    competitors: list[str] | None = Field(default=None, max_length=2, description="[home, away]")
    runners: list[str] | None = Field(default=None, max_length=100)
    external_ids: dict[str, str] | None = Field(
        default=None, description='the event\'s ids at odds feeds: {"uof": "sr:match:10927088"}'
    )
    markets: list[MarketIn] = Field(max_length=MAX_MARKETS_PER_EVENT)


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["upcoming", "live", "ended", "cancelled"] | None = None
    score: ScoreBody | None = None


class SelectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID
    odds: str | None = Field(default=None, max_length=16)
    status: Literal["active", "suspended"] | None = None


class MarketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "suspended", "cancelled"] | None = None
    selections: list[SelectionPatch] | None = Field(default=None, max_length=200)
    limits: LimitsIn | None = None
    trader_override: bool | None = Field(
        default=None,
        description="false releases the market to the odds feed; a status or prices set by staff hold it (true)",
    )


# --- public ---


def _parse_id(raw: str, missing: type[Exception]) -> UUID:
    # An id that cannot exist is simply not found, like any other unknown id.
    try:
        return UUID(raw)
    except ValueError:
        raise missing() from None


def _cursor(event: Event) -> str:
    micros = int((event.start_time - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    return f"{micros}_{event.id.hex}"


def _after(cursor: str) -> tuple[datetime, UUID]:
    try:
        micros, hex_id = cursor.split("_")
        return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), UUID(hex=hex_id)
    except (ValueError, OverflowError, OSError):
        raise InvalidCursor() from None


@router.get("/api/v1/sports", response_model=SportsOut)
async def get_sports(platform: Platform = Depends(get_platform)) -> SportsOut:
    """Every sport with events, with how many are upcoming and live."""
    items = [SportOut(key=s.key, name=s.name, upcoming=s.upcoming, live=s.live) for s in platform.catalog.sports()]
    return SportsOut(items=items, next_cursor=None)


@router.get("/api/v1/events", response_model=EventsOut)
async def get_events(
    sport: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[
        Literal["upcoming", "live", "ended", "cancelled"] | None,
        Query(description="Default: upcoming and live events"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    platform: Platform = Depends(get_platform),
) -> EventsOut:
    """Events, soonest first, from memory."""
    statuses = [EventStatus(status)] if status else [EventStatus.UPCOMING, EventStatus.LIVE]
    found = platform.catalog.events(sport, statuses)
    if cursor is not None:
        after = _after(cursor)
        found = [e for e in found if (e.start_time, e.id) > after]
    page = found[:limit]
    next_cursor = _cursor(page[-1]) if len(found) > limit else None
    return EventsOut(items=[event_out(e) for e in page], next_cursor=next_cursor)


@router.get("/api/v1/events/{event_id}", response_model=EventOut, responses=error_responses(EventNotFound))
async def get_event(event_id: str, platform: Platform = Depends(get_platform)) -> EventOut:
    """One event with its markets and prices (decimal, fractional and American)."""
    return event_out(platform.catalog.event(_parse_id(event_id, EventNotFound)))


# --- staff ---


async def optional_idempotency_key(
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="Optional: a repeat with this key replays the first answer"),
    ] = None,
) -> str | None:
    """The Idempotency-Key header if sent, checked as on the routes that require one."""
    return None if key is None else await idempotency_key(key)


def _market_draft(market: MarketIn) -> MarketDraft:
    return MarketDraft(
        type=market.type,
        specifiers={k: str(v) for k, v in market.specifiers.items()},
        in_play_delay_s=market.in_play_delay_s,
        each_way=(market.each_way.fraction, market.each_way.places) if market.each_way is not None else None,
        limits=market.limits.changes() if market.limits is not None else {},
        selections=[SelectionDraft(outcome=s.outcome, odds=s.odds, name=s.name) for s in market.selections],
    )


async def _created(
    request: Request,
    body: BaseModel,
    staff: Principal,
    key: str | None,
    platform: Platform,
    use_case: Callable[[UnitOfWork], Awaitable[T]],
    render: Callable[[T], BaseModel],
) -> JSONResponse:
    """A 201 with what the use case made. With a key, it runs once under the key (scoped to the member of
    staff), and a repeat gets the first answer, refusals included."""
    if key is None:
        return JSONResponse(render(await platform.catalog.run(use_case)).model_dump(mode="json"), status_code=201)
    once = Once.of(f"user:{staff.id}", key, "POST", request.url.path, body.model_dump(mode="json"))
    status, answer = await platform.idempotency.run(
        once, use_case, lambda made: (201, render(made).model_dump(mode="json"))
    )
    return JSONResponse(answer, status_code=status)


@router.post(
    "/api/v1/admin/events",
    status_code=201,
    response_model=AdminEventOut,
    responses=error_responses(IdempotencyKeyReused, InvalidEvent, InvalidMarket, InvalidOdds, ExternalIdTaken),
)
async def post_event(
    body: EventIn,
    request: Request,
    staff: Principal = Depends(_trader),
    key: str | None = Depends(optional_idempotency_key),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """Create an upcoming event with its markets and selections (traders). With an Idempotency-Key, a
    repeat of the same request answers as the first did."""
    draft = EventDraft(
        sport=body.sport,
        name=body.name,
        competition=body.competition,
        start_time=body.start_time,
        competitors=body.competitors,
        runners=body.runners,
        external_ids=body.external_ids,
        markets=[_market_draft(m) for m in body.markets],
    )
    use_case = partial(platform.catalog.create_event_in, draft=draft)
    return await _created(request, body, staff, key, platform, use_case, admin_event_out)


@router.post(
    "/api/v1/admin/events/{event_id}/markets",
    status_code=201,
    response_model=AdminMarketOut,
    responses=error_responses(
        EventNotFound, EventClosed, DuplicateMarket, IdempotencyKeyReused, InvalidMarket, InvalidOdds
    ),
)
async def post_market(
    event_id: str,
    body: MarketIn,
    request: Request,
    staff: Principal = Depends(_trader),
    key: str | None = Depends(optional_idempotency_key),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """Add a market to an upcoming or live event (traders): the new market as staff see it. With an
    Idempotency-Key, a repeat of the same request answers as the first did."""
    draft = _market_draft(body)
    target = _parse_id(event_id, EventNotFound)
    use_case = partial(platform.catalog.add_market_in, event_id=target, draft=draft)
    return await _created(request, body, staff, key, platform, use_case, admin_market_out)


@router.get("/api/v1/admin/events/{event_id}", response_model=AdminEventOut, responses=error_responses(EventNotFound))
async def get_admin_event(
    event_id: str, _staff: Principal = Depends(_trader), platform: Platform = Depends(get_platform)
) -> AdminEventOut:
    """One event as traders see it: limits and versions included."""
    return admin_event_out(platform.catalog.event(_parse_id(event_id, EventNotFound)))


@router.patch(
    "/api/v1/admin/events/{event_id}",
    response_model=AdminEventOut,
    responses=error_responses(EventNotFound, InvalidStatusTransition, InvalidScore),
)
async def patch_event(
    event_id: str,
    body: EventPatch,
    _staff: Principal = Depends(_trader),
    platform: Platform = Depends(get_platform),
) -> AdminEventOut:
    """Move an event on (live, ended, cancelled) and/or set its score."""
    score = Score(body.score.home, body.score.away) if body.score is not None else None
    status = EventStatus(body.status) if body.status is not None else None
    event = await platform.catalog.update_event(_parse_id(event_id, EventNotFound), status=status, score=score)
    return admin_event_out(event)


@router.patch(
    "/api/v1/admin/markets/{market_id}",
    response_model=AdminMarketOut,
    responses=error_responses(
        MarketNotFound,
        SelectionNotFound,
        InvalidStatusTransition,
        MarketClosed,
        SelectionClosed,
        InvalidOdds,
        InvalidMarket,
    ),
)
async def patch_market(
    market_id: str,
    body: MarketPatch,
    _staff: Principal = Depends(_trader),
    platform: Platform = Depends(get_platform),
) -> AdminMarketOut:
    """Open, suspend or cancel a market, move its prices, suspend a selection, or change its limits. A status or
    prices set here hold against the odds feed until released with `trader_override: false`."""
    if body.status is None and not body.selections and body.limits is None and body.trader_override is None:
        raise InvalidRequest("send a status, selections, limits or trader_override")
    selections = body.selections or []
    market = await platform.catalog.update_market(
        _parse_id(market_id, MarketNotFound),
        status=MarketStatus(body.status) if body.status is not None else None,
        odds={s.id: s.odds for s in selections if s.odds is not None},
        selection_status={s.id: SelectionStatus(s.status) for s in selections if s.status is not None},
        limits=body.limits.changes() if body.limits is not None else None,
        trader_override=body.trader_override,
    )
    return admin_market_out(market)
