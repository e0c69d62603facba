"""The feed's message model and rules: UOF's market statuses, which messages apply (duplicates and stale prices
do not, whatever the order they come in), and a producer's liveness."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.feed.model import (
    Alive,
    BetStop,
    FeedMarketStatus,
    MarketOdds,
    MarketRef,
    OddsChange,
    OutcomeOdds,
    ProducerMonitor,
    ProducerState,
    Recover,
    Resume,
    Sequencer,
    SnapshotComplete,
    Suspend,
    Verdict,
    specifiers,
)

T0 = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
EVENT = "sr:match:10927088"
TOTAL_25 = MarketRef(18, specifiers({"total": "2.5"}))
ONE_X_TWO = MarketRef(1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def odds(seconds: float, *markets: tuple[MarketRef, str], event: str = EVENT) -> OddsChange:
    return OddsChange(
        producer="live",
        timestamp=at(seconds),
        event=event,
        markets=tuple(
            MarketOdds(ref, FeedMarketStatus.ACTIVE, (OutcomeOdds("12", Decimal(price)),)) for ref, price in markets
        ),
    )


@pytest.mark.parametrize(
    ("number", "status"),
    [
        (1, FeedMarketStatus.ACTIVE),
        (0, FeedMarketStatus.SUSPENDED),
        (-1, FeedMarketStatus.DEACTIVATED),
        (-2, FeedMarketStatus.HANDED_OVER),
        (-3, FeedMarketStatus.SETTLED),
        (-4, FeedMarketStatus.CANCELLED),
    ],
)
def test_uof_market_statuses(number: int, status: FeedMarketStatus) -> None:
    assert FeedMarketStatus.from_uof(number) is status


@pytest.mark.parametrize("number", [2, -5, 99])
def test_an_unknown_uof_status_is_refused(number: int) -> None:
    with pytest.raises(ValueError, match="unknown UOF market status"):
        FeedMarketStatus.from_uof(number)


def test_a_message_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Alive(producer="live", timestamp=datetime(2026, 12, 4, 20, 0))


def test_specifiers_are_canonical() -> None:
    assert specifiers({"total": "2.5", "a": "1"}) == (("a", "1"), ("total", "2.5"))
    assert MarketRef(18, specifiers({"total": "2.5"})) == TOTAL_25


def test_a_duplicate_is_refused_and_an_older_price_is_stale() -> None:
    seq = Sequencer()
    first = odds(10, (TOTAL_25, "1.90"))
    assert seq.admit(first) is Verdict.APPLY
    assert seq.admit(first) is Verdict.DUPLICATE
    assert seq.admit(odds(5, (TOTAL_25, "2.10"))) is Verdict.STALE
    assert seq.admit(odds(5, (ONE_X_TWO, "2.10"))) is Verdict.APPLY  # another market has no newer price
    assert seq.admit(odds(10, (TOTAL_25, "1.95"))) is Verdict.APPLY  # the same time, another message
    assert seq.admit(odds(5, (TOTAL_25, "2.10"), event="sr:match:2")) is Verdict.APPLY  # another event


def test_the_fresh_markets_of_a_partly_stale_message() -> None:
    seq = Sequencer()
    assert seq.admit(odds(10, (TOTAL_25, "1.90"))) is Verdict.APPLY
    mixed = odds(7, (TOTAL_25, "2.00"), (ONE_X_TWO, "3.10"))
    assert seq.admit(mixed) is Verdict.APPLY
    assert [m.market for m in seq.fresh(mixed)] == [ONE_X_TWO]


def test_a_price_older_than_the_events_bet_stop_is_stale() -> None:
    seq = Sequencer()
    stop = BetStop(producer="live", timestamp=at(20), event=EVENT)
    assert seq.admit(stop) is Verdict.APPLY
    assert seq.admit(odds(15, (TOTAL_25, "1.90"))) is Verdict.STALE
    assert seq.admit(BetStop(producer="live", timestamp=at(12), event=EVENT)) is Verdict.STALE
    assert seq.admit(odds(25, (TOTAL_25, "1.90"))) is Verdict.APPLY
    seq.forget_event(EVENT)
    assert seq.admit(odds(1, (TOTAL_25, "1.70"))) is Verdict.APPLY  # an ended event's times are gone


def test_memory_of_messages_is_bounded() -> None:
    seq = Sequencer(remember=3)
    messages = [odds(i, (MarketRef(100 + i), "2.00")) for i in range(5)]
    for m in messages:
        assert seq.admit(m) is Verdict.APPLY
    assert seq.admit(messages[4]) is Verdict.DUPLICATE
    assert seq.admit(messages[0]) is Verdict.APPLY  # forgotten, and its market's time is its own


_MARKETS = [MarketRef(18, specifiers({"total": str(line)})) for line in ("1.5", "2.5", "3.5")] + [ONE_X_TWO]


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[OddsChange], list[OddsChange]]:
    """A feed's odds changes in time order (each naming some markets at a distinct time), and the same messages
    as they may arrive: shuffled, some twice."""
    n = draw(st.integers(1, 30))
    sent = []
    for i in range(n):
        names = draw(st.lists(st.sampled_from(_MARKETS), min_size=1, max_size=4, unique=True))
        sent.append(odds(i, *((m, f"{draw(st.integers(101, 999)) / 100:.2f}") for m in names)))
    arrived = sent + draw(st.lists(st.sampled_from(sent), max_size=10))
    random.Random(draw(st.integers(0, 2**32))).shuffle(arrived)
    return sent, arrived


@settings(max_examples=300)
@given(streams())
def test_whatever_the_order_each_market_ends_at_its_newest_price_and_nothing_applies_twice(
    stream: tuple[list[OddsChange], list[OddsChange]],
) -> None:
    sent, arrived = stream
    seq = Sequencer()
    prices: dict[MarketRef, Decimal | None] = {}
    applied: list[OddsChange] = []
    for message in arrived:
        if seq.admit(message) is Verdict.APPLY:
            applied.append(message)
            for market in seq.fresh(message):
                prices[market.market] = market.outcomes[0].odds
    newest = {m.market: m.outcomes[0].odds for message in sent for m in message.markets}  # time order: last wins
    assert prices == newest
    assert len(applied) == len(set(applied))


# ---- producer liveness ----

TIMEOUT = timedelta(seconds=20)


def alive(seconds: float, subscribed: bool = True) -> Alive:
    return Alive(producer="live", timestamp=at(seconds), subscribed=subscribed)


def test_a_producer_starts_down_and_recovers_everything() -> None:
    monitor = ProducerMonitor("live", TIMEOUT)
    assert monitor.start(at(0)) == [Suspend("live"), Recover("live", None, 1)]
    assert monitor.state is ProducerState.RECOVERING
    done = monitor.snapshot_complete(SnapshotComplete(producer="live", timestamp=at(3), request_id=1), at(3))
    assert (done, monitor.state) == ([Resume("live")], ProducerState.UP)


def test_silence_suspends_at_once_and_recovers_from_the_last_good_alive() -> None:
    monitor = ProducerMonitor("live", TIMEOUT, last_good=at(-100))
    assert monitor.start(at(0)) == [Suspend("live"), Recover("live", at(-100), 1)]  # a restart: from where it was
    monitor.snapshot_complete(SnapshotComplete(producer="live", timestamp=at(1), request_id=1), at(1))
    assert monitor.alive(alive(10), at(10)) == []
    assert monitor.tick(at(29)) == []
    assert monitor.tick(at(31)) == [Suspend("live"), Recover("live", at(10), 2)]
    assert monitor.state is ProducerState.RECOVERING
    # a late snapshot_complete of the earlier recovery does not resume it; the one asked for does
    assert monitor.snapshot_complete(SnapshotComplete(producer="live", timestamp=at(32), request_id=1), at(32)) == []
    assert monitor.alive(alive(33), at(33)) == []
    assert monitor.last_good == at(10)  # an alive while recovering is not a good time
    assert monitor.snapshot_complete(SnapshotComplete(producer="live", timestamp=at(34), request_id=2), at(34)) == [
        Resume("live")
    ]


def test_a_lost_subscription_suspends_and_a_stuck_recovery_is_asked_again() -> None:
    monitor = ProducerMonitor("live", TIMEOUT, recovery_timeout=timedelta(seconds=60))
    monitor.start(at(0))
    monitor.snapshot_complete(SnapshotComplete(producer="live", timestamp=at(1), request_id=1), at(1))
    monitor.alive(alive(5), at(5))
    assert monitor.alive(alive(8, subscribed=False), at(8)) == [Suspend("live"), Recover("live", at(5), 2)]
    assert monitor.tick(at(60)) == []
    assert monitor.tick(at(69)) == [Recover("live", at(5), 3)]


events = st.lists(
    st.tuples(st.sampled_from(["alive", "unsubscribed", "tick", "snapshot"]), st.integers(0, 40), st.integers(0, 4)),
    max_size=60,
)


@settings(max_examples=300)
@given(events)
def test_liveness_invariants(steps: list[tuple[str, int, int]]) -> None:
    """Whatever arrives: a suspension always comes with a recovery request; only the snapshot_complete of the
    request under way resumes; the producer is up only after a resume; the last good time never goes back."""
    monitor = ProducerMonitor("live", TIMEOUT, recovery_timeout=timedelta(seconds=60))
    now = 0.0
    actions = monitor.start(at(now))
    up = False
    last_good = monitor.last_good
    for kind, advance, request in steps:
        now += advance
        if kind == "alive":
            actions = monitor.alive(alive(now), at(now))
        elif kind == "unsubscribed":
            actions = monitor.alive(alive(now, subscribed=False), at(now))
        elif kind == "tick":
            actions = monitor.tick(at(now))
        else:
            asked = monitor.request_id
            done = SnapshotComplete(producer="live", timestamp=at(now), request_id=request)
            actions = monitor.snapshot_complete(done, at(now))
            if actions:
                assert request == asked
        if any(isinstance(a, Suspend) for a in actions):
            assert isinstance(actions[-1], Recover)
            up = False
        if any(isinstance(a, Resume) for a in actions):
            up = True
        assert (monitor.state is ProducerState.UP) == up
        if last_good is not None:
            assert monitor.last_good is not None
            assert monitor.last_good >= last_good
        last_good = monitor.last_good
