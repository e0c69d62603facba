from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sportsbook.events.backends.rabbitmq import binding_key
from sportsbook.events.model import (
    Event,
    EventSchema,
    InvalidEvent,
    UnknownEventType,
    check_pattern,
    matches,
    register,
    schema,
    schemas,
)

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _registered(player_id: uuid.UUID | None = None) -> Event:
    return Event.new(
        "player.registered",
        1,
        player_id or uuid.uuid4(),
        {
            "player_id": player_id or uuid.uuid4(),
            "email": "a@example.com",
            "country": "GB",
            "currency": "EUR",
        },
        NOW,
    )


def test_event_survives_the_wire_unchanged() -> None:
    event = _registered()
    assert Event.decode(event.encode()) == event


def test_new_turns_uuids_and_decimals_into_json_strings() -> None:
    adjustment, player, staff, transfer = (uuid.uuid4() for _ in range(4))
    event = Event.new(
        "wallet.adjusted",
        1,
        player,
        {
            "adjustment_id": adjustment,
            "player_id": player,
            "amount": -1050,
            "currency": "EUR",
            "reason": Decimal("1.95"),
            "staff_id": staff,
            "transfer_id": transfer,
        },
        NOW,
    )
    assert event.key == str(player)
    assert event.payload["player_id"] == str(player)
    assert event.payload["amount"] == -1050
    assert event.payload["reason"] == "1.95"
    assert Event.decode(event.encode()) == event


def test_new_stores_the_time_in_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    event = Event.new("player.session_started", 1, "p", {"player_id": "p", "session_id": "s"}, local)
    assert event.occurred_at == NOW
    assert event.occurred_at.tzinfo == UTC


def test_new_refuses_a_payload_missing_a_declared_field() -> None:
    with pytest.raises(InvalidEvent, match="session_id"):
        Event.new("player.session_started", 1, "p", {"player_id": "p"}, NOW)


def test_new_refuses_a_payload_with_an_undeclared_field() -> None:
    with pytest.raises(InvalidEvent, match="extra_field"):
        Event.new("player.session_started", 1, "p", {"player_id": "p", "session_id": "s", "extra_field": 1}, NOW)


def test_new_refuses_an_unregistered_type_or_version() -> None:
    with pytest.raises(UnknownEventType):
        Event.new("player.vanished", 1, "p", {}, NOW)
    with pytest.raises(UnknownEventType):
        Event.new("player.registered", 99, "p", {}, NOW)


def test_event_needs_an_aware_time_and_a_dotted_type() -> None:
    with pytest.raises(InvalidEvent):
        Event("player.registered", 1, "k", {}, uuid.uuid4(), datetime(2026, 1, 1))
    with pytest.raises(InvalidEvent):
        Event("player.#", 1, "k", {}, uuid.uuid4(), NOW)
    with pytest.raises(InvalidEvent):
        Event("registered", 1, "k", {}, uuid.uuid4(), NOW)


@pytest.mark.parametrize("data", [b"not json", b"{}", b'{"type": "a.b"}', b"[1, 2]"])
def test_decode_rejects_bytes_that_are_not_an_event(data: bytes) -> None:
    with pytest.raises(InvalidEvent):
        Event.decode(data)


def test_registry_lists_the_schemas_other_features_emit() -> None:
    names = {(s.type, s.version) for s in schemas()}
    assert {("player.registered", 1), ("player.session_started", 1), ("wallet.adjusted", 1)} <= names
    assert set(schema("wallet.adjusted", 1).fields) == {
        "adjustment_id",
        "player_id",
        "amount",
        "currency",
        "reason",
        "staff_id",
        "transfer_id",
    }


def test_a_published_schema_cannot_be_redefined() -> None:
    original = schema("player.registered", 1)
    register(original)  # the same shape again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register(EventSchema("player.registered", 1, "changed", {"player_id": "uuid"}))
    assert schema("player.registered", 1) == original


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("*", "player.registered", True),
        ("player.*", "player.registered", True),
        ("player.*", "player.session.started", True),
        ("player.*", "players.registered", False),
        ("player.*", "wallet.adjusted", False),
        ("player.registered", "player.registered", True),
        ("player.registered", "player.registered_again", False),
    ],
)
def test_subscription_patterns_match_types(pattern: str, event_type: str, expected: bool) -> None:
    assert matches(pattern, event_type) is expected


@pytest.mark.parametrize(
    ("pattern", "key"), [("*", "#"), ("player.*", "player.#"), ("wallet.adjusted", "wallet.adjusted")]
)
def test_rabbitmq_binding_keys_take_what_the_pattern_takes(pattern: str, key: str) -> None:
    assert binding_key(pattern) == key


@pytest.mark.parametrize("pattern", ["", "player.#", "*.registered", "Player.*", "player.*.x"])
def test_malformed_subscription_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        check_pattern(pattern)
