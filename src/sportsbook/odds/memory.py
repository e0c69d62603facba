"""The in-process market channel of the embedded platform: one process is one node, so what it publishes goes
straight back to its own listeners (whose read model holds those versions already: nothing changes)."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from sportsbook.catalog.model import Market
from sportsbook.odds.channel import MarketsListener

log = structlog.get_logger(__name__)


class MemoryMarkets:
    """A MarketChannel inside one process. Nothing to connect, so it is always healthy."""

    def __init__(self) -> None:
        self._listeners: list[MarketsListener] = []

    def listen(self, listener: MarketsListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, markets: Sequence[Market]) -> None:
        for listener in self._listeners:
            try:
                listener(markets)
            except Exception:  # publishing never raises into the commit that called it
                log.exception("odds.channel_listener_failed")

    def is_healthy(self) -> bool:
        return True
