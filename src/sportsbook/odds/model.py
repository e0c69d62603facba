"""Live odds on the wire, pure: the frames a subscriber receives, the messages it may send, and the conflating
outbox that holds one connection's frames until its socket takes them.

Every frame is built once, as JSON text, and the same string goes to every subscriber (docs/odds.md,
"Distribution: /ws/odds"). An `odds` frame carries the market's whole tradable state (status and every
selection), so a newer frame of a market supersedes any older one: that is what lets a slow connection's outbox
keep only the newest frame per market (conflation) without its client missing a price."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import orjson

from sportsbook.catalog.model import Market
from sportsbook.core.odds import odds_text, to_american, to_fractional

# --- errors a client is answered with (stable codes, in `{"type": "error", "code", "message"}`) ---------------

INVALID_MESSAGE: Final = "invalid_message"
EVENT_NOT_FOUND: Final = "event_not_found"
TOO_MANY_SUBSCRIPTIONS: Final = "too_many_subscriptions"

# --- close codes (RFC 6455 section 7.4) --------------------------------------------------------------------

GOING_AWAY: Final = 1001  # the node is stopping: connect again (to another node)
TRY_AGAIN_LATER: Final = 1013  # a slow consumer dropped, or the node is full: connect again and resubscribe
SLOW_CONSUMER: Final = "slow_consumer"  # the close reason of a dropped slow consumer
NODE_FULL: Final = "too_many_connections"

# The WebSocket subprotocol a client may ask for to receive frames batched: each message a JSON array of the frames
# waiting for it, in order (the same frames; an addition to the contract, which stays the default).
BATCH_SUBPROTOCOL: Final = "sportsbook.odds.batch"
MAX_BATCH_FRAMES: Final = 256  # frames in one batched message

MAX_MESSAGE_BYTES: Final = 16_384  # a subscribe naming 200 ids is ~8 KB
MAX_EVENTS_PER_MESSAGE: Final = 1_000
_MAX_ECHO = 100  # at most this much of an id a client sent comes back in an error

HEARTBEAT: Final = '{"type":"heartbeat"}'


# --- frames ------------------------------------------------------------------------------------------------


def market_view(market: Market) -> dict[str, Any]:
    """A market as the public event view shows it (`GET /api/v1/events/{id}`: catalog/routes.py `MarketOut`)."""
    return {
        "id": str(market.id),
        "type": market.type.value,
        "specifiers": dict(market.specifiers),
        "status": market.status.value,
        "in_play_delay_s": market.in_play_delay_s,
        "each_way": (
            {"fraction": market.each_way.text(), "places": market.each_way.places} if market.each_way else None
        ),
        "selections": [
            {
                "id": str(s.id),
                "outcome": s.outcome,
                "name": s.name,
                "odds": odds_text(s.odds),
                "odds_fractional": to_fractional(s.odds),
                "odds_american": to_american(s.odds),
                "status": s.status.value,
            }
            for s in market.selections
        ],
    }


def snapshot_frame(event_id: UUID, markets: Iterable[Market], seq: int) -> str:
    """`{"type": "snapshot", "event_id", "markets", "seq"}`: every market of the event as it stands at `seq`."""
    frame = {"type": "snapshot", "event_id": str(event_id), "markets": [market_view(m) for m in markets], "seq": seq}
    return orjson.dumps(frame).decode()


def odds_frame(market: Market, seq: int) -> str:
    """`{"type": "odds", "event_id", "market_id", "seq", "status", "selections": [{id, odds, status}]}`: the
    market's whole tradable state after the change numbered `seq` of its event."""
    frame = {
        "type": "odds",
        "event_id": str(market.event_id),
        "market_id": str(market.id),
        "seq": seq,
        "status": market.status.value,
        "selections": [
            {"id": str(s.id), "odds": odds_text(s.odds), "status": s.status.value} for s in market.selections
        ],
    }
    return orjson.dumps(frame).decode()


def error_frame(code: str, message: str, *, event_id: str | None = None) -> str:
    """`{"type": "error", "code", "message"}`, with the `event_id` the client sent where one is at fault."""
    frame: dict[str, str] = {"type": "error", "code": code, "message": message}
    if event_id is not None:
        frame["event_id"] = event_id[:_MAX_ECHO]
    return orjson.dumps(frame).decode()


def batch(frames: list[str]) -> str:
    """Frames as one batched message: a JSON array of them, in order."""
    return f"[{','.join(frames)}]"


def with_conflated(frame: str, replaced: int) -> str:
    """An odds frame that stands for `replaced` older frames of its market as well, saying so: its `seq` skips
    theirs, and `"conflated": n` lets the client account for every skipped number (docs/odds.md)."""
    return f'{frame[:-1]},"conflated":{replaced}}}'


# --- what a client sends -----------------------------------------------------------------------------------


class InvalidMessage(ValueError):
    """A client message that is not a subscribe or unsubscribe op as the contract writes it."""

    code = INVALID_MESSAGE


@dataclass(frozen=True, slots=True)
class Subscribe:
    """`{"op": "subscribe", "events": [ids]}`: the ids as sent, repeats removed."""

    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """`{"op": "unsubscribe", "events": [ids]}`."""

    events: tuple[str, ...]


