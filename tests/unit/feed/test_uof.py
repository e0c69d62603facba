"""UOF's XML messages, written from its published schema, decoded into the feed's model; its markets mapped to
ours; anything else refused with UofError (never another exception), fuzzed."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.core.markets import MarketType
from sportsbook.feed.model import (
    Alive,
    BetCancel,
    BetSettlement,
    BetStop,
    FeedMarketStatus,
    FixtureChange,
    MarketRef,
    OddsChange,
    OutcomeOdds,
    OutcomeResult,
    OutcomeResultKind,
    RollbackBetCancel,
    RollbackBetSettlement,
    SnapshotComplete,
)
from sportsbook.feed.uof import MappedMarket, UofError, decode, map_market, map_outcome, parse_specifiers

TS = 1_764_878_400_123  # 2025-12-04 20:00:00.123 UTC, in UOF's milliseconds
AT = datetime(2025, 12, 4, 20, 0, 0, 123000, tzinfo=UTC)
EVENT = "sr:match:10927088"

ODDS_CHANGE = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<odds_change product="1" event_id="{EVENT}" timestamp="{TS}">
  <sport_event_status status="1" match_status="6" home_score="1" away_score="0"/>
  <odds>
    <market id="1" status="1">
      <outcome id="1" odds="1.65" active="1"/>
      <outcome id="2" odds="3.80" active="1"/>
      <outcome id="3" odds="5.25" active="1"/>
    </market>
    <market id="18" specifiers="total=2.5" extended_specifiers="" status="0">
      <outcome id="12" odds="1.90" active="1"/>
      <outcome id="13" odds="1.90" active="0"/>
    </market>
    <market id="16" specifiers="hcp=-0.25" status="-1"/>
  </odds>
</odds_change>""".encode()


def test_odds_change() -> None:
    message = decode(ODDS_CHANGE)
    assert isinstance(message, OddsChange)
    assert (message.producer, message.timestamp, message.event) == ("live", AT, EVENT)
    one_x_two, total, handicap = message.markets
    assert one_x_two.market == MarketRef(1)
    assert one_x_two.status is FeedMarketStatus.ACTIVE
    assert one_x_two.outcomes[0] == OutcomeOdds("1", Decimal("1.65"), True)
    assert total.market == MarketRef(18, (("total", "2.5"),))
    assert total.status is FeedMarketStatus.SUSPENDED
    assert total.outcomes[1] == OutcomeOdds("13", Decimal("1.90"), False)  # inactive
    assert (handicap.market, handicap.status, handicap.outcomes) == (
        MarketRef(16, (("hcp", "-0.25"),)),
        FeedMarketStatus.DEACTIVATED,
        (),
    )


def test_bet_stop_and_the_producers() -> None:
    raw = f'<bet_stop product="3" event_id="{EVENT}" timestamp="{TS}" groups="all" market_status="0"/>'
    assert decode(raw.encode()) == BetStop(producer="prematch", timestamp=AT, event=EVENT)


def test_bet_settlement_with_void_and_dead_heat_factors() -> None:
    raw = f"""<bet_settlement certainty="2" product="1" event_id="{EVENT}" timestamp="{TS}">
      <outcomes>
        <market id="1"><outcome id="1" result="1"/><outcome id="2" result="0"/><outcome id="3" result="0"/></market>
        <market id="16" specifiers="hcp=-0.25">
          <outcome id="1714" result="1" void_factor="0.5"/><outcome id="1715" result="0" void_factor="0.5"/>
        </market>
        <market id="999"><outcome id="x" result="1" dead_heat_factor="0.5"/><outcome id="y"/></market>
      </outcomes>
    </bet_settlement>"""
    message = decode(raw.encode())
    assert isinstance(message, BetSettlement)
    one_x_two, handicap, other = message.markets
    assert [o.result for o in one_x_two.outcomes] == [
        OutcomeResultKind.WON,
        OutcomeResultKind.LOST,
        OutcomeResultKind.LOST,
    ]
    assert handicap.outcomes[0] == OutcomeResult("1714", OutcomeResultKind.WON, Decimal("0.5"))
    assert other.outcomes == (
        OutcomeResult("x", OutcomeResultKind.WON, Decimal(0), Decimal("0.5")),
        OutcomeResult("y", OutcomeResultKind.UNDECIDED),
    )


def test_rollbacks_and_cancels() -> None:
    rollback = (
        f'<rollback_bet_settlement product="1" event_id="{EVENT}" timestamp="{TS}">'
        '<market id="1"/></rollback_bet_settlement>'
    )
    assert decode(rollback.encode()) == RollbackBetSettlement(
        producer="live", timestamp=AT, event=EVENT, markets=(MarketRef(1),)
    )
    cancel = (
        f'<bet_cancel product="1" event_id="{EVENT}" timestamp="{TS}" start_time="{TS - 60_000}" end_time="{TS}">'
        '<market id="18" specifiers="total=2.5" void_reason="12"/></bet_cancel>'
    )
    message = decode(cancel.encode())
    assert isinstance(message, BetCancel)
    assert message.markets == (MarketRef(18, (("total", "2.5"),)),)
    assert (message.start, message.end) == (datetime(2025, 12, 4, 19, 59, 0, 123000, tzinfo=UTC), AT)
    undo = (
        f'<rollback_bet_cancel product="1" event_id="{EVENT}" timestamp="{TS}"><market id="1"/></rollback_bet_cancel>'
    )
    assert decode(undo.encode()) == RollbackBetCancel(
        producer="live", timestamp=AT, event=EVENT, markets=(MarketRef(1),)
    )


