"""Thin HTTP for players and sessions: parse, call the service, shape the answer."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from sportsbook.core.errors import InvalidCursor, RateLimited
from sportsbook.core.money import InvalidCurrency
from sportsbook.ops.openapi import error_responses
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import bearer_token, current_user, require_role
from sportsbook.players.model import (
    AccountDisabled,
    AccountLocked,
    EmailTaken,
    InvalidCountry,
    InvalidCredentials,
    InvalidEmail,
    Kyc,
    PlayerNotFound,
    Principal,
    Role,
    Underage,
    WeakPassword,
)
from sportsbook.players.service import Profile, Registration
from sportsbook.wallet.routes import WalletOut

router = APIRouter(tags=["players"])

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    # Pydantic's lax date also takes Unix timestamps and datetimes; the contract says "YYYY-MM-DD".
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


class _Strict(BaseModel):
    # Unknown fields are refused everywhere, so a typo ("pasword") is a 422 rather than silently lost.
    model_config = ConfigDict(extra="forbid")


class RegistrationIn(_Strict):
    email: str = Field(min_length=1, max_length=320)
    # Short passwords pass here and get `weak_password` from the rules; the cap bounds the work per request.
    password: str = Field(min_length=1, max_length=256)
    date_of_birth: IsoDate
    country: str = Field(min_length=1, max_length=16, description="ISO 3166-1 alpha-2, e.g. GB")
    currency: str = Field(min_length=1, max_length=16, description="ISO 4217, e.g. EUR")


class PlayerOut(BaseModel):
    id: UUID
    email: str
    currency: str


class SessionIn(_Strict):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=256)
    otp: str | None = Field(default=None, max_length=16, description="Two-factor code, when asked for")


class SessionOut(BaseModel):
    token: str
    expires_at: datetime


class MeOut(BaseModel):
    id: UUID
    email: str
    role: str
    country: str | None
    currency: str | None
    date_of_birth: date | None
    created_at: datetime
    kyc_status: str | None = Field(default=None, description="A player's identity check: only `verified` may withdraw")


@router.post(
    "/api/v1/players",
    status_code=201,
    response_model=PlayerOut,
    responses=error_responses(EmailTaken, Underage, WeakPassword, InvalidEmail, InvalidCountry, InvalidCurrency),
)
async def register_player(body: RegistrationIn, platform: Platform = Depends(get_platform)) -> PlayerOut:
    """Open a player account (and its wallet in `currency`)."""
    player = await platform.players.register(
        Registration(
            email=body.email,
            password=body.password,
            date_of_birth=body.date_of_birth,
            country=body.country,
            currency=body.currency,
        )
    )
    assert player.currency is not None
    return PlayerOut(id=player.id, email=player.email, currency=player.currency)


@router.post(
    "/api/v1/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=error_responses(InvalidCredentials, AccountLocked, AccountDisabled, RateLimited),
)
async def log_in(body: SessionIn, request: Request, platform: Platform = Depends(get_platform)) -> SessionOut:
    """Log in with email and password; the token goes in `Authorization: Bearer <token>`."""
    ip = request.client.host if request.client else None
    token, expires_at = await platform.players.login(body.email, body.password, ip)
    return SessionOut(token=token, expires_at=expires_at)


@router.delete("/api/v1/sessions/current", status_code=204, response_class=Response)
async def log_out(token: str = Depends(bearer_token), platform: Platform = Depends(get_platform)) -> Response:
    """End the session of the token sent; the token stops working at once."""
    await platform.players.logout(token)
    return Response(status_code=204)


@router.get("/api/v1/me", response_model=MeOut)
async def me(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)) -> MeOut:
    """The logged-in account: a player, or a member of staff (whose role says what they may do)."""
    profile = await platform.players.profile(user.id)
    return MeOut(
        id=profile.id,
        email=profile.email,
        role=profile.role.value,
        country=profile.country,
        currency=profile.currency,
        date_of_birth=profile.date_of_birth,
        created_at=profile.created_at,
        kyc_status=profile.kyc_status.value if profile.role is Role.PLAYER else None,
    )


class KycIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Kyc


class KycOut(BaseModel):
    player_id: UUID
    kyc_status: Kyc


@router.put(
    "/api/v1/admin/players/{player_id}/kyc",
    response_model=KycOut,
    responses=error_responses(PlayerNotFound),
)
async def put_kyc(
    player_id: UUID,
    body: KycIn,
    staff: Principal = Depends(require_role(Role.PAYMENTS, Role.RISK, Role.SUPPORT)),
    platform: Platform = Depends(get_platform),
) -> KycOut:
    """Set a player's KYC status: only a `verified` player may withdraw."""
    profile = await platform.players.set_kyc(player_id, body.status, staff.id)
    return KycOut(player_id=profile.id, kyc_status=profile.kyc_status)


_PLAYER_READERS = require_role(Role.SUPPORT, Role.RISK, Role.PAYMENTS)


class StaffPlayerOut(BaseModel):
    id: UUID
    email: str
    country: str
    currency: str
    kyc_status: Kyc
    created_at: datetime


class StaffPlayersOut(BaseModel):
    items: list[StaffPlayerOut]
    next_cursor: str | None


class StaffPlayerDetailOut(StaffPlayerOut):
    date_of_birth: date
    wallet: WalletOut


def _staff_player(profile: Profile) -> StaffPlayerOut:
    assert profile.country is not None
    assert profile.currency is not None
    return StaffPlayerOut(
        id=profile.id,
        email=profile.email,
        country=profile.country,
        currency=profile.currency,
        kyc_status=profile.kyc_status,
        created_at=profile.created_at,
    )


@router.get(
    "/api/v1/admin/players",
    response_model=StaffPlayersOut,
    responses=error_responses(InvalidCursor),
)
async def get_players(
    q: Annotated[
        str | None, Query(max_length=320, description="Part of the email (any case), or the whole player id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    _staff: Principal = Depends(_PLAYER_READERS),
    platform: Platform = Depends(get_platform),
) -> StaffPlayersOut:
    """Find players (support, risk, payments staff): newest first."""
    page = await platform.players.search(q.strip() if q else None, limit, cursor)
    return StaffPlayersOut(items=[_staff_player(p) for p in page.items], next_cursor=page.next_cursor)


@router.get(
    "/api/v1/admin/players/{player_id}",
    response_model=StaffPlayerDetailOut,
    responses=error_responses(PlayerNotFound),
)
async def get_player(
    player_id: UUID,
    _staff: Principal = Depends(_PLAYER_READERS),
    platform: Platform = Depends(get_platform),
) -> StaffPlayerDetailOut:
    """One player with their wallet balances (support, risk, payments staff)."""
    detail = await platform.players.player_detail(player_id)
    profile = detail.profile
    assert profile.date_of_birth is not None
    return StaffPlayerDetailOut(
        **_staff_player(profile).model_dump(),
        date_of_birth=profile.date_of_birth,
        wallet=WalletOut.of(detail.wallet),
    )
