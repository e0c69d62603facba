"""`sportsbook bench payments`: the card deposits bench over HTTP, bench/payments_http.py (also run as
`sportsbook bench payments_http`)."""

from bench.payments_http import run

__all__ = ["run"]
