"""Sportsbook: an open-source fixed-odds sportsbook platform."""

__version__ = "0.1.0"
