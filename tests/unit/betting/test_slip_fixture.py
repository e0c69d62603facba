"""The web bet slip's arithmetic fixture (web/src/slip/quotes.fixture.json), computed by the platform's own bet
terms: the line expansion and potential return that `placement.price` (behind `POST /api/v1/bets/quote`) uses.

The web app's Vitest suite (web/src/slip/math.test.ts) checks its TypeScript arithmetic against this file, so the
slip shows what the platform will quote. This test asserts the committed fixture is what the platform computes
now; run it with SPORTSBOOK_WRITE_FIXTURES=1 to rewrite the fixture after a deliberate change.
"""

from __future__ import annotations

import json
import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sportsbook.betting.model import SYSTEMS, BetType, LegSpec, expand_lines, potential_return
from sportsbook.core.markets import EachWayTerms

FIXTURE = Path(__file__).resolve().parents[3] / "web" / "src" / "slip" / "quotes.fixture.json"

ODDS = ["1.95", "2.375", "11.0", "1.01", "3.40", "2.10", "5.50", "1.333", "7.25", "101.0"]
STAKES = [1, 150, 333]


def _leg(i: int, odds: str, each_way: str | None) -> LegSpec:
    terms = EachWayTerms.parse(each_way, 3) if each_way is not None else None
    ns = uuid.UUID(int=i + 1)
    return LegSpec(ns, uuid.uuid5(ns, "event"), uuid.uuid5(ns, "market"), Decimal(odds), terms)


def _slips() -> list[dict[str, Any]]:
    """Every bet type (singles, multiple, each named system, K/N) without and with each-way, at several stakes."""
    shapes: list[tuple[str, str | None, int]] = [
        ("single", None, 1),
        ("single", None, 3),
        ("multiple", None, 2),
        ("multiple", None, 5),
    ]
    shapes += [("system", name, size) for name, (size, _) in SYSTEMS.items()]
    shapes += [("system", "2/4", 4), ("system", "3/5", 5), ("system", "1/3", 3)]
    slips: list[dict[str, Any]] = []
    for n, (kind, system, size) in enumerate(shapes):
        for each_way in (None, "1/5", "1/4"):
            if each_way == "1/4" and kind == "system" and system not in ("yankee", "2/4"):
                continue  # one other fraction is enough for the systems
            for stake in STAKES:
                odds = [ODDS[(n + i) % len(ODDS)] for i in range(size)]
                slips.append(
                    {
                        "type": kind,
                        "system": system,
                        "each_way": each_way,
                        "stake": stake,
                        "odds": odds,
                    }
                )
    return slips


def _quote(slip: dict[str, Any]) -> dict[str, Any]:
    each_way: str | None = slip["each_way"]
    legs = [_leg(i, odds, each_way) for i, odds in enumerate(slip["odds"])]
    lines = expand_lines(BetType(slip["type"]), slip["system"], len(legs), each_way is not None)
    stake: int = slip["stake"]
    return {
        **slip,
        "lines": len(lines),
        "total_stake": stake * len(lines),
        "potential_return": potential_return(lines, legs, stake),
    }


def test_the_slip_fixture_is_the_platforms_own_arithmetic() -> None:
    expected = [_quote(slip) for slip in _slips()]
    text = json.dumps(expected, indent=1) + "\n"
    if os.environ.get("SPORTSBOOK_WRITE_FIXTURES") == "1":
        FIXTURE.write_text(text, encoding="utf-8")
    assert json.loads(FIXTURE.read_text(encoding="utf-8")) == expected
