"""What the sharded ledger's drills share: players placed on the shard a test wants."""

from __future__ import annotations

import uuid

from sportsbook.ledger.model import shard_for

SHARDS = 4  # the drills run with several shards: the default setting's


def player_on(shard: int, shards: int = SHARDS) -> uuid.UUID:
    """A new player id whose accounts open on `shard`."""
    while True:
        player = uuid.uuid4()
        if shard_for(player, shards) == shard:
            return player
