"""The UOF adapter through the local RabbitMQ: the simulator publishes its football as UOF's XML under UOF's routing
keys, the adapter consumes and decodes it, and the ingestion prices, scores and settles the matches."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sportsbook.app import build_platform, start_platform, stop_platform
from sportsbook.catalog.model import EventDraft
from sportsbook.config import Settings
from sportsbook.core.clock import ManualClock
from sportsbook.feed.model import BetSettlement, FixtureChange
from sportsbook.feed.service import FeedIngestion
from sportsbook.feed.simulator import Simulator, SimulatorConfig
from sportsbook.feed.uof_amqp import UofAmqpAdapter, UofPublisher
from tests.conftest import RABBITMQ_URL, require_service

CONFIG = SimulatorConfig(
    seed=5, live_matches=2, prematch_matches=0, races=0, match_seconds_per_second=120.0, replace_finished=False
)


async def test_the_simulator_over_rabbitmq_prices_and_settles_through_the_uof_adapter(sqlite_url: str) -> None:
    require_service("RabbitMQ", RABBITMQ_URL, 5672)
    start = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    clock = ManualClock(start)
    platform = build_platform(Settings(database_url=sqlite_url, log_level="WARNING", gc_freeze=False), clock)
    await start_platform(platform)
    exchange = f"unifiedfeed-test-{uuid.uuid4().hex[:8]}"
    publisher = UofPublisher(RABBITMQ_URL, exchange=exchange)
    await publisher.start()
    adapter = UofAmqpAdapter(RABBITMQ_URL, "http://127.0.0.1:9", exchange=exchange, clock=clock)
    feed = FeedIngestion(adapter, platform.db, clock, platform.catalog, platform.jobs, liveness=False)
    try:
        await feed.start()
        simulator = Simulator(CONFIG, start)
        sent = 0
        settled: set[str] = set()
        now = start
        while len(settled) < CONFIG.live_matches and now < start + timedelta(hours=1):
            batch = simulator.advance(now)
            for message in batch:
                if isinstance(message, FixtureChange) and message.fixture is not None and message.event is not None:
                    # UOF's fixture_change carries no fixture (its Sports API does): staff create the event
                    f = message.fixture
                    if platform.catalog.event_by_external_id("uof", message.event) is None:
                        await platform.catalog.create_feed_event(
                            EventDraft(f.sport, f.name, f.start_time, [], competitors=f.competitors,
                                       external_ids={"uof": message.event})
                        )  # fmt: skip
                if isinstance(message, BetSettlement) and message.event is not None:
                    settled.add(message.event)
            sent += await publisher.publish(batch)
            now += timedelta(seconds=5)
            clock.advance(5)
        assert sent > 20  # fixtures, prices, goals, bet stops and settlements of both matches
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            events = [platform.catalog.event_by_external_id("uof", e) for e in settled]
            if all(e is not None and e.status.value == "ended" and e.markets for e in events):
                markets = [m for e in events if e is not None for m in e.markets]
                if all(m.status.value == "settled" for m in markets if m.type.value == "1x2"):
                    break
        events = [platform.catalog.event_by_external_id("uof", e) for e in settled]
        assert all(e is not None and e.status.value == "ended" for e in events), events
        one_x_twos = [m for e in events if e is not None for m in e.markets if m.type.value == "1x2"]
        assert len(one_x_twos) == CONFIG.live_matches
        assert all(m.status.value == "settled" for m in one_x_twos)
        assert {s.status.value for m in one_x_twos for s in m.selections} <= {"won", "lost", "void"}
        await platform.jobs.run_pending()
        assert (await platform.ledger.reconcile()).sound
    finally:
        await feed.stop()
        await publisher.stop()
        await stop_platform(platform)
