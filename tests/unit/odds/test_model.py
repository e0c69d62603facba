"""Live odds on the wire: frames, client messages and the conflating outbox (pure)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.catalog import model as catalog
from sportsbook.catalog.model import MarketDraft, MarketStatus, SelectionDraft
from sportsbook.odds.model import (
    HEARTBEAT,
    MAX_EVENTS_PER_MESSAGE,
    MAX_MESSAGE_BYTES,
    InvalidMessage,
    Outbox,
    Subscribe,
    Unsubscribe,
    batch,
    error_frame,
    market_view,
    odds_frame,
    parse_event_id,
    parse_message,
    snapshot_frame,
)
from tests.unit.catalog.test_model import fixture, race


def loads(frame: str) -> Any:
    return orjson.loads(frame)


# --- frames ---


def test_a_snapshot_shows_every_market_as_the_public_event_view_does() -> None:
    event = fixture(MarketDraft(type="total", specifiers={"total": "2.5"}, selections=[
        SelectionDraft("over", "1.90"), SelectionDraft("under", "1.95")]))  # fmt: skip
    frame = loads(snapshot_frame(event.id, event.markets, 7))
    market = event.markets[0]
    assert frame == {
        "type": "snapshot",
        "event_id": str(event.id),
        "seq": 7,
        "markets": [
            {
                "id": str(market.id),
                "type": "total",
                "specifiers": {"total": "2.5"},
                "status": "active",
                "in_play_delay_s": 0,
                "each_way": None,
                "selections": [
                    {
                        "id": str(market.selections[0].id),
                        "outcome": "over",
                        "name": "Over 2.5",
                        "odds": "1.90",
                        "odds_fractional": "9/10",
                        "odds_american": "-111",
                        "status": "active",
                    },
                    {
                        "id": str(market.selections[1].id),
                        "outcome": "under",
                        "name": "Under 2.5",
                        "odds": "1.95",
                        "odds_fractional": "19/20",
                        "odds_american": "-105",
                        "status": "active",
                    },
                ],
            }
        ],
    }


def test_each_way_terms_show_in_the_market_view() -> None:
    assert market_view(race().markets[0])["each_way"] == {"fraction": "1/5", "places": 3}


def test_an_odds_frame_carries_the_markets_whole_tradable_state() -> None:
    event = fixture()
    market = event.markets[0]
    home, draw, away = market.selections
    moved = catalog.change_market(event, market.id, status=MarketStatus.SUSPENDED, odds={home.id: "2.10"}).market(
        market.id
    )
    assert loads(odds_frame(moved, 12)) == {
        "type": "odds",
        "event_id": str(event.id),
        "market_id": str(market.id),
        "seq": 12,
        "status": "suspended",
        "selections": [
            {"id": str(home.id), "odds": "2.10", "status": "active"},
            {"id": str(draw.id), "odds": str(draw.odds), "status": "active"},
            {"id": str(away.id), "odds": str(away.odds), "status": "active"},
        ],
    }


def test_an_error_frame_echoes_at_most_a_hundred_characters_of_what_the_client_sent() -> None:
    assert loads(error_frame("event_not_found", "no event has this id", event_id="x" * 500)) == {
        "type": "error",
        "code": "event_not_found",
        "message": "no event has this id",
        "event_id": "x" * 100,
    }
    assert loads(error_frame("invalid_message", "a message is a JSON object")) == {
        "type": "error",
        "code": "invalid_message",
        "message": "a message is a JSON object",
    }


def test_a_batch_is_a_json_array_of_the_frames_in_order() -> None:
    assert loads(batch([HEARTBEAT, error_frame("c", "m")])) == [{"type": "heartbeat"}, loads(error_frame("c", "m"))]


# --- client messages ---

EVENT = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (orjson.dumps({"op": "subscribe", "events": [EVENT]}), Subscribe((EVENT,))),
        ('{"op": "unsubscribe", "events": ["a", "b", "a"]}', Unsubscribe(("a", "b"))),
        ('{"events": ["x"], "op": "subscribe"}', Subscribe(("x",))),
    ],
)
def test_well_formed_messages(data: str | bytes, expected: Subscribe | Unsubscribe) -> None:
    assert parse_message(data) == expected


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("", "JSON object"),
        ("not json", "JSON object"),
        ("[1, 2]", "JSON object"),
        ('"subscribe"', "JSON object"),
        ("null", "JSON object"),
        (b"\xff\xfe", "JSON object"),
        ("{}", "op is"),
        ('{"op": "SUBSCRIBE", "events": ["x"]}', "op is"),
        ('{"op": 1, "events": ["x"]}', "op is"),
        ('{"op": ["subscribe"], "events": ["x"]}', "op is"),
        ('{"op": "subscribe"}', "events is a list"),
        ('{"op": "subscribe", "events": []}', "events is a list"),
        ('{"op": "subscribe", "events": "x"}', "events is a list"),
        ('{"op": "subscribe", "events": {"x": 1}}', "events is a list"),
        ('{"op": "subscribe", "events": [1]}', "an event id is a string"),
        ('{"op": "subscribe", "events": [null]}', "an event id is a string"),
        ('{"op": "subscribe", "events": ["x"], "market": 1}', "unknown fields"),
        (orjson.dumps({"op": "subscribe", "events": ["x"] * (MAX_EVENTS_PER_MESSAGE + 1)}), "events is a list"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "at most"),
    ],
)
def test_malformed_messages_are_invalid_messages_saying_why(data: str | bytes, says: str) -> None:
    with pytest.raises(InvalidMessage, match=says) as refused:
        parse_message(data)
    assert refused.value.code == "invalid_message"


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), st.from_type(object).map(repr)))
def test_any_input_parses_or_is_an_invalid_message(data: str | bytes) -> None:
    try:
        parsed = parse_message(data)
    except InvalidMessage:
        return
    assert isinstance(parsed, Subscribe | Unsubscribe)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5), lambda inner: st.lists(inner)
    | st.dictionaries(st.sampled_from(["op", "events", "x"]), inner), max_leaves=10))  # fmt: skip
def test_any_json_value_parses_or_is_an_invalid_message(value: Any) -> None:
    with contextlib.suppress(InvalidMessage):
        parse_message(json.dumps(value))


def test_event_ids_in_any_form_uuid_reads_and_nothing_else() -> None:
    event_id = uuid.uuid4()
    for form in (str(event_id), str(event_id).upper(), event_id.hex, f"urn:uuid:{event_id}", f"{{{event_id}}}"):
        assert parse_event_id(form) == event_id
    for bad in ("", "nope", str(event_id)[:-1], "0" * 46, str(event_id) + "\x00"):
        assert parse_event_id(bad) is None


# --- the outbox ---

E1, E2 = uuid.uuid4(), uuid.uuid4()
M1, M2, M3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()  # market ids are unique across events, as the catalogue's are


def frame(event_id: uuid.UUID, market_id: uuid.UUID, seq: int) -> str:
    return orjson.dumps({"type": "odds", "event_id": str(event_id), "market_id": str(market_id), "seq": seq}).decode()


def drain(outbox: Outbox) -> list[Any]:
    out = []
    while outbox:
        out.append(loads(outbox.pop()))
    return out


def test_frames_leave_oldest_first() -> None:
    outbox = Outbox()
    outbox.put_update(E1, M1, frame(E1, M1, 1))
    outbox.put_update(E2, M3, frame(E2, M3, 1))
    outbox.put_update(E1, M2, frame(E1, M2, 2))
    assert [(f["event_id"], f["seq"]) for f in drain(outbox)] == [(str(E1), 1), (str(E2), 1), (str(E1), 2)]
    assert not outbox


def test_a_newer_frame_of_a_waiting_market_replaces_it_at_the_back_and_says_how_many_it_replaced() -> None:
    outbox = Outbox()
    assert not outbox.put_update(E1, M1, frame(E1, M1, 1))
    assert not outbox.put_update(E1, M2, frame(E1, M2, 2))
    assert outbox.put_update(E1, M1, frame(E1, M1, 3))
    assert outbox.put_update(E1, M1, frame(E1, M1, 4))
    assert len(outbox) == 2
    sent = drain(outbox)
    assert [f["seq"] for f in sent] == [2, 4]  # each event's frames in rising seq
    assert "conflated" not in sent[0]
    assert sent[1]["conflated"] == 2  # seq 1 and 3: the skipped numbers, accounted for


def test_a_snapshot_supersedes_what_waits_for_its_event_only() -> None:
    outbox = Outbox()
    outbox.put_update(E1, M1, frame(E1, M1, 1))
    outbox.put_update(E2, M3, frame(E2, M3, 1))
    outbox.put_update(E1, M2, frame(E1, M2, 2))
    outbox.put_snapshot(E1, '{"type":"snapshot","seq":2}')
    outbox.put_update(E1, M1, frame(E1, M1, 3))
    assert [(f["type"], f["seq"]) for f in drain(outbox)] == [("odds", 1), ("snapshot", 2), ("odds", 3)]


def test_a_heartbeat_waits_once_and_answers_always() -> None:
    outbox = Outbox()
    outbox.put_heartbeat()
    outbox.put_answer(error_frame("invalid_message", "1"))
    outbox.put_heartbeat()
    outbox.put_answer(error_frame("invalid_message", "2"))
    assert [f.get("message", f["type"]) for f in drain(outbox)] == ["heartbeat", "1", "2"]


def test_forgetting_an_event_drops_its_frames_and_its_snapshot() -> None:
    outbox = Outbox()
    outbox.put_snapshot(E1, '{"type":"snapshot"}')
    outbox.put_update(E1, M1, frame(E1, M1, 1))
    outbox.put_update(E2, M3, frame(E2, M3, 1))
    outbox.forget_event(E1)
    assert [f["event_id"] for f in drain(outbox)] == [str(E2)]


def test_pop_many_takes_at_most_the_limit_in_order() -> None:
    outbox = Outbox()
    for seq, market in enumerate((M1, M2, M3), start=1):
        outbox.put_update(E1, market, frame(E1, market, seq))
    outbox.put_update(E1, M1, frame(E1, M1, 4))
    assert [loads(f)["seq"] for f in outbox.pop_many(2)] == [2, 3]
    assert [loads(f) for f in outbox.pop_many(10)] == [{**loads(frame(E1, M1, 4)), "conflated": 1}]
    assert outbox.pop_many(10) == []


def test_an_emptied_outbox_after_a_burst_starts_afresh() -> None:
    outbox = Outbox()
    for _ in range(50):
        outbox.put_snapshot(uuid.uuid4(), '{"type":"snapshot"}')
    drain(outbox)
    assert not outbox
    outbox.put_update(E1, M1, frame(E1, M1, 1))
    assert len(outbox) == 1


# One event's stream of market changes, as the hub numbers them: the i-th change has seq i + 1.
changes = st.lists(st.sampled_from([M1, M2, M3]), max_size=60)
# After each change, how many frames the writer takes before the next (0: the socket is stuck).
takes = st.lists(st.integers(min_value=0, max_value=3), max_size=60)


def replay(markets: Iterable[uuid.UUID], taken: list[int]) -> tuple[list[dict[str, Any]], dict[uuid.UUID, int]]:
    outbox = Outbox()
    sent: list[dict[str, Any]] = []
    latest: dict[uuid.UUID, int] = {}
    for i, market in enumerate(markets):
        seq = i + 1
        latest[market] = seq
        outbox.put_update(E1, market, frame(E1, market, seq))
        assert len(outbox) <= 3  # bounded by the markets, whatever the socket does
        for _ in range(taken[i] if i < len(taken) else 0):
            if outbox:
                sent.append(loads(outbox.pop()))
    sent.extend(drain(outbox))
    return sent, latest


@settings(max_examples=300)
@given(changes, takes)
def test_a_client_ends_with_every_markets_newest_frame_in_rising_seq(
    markets: list[uuid.UUID], taken: list[int]
) -> None:
    sent, latest = replay(markets, taken)
    seqs = [f["seq"] for f in sent]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    last_sent = {f["market_id"]: f["seq"] for f in sent}
    assert last_sent == {str(m): s for m, s in latest.items()}


@settings(max_examples=300)
@given(changes, takes)
def test_every_skipped_seq_is_accounted_for_by_a_conflated_count(markets: list[uuid.UUID], taken: list[int]) -> None:
    sent, _latest = replay(markets, taken)
    skipped = len(markets) - len(sent)
    assert sum(f.get("conflated", 0) for f in sent) == skipped
    # and a frame's count covers earlier numbers of its own market only
    previous: dict[str, int] = {}
    for f in sent:
        gap_in_market = len([s for s in range(previous.get(f["market_id"], 0) + 1, f["seq"])
                             if markets[s - 1] == uuid.UUID(f["market_id"])])  # fmt: skip
        assert f.get("conflated", 0) == gap_in_market
        previous[f["market_id"]] = f["seq"]
