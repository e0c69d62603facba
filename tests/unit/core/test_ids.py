"""Identifiers: random ids are RFC 4122 version-4 UUIDs that never repeat, across a fork too."""

from __future__ import annotations

import os
import uuid

from hypothesis import given
from hypothesis import strategies as st

from sportsbook.core.ids import NAMESPACE, derived_id, new_id


def test_new_ids_are_version_4_and_equal_their_parsed_text() -> None:
    for _ in range(2_000):  # several refills of the pool
        made = new_id()
        parsed = uuid.UUID(str(made))
        assert made.version == 4
        assert made.variant == uuid.RFC_4122
        assert made == parsed
        assert hash(made) == hash(parsed)
        assert uuid.UUID(int=made.int, version=4) == made  # the bits uuid4 itself would set


def test_new_ids_do_not_repeat() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)


def test_a_forked_child_draws_its_own_ids() -> None:
    new_id()  # the parent's pool now holds unused ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave at once
        os.close(read)
        os.write(write, b"".join(new_id().bytes for _ in range(8)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        child = f.read()
    os.waitpid(pid, 0)
    parent = b"".join(new_id().bytes for _ in range(8))
    assert len(child) == 128
    assert child != parent


def test_derived_ids_are_stable_and_distinct() -> None:
    a = derived_id("stake", "bet-1")
    assert a == derived_id("stake", "bet-1")
    assert a != derived_id("stake", "bet-2")
    assert a.version == 5


@given(st.lists(st.one_of(st.text(), st.integers(), st.uuids(), st.booleans()), min_size=1, max_size=4))
def test_derived_ids_are_exactly_uuid5_of_the_joined_parts(parts: list[object]) -> None:
    # stored ids (bets, stake transfers, settlement transfers) depend on this never changing
    expected = uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts))
    got = derived_id(*parts)
    assert got == expected
    assert str(got) == str(expected)
    assert hash(got) == hash(expected)
