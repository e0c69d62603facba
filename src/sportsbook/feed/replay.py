"""`sportsbook feed replay FILE...`: recorded UOF messages run through the ingestion against the configured
database, each reported as it is applied (its type, its event, what it changed or why it was skipped). How an
operator tests a mapping before going live: the prices, markets and jobs it makes are real.

A file holds one XML message, or several: each after its own XML declaration (`<?xml ...?>`, as UOF sends
them), or one per line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from sportsbook.core.clock import Clock
from sportsbook.feed.adapter import FeedAdapter, Undecodable
from sportsbook.feed.model import FeedMessage
from sportsbook.feed.uof import UOF_MARKETS, MarketMapping, UofError, decode

_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")


def split_messages(raw: bytes) -> list[bytes]:
    """The messages of a recorded file (see the module's docstring)."""
    starts = [m.start() for m in _DECLARATION.finditer(raw)]
    if len(starts) > 1:
        bounds = [*starts[1:], len(raw)]
        head = [raw[: starts[1]]] if starts[0] > 0 and raw[: starts[0]].strip() else []
        return [m for m in head + [raw[a:b].strip() for a, b in zip(starts, bounds, strict=True)] if m]
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(lines) > 1 and not starts and all(line.startswith(b"<") and line.endswith(b">") for line in lines):
        try:
            decode(raw)
        except UofError:
            return lines
    return [raw.strip()] if raw.strip() else []


class ReplayAdapter(FeedAdapter):
    """Recorded UOF messages as a feed: decoded in order, the undecodable ones reported as such."""

    name = "replay"
    provider = "uof"

    def __init__(
        self, recorded: Iterable[tuple[str, bytes]], clock: Clock, markets: Mapping[int, MarketMapping] = UOF_MARKETS
    ) -> None:
        self.recorded = list(recorded)  # (where it came from, the message's bytes)
        self.clock = clock
        self.markets = markets

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def messages(self) -> AsyncIterator[FeedMessage | Undecodable]:
        for origin, raw in self.recorded:
            try:
                yield decode(raw)
            except UofError as exc:
                yield Undecodable(raw, str(exc), self.clock.now(), origin)

    async def request_recovery(self, producer: str, since: datetime | None, request_id: int) -> None:
        return None  # a replay has no provider to ask: its producers count as up


def recorded(paths: Sequence[Path]) -> list[tuple[str, bytes]]:
    """Each file's messages, labelled `file` or `file#n` where a file holds several."""
    found: list[tuple[str, bytes]] = []
    for path in paths:
        messages = split_messages(path.read_bytes())
        for n, message in enumerate(messages, 1):
            found.append((str(path) if len(messages) == 1 else f"{path}#{n}", message))
    return found
