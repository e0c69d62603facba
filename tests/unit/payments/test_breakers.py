"""Circuit breakers per connector on a manual clock: they open on errors and timeouts (never on declines, which
the caller records as a working connector's answer), stay open for the reset timeout, then let one probe through,
which closes or reopens them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sportsbook.core.clock import ManualClock
from sportsbook.payments.breakers import Breakers, ClockStorage

EUROPA, ATLAS = "sim-europa", "sim-atlas"


@pytest.fixture
def clock() -> ManualClock:
    # Far from the wall clock on purpose: pybreaker reads the wall clock, and the breakers must not.
    return ManualClock(datetime(2020, 1, 1, tzinfo=UTC))


@pytest.fixture
def changes() -> list[tuple[str, str, str]]:
    return []


@pytest.fixture
def breakers(clock: ManualClock, changes: list[tuple[str, str, str]]) -> Breakers:
    return Breakers(
        clock,
        fail_max=3,
        reset_timeout_s=30.0,
        names=(EUROPA, ATLAS),
        on_change=lambda *change: changes.append(change),
    )


def trip(breakers: Breakers, name: str = EUROPA) -> None:
    for _ in range(3):
        breakers.record(name, ok=False)


def test_a_breaker_starts_closed_and_allows(breakers: Breakers) -> None:
    assert breakers.states() == {ATLAS: "closed", EUROPA: "closed"}
    assert breakers.allow(EUROPA)
    assert breakers.unhealthy() == frozenset()


def test_it_opens_after_fail_max_consecutive_failures(breakers: Breakers, changes: list[tuple[str, str, str]]) -> None:
    breakers.record(EUROPA, ok=False)
    breakers.record(EUROPA, ok=False)
    assert breakers.state(EUROPA) == "closed"
    breakers.record(EUROPA, ok=False)
    assert breakers.state(EUROPA) == "open"
    assert not breakers.allow(EUROPA)
    assert breakers.unhealthy() == frozenset({EUROPA})
    assert breakers.allow(ATLAS)  # one breaker per connector
    assert changes == [(EUROPA, "closed", "open")]


def test_an_answer_between_failures_restarts_the_count(breakers: Breakers) -> None:
    # A decline is an answer from a working connector: the caller records it as ok, like an approval.
    for _ in range(3):
        breakers.record(EUROPA, ok=False)
        breakers.record(EUROPA, ok=False)
        breakers.record(EUROPA, ok=True)
    assert breakers.state(EUROPA) == "closed"


def test_it_stays_open_until_the_reset_timeout(breakers: Breakers, clock: ManualClock) -> None:
    trip(breakers)
    clock.advance(29.999)
    assert not breakers.allow(EUROPA)
    assert breakers.state(EUROPA) == "open"
    assert breakers.unhealthy() == frozenset({EUROPA})


def test_an_outcome_that_arrives_while_open_changes_nothing(breakers: Breakers, clock: ManualClock) -> None:
    trip(breakers)
    clock.advance(10)
    breakers.record(EUROPA, ok=True)  # an attempt sent before the breaker opened
    assert breakers.state(EUROPA) == "open"
    clock.advance(19.9)
    assert not breakers.allow(EUROPA)  # the timeout still runs from the opening


def test_after_the_timeout_it_goes_half_open_and_lets_one_probe_through(
    breakers: Breakers, clock: ManualClock, changes: list[tuple[str, str, str]]
) -> None:
    trip(breakers)
    clock.advance(30)
    assert breakers.unhealthy() == frozenset()  # due a probe: routing may choose it again
    assert breakers.allow(EUROPA)
    assert breakers.state(EUROPA) == "half-open"
    assert not breakers.allow(EUROPA)  # one probe at a time
    assert breakers.unhealthy() == frozenset({EUROPA})
    assert changes[-1] == (EUROPA, "open", "half-open")


def test_a_successful_probe_closes_it(
    breakers: Breakers, clock: ManualClock, changes: list[tuple[str, str, str]]
) -> None:
    trip(breakers)
    clock.advance(30)
    assert breakers.allow(EUROPA)
    breakers.record(EUROPA, ok=True)
    assert breakers.state(EUROPA) == "closed"
    assert breakers.allow(EUROPA)
    assert changes == [(EUROPA, "closed", "open"), (EUROPA, "open", "half-open"), (EUROPA, "half-open", "closed")]
    breakers.record(EUROPA, ok=False)
    breakers.record(EUROPA, ok=False)
    assert breakers.state(EUROPA) == "closed"  # the failure count started again


def test_a_failed_probe_reopens_it_for_another_timeout(breakers: Breakers, clock: ManualClock) -> None:
    trip(breakers)
    clock.advance(30)
    assert breakers.allow(EUROPA)
    clock.advance(5)
    breakers.record(EUROPA, ok=False)
    assert breakers.state(EUROPA) == "open"
    clock.advance(29.9)
    assert not breakers.allow(EUROPA)  # the timeout runs from the failed probe
    clock.advance(0.1)
    assert breakers.allow(EUROPA)


def test_a_probe_whose_outcome_never_comes_is_given_up_after_a_timeout(breakers: Breakers, clock: ManualClock) -> None:
    trip(breakers)
    clock.advance(30)
    assert breakers.allow(EUROPA)
    clock.advance(29)
    assert not breakers.allow(EUROPA)
    clock.advance(1)
    assert breakers.allow(EUROPA)


def test_the_librarys_own_timeout_check_follows_the_injected_clock(breakers: Breakers, clock: ManualClock) -> None:
    # `record` on an open breaker goes through pybreaker's own `opened_at + timeout` comparison.
    trip(breakers)
    clock.advance(29)
    breakers.record(EUROPA, ok=True)
    assert breakers.state(EUROPA) == "open"  # the wall clock is years past 2020, the injected clock is not
    clock.advance(1)
    breakers.record(EUROPA, ok=True)  # due: pybreaker half-opens and takes this as the probe
    assert breakers.state(EUROPA) == "closed"


def test_the_storage_reads_back_opened_at_shifted_to_the_wall_clock(clock: ManualClock) -> None:
    storage = ClockStorage(clock)
    assert storage.opened_at is None
    storage.opened_at = datetime.now(UTC)  # what pybreaker passes: ignored, the injected clock is what counts
    assert storage.opened_clock == clock.now()
    clock.advance(12)
    wall = datetime.now(UTC)
    shifted = storage.opened_at
    assert shifted is not None
    # pybreaker compares `wall < opened_at + timeout`: the shifted value is the wall clock 12 s after opening
    assert abs((wall - shifted) - timedelta(seconds=12)) < timedelta(seconds=1)


def test_staff_can_force_a_breaker_open_and_close_it(
    breakers: Breakers, clock: ManualClock, changes: list[tuple[str, str, str]]
) -> None:
    breakers.force_open(ATLAS)
    breakers.force_open(ATLAS)  # again: no second change
    assert not breakers.allow(ATLAS)
    assert breakers.unhealthy() == frozenset({ATLAS})
    breakers.close(ATLAS)
    assert breakers.allow(ATLAS)
    assert changes == [(ATLAS, "closed", "open"), (ATLAS, "open", "closed")]
    breakers.force_open(ATLAS)
    clock.advance(30)
    assert breakers.allow(ATLAS)  # a forced opening lasts one reset timeout, then a probe


def test_a_connector_not_named_at_start_gets_a_closed_breaker(breakers: Breakers) -> None:
    assert breakers.allow("stripe")
    trip(breakers, "stripe")
    assert breakers.unhealthy() == frozenset({"stripe"})
    assert breakers.names == (ATLAS, EUROPA, "stripe")


def test_unhealthy_is_exactly_what_allow_would_refuse(clock: ManualClock) -> None:
    breakers = Breakers(clock, fail_max=1, reset_timeout_s=10, names=("a", "b", "c", "d"))
    breakers.record("b", ok=False)  # open
    breakers.record("c", ok=False)
    clock.advance(10)  # b and c due a probe
    breakers.record("d", ok=False)  # d open, not due
    assert breakers.allow("c")  # c half-open, its probe under way
    unhealthy = breakers.unhealthy()
    assert unhealthy == frozenset({"c", "d"})
    assert {name for name in "abcd" if not breakers.allow(name)} == unhealthy
