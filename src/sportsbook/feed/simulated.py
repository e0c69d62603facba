"""The simulator's feed adapter: the odds feed simulator (`feed.simulator`) run in process against a clock, so the
platform consumes it exactly as it consumes a provider's feed.

Every `tick` it advances the simulator to the clock's time and yields what came due; a recovery asked for is
answered at the next tick, after that tick's messages, with the simulator's snapshot of the producer (every open
event's fixture and current odds, then `snapshot_complete`). The snapshot resends the whole current state, which
covers whatever was sent after the time the recovery asks from."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime

from sportsbook.core.clock import Clock
from sportsbook.feed.adapter import FeedAdapter, Undecodable
from sportsbook.feed.model import FeedMessage
from sportsbook.feed.simulator import LIVE, PREMATCH, SIMULATOR_MARKETS, Simulator, SimulatorConfig
from sportsbook.feed.uof import MarketMapping

DEFAULT_TICK = 0.2  # seconds


class SimulatorAdapter(FeedAdapter):
    """The simulator as a feed. `sleep` waits between ticks (asyncio's by default; a test passes one that moves a
    manual clock on instead). The simulator starts at the clock's time when the adapter starts."""

    name = "simulator"
    provider = "simulator"  # its event ids are its own, not a provider's: kept apart from real UOF ids
    markets: Mapping[int, MarketMapping] = SIMULATOR_MARKETS

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Clock,
        *,
        tick: float = DEFAULT_TICK,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not tick > 0:
            raise ValueError("the tick is a positive number of seconds")
        self._config = config
        self._clock = clock
        self._tick = tick
        self._sleep = sleep
        self._simulator: Simulator | None = None
        self._recoveries: deque[tuple[str, int]] = deque()
        self._stopped = False

    @property
    def simulator(self) -> Simulator:
        """The simulator being run (after `start`)."""
        if self._simulator is None:
            raise RuntimeError("the simulator adapter has not started")
        return self._simulator

    async def start(self) -> None:
        if self._simulator is None:
            self._simulator = Simulator(self._config, self._clock.now())
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True

    async def messages(self) -> AsyncIterator[FeedMessage | Undecodable]:
        simulator = self.simulator
        while not self._stopped:
            now = self._clock.now()
            batch = simulator.advance(now)
            while self._recoveries:
                producer, request_id = self._recoveries.popleft()
                batch.extend(simulator.snapshot(producer, request_id, now))
            for message in batch:
                if self._stopped:
                    return
                yield message
            await self._sleep(self._tick)

    async def request_recovery(self, producer: str, since: datetime | None, request_id: int) -> None:
        """Queue a snapshot of `producer` for the next tick. `since` is not needed: the snapshot is the whole
        current state."""
        if producer not in (LIVE, PREMATCH):
            raise ValueError(f"the simulator has no producer {producer!r}")
        self._recoveries.append((producer, request_id))
