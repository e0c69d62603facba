"""Domain events: the immutable record of something that happened, its wire format and its schemas.

Pure: no I/O. Every event a feature emits has a registered, versioned schema, listed in docs/events.md."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from sportsbook.core.ids import new_id

# Dotted lower-case words, at least two of them ("player.registered"): the routing key on the broker,
# where "*" and "#" are wildcards and so cannot appear in a type.
_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class UnknownEventType(ValueError):
    """An event was built for a (type, version) that has no registered schema."""


class InvalidEvent(ValueError):
    """An event does not match its schema, or bytes on the wire are not an event."""


def _json_default(value: Any) -> Any:
    # Decimals (odds) travel as strings so no precision is lost; orjson handles UUID and datetime itself.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def normalise_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON values (UUID, datetime and Decimal become strings).

    Done once when an event is made, so the event equals itself after a trip through the outbox or the
    wire."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(dict(payload), default=_json_default))
    return result


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened. `key` names the entity it is about (ordering and partitioning)."""

    type: str
    version: int
    key: str
    payload: dict[str, Any]
    id: uuid.UUID
    occurred_at: datetime

    def __post_init__(self) -> None:
        if (self.type, self.version) not in _REGISTRY and not _TYPE_RE.match(self.type):  # registered: checked
            raise InvalidEvent(f"event type {self.type!r} is not dotted lower-case words")
        if self.occurred_at.tzinfo is None:
            raise InvalidEvent("occurred_at must be timezone-aware")

    @classmethod
    def new(
        cls,
        type: str,
        version: int,
        key: str | uuid.UUID,
        payload: Mapping[str, Any],
        occurred_at: datetime,
    ) -> Event:
        """A fresh event with a new id, checked against its registered schema."""
        body = normalise_payload(payload)
        schema(type, version).check(body)
        return cls(
            type=type,
            version=version,
            key=str(key),
            payload=body,
            id=new_id(),
            occurred_at=occurred_at.astimezone(UTC),
        )

    @classmethod
    def of_plain(cls, type: str, version: int, key: str, payload: dict[str, Any], occurred_at: datetime) -> Event:
        """A fresh event from a payload that is plain JSON already (strings, ints, lists and dicts of them, as a
        typed event builds it): checked against its schema like `new`, without the round trip that makes
        UUIDs, datetimes and Decimals plain (hot paths make one per bet)."""
        schema(type, version).check(payload)
        return cls(type=type, version=version, key=key, payload=payload, id=new_id(), occurred_at=occurred_at)

    def encode(self) -> bytes:
        """The event as JSON bytes for the wire."""
        return orjson.dumps(
            {
                "id": str(self.id),
                "type": self.type,
                "version": self.version,
                "key": self.key,
                "occurred_at": self.occurred_at.astimezone(UTC),
                "payload": self.payload,
            },
            default=_json_default,
            option=orjson.OPT_UTC_Z,
        )

    @classmethod
    def decode(cls, data: bytes | str) -> Event:
        """Parse bytes made by `encode`. Not checked against the registry: a consumer may be older than
        the producer, and decides itself what to do with a version it does not know."""
        try:
            raw = orjson.loads(data)
            return cls(
                type=str(raw["type"]),
                version=int(raw["version"]),
                key=str(raw["key"]),
                payload=dict(raw["payload"]),
                id=uuid.UUID(str(raw["id"])),
                occurred_at=datetime.fromisoformat(str(raw["occurred_at"])).astimezone(UTC),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"not an event: {exc}") from exc


class Typed:
    """The base of a feature's typed events: a class per event type and version (`TYPE`, `VERSION`), its fields
    what happened, `key()` the entity it is about and `payload()` its published shape. `to_event()` makes the
    wire `Event`, checked against the registered schema. Subclasses are slotted dataclasses."""

    __slots__ = ()
    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    occurred_at: datetime

    def key(self) -> str:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_event(self) -> Event:
        return Event.new(self.TYPE, self.VERSION, self.key(), self.payload(), self.occurred_at)


@dataclass(frozen=True, slots=True)
class EventSchema:
    """The published shape of one version of one event type: what docs/events.md lists."""

    type: str
    version: int
    description: str
    # field name -> what it holds (type and meaning), as the documentation shows it
    fields: Mapping[str, str] = field(default_factory=dict)

    def check(self, payload: Mapping[str, Any]) -> None:
        """Raise InvalidEvent unless the payload has exactly the declared fields."""
        if payload.keys() == self.fields.keys():
            return
        missing = self.fields.keys() - payload.keys()
        extra = payload.keys() - self.fields.keys()
        if missing or extra:
            raise InvalidEvent(f"{self.type} v{self.version}: missing {sorted(missing)}, unexpected {sorted(extra)}")


