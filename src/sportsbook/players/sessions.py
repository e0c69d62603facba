"""The per-node session cache: a live session is checked in memory, not read from the database on every request.

Correct across nodes because every revocation reaches every node's cache through the revocation channel
(`revocation/`): the revoked token hashes are evicted at once and kept for a while as tombstones, so a
database read that was already under way cannot put a revoked session back. While the channel is down the
cache holds nothing and caches nothing (each request reads the database), and a read that began before the
channel went down or came back is not cached either (the generation moved on)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from prometheus_client import Counter

from sportsbook.players.model import Principal

CACHE_RESETS = Counter(
    "sportsbook_session_cache_resets_total",
    "Times this node dropped its whole session cache because the revocation channel was lost.",
)


class SessionCache:
    """Live sessions by token hash, bounded, trusted until their own expiry or `trust` after being read.

    `trust` is a backstop against a revocation message lost without the channel noticing; each entry gets
    between half and all of it, so sessions cached together are not all read again in the same instant."""

    def __init__(self, trust: timedelta, *, max_entries: int = 100_000, tombstone_s: float = 60.0) -> None:
        self._trust = trust
        self._max_entries = max_entries
        self._tombstone_s = tombstone_s
        # token hash -> (principal, session expiry, trusted until); oldest first (evicted first when full)
        self._entries: dict[str, tuple[Principal, datetime, datetime]] = {}
        # token hash -> monotonic time the tombstone lapses; oldest first
        self._tombstones: dict[str, float] = {}
        self._enabled = False
        self._generation = 0

    def get(self, token_hash: str, now: datetime) -> Principal | None:
        """The cached principal of a live session, or None (read the database)."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if now < entry[1] and now < entry[2]:
            return entry[0]
        del self._entries[token_hash]
        return None

    def ticket(self) -> int:
        """Take before reading a session from the database; `put` needs it to tell whether the read is current."""
        return self._generation

    def put(self, ticket: int, token_hash: str, principal: Principal, expires_at: datetime, now: datetime) -> None:
        """Cache a session read from the database after `ticket`, unless something moved on since."""
        if not self._enabled or ticket != self._generation or not self._trust:
            return
        if token_hash in self._tombstones and self._tombstones[token_hash] > time.monotonic():
            return
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        trusted = self._trust * (0.5 + secrets.randbelow(1_000) / 2_000)
        self._entries[token_hash] = (principal, expires_at, now + trusted)

    def forget(self, token_hash: str) -> None:
        """Drop one entry (a session found dead in the database)."""
        self._entries.pop(token_hash, None)

    def __len__(self) -> int:
        return len(self._entries)

    # The revocation channel's listener:

    def revoked(self, token_hashes: Sequence[str]) -> None:
        lapses = time.monotonic() + self._tombstone_s
        for token_hash in token_hashes:
            self._entries.pop(token_hash, None)
            self._tombstones.pop(token_hash, None)  # re-added at the back: the dict stays in lapse order
            self._tombstones[token_hash] = lapses
        self._prune_tombstones()

    def lost(self) -> None:
        self._enabled = False
        self._generation += 1
        self._entries.clear()
        self._tombstones.clear()  # nothing is cached until resumed, and reads from before then are refused
        CACHE_RESETS.inc()

    def resumed(self) -> None:
        self._enabled = True
        self._generation += 1

    def _prune_tombstones(self) -> None:
        now = time.monotonic()
        tombstones = self._tombstones
        while tombstones:
            oldest = next(iter(tombstones))
            if tombstones[oldest] > now and len(tombstones) <= self._max_entries:
                break
            del tombstones[oldest]
