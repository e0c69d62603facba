"""The simulator's feed adapter: the simulator run against a clock, tick by tick, answering recoveries, stopping when
told. A manual clock moved on by the adapter's own sleep keeps the tests from waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sportsbook.core.clock import ManualClock
from sportsbook.feed.adapter import Undecodable
from sportsbook.feed.model import Alive, FeedMessage, FixtureChange, OddsChange, SnapshotComplete
from sportsbook.feed.simulated import SimulatorAdapter
from sportsbook.feed.simulator import LIVE, PREMATCH, Simulator, SimulatorConfig

START = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
CONFIG = SimulatorConfig(seed=3, live_matches=2, prematch_matches=1, races=1)


class Ticks:
    """An adapter's sleep that moves the manual clock on instead of waiting, and stops the adapter after `limit`
    ticks."""

    def __init__(self, clock: ManualClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.count = 0
        self.adapter: SimulatorAdapter | None = None

    async def __call__(self, seconds: float) -> None:
        self.count += 1
        self.clock.advance(seconds)
        if self.count >= self.limit and self.adapter is not None:
            await self.adapter.stop()


def _adapter(limit: int, tick: float = 0.5) -> tuple[SimulatorAdapter, Ticks, ManualClock]:
    clock = ManualClock(START)
    ticks = Ticks(clock, limit)
    adapter = SimulatorAdapter(CONFIG, clock, tick=tick, sleep=ticks)
    ticks.adapter = adapter
    return adapter, ticks, clock


async def _all(adapter: SimulatorAdapter) -> list[FeedMessage | Undecodable]:
    return [message async for message in adapter.messages()]


async def test_it_yields_what_the_simulator_sends_tick_by_tick_until_stopped() -> None:
    adapter, ticks, clock = _adapter(limit=240)
    await adapter.start()
    got = await _all(adapter)
    assert ticks.count == 240
    assert clock.now() == START + timedelta(seconds=120)
    # the same simulator advanced to the same ticks' times sends the same messages
    expected: list[FeedMessage] = []
    direct = Simulator(CONFIG, START)
    for tick in range(240):
        expected += direct.advance(START + timedelta(seconds=tick * 0.5))
    assert got == expected
    assert any(isinstance(m, OddsChange) for m in got)
    assert adapter.name == "simulator"


async def test_a_recovery_is_answered_at_the_next_tick_after_its_messages() -> None:
    adapter, _, clock = _adapter(limit=1000)
    await adapter.start()
    got: list[FeedMessage | Undecodable] = []
    async for message in adapter.messages():
        got.append(message)
        if isinstance(message, SnapshotComplete):
            break
        if len(got) == 20:
            await adapter.request_recovery(LIVE, START, request_id=9)
    recovered_at = clock.now()
    snapshot_start = next(i for i, m in enumerate(got) if isinstance(m, FixtureChange) and m.timestamp > START)
    snapshot = got[snapshot_start:]
    assert snapshot[-1] == SnapshotComplete(producer=LIVE, timestamp=recovered_at, request_id=9)
    assert all(isinstance(m, FixtureChange | OddsChange | SnapshotComplete) for m in snapshot)
    assert len([m for m in snapshot if isinstance(m, FixtureChange)]) == 2  # the two matches in play
    assert all(m.timestamp == recovered_at and m.producer == LIVE for m in snapshot if not isinstance(m, Undecodable))
    # the tick's own messages come first
    assert all(m.timestamp <= recovered_at for m in got[:snapshot_start] if not isinstance(m, Undecodable))


async def test_a_recovery_of_each_producer_is_answered_in_turn() -> None:
    adapter, _, _ = _adapter(limit=1000)
    await adapter.start()
    await adapter.request_recovery(PREMATCH, None, request_id=1)
    await adapter.request_recovery(LIVE, None, request_id=2)
    completes: list[SnapshotComplete] = []
    async for message in adapter.messages():
        if isinstance(message, SnapshotComplete):
            completes.append(message)
            if len(completes) == 2:
                break
    assert [(c.producer, c.request_id) for c in completes] == [(PREMATCH, 1), (LIVE, 2)]


async def test_a_recovery_of_an_unknown_producer_is_refused() -> None:
    adapter, _, _ = _adapter(limit=1)
    with pytest.raises(ValueError, match="producer"):
        await adapter.request_recovery("ctrl", None, request_id=1)


async def test_it_must_start_before_it_sends() -> None:
    adapter, _, _ = _adapter(limit=1)
    with pytest.raises(RuntimeError, match="not started"):
        await _all(adapter)


async def test_it_starts_the_simulator_at_the_clocks_time() -> None:
    adapter, _, clock = _adapter(limit=1)
    clock.advance(42.0004)
    await adapter.start()
    assert adapter.simulator.start == START + timedelta(seconds=42)
    first = await _all(adapter)
    assert [m for m in first if isinstance(m, Alive)] == [
        Alive(producer=LIVE, timestamp=START + timedelta(seconds=42)),
        Alive(producer=PREMATCH, timestamp=START + timedelta(seconds=42)),
    ]


async def test_it_runs_on_asyncios_sleep_by_default() -> None:
    clock = ManualClock(START)
    adapter = SimulatorAdapter(CONFIG, clock, tick=0.001)
    await adapter.start()
    got = []
    async for message in adapter.messages():
        got.append(message)
        clock.advance(1)
        if len(got) == 30:
            await adapter.stop()
    assert len(got) == 30


def test_the_tick_is_positive() -> None:
    with pytest.raises(ValueError, match="tick"):
        SimulatorAdapter(CONFIG, ManualClock(START), tick=0)
