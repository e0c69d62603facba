"""A circuit breaker per payment connector, on pybreaker, following the platform's clock.

A connector that keeps failing (errors, timeouts: not declines, which are a working connector's answer) is left
out of routing until its reset timeout passes; then one probe is let through (half-open): a success closes the
breaker, a failure opens it for another timeout. The state machine (closed, open, half-open; consecutive failure
counter; success threshold) is pybreaker's: outcomes reach it through its `call` API.

pybreaker reads the wall clock itself (`datetime.now(UTC)`), and tests and simulations run on a `ManualClock`.
`ClockStorage` makes the library follow the injected clock: see its docstring. pybreaker's `call_async` is not
used (it needs tornado); `record` calls a function that only succeeds or raises, so nothing is awaited inside
the library's lock. The breakers belong to one event loop: `allow` and `record` are not meant for threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import pybreaker

from sportsbook.core.clock import Clock

CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN

OnChange = Callable[[str, str, str], None]  # (connector, old state, new state)


class ClockStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory storage, with `opened_at` kept in the injected clock's time.

    pybreaker decides whether an open breaker may try again with
    `datetime.now(UTC) < opened_at + timeout`, reading the wall clock itself. So `opened_at` is stored as
    `clock.now()` when the breaker opens (whatever pybreaker passes in), and read back shifted by the distance
    between the wall clock and the injected clock: `stored + (datetime.now(UTC) - clock.now())`. pybreaker's
    comparison becomes `wall < stored + (wall' - clock.now()) + timeout`, which is
    `clock.now() < stored + timeout` up to the microseconds between the two readings of the wall clock (wall'
    is read first, so the breaker may half-open that much early, never late). With the system clock the two
    clocks are one and the shift is nil."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(CLOSED)
        self._clock = clock
        self._opened_clock: datetime | None = None

    @property
    def opened_at(self) -> datetime | None:
        if self._opened_clock is None:
            return None
        return self._opened_clock + (datetime.now(UTC) - self._clock.now())

    @opened_at.setter
    def opened_at(self, _wall: datetime) -> None:
        self._opened_clock = self._clock.now()

    @property
    def opened_clock(self) -> datetime | None:
        """When the breaker last opened, in the injected clock's time."""
        return self._opened_clock


class _Failure(Exception):
    """A connector error or timeout, as the failed call pybreaker counts."""


def _succeed() -> None:
    return None


def _fail() -> None:
    raise _Failure


class _Listener(pybreaker.CircuitBreakerListener):
    """Hands pybreaker's state changes to the caller's callback (for a metric, a log line)."""

    def __init__(self, on_change: OnChange) -> None:
        self._on_change = on_change

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        # pybreaker tells of a state entered even when it is the one it left (open forced on an open breaker)
        if old_state is not None and old_state.name != new_state.name:
            self._on_change(cb.name or "", old_state.name, new_state.name)


class Breakers:
    """One circuit breaker per connector name; a name not seen before gets a closed breaker."""

    def __init__(
        self,
        clock: Clock,
        *,
        fail_max: int = 5,
        reset_timeout_s: float = 30.0,
        names: Iterable[str] = (),
        on_change: OnChange | None = None,
    ) -> None:
        self._clock = clock
        self._fail_max = fail_max
        self._timeout = timedelta(seconds=reset_timeout_s)
        self._listeners = [_Listener(on_change)] if on_change is not None else []
        self._breakers: dict[str, tuple[pybreaker.CircuitBreaker, ClockStorage]] = {}
        self._probes: dict[str, datetime] = {}  # when a half-open breaker's probe was let through
        for name in names:
            self._get(name)

    def _get(self, name: str) -> tuple[pybreaker.CircuitBreaker, ClockStorage]:
        found = self._breakers.get(name)
        if found is None:
            storage = ClockStorage(self._clock)
            breaker = pybreaker.CircuitBreaker(
                fail_max=self._fail_max,
                reset_timeout=self._timeout.total_seconds(),
                listeners=self._listeners,
                state_storage=storage,
                name=name,
            )
            found = self._breakers[name] = (breaker, storage)
        return found

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._breakers))

    def state(self, name: str) -> str:
        """The breaker's state: "closed", "open" or "half-open"."""
        return self._get(name)[0].current_state

    def states(self) -> dict[str, str]:
        """Every breaker's state, by connector name (for the staff API)."""
        return {name: breaker.current_state for name, (breaker, _storage) in sorted(self._breakers.items())}

    def _due(self, storage: ClockStorage, now: datetime) -> bool:
        opened = storage.opened_clock
        return opened is None or now >= opened + self._timeout

    def _probing(self, name: str, now: datetime) -> bool:
        # A probe whose outcome never came (a crash, a lost task) is given up after one reset timeout, so the
        # breaker cannot wedge half-open.
        started = self._probes.get(name)
        return started is not None and now < started + self._timeout

    def allow(self, name: str) -> bool:
        """Whether an attempt may go to the connector now. Closed: yes. Open: no until the reset timeout has
        passed; then the breaker goes half-open and this attempt is its probe. Half-open: one probe at a time."""
        breaker, storage = self._get(name)
        state = breaker.current_state
        if state == CLOSED:
            return True
        now = self._clock.now()
        if state == OPEN:
            if not self._due(storage, now):
                return False
            breaker.half_open()
        elif self._probing(name, now):
            return False
        self._probes[name] = now
        return True

    def record(self, name: str, ok: bool) -> None:
        """An attempt's outcome. `ok`: the connector answered (approved, declined, a 3-D Secure challenge: a
        decline is the issuer's answer through a working connector). Not ok: an error or a timeout. An outcome
        that arrives while the breaker is open and not yet due (an attempt sent before it opened) changes
        nothing."""
        breaker, _storage = self._get(name)
        self._probes.pop(name, None)
        # The failure is counted (or the breaker was open) by then: the caller already has its outcome.
        with contextlib.suppress(_Failure, pybreaker.CircuitBreakerError):
            breaker.call(_succeed if ok else _fail)

    def unhealthy(self) -> frozenset[str]:
        """Connectors `allow` would refuse now: open and not yet due a probe, or half-open with a probe under
        way. Routing leaves them out."""
        now = self._clock.now()
        out: list[str] = []
        for name, (breaker, storage) in self._breakers.items():
            state = breaker.current_state
            if (state == OPEN and not self._due(storage, now)) or (state == HALF_OPEN and self._probing(name, now)):
                out.append(name)
        return frozenset(out)

    def force_open(self, name: str) -> None:
        """Staff: take a connector out of routing for one reset timeout (then it is probed like any open one)."""
        self._probes.pop(name, None)
        self._get(name)[0].open()

    def close(self, name: str) -> None:
        """Staff: put a connector back at once, its failure count cleared."""
        self._probes.pop(name, None)
        self._get(name)[0].close()
