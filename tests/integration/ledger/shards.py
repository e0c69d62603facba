"""What the ledger's drills share: players placed on the shard a test wants; a chain as it was linked before
migration 0016."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from sportsbook.ledger.model import GENESIS_HASH, Transfer, content_bytes, shard_for

SHARDS = 4  # the drills run with several shards: the default setting's


def player_on(shard: int, shards: int = SHARDS) -> uuid.UUID:
    """A new player id whose accounts open on `shard`."""
    while True:
        player = uuid.uuid4()
        if shard_for(player, shards) == shard:
            return player


def linked(rows: Sequence[Transfer], prev: bytes = GENESIS_HASH) -> bytes:
    """Hash these rows (one shard's, in seq order) as the chain was before migration 0016 sealed it per batch:
    each row over the previous row's hash and its content. The last hash: the chain head of then."""
    for row in rows:
        prev = row.hash = hashlib.sha256(prev + content_bytes(row)).digest()
    return prev
