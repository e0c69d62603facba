"""Idempotent HTTP writes: an Idempotency-Key replays the first answer."""
