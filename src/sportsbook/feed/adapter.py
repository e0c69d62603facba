"""The interface a provider's feed adapter implements: the simulator's own, UOF's over AMQP, an operator's.

An adapter owns the connection to its provider and its wire format. It yields decoded messages (`feed.model`)
in the order it receives them; a message it cannot decode it reports as `Undecodable`, with the raw bytes kept
for inspection, and goes on: a malformed message never stops the feed. It asks its provider for a recovery
when the ingestion says so (`Recover`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sportsbook.feed.model import FeedMessage
from sportsbook.feed.uof import MarketMapping


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A message the adapter could not decode, or of a type it does not know: counted, logged, kept, skipped."""

    raw: bytes
    reason: str
    received_at: datetime
    routing_key: str = ""


class FeedAdapter(ABC):
    """A provider's feed. `start` connects, `messages` yields what arrives until `stop`, `request_recovery`
    asks the provider to resend a producer's messages after a time (None: everything it holds).

    `name` names the adapter (what it last processed is kept under it); `provider` is the key of the events'
    `external_ids` its messages name events by (`uof`); `markets` maps its market ids to ours."""

    name: str
    provider: str
    markets: Mapping[int, MarketMapping]

    @abstractmethod
    async def start(self) -> None:
        """Connect and subscribe."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect; `messages` then ends."""

    @abstractmethod
    def messages(self) -> AsyncIterator[FeedMessage | Undecodable]:
        """The decoded messages as they arrive, in order; ends after `stop`."""

    @abstractmethod
    async def request_recovery(self, producer: str, since: datetime | None, request_id: int) -> None:
        """Ask the provider to resend what `producer` sent after `since`, ending with a `snapshot_complete`
        carrying `request_id`."""
