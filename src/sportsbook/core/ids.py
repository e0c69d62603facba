"""Identifiers: random UUIDs for new things, name-based UUIDs for things derived from a client key."""

from __future__ import annotations

import hashlib
import os
import uuid

NAMESPACE = uuid.UUID("7f1d7f52-3a3e-4a5e-9a59-5f1a2e0c9b11")

# as uuid.UUID(version=n) sets them: the version nibble (bits 76-79) and the RFC 4122 variant (bits 62-63)
_KEEP = ((1 << 128) - 1) & ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_4 = (4 << 76) | (0x8000 << 48)
_VERSION_5 = (5 << 76) | (0x8000 << 48)
_NAMESPACE_BYTES = NAMESPACE.bytes
_POOL = 512  # ids drawn from the OS's random source per refill


class _RandomIds:
    """Version-4 UUIDs from the operating system's random source, drawn 512 at a time.

    Events and bets make one id each, on hot paths: `uuid.uuid4()` asks the OS for 16 bytes and builds the
    UUID through its general constructor every time, which was ~5% of settling a market. The bytes come from
    the same source in blocks, and the UUID is built from its integer directly. A forked child starts with an
    empty pool, so parent and child never hand out the same ids."""

    def __init__(self) -> None:
        self._ints: list[int] = []

    def next(self) -> uuid.UUID:
        if not self._ints:
            raw = os.urandom(16 * _POOL)
            self._ints = [(int.from_bytes(raw[i : i + 16]) & _KEEP) | _VERSION_4 for i in range(0, len(raw), 16)]
        return _uuid_of(self._ints.pop())

    def clear(self) -> None:
        self._ints = []


_random_ids = _RandomIds()
os.register_at_fork(after_in_child=_random_ids.clear)


def new_id() -> uuid.UUID:
    """A fresh random (version 4) identifier."""
    return _random_ids.next()


def derived_id(*parts: object) -> uuid.UUID:
    """A stable identifier derived from its parts: the same parts always give the same id.

    Exactly `uuid.uuid5(NAMESPACE, "\x1f".join(map(str, parts)))` (stored ids depend on it), computed without
    uuid5's general constructor: a bet derives two or three ids when placed and settled."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join([str(p) for p in parts]).encode()).digest()
    return _uuid_of((int.from_bytes(digest[:16]) & _KEEP) | _VERSION_5)


def _uuid_of(value: int) -> uuid.UUID:
    """What uuid.UUID(int=value) builds, without its argument parsing (`value` is a valid 128-bit int)."""
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", uuid.SafeUUID.unknown)
    return made
