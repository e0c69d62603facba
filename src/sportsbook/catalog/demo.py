"""A demo card for `sportsbook demo`: upcoming and live football, and a race with each-way terms."""

from __future__ import annotations

from datetime import datetime, timedelta

from sportsbook.catalog.model import EventDraft, EventStatus, MarketDraft, SelectionDraft
from sportsbook.catalog.service import Catalog


def _football(home: str, away: str, start: datetime, odds: tuple[str, str, str], delay: int) -> EventDraft:
    return EventDraft(
        sport="football",
        competition="Premier League",
        name=f"{home} v {away}",
        start_time=start,
        competitors=(home, away),
        markets=[
            MarketDraft(
                "1x2",
                [SelectionDraft("home", odds[0]), SelectionDraft("draw", odds[1]), SelectionDraft("away", odds[2])],
                in_play_delay_s=delay,
            ),
            MarketDraft(
                "total",
                [SelectionDraft("over", "1.90"), SelectionDraft("under", "1.90")],
                specifiers={"total": "2.5"},
                in_play_delay_s=delay,
            ),
            MarketDraft(
                "asian_handicap",
                [SelectionDraft("home", "1.93"), SelectionDraft("away", "1.93")],
                specifiers={"hcp": "-0.25"},
                in_play_delay_s=delay,
            ),
            MarketDraft("btts", [SelectionDraft("yes", "1.80"), SelectionDraft("no", "2.00")]),
        ],
    )


async def seed_demo_card(catalog: Catalog, now: datetime) -> int:
    """Create the demo events unless the catalogue already has events; returns how many were created."""
    if catalog.events():
        return 0
    drafts = [
        _football("Arsenal", "Chelsea", now + timedelta(hours=2), ("2.50", "3.40", "2.80"), 5),
        _football("Liverpool", "Everton", now + timedelta(days=1), ("1.60", "4.00", "5.50"), 5),
        _football("Spurs", "Newcastle", now - timedelta(minutes=30), ("2.20", "3.30", "3.20"), 5),
        EventDraft(
            sport="horse_racing",
            name="3:15 Cheltenham",
            start_time=now + timedelta(hours=3),
            runners=["Red Rum", "Arkle", "Kauto Star", "Desert Orchid", "Best Mate"],
            markets=[
                MarketDraft(
                    "winner",
                    [
                        SelectionDraft(name, odds)
                        for name, odds in (
                            ("Red Rum", "3.50"),
                            ("Arkle", "4.00"),
                            ("Kauto Star", "6.00"),
                            ("Desert Orchid", "9.00"),
                            ("Best Mate", "13.00"),
                        )
                    ],
                    each_way=("1/5", 3),
                ),
            ],
        ),
    ]
    created = [await catalog.create_event(draft) for draft in drafts]
    live = next(e for e in created if e.name == "Spurs v Newcastle")
    await catalog.update_event(live.id, status=EventStatus.LIVE)
    return len(created)
