"""The channel that carries the markets one node commits to every node at once, so that a price moved on any node
reaches the players watching on every node, ahead of the event bus.

It is the fast path, not the reliable one: the catalogue's `catalog.market_changed` events still reach every
node's read model through the bus, and the read model takes a market only if it is newer than the one it holds,
so a message the channel loses, repeats or delivers late changes nothing but how soon a node sees the price."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import orjson

from sportsbook.catalog.model import Market, market_from_payload, market_payload

MarketsListener = Callable[[Sequence[Market]], None]

WIRE_VERSION: Final = 1


class MarketChannel(Protocol):
    """Carries committed markets to every node, this one included. One interface, a file per backend."""

    def listen(self, listener: MarketsListener) -> None:
        """Deliver every message's markets to `listener` (the catalogue's `take_markets`)."""

    async def start(self) -> None:
        """Connect and start delivering. A channel that cannot connect keeps trying; the node keeps serving."""

    async def stop(self) -> None:
        """Stop delivering and disconnect."""

    async def publish(self, markets: Sequence[Market]) -> None:
        """Send the markets one commit changed, as one message. Never raises and never waits on the network: the
        commit that calls it has answered already, and the bus carries the same markets anyway."""

    def is_healthy(self) -> bool:
        """Whether this node hears the channel right now."""


class MalformedMessage(ValueError):
    """A channel message that is not `{"v": 1, "markets": [payload, ...]}`."""


def encode(markets: Sequence[Market]) -> bytes:
    """One commit's markets as one message: `{"v": 1, "markets": [market_payload, ...]}` (the payload of
    `catalog.market_changed` v1, versions included)."""
    return orjson.dumps({"v": WIRE_VERSION, "markets": [market_payload(m) for m in markets]})


def decode(data: bytes | str) -> list[Market]:
    """The markets of a message, or `MalformedMessage` (a newer wire version included: ignored, not guessed at)."""
    try:
        message: Any = orjson.loads(data)
        if not isinstance(message, dict) or message.get("v") != WIRE_VERSION:
            raise MalformedMessage(f"not a version {WIRE_VERSION} message")
        payloads = message["markets"]
        if not isinstance(payloads, list):
            raise MalformedMessage("markets is not a list")
        return [market_from_payload(p) for p in payloads]
    except MalformedMessage:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise MalformedMessage(f"{type(exc).__name__}: {exc}") from None