_REGISTRY: dict[tuple[str, int], EventSchema] = {}


def register(*schemas: EventSchema) -> None:
    """Add schemas to the registry. A (type, version) is immutable once published: registering the
    same one twice with a different shape is an error, the same shape again is a no-op."""
    for s in schemas:
        if not _TYPE_RE.match(s.type) or s.version < 1:
            raise ValueError(f"bad schema name {s.type!r} v{s.version}")
        existing = _REGISTRY.get((s.type, s.version))
        if existing is not None and existing != s:
            raise ValueError(f"{s.type} v{s.version} is already registered with another shape")
        _REGISTRY[(s.type, s.version)] = s


def schema(type: str, version: int) -> EventSchema:
    """The registered schema of this type and version."""
    try:
        return _REGISTRY[(type, version)]
    except KeyError:
        raise UnknownEventType(f"no schema registered for {type} v{version}") from None


def schemas() -> list[EventSchema]:
    """Every registered schema, sorted by type then version."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def matches(pattern: str, type: str) -> bool:
    """Whether a subscription pattern takes an event type: "*" takes all, "player.*" every type under
    "player.", anything else only that exact type."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return type.startswith(pattern[:-1])
    return pattern == type


def check_pattern(pattern: str) -> str:
    """Return the pattern if it is one `matches` understands, else raise ValueError."""
    base = pattern[:-2] if pattern.endswith(".*") else pattern
    if pattern != "*" and not re.match(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", base):
        raise ValueError(f"bad subscription pattern {pattern!r}: use '*', 'prefix.*' or an exact type")
    return pattern


# The schemas of this release. A feature adds its own here (and a row to docs/events.md); a change to a
# published payload is a new version, never an edit.
register(
    EventSchema(
        "player.registered",
        1,
        "A player account was created.",
        {
            "player_id": "uuid: the new player",
            "email": "str: the login email",
            "country": "str: ISO 3166-1 alpha-2",
            "currency": "str: ISO 4217, the wallet currency",
        },
    ),
    EventSchema(
        "player.session_started",
        1,
        "A player logged in and a session was issued.",
        {"player_id": "uuid: the player", "session_id": "uuid: the new session"},
    ),
    EventSchema(
        "wallet.adjusted",
        1,
        "Staff credited or debited a player's cash by hand.",
        {
            "adjustment_id": "uuid: the adjustment",
            "player_id": "uuid: the player",
            "amount": "int: signed, minor units",
            "currency": "str: ISO 4217",
            "reason": "str: the staff member's reason",
            "staff_id": "uuid: who made it",
            "transfer_id": "uuid: the ledger transfer that moved the money",
        },
    ),
)

# The catalogue (catalog/service.py): every node's in-memory read model follows these.
_EVENT_FIELDS = {  # catalog.event_changed v1's, which v2 extends
    "event_id": "uuid: the event",
    "sport": "str: the sport key (football, horse_racing)",
    "competition": "str | null: the competition",
    "name": "str: the event's name",
    "start_time": "datetime: scheduled start, UTC",
    "status": "str: upcoming, live, ended or cancelled",
    "competitors": "[home, away] | null: two-sided events",
    "runners": "[str] | null: races and outrights",
    "score": "{home, away} | null: the current or final score",
    "version": "int: rises by one per change; a consumer keeps the highest it has seen",
}

_MARKET_FIELDS = {
    "market_id": "uuid: the market",
    "event_id": "uuid: its event",
    "type": "str: market type (1x2, total, winner, ...)",
    "specifiers": "{str: str}: the line, e.g. {total: 2.5}",
    "status": "str: active, suspended, settled or cancelled",
    "in_play_delay_s": "int: seconds a live bet waits before acceptance",
    "each_way": "{fraction, places} | null: each-way terms",
    "limits": "{min_stake, max_stake, max_payout, selection_liability_limit, market_liability_limit}: minor units",
    "selections": "[{id, outcome, name, odds, status}]: every selection, odds as decimal strings",
    "version": "int: rises by one per change; a consumer keeps the highest it has seen",
}  # catalog.market_changed v1's, which v2 extends

register(
    EventSchema(
        "catalog.event_changed",
        1,
        "An event was created or its status or score changed (its markets come as catalog.market_changed).",
        _EVENT_FIELDS,
    ),
    EventSchema(
        "catalog.event_changed",
        2,
        "As v1, with the event's ids at odds feeds.",
        {**_EVENT_FIELDS, "external_ids": "{provider: id}: the event's ids at odds feeds ({} when none)"},
    ),
    EventSchema(
        "catalog.market_changed",
        1,
        "A market was created or changed: status, prices, a selection's status or result, limits.",
        _MARKET_FIELDS,
    ),
    EventSchema(
        "catalog.market_changed",
        2,
        "As v1, with whether a trader holds the market against the odds feed.",
        {
            **_MARKET_FIELDS,
            "trader_override": "bool: a trader's status or prices hold against the odds feed until released",
        },
    ),
)

# Pricing (pricing/service.py): every node that prices follows the margins staff set.
register(
    EventSchema(
        "pricing.margins_changed",
        1,
        "Staff changed the pricing margins laid on the odds feed's fair probabilities: the whole set as it stands.",
        {
            "default_margin": "decimal string: 0.05 is a book of 105%",
            "margins": "[{sport, market_type, margin}]: the overrides per sport and market type",
        },
    ),
)

# Players' KYC (players/service.py) and payments (payments/service.py): risk, CRM and analytics follow money in and
# out; every node follows the connectors' switches. No card data beyond what `payment_changed` names.
register(
    EventSchema(
        "player.kyc_changed",
        1,
        "Staff set a player's KYC status.",
        {
            "player_id": "uuid: the player",
            "status": "str: unverified, pending, verified or rejected",
            "staff_id": "uuid: who set it",
        },
    ),
    EventSchema(
        "payments.payment_changed",
        1,
        "A deposit, withdrawal, refund or chargeback succeeded, failed, or waits for the player's 3-D Secure answer.",
        {
            "payment_id": "uuid: the payment",
            "player_id": "uuid: whose money",
            "direction": "str: deposit, withdrawal, refund or chargeback",
            "status": "str: succeeded, failed or requires_action",
            "amount": "int: minor units",
            "currency": "str: ISO 4217",
            "connector": "str or null: the connector that took it",
            "decline_code": "str or null: why it failed",
        },
    ),
    EventSchema(
        "payments.connector_changed",
        1,
        "Staff switched a payment connector on or off, or changed a simulated connector's switches.",
        {
            "name": "str: the connector",
            "enabled": "bool: routing may choose it",
            "outage": "bool: a simulated outage",
            "approval_rate": "float or null: a simulated approval rate (0..1), null for the connector's model",
            "latency_ms": "float or null: a simulated median latency, null for the connector's model",
            "staff_id": "uuid: who changed it",
        },
    ),
)

# Betting (betting/service.py): risk, CRM and analytics consumers follow a bet's life through these.
register(
    EventSchema(
        "bet.placed",
        1,
        "A bet was struck (status accepted) or is waiting out its in-play delay (status pending).",
        {
            "bet_id": "uuid: the bet",
            "player_id": "uuid: who placed it",
            "currency": "str: ISO 4217",
            "type": "str: single, multiple or system",
            "status": "str: accepted or pending",
            "total_stake": "int: minor units, all lines",
            "potential_return": "int: minor units",
            "legs": "[{selection_id, market_id, event_id, odds}]: odds struck, decimal strings",
        },
    ),
    EventSchema(
        "bet.accepted",
        1,
        "A pending in-play bet passed its re-check after the delay and is now open.",
        {"bet_id": "uuid: the bet", "player_id": "uuid: who placed it"},
    ),
    EventSchema(
        "bet.settled",
        1,
        "A bet was settled (or cashed out) and its return paid through the ledger.",
        {
            "bet_id": "uuid: the bet",
            "player_id": "uuid: who placed it",
            "status": "str: won, lost, void, half_won, half_lost or cashed_out",
            "return": "int: minor units paid back, stake included",
            "currency": "str: ISO 4217",
        },
    ),
    EventSchema(
        "bet.reopened",
        1,
        "A settlement was rolled back: the bet is open again and its return was taken back.",
        {"bet_id": "uuid: the bet", "player_id": "uuid: who placed it"},
    ),
    EventSchema(
        "bet.rejected",
        1,
        "A pending in-play bet failed its re-check after the delay; its stake was released.",
        {"bet_id": "uuid: the bet", "player_id": "uuid: who placed it", "reject_code": "str: why"},
    ),
)
