"""Process-level tuning for long-running nodes."""

from __future__ import annotations

import gc

# Young objects allocated (net) before a generation-0 collection, and collections of each generation before
# the next one up. Python's defaults (700, 10, 10) suit short scripts; a node settling a market keeps each
# chunk's tens of thousands of objects alive while it works, so every young collection walked them again and
# promoted them, and a full collection followed every ~1,800 bets: 1.7-3.0 s of collector time while
# 50,000 bets settled, against 0.8-0.95 s with these (measured with gc.callbacks, docs/performance.md).
# Garbage that only the collector frees (cycles) waits a little longer; refcounting frees the rest at once.
THRESHOLDS = (50_000, 20, 100)


def freeze_heap() -> None:
    """Collect once, then move everything alive (modules, the catalogue read model, caches, pools) into the
    collector's permanent generation, and collect less often from then on (`THRESHOLDS`). A node holds hundreds
    of thousands of such objects for its whole life; left in generation 2, every full collection walks them
    all, which showed as ~100 ms pauses at the p99 of bet placement. Called once a node has started
    (`Settings.gc_freeze`); tests turn it off, since frozen garbage is never collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
