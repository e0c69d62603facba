"""The shared kernel: pure value types every feature uses (money, clock, ids, errors)."""
