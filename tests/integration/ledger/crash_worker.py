"""A process that makes transfers until it is killed, printing each id once its commit is acknowledged.

Run by test_crash_recovery as `python -m tests.integration.ledger.crash_worker URL IDS...`, where each IDS is
the comma-separated accounts of one shard: each transfer is between two accounts of one shard."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid

from sportsbook.core.clock import SystemClock
from sportsbook.db.engine import Database
from sportsbook.ledger.model import Phase, Result, TransferRequest
from sportsbook.ledger.service import Ledger


async def main(url: str, by_shard: list[list[int]]) -> None:
    db = Database(url)
    ledger = Ledger(db, SystemClock(), batch_max=50, shards=len(by_shard))
    await ledger.start(sweep_s=3600)

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            debit, credit = rng.sample(rng.choice(by_shard), 2)
            phase = Phase.PENDING if rng.random() < 0.2 else Phase.SINGLE
            request = TransferRequest(uuid.uuid4(), debit, credit, rng.randint(1, 50), phase=phase, code="storm")
            if await ledger.transfer(request) is Result.OK:
                print(request.id, flush=True)

    print("ready", flush=True)
    await asyncio.gather(*(client(i) for i in range(16)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [[int(a) for a in group.split(",")] for group in sys.argv[2:]]))
