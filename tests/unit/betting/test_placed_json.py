"""The placement answer is built as plain data for speed; it must read exactly as the documented model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from sportsbook.betting.model import Bet
from sportsbook.betting.routes import PlacedOut, _placed_json
from sportsbook.ops.http import FastJSONResponse
from tests.unit.betting.rows import bet_row


def _bet(status: str, placed_at: datetime, legs: int, reject_code: str | None = None) -> Bet:
    odds = tuple(Decimal(o) for o in ("2.50", "1.10", "12.00")[:legs])
    kind = "single" if legs == 1 else "multiple"
    return bet_row(odds, type=kind, status=status, reject_code=reject_code, placed_at=placed_at)


@pytest.mark.parametrize(
    ("status", "placed_at", "legs", "reject_code"),
    [
        ("open", datetime(2026, 11, 24, 4, 5, 6, 123_000, tzinfo=UTC), 1, None),
        ("open", datetime(2026, 11, 24, 4, 5, 6, tzinfo=UTC), 3, None),
        ("pending", datetime(2026, 11, 24, 23, 59, 59, 999_999, tzinfo=UTC), 2, None),
        ("rejected", datetime(2026, 11, 24, 4, 5, 6, 1, tzinfo=UTC), 1, "odds_changed"),
    ],
)
def test_placed_json_reads_as_the_placed_out_model(
    status: str, placed_at: datetime, legs: int, reject_code: str | None
) -> None:
    bet = _bet(status, placed_at, legs, reject_code)
    fast = FastJSONResponse(_placed_json(bet)).body
    documented = PlacedOut.model_validate(orjson.loads(fast)).model_dump_json().encode()
    assert orjson.loads(fast) == orjson.loads(documented)
    assert fast == documented  # the same text, key order and time format included
