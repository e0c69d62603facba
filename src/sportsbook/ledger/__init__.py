"""The wallet ledger: double-entry accounts and transfers, two-phase holds, a hash-chained journal."""