def test_fixture_change_alive_and_snapshot_complete() -> None:
    start = TS + 3_600_000
    fixture = f'<fixture_change product="3" event_id="{EVENT}" timestamp="{TS}" start_time="{start}" change_type="5"/>'
    message = decode(fixture.encode())
    assert isinstance(message, FixtureChange)
    assert message.start_time == datetime(2025, 12, 4, 21, 0, 0, 123000, tzinfo=UTC)
    assert decode(f'<alive product="1" timestamp="{TS}" subscribed="0"/>'.encode()) == Alive(
        producer="live", timestamp=AT, subscribed=False
    )
    assert decode(f'<snapshot_complete product="1" timestamp="{TS}" request_id="7"/>'.encode()) == SnapshotComplete(
        producer="live", timestamp=AT, request_id=7
    )


def _odds(markets: str) -> bytes:
    return f'<odds_change product="1" event_id="e" timestamp="{TS}"><odds>{markets}</odds></odds_change>'.encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"<odds_change", "not well-formed"),
        (f'<?xml version="1.0" encoding="TF-8"?><alive product="1" timestamp="{TS}"/>'.encode(), "not well-formed"),
        (b"<bet_stop_ish/>", "unknown message type"),
        (f'<alive product="2" timestamp="{TS}"/>'.encode(), "unknown product 2"),
        (b'<alive product="1"/>', "no timestamp"),
        (f'<bet_stop product="1" timestamp="{TS}"/>'.encode(), "no event_id"),
        (b'<alive product="1" timestamp="soon"/>', "alive"),
        (
            _odds('<market id="1" status="7"/>'),
            "unknown UOF market status 7",
        ),
        (
            _odds('<market id="1" specifiers="total"/>'),
            "bad specifiers",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><alive product="1" timestamp="1">&a;</alive>',
            "not well-formed",  # entities are refused: a feed's bytes are not trusted with them
        ),
    ],
)
def test_what_is_not_a_uof_message_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(UofError, match=reason):
        decode(raw)


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=300), st.sampled_from([ODDS_CHANGE]).map(lambda b: b[: len(b) // 2])))
def test_any_bytes_decode_or_are_refused_with_uof_error(raw: bytes) -> None:
    with contextlib.suppress(UofError):
        decode(raw)


@settings(max_examples=200)
@given(st.data())
def test_a_mutated_message_decodes_or_is_refused_with_uof_error(data: st.DataObject) -> None:
    text = ODDS_CHANGE.decode()
    at = data.draw(st.integers(0, len(text) - 1))
    mutated = text[:at] + data.draw(st.text(max_size=5)) + text[at + data.draw(st.integers(0, 5)) :]
    with contextlib.suppress(UofError):
        decode(mutated.encode())


def test_specifiers() -> None:
    assert parse_specifiers("") == ()
    assert parse_specifiers("total=2.5") == (("total", "2.5"),)
    both = (("total", "2.5"), ("variant", "sr:exact_goals:4+"))
    assert parse_specifiers("variant=sr:exact_goals:4+|total=2.5") == both


@pytest.mark.parametrize(
    ("ref", "mapped"),
    [
        (MarketRef(1), MappedMarket(MarketType.ONE_X_TWO, {})),
        (MarketRef(10), MappedMarket(MarketType.DOUBLE_CHANCE, {})),
        (MarketRef(11), MappedMarket(MarketType.DRAW_NO_BET, {})),
        (MarketRef(16, (("hcp", "-0.25"),)), MappedMarket(MarketType.ASIAN_HANDICAP, {"hcp": "-0.25"})),
        (MarketRef(18, (("total", "2.5"),)), MappedMarket(MarketType.TOTAL, {"total": "2.5"})),
        (MarketRef(29), MappedMarket(MarketType.BTTS, {})),
        (MarketRef(18), None),  # a total without its line
        (MarketRef(999), None),  # not mapped: skipped and counted
    ],
)
def test_uof_markets_map_to_ours(ref: MarketRef, mapped: MappedMarket | None) -> None:
    assert map_market(ref) == mapped


@pytest.mark.parametrize(
    ("market", "outcome", "ours"),
    [(1, "1", "home"), (1, "2", "draw"), (1, "3", "away"), (18, "12", "over"), (18, "13", "under"),
     (16, "1714", "home"), (16, "1715", "away"), (29, "74", "yes"), (29, "76", "no"), (29, "75", None),
     (999, "1", None)],
)  # fmt: skip
def test_uof_outcomes_map_to_ours(market: int, outcome: str, ours: str | None) -> None:
    assert map_outcome(MarketRef(market), outcome) == ours
