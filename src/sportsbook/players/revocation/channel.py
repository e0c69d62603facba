"""The channel that tells every node which sessions were revoked, so each can drop them from its cache."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")


class RevocationListener(Protocol):
    """What a node does with what the channel tells it (the session cache implements it)."""

    def revoked(self, token_hashes: Sequence[str]) -> None:
        """These sessions ended (on any node): stop trusting them at once."""

    def lost(self) -> None:
        """The channel is down, so revocations may be missed: trust nothing cached until `resumed`."""

    def resumed(self) -> None:
        """The channel carries every revocation again (from now on)."""


class RevocationChannel(Protocol):
    """Carries the token hashes of revoked sessions (never raw tokens) to every node, this one included."""

    def listen(self, listener: RevocationListener) -> None:
        """Deliver revocations to `listener`. It hears `resumed` once the channel is connected."""

    async def start(self) -> None:
        """Connect and start delivering. A channel that cannot connect keeps trying, its listeners `lost`."""

    async def stop(self) -> None:
        """Stop delivering and disconnect."""

    async def publish(self, token_hashes: Sequence[str]) -> None:
        """Tell every node these sessions ended. Never raises: the database already says so, and a node that
        misses it still stops trusting its copy within the session cache's time."""

    def is_healthy(self) -> bool:
        """Whether revocations reach this node right now."""


def token_hashes_in(payload: object) -> list[str]:
    """The well-formed token hashes in a decoded message; anything else in it is ignored."""
    if not isinstance(payload, list):
        return []
    return [h for h in payload if isinstance(h, str) and _TOKEN_HASH.fullmatch(h)]
