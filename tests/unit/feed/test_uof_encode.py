"""UOF's XML written from the feed's model: `decode(encode(m)) == m` for every message UOF can express (a
hypothesis property), the XML as UOF publishes it (table tests), and a ValueError for what it cannot express."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.feed.model import (
    Alive,
    BetCancel,
    BetSettlement,
    BetStop,
    EventPhase,
    EventState,
    FeedMarketStatus,
    FeedMessage,
    Fixture,
    FixtureChange,
    MarketOdds,
    MarketRef,
    MarketResult,
    OddsChange,
    OutcomeOdds,
    OutcomeResult,
    OutcomeResultKind,
    RollbackBetCancel,
    RollbackBetSettlement,
    SnapshotComplete,
    specifiers,
)
from sportsbook.feed.uof import decode, encode, format_specifiers, parse_specifiers

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TS = 1_764_878_400_123
AT = EPOCH + timedelta(milliseconds=TS)
EVENT = "sr:match:10927088"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


# ---- the XML, message by message ----


@pytest.mark.parametrize(
    ("message", "xml"),
    [
        (
            OddsChange(
                producer="live",
                timestamp=AT,
                event=EVENT,
                state=EventState(EventPhase.LIVE, 1, 0),
                markets=(
                    MarketOdds(
                        MarketRef(1),
                        FeedMarketStatus.ACTIVE,
                        (OutcomeOdds("1", Decimal("1.65"), True, Decimal("0.582113")), OutcomeOdds("2", None, False)),
                    ),
                    MarketOdds(MarketRef(18, (("total", "2.5"),)), FeedMarketStatus.HANDED_OVER),
                ),
            ),
            f'<odds_change product="1" event_id="{EVENT}" timestamp="{TS}">'
            '<sport_event_status status="1" home_score="1" away_score="0" />'
            '<odds><market id="1" status="1">'
            '<outcome id="1" odds="1.65" probabilities="0.582113" active="1" /><outcome id="2" active="0" />'
            '</market><market id="18" specifiers="total=2.5" status="-2" /></odds></odds_change>',
        ),
        (
            OddsChange(producer="prematch", timestamp=AT, event=EVENT, state=EventState(EventPhase.CLOSED)),
            f'<odds_change product="3" event_id="{EVENT}" timestamp="{TS}"><sport_event_status status="4" />'
            "</odds_change>",
        ),
        (
            BetStop(producer="live", timestamp=AT, event=EVENT),
            f'<bet_stop product="1" event_id="{EVENT}" timestamp="{TS}" groups="all" />',
        ),
        (
            BetSettlement(
                producer="live",
                timestamp=AT,
                event=EVENT,
                markets=(
                    MarketResult(
                        MarketRef(16, (("hcp", "-0.25"),)),
                        (
                            OutcomeResult("1714", OutcomeResultKind.WON, Decimal("0.5")),
                            OutcomeResult("1715", OutcomeResultKind.LOST, Decimal("0.5")),
                        ),
                    ),
                    MarketResult(
                        MarketRef(999),
                        (
                            OutcomeResult("x", OutcomeResultKind.WON, Decimal(0), Decimal("0.5")),
                            OutcomeResult("y", OutcomeResultKind.UNDECIDED),
                        ),
                    ),
                ),
            ),
            f'<bet_settlement product="1" event_id="{EVENT}" timestamp="{TS}"><outcomes>'
            '<market id="16" specifiers="hcp=-0.25">'
            '<outcome id="1714" result="1" void_factor="0.5" /><outcome id="1715" result="0" void_factor="0.5" />'
            '</market><market id="999"><outcome id="x" result="1" dead_heat_factor="0.5" /><outcome id="y" />'
            "</market></outcomes></bet_settlement>",
        ),
        (
            RollbackBetSettlement(producer="live", timestamp=AT, event=EVENT, markets=(MarketRef(1),)),
            f'<rollback_bet_settlement product="1" event_id="{EVENT}" timestamp="{TS}"><market id="1" />'
            "</rollback_bet_settlement>",
        ),
        (
            BetCancel(
                producer="live",
                timestamp=AT,
                event=EVENT,
                markets=(MarketRef(18, (("total", "2.5"),)),),
                start=AT - timedelta(minutes=1),
                end=AT,
            ),
            f'<bet_cancel product="1" event_id="{EVENT}" timestamp="{TS}" start_time="{TS - 60_000}" '
            f'end_time="{TS}"><market id="18" specifiers="total=2.5" /></bet_cancel>',
        ),
        (
            RollbackBetCancel(producer="prematch", timestamp=AT, event=EVENT, markets=(MarketRef(29),), end=AT),
            f'<rollback_bet_cancel product="3" event_id="{EVENT}" timestamp="{TS}" end_time="{TS}">'
            '<market id="29" /></rollback_bet_cancel>',
        ),
        (
            FixtureChange(producer="prematch", timestamp=AT, event=EVENT, start_time=AT + timedelta(hours=1)),
            f'<fixture_change product="3" event_id="{EVENT}" timestamp="{TS}" start_time="{TS + 3_600_000}" />',
        ),
        (
            Alive(producer="live", timestamp=AT, subscribed=False),
            f'<alive product="1" timestamp="{TS}" subscribed="0" />',
        ),
        (
            SnapshotComplete(producer="prematch", timestamp=AT, request_id=7),
            f'<snapshot_complete product="3" timestamp="{TS}" request_id="7" />',
        ),
    ],
)
def test_each_message_is_written_as_uof_publishes_it(message: FeedMessage, xml: str) -> None:
    raw = encode(message)
    assert raw.decode() == DECLARATION + xml
    assert decode(raw) == message


def test_text_is_escaped() -> None:
    ref = MarketRef(999, (("variant", 'a<b>&"c"'),))
    message = RollbackBetSettlement(producer="live", timestamp=AT, event='x"&<y>', markets=(ref,))
    raw = encode(message)
    assert b'event_id="x&quot;&amp;&lt;y&gt;"' in raw
    assert decode(raw) == message


def test_a_fixture_change_keeps_only_its_start_time() -> None:
    fixture = Fixture("football", "Home v Away", AT, competitors=("Home", "Away"))
    message = FixtureChange(producer="prematch", timestamp=AT, event=EVENT, start_time=AT, fixture=fixture)
    assert decode(encode(message)) == FixtureChange(producer="prematch", timestamp=AT, event=EVENT, start_time=AT)


def test_a_time_in_another_zone_is_the_same_instant() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert decode(encode(Alive(producer="live", timestamp=paris))) == Alive(producer="live", timestamp=AT)


PLACED = BetSettlement(
    producer="live",
    timestamp=AT,
    event=EVENT,
    markets=(MarketResult(MarketRef(90002), (OutcomeResult("Red Rum", OutcomeResultKind.PLACED),)),),
)
REFUSED: list[tuple[FeedMessage, str]] = [
    (PLACED, "placed"),
    (BetStop(producer="live", timestamp=AT, event=EVENT, markets=(MarketRef(1),)), "market groups"),
    (Alive(producer="live", timestamp=AT + timedelta(microseconds=1)), "whole milliseconds"),
    (Alive(producer="ctrl", timestamp=AT), "no product"),
    (Alive(producer="live", timestamp=AT, event=EVENT), "names no event"),
    (BetStop(producer="live", timestamp=AT), "names its event"),
    (OddsChange(producer="live", timestamp=AT, event=EVENT, state=EventState(EventPhase.LIVE, 1)), "both sides"),
    (RollbackBetSettlement(producer="live", timestamp=AT, event=EVENT, markets=(MarketRef(1, (("a", "1|2"),)),)),
     "specifiers"),
    (RollbackBetSettlement(producer="live", timestamp=AT, event=EVENT, markets=(MarketRef(1, (("", "1"),)),)),
     "specifiers"),
    (BetStop(producer="live", timestamp=AT, event="sr:match:\x00"), "cannot carry"),
    (
        OddsChange(
            producer="live",
            timestamp=AT,
            event=EVENT,
            markets=(MarketOdds(MarketRef(1), FeedMarketStatus.ACTIVE, (OutcomeOdds("1", Decimal("NaN")),)),),
        ),
        "finite",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("message", "reason"), REFUSED)
def test_what_uof_cannot_express_is_refused(message: FeedMessage, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(message)


def test_specifiers_are_written_as_they_are_read() -> None:
    both = (("total", "2.5"), ("variant", "sr:exact_goals:4+"))
    assert format_specifiers(both) == "total=2.5|variant=sr:exact_goals:4+"
    assert parse_specifiers(format_specifiers(both)) == both
    assert format_specifiers(()) == ""


# ---- the round trip, for any message UOF can express ----


def _xml_char(c: str) -> bool:
    """Whether XML 1.0 can carry the character (its `Char` production)."""
    code = ord(c)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


texts = st.text(st.characters(codec="utf-8").filter(_xml_char), max_size=12)
names = texts.filter(lambda s: s != "" and "=" not in s and "|" not in s)
values = texts.filter(lambda s: "|" not in s)
times = st.integers(-(10**12), 10**13).map(lambda ms: EPOCH + timedelta(milliseconds=ms))
decimals = st.decimals(allow_nan=False, allow_infinity=False)
producers = st.sampled_from(["live", "prematch"])
refs = st.builds(MarketRef, st.integers(-(10**6), 10**6), st.dictionaries(names, values, max_size=3).map(specifiers))
states = st.one_of(
    st.none(),
    st.builds(EventState, st.sampled_from(EventPhase)),
    st.builds(EventState, st.sampled_from(EventPhase), st.integers(0, 999), st.integers(0, 999)),
)
odds_outcomes = st.builds(OutcomeOdds, texts, st.none() | decimals, st.booleans(), st.none() | decimals)
market_odds = st.builds(
    MarketOdds, refs, st.sampled_from(FeedMarketStatus), st.lists(odds_outcomes, max_size=4).map(tuple)
)
results = st.builds(
    OutcomeResult,
    texts,
    st.sampled_from([OutcomeResultKind.WON, OutcomeResultKind.LOST, OutcomeResultKind.UNDECIDED]),
    st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]) | decimals,
    st.none() | decimals,
)
market_results = st.builds(MarketResult, refs, st.lists(results, max_size=4).map(tuple))
ref_lists = st.lists(refs, max_size=3).map(tuple)
events = texts


def _message(kind: type[FeedMessage], **fields: st.SearchStrategy[object]) -> st.SearchStrategy[FeedMessage]:
    return st.builds(kind, producer=producers, timestamp=times, **fields)


messages = st.one_of(
    _message(OddsChange, event=events, markets=st.lists(market_odds, max_size=3).map(tuple), state=states),
    _message(BetStop, event=events),
    _message(BetSettlement, event=events, markets=st.lists(market_results, max_size=3).map(tuple)),
    _message(RollbackBetSettlement, event=events, markets=ref_lists),
    _message(BetCancel, event=events, markets=ref_lists, start=st.none() | times, end=st.none() | times),
    _message(RollbackBetCancel, event=events, markets=ref_lists, start=st.none() | times, end=st.none() | times),
    _message(FixtureChange, event=events, start_time=st.none() | times),
    _message(Alive, subscribed=st.booleans()),
    _message(SnapshotComplete, request_id=st.integers(-(2**63), 2**63)),
)


@settings(max_examples=500)
@given(messages)
def test_what_is_encoded_decodes_to_the_same_message(message: FeedMessage) -> None:
    assert decode(encode(message)) == message
