"""A stored bet for unit tests: an open single of 1,000 at 2.50 unless told otherwise."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sportsbook.betting.model import Bet, BetStatus, Leg

_DEFAULT = Bet(
    id=uuid.UUID(int=0),
    player_id=uuid.UUID(int=0),
    currency="EUR",
    type="single",
    system=None,
    each_way=False,
    odds_change="none",
    stake=1_000,
    lines=1,
    total_stake=1_000,
    potential_return=2_500,
    status=BetStatus.OPEN,
    reject_code=None,
    return_amount=None,
    request_hash="h",
    placed_at=datetime(2026, 11, 24, tzinfo=UTC),
    accept_at=None,
    settled_at=None,
    stake_transfer_id=uuid.UUID(int=0),
    legs=(),
)


def bet_row(odds: tuple[Decimal, ...] = (Decimal("2.50"),), **fields: Any) -> Bet:
    """A bet with fresh ids and one leg per price in `odds` (each on a market of its own), else as `fields`
    say; `legs` given in `fields` wins over `odds`."""
    legs = tuple(Leg(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), price, None, None) for price in odds)
    fresh = {"id": uuid.uuid4(), "player_id": uuid.uuid4(), "stake_transfer_id": uuid.uuid4(), "legs": legs}
    return replace(_DEFAULT, **{**fresh, **fields})
