"""The in-process revocation channel of the embedded platform: one process is one node, so revocations
reach every listener in it synchronously, as they are published."""

from __future__ import annotations

from collections.abc import Sequence

from sportsbook.players.revocation.channel import RevocationListener


class MemoryRevocations:
    """A RevocationChannel inside one process. It cannot be disconnected, so listeners are `resumed` at once."""

    def __init__(self) -> None:
        self._listeners: list[RevocationListener] = []

    def listen(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)
        listener.resumed()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, token_hashes: Sequence[str]) -> None:
        for listener in self._listeners:
            listener.revoked(token_hashes)

    def is_healthy(self) -> bool:
        return True
