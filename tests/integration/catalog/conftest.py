"""Fixtures of the catalogue's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.relay import OutboxRelay

START = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
async def two_nodes(db: Database) -> AsyncIterator[tuple[Catalog, Catalog, OutboxRelay, MemoryBus]]:
    """Two nodes' catalogues on one database and one bus, with the relay driven by hand."""
    bus = MemoryBus()
    a = Catalog(db, ManualClock(START), bus, node="a")
    b = Catalog(db, ManualClock(START), bus, node="b")
    await bus.start()
    await a.start()
    await b.start()
    yield a, b, OutboxRelay(db, bus), bus
    await bus.stop()
