"""Benchmark scenarios, run by `sportsbook bench SCENARIO`; their figures go to docs/performance.md."""
