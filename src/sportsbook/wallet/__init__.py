"""The player's wallet: balances, statement, and staff adjustments, all through the ledger."""
