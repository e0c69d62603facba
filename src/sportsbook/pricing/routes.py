"""Pricing margins over HTTP: staff (traders) read and set the margin laid on the odds feed's fair prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from sportsbook.core.errors import InvalidRequest
from sportsbook.ops.openapi import error_responses
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import require_role
from sportsbook.players.model import Principal, Role
from sportsbook.pricing.model import PricingPolicy
from sportsbook.pricing.service import InvalidMargin

router = APIRouter(tags=["pricing"])
_trader = require_role(Role.TRADER)

MarginText = Annotated[str, Field(pattern=r"^\d{1,2}(\.\d{1,4})?$", examples=["0.05"])]


class MarginOut(BaseModel):
    sport: str
    market_type: str
    margin: str


class PricingOut(BaseModel):
    """The margins in force: the default and each override per sport and market type, and the odds limits."""

    default_margin: str = Field(description="laid on a market's fair probabilities: 0.05 is a book of 105%")
    min_odds: str
    max_odds: str
    margins: list[MarginOut]


class MarginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sport: str = Field(max_length=40)
    market_type: str = Field(max_length=32)
    margin: MarginText | None = Field(description="from 0 to 0.5; null removes the override (the default applies)")


class PricingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_margin: MarginText | None = None
    margins: list[MarginIn] | None = Field(default=None, max_length=200)


def _out(policy: PricingPolicy) -> PricingOut:
    return PricingOut(
        default_margin=str(policy.default_margin),
        min_odds=str(policy.min_odds),
        max_odds=str(policy.max_odds),
        margins=[
            MarginOut(sport=sport, market_type=kind.value, margin=str(margin))
            for (sport, kind), margin in sorted(policy.overrides.items())
        ],
    )


@router.get("/api/v1/admin/pricing", response_model=PricingOut)
async def get_pricing(_staff: Principal = Depends(_trader), platform: Platform = Depends(get_platform)) -> PricingOut:
    """The pricing margins in force."""
    return _out(platform.pricing.policy)


@router.patch("/api/v1/admin/pricing", response_model=PricingOut, responses=error_responses(InvalidMargin))
async def patch_pricing(
    body: PricingPatch, staff: Principal = Depends(_trader), platform: Platform = Depends(get_platform)
) -> PricingOut:
    """Set the default margin and/or margins per sport and market type; the feed prices with them from then on."""
    if body.default_margin is None and not body.margins:
        raise InvalidRequest("send default_margin, margins or both")
    margins = {
        (m.sport, m.market_type): Decimal(m.margin) if m.margin is not None else None for m in body.margins or []
    }
    policy = await platform.pricing.update(
        staff.id,
        default_margin=Decimal(body.default_margin) if body.default_margin is not None else None,
        margins=margins,
    )
    return _out(policy)
