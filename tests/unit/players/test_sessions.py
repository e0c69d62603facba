"""The session cache: bounded, honours each session's expiry, and never keeps what a revocation ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from prometheus_client import REGISTRY

from sportsbook.players.model import Principal, Role
from sportsbook.players.revocation.channel import token_hashes_in
from sportsbook.players.revocation.memory import MemoryRevocations
from sportsbook.players.sessions import SessionCache

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def principal() -> Principal:
    return Principal(id=uuid4(), email="p@example.com", role=Role.PLAYER, currency="EUR")


def live_cache(*, max_entries: int = 100_000, tombstone_s: float = 60.0) -> SessionCache:
    cache = SessionCache(HOUR, max_entries=max_entries, tombstone_s=tombstone_s)
    cache.resumed()  # as the channel does once it is connected
    return cache


def test_a_cached_session_is_found_until_its_own_expiry() -> None:
    cache = live_cache()
    user = principal()
    cache.put(cache.ticket(), "a" * 64, user, NOW + timedelta(seconds=10), NOW)
    assert cache.get("a" * 64, NOW + timedelta(seconds=9)) == user
    assert cache.get("a" * 64, NOW + timedelta(seconds=10)) is None
    assert len(cache) == 0


def test_a_cached_session_is_read_again_within_the_trust_time() -> None:
    cache = live_cache()
    cache.put(cache.ticket(), "a" * 64, principal(), NOW + 24 * HOUR, NOW)
    assert cache.get("a" * 64, NOW + HOUR / 2 - timedelta(seconds=1)) is not None
    assert cache.get("a" * 64, NOW + HOUR) is None


def test_a_revoked_session_is_evicted_at_once() -> None:
    cache = live_cache()
    cache.put(cache.ticket(), "a" * 64, principal(), NOW + HOUR, NOW)
    cache.revoked(["a" * 64])
    assert cache.get("a" * 64, NOW) is None


def test_a_read_under_way_when_its_session_is_revoked_is_not_cached() -> None:
    cache = live_cache()
    ticket = cache.ticket()  # the database read starts, sees the session live...
    cache.revoked(["a" * 64])  # ...another node revokes it meanwhile...
    cache.put(ticket, "a" * 64, principal(), NOW + HOUR, NOW)  # ...and the read ends: the tombstone wins
    assert cache.get("a" * 64, NOW) is None


def test_a_tombstone_lapses() -> None:
    cache = live_cache(tombstone_s=0.0)
    cache.revoked(["a" * 64])
    cache.put(cache.ticket(), "a" * 64, principal(), NOW + HOUR, NOW)
    assert cache.get("a" * 64, NOW) is not None


def test_losing_the_channel_empties_the_cache_and_caches_nothing_until_resumed() -> None:
    cache = live_cache()
    resets = REGISTRY.get_sample_value("sportsbook_session_cache_resets_total") or 0.0
    cache.put(cache.ticket(), "a" * 64, principal(), NOW + HOUR, NOW)
    before_loss = cache.ticket()
    cache.lost()
    assert len(cache) == 0
    assert REGISTRY.get_sample_value("sportsbook_session_cache_resets_total") == resets + 1
    cache.put(cache.ticket(), "b" * 64, principal(), NOW + HOUR, NOW)
    assert len(cache) == 0
    during_loss = cache.ticket()
    cache.resumed()
    # Reads that began before the channel came back may have missed a revocation: not cached.
    cache.put(before_loss, "c" * 64, principal(), NOW + HOUR, NOW)
    cache.put(during_loss, "d" * 64, principal(), NOW + HOUR, NOW)
    assert len(cache) == 0
    cache.put(cache.ticket(), "e" * 64, principal(), NOW + HOUR, NOW)
    assert cache.get("e" * 64, NOW) is not None


def test_the_cache_is_bounded_and_drops_its_oldest_entry_first() -> None:
    cache = live_cache(max_entries=2)
    for name in "abc":
        cache.put(cache.ticket(), name * 64, principal(), NOW + HOUR, NOW)
    assert len(cache) == 2
    assert cache.get("a" * 64, NOW) is None
    assert cache.get("c" * 64, NOW) is not None


def test_tombstones_are_bounded_too() -> None:
    cache = live_cache(max_entries=2)
    cache.revoked(["a" * 64, "b" * 64, "c" * 64])
    cache.put(cache.ticket(), "a" * 64, principal(), NOW + HOUR, NOW)  # its tombstone made room for c's
    assert cache.get("a" * 64, NOW) is not None


def test_a_zero_trust_time_caches_nothing() -> None:
    cache = SessionCache(timedelta(0))
    cache.resumed()
    cache.put(cache.ticket(), "a" * 64, principal(), NOW + HOUR, NOW)
    assert len(cache) == 0


async def test_the_in_process_channel_reaches_every_listener_at_once() -> None:
    channel = MemoryRevocations()
    here, there = live_cache(), SessionCache(HOUR)
    channel.listen(there)  # the in-process channel is connected from the start
    for cache in (here, there):
        cache.put(cache.ticket(), "a" * 64, principal(), NOW + HOUR, NOW)
    channel.listen(here)
    await channel.publish(["a" * 64])
    assert here.get("a" * 64, NOW) is None
    assert there.get("a" * 64, NOW) is None


def test_only_well_formed_token_hashes_are_taken_from_a_message() -> None:
    assert token_hashes_in(["a" * 64, "A" * 64, "a" * 63, 7, None]) == ["a" * 64]
    assert token_hashes_in({"a": 1}) == []
    assert token_hashes_in("a" * 64) == []
