"""Identifiers: random UUIDs for new things, name-based UUIDs for things derived from a client key."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("7f1d7f52-3a3e-4a5e-9a59-5f1a2e0c9b11")


def new_id() -> uuid.UUID:
    """A fresh random identifier."""
    return uuid.uuid4()


def derived_id(*parts: object) -> uuid.UUID:
    """A stable identifier derived from its parts: the same parts always give the same id."""
    return uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts))
