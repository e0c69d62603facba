"""Tests of the events feature: model, buses, outbox, relay, inbox, schema."""