def parse_message(data: str | bytes) -> Subscribe | Unsubscribe:
    """A client's message, or `InvalidMessage` saying what is wrong with it."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidMessage("a message is a JSON object") from None
    if not isinstance(message, dict):
        raise InvalidMessage("a message is a JSON object")
    op = message.get("op")
    if op not in ("subscribe", "unsubscribe"):
        raise InvalidMessage('op is "subscribe" or "unsubscribe"')
    unknown = sorted(set(message) - {"op", "events"})
    if unknown:
        raise InvalidMessage(f"unknown fields {unknown[:5]}")
    events = message.get("events")
    if not isinstance(events, list) or not 0 < len(events) <= MAX_EVENTS_PER_MESSAGE:
        raise InvalidMessage(f"events is a list of 1 to {MAX_EVENTS_PER_MESSAGE} event ids")
    if not all(isinstance(e, str) for e in events):
        raise InvalidMessage("an event id is a string")
    ids = tuple(dict.fromkeys(events))
    return Subscribe(ids) if op == "subscribe" else Unsubscribe(ids)


def parse_event_id(raw: str) -> UUID | None:
    """The event id a client named, or None when no event could have it (answered as not found, as REST does)."""
    if len(raw) > 45:  # the longest form UUID() reads: "urn:uuid:" and 36 characters
        return None
    try:
        return UUID(raw)
    except ValueError:
        return None


# --- one connection's outbox -------------------------------------------------------------------------------

_HEARTBEAT_KEY: Final = "heartbeat"


class Outbox:
    """The frames waiting for one connection's socket, oldest first, at most one per market.

    An odds frame for a market that already has one waiting replaces it and moves to the back (conflation): the
    client gets the newest state of every market, each event's frames in rising `seq`, and the replacing frame
    says how many it stands for. A snapshot of an event drops the event's waiting frames (it supersedes them);
    a heartbeat waits once. Its size is the number of markets (plus a few answers) waiting: the service bounds it.
    """

    __slots__ = ("_answers", "_grown", "_pending")

    def __init__(self) -> None:
        # key -> [frame, how many older frames of the same key it replaced, its event's id as an int (or None)].
        # An odds frame's key is its market's id as an int (market ids are unique across events), hashed in C: a
        # UUID's hash is Python code, and every change is put into every subscriber's outbox.
        self._pending: OrderedDict[Hashable, list[Any]] = OrderedDict()
        self._answers = 0
        # A dict keeps its table at its largest size: after a burst (a subscription's snapshots), an emptied outbox
        # starts afresh, so an idle connection holds a small one.
        self._grown = False

    def __len__(self) -> int:
        return len(self._pending)

    def __bool__(self) -> bool:
        return bool(self._pending)

    def put_update(self, event_id: UUID, market_id: UUID, frame: str) -> bool:
        """Queue a market's odds frame; True if it replaced one still waiting (conflated)."""
        key = market_id.int
        held = self._pending.get(key)
        if held is None:
            self._pending[key] = [frame, 0, event_id.int]
            return False
        held[0] = frame
        held[1] += 1
        self._pending.move_to_end(key)
        return True

    def put_snapshot(self, event_id: UUID, frame: str) -> None:
        """Queue an event's snapshot in place of everything of the event still waiting."""
        self.forget_event(event_id)
        self._pending[("snapshot", event_id.int)] = [frame, 0, event_id.int]
        self._grown = self._grown or len(self._pending) > 5

    def put_heartbeat(self, frame: str = HEARTBEAT) -> None:
        """Queue a heartbeat, unless one is waiting already."""
        if _HEARTBEAT_KEY not in self._pending:
            self._pending[_HEARTBEAT_KEY] = [frame, 0, None]

    def put_answer(self, frame: str) -> None:
        """Queue a frame that is never replaced (an error answering a client's message)."""
        self._answers += 1
        self._pending[("answer", self._answers)] = [frame, 0, None]

    def forget_event(self, event_id: UUID) -> None:
        """Drop every frame of an event still waiting (its snapshot superseded them, or it was unsubscribed)."""
        event = event_id.int
        for key in [k for k, held in self._pending.items() if held[2] == event]:
            del self._pending[key]

    def clear(self) -> None:
        self._pending = OrderedDict()
        self._grown = False

    def pop(self) -> str:
        """The oldest waiting frame, as sent (a conflated one says how many it replaced). Raises KeyError when
        empty."""
        _key, (frame, replaced, _event) = self._pending.popitem(last=False)
        if self._grown and not self._pending:
            self.clear()
        return with_conflated(frame, replaced) if replaced else frame

    def pop_many(self, limit: int) -> list[str]:
        """The oldest waiting frames, at most `limit`, as `pop` gives them."""
        pending = self._pending
        frames: list[str] = []
        while pending and len(frames) < limit:
            _key, (frame, replaced, _event) = pending.popitem(last=False)
            frames.append(with_conflated(frame, replaced) if replaced else frame)
        if self._grown and not pending:
            self.clear()
        return frames
