"""A node's heap tuning: what lives at start-up is frozen out of every later collection, and the collector
runs less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sportsbook.ops.runtime import THRESHOLDS, freeze_heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_collector")
def test_freezing_moves_the_live_heap_out_of_collections_and_raises_the_thresholds() -> None:
    kept = [object() for _ in range(10)]
    freeze_heap()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == THRESHOLDS
    assert THRESHOLDS[0] > 700  # Python's default generation-0 threshold, which settlement outgrew
