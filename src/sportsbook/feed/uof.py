"""Sportradar's Unified Odds Feed (UOF): its XML messages decoded into the feed's model (and the model encoded back
into them), and its markets mapped to ours. Pure: bytes in, messages out, and the reverse.

The messages are those of UOF's published schema: `odds_change`, `bet_stop`, `bet_settlement`,
`rollback_bet_settlement`, `bet_cancel`, `rollback_bet_cancel`, `fixture_change`, `alive` and
`snapshot_complete`, each with `product` (the producer: 1 live odds, 3 pre-match), `timestamp` (milliseconds
since the epoch) and, for an event's messages, `event_id` (`sr:match:10927088`). Markets carry `id`, `specifiers`
(`total=2.5`, `hcp=-0.25`, several joined by `|`) and `status`; outcomes `id`, `odds`, `active`; a settlement's
outcomes `result` (1 won, 0 lost), `void_factor` and `dead_heat_factor`. The XML is parsed with defusedxml: a
feed's bytes are never trusted with entities.

`encode` writes a message as UOF publishes it, so that `decode(encode(m)) == m` for every message UOF can express:
what it cannot express (a `placed` result, a `bet_stop` of listed markets, a time finer than a millisecond) is a
ValueError, never a silently different message. A `fixture_change` carries only its `start_time` in UOF (its
consumers read fixtures from UOF's Sports API), so `encode` drops `FixtureChange.fixture`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException

from sportsbook.core.errors import InvalidRequest
from sportsbook.core.markets import EachWayTerms, MarketType
from sportsbook.feed.model import (
    Alive,
    BetCancel,
    BetSettlement,
    BetStop,
    EventPhase,
    EventState,
    FeedMarketStatus,
    FeedMessage,
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
    Specifiers,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PRODUCERS: Mapping[int, str] = {1: "live", 3: "prematch"}
"""UOF's product ids of the producers this platform consumes, by the names the feed's model uses."""


class UofError(ValueError):
    """A message that is not UOF's, or not as its schema says: the adapter counts it, keeps it and skips it."""


# ---- markets: UOF's market descriptions mapped to our market types ----


@dataclass(frozen=True, slots=True)
class MarketMapping:
    """How one feed market maps to ours: its type, the specifier that carries its line (ours has the same name),
    and its outcome ids to our outcome names (None: the feed's outcome id is our outcome, as a correct score's
    `2:1` or a race's runner name). `each_way`: the specifiers `ew_fraction` and `ew_places` carry the market's
    each-way terms."""

    market_type: MarketType
    outcomes: Mapping[str, str] | None
    line: str | None = None
    each_way: bool = False


UOF_MARKETS: Mapping[int, MarketMapping] = {
    1: MarketMapping(MarketType.ONE_X_TWO, {"1": "home", "2": "draw", "3": "away"}),
    10: MarketMapping(MarketType.DOUBLE_CHANCE, {"9": "home_draw", "10": "home_away", "11": "draw_away"}),
    11: MarketMapping(MarketType.DRAW_NO_BET, {"4": "home", "5": "away"}),
    16: MarketMapping(MarketType.ASIAN_HANDICAP, {"1714": "home", "1715": "away"}, line="hcp"),
    18: MarketMapping(MarketType.TOTAL, {"12": "over", "13": "under"}, line="total"),
    29: MarketMapping(MarketType.BTTS, {"74": "yes", "76": "no"}),
}
"""The UOF markets mapped, from its published market descriptions (market 1 is 1x2 with outcomes 1/2/3, 18 the
total with `total=` and outcomes 12 over / 13 under, 16 the handicap with `hcp=` the home side's line, 29 both
teams to score with 74 yes / 76 no). A market not here is skipped and counted."""


@dataclass(frozen=True, slots=True)
class MappedMarket:
    market_type: MarketType
    specifiers: dict[str, str]
    each_way: EachWayTerms | None = None


def map_market(ref: MarketRef, markets: Mapping[int, MarketMapping] = UOF_MARKETS) -> MappedMarket | None:
    """Our market type and specifiers for a UOF market, or None when it is not mapped (or lacks its line)."""
    mapping = markets.get(ref.market_id)
    if mapping is None:
        return None
    given = dict(ref.specifiers)
    each_way = None
    if mapping.each_way and "ew_places" in given:
        try:
            each_way = EachWayTerms.parse(given.get("ew_fraction", ""), int(given["ew_places"]))
        except (InvalidRequest, ValueError):
            return None
    if mapping.line is None:
        return MappedMarket(mapping.market_type, {}, each_way)
    if mapping.line not in given:
        return None
    return MappedMarket(mapping.market_type, {mapping.line: given[mapping.line]}, each_way)


def map_outcome(ref: MarketRef, outcome_id: str, markets: Mapping[int, MarketMapping] = UOF_MARKETS) -> str | None:
    """Our outcome name for a UOF outcome of a mapped market, else None."""
    mapping = markets.get(ref.market_id)
    if mapping is None:
        return None
    return outcome_id if mapping.outcomes is None else mapping.outcomes.get(outcome_id)


# ---- decoding ----


def decode(raw: bytes) -> FeedMessage:
    """One UOF XML message as the feed's model; UofError when it is not one, or not as the schema says."""
    try:
        root = SafeXml.fromstring(raw)
    except (SafeXml.ParseError, DefusedXmlException, LookupError, UnicodeError) as exc:
        # LookupError: the XML declaration names an encoding Python does not know
        raise UofError(f"not well-formed XML: {exc}") from None
    decoder = _DECODERS.get(root.tag)
    if decoder is None:
        raise UofError(f"unknown message type {root.tag!r}")
    try:
        return decoder(root)
    except UofError:
        raise
    except (KeyError, ValueError, InvalidOperation) as exc:
        raise UofError(f"{root.tag}: {exc!r}") from None


def _header(root: Element, *, event: bool = True) -> dict[str, Any]:
    """What every message carries, as the model's keyword arguments: its producer (from `product`), its time
    and (an event's) its event."""
    product = int(_attr(root, "product"))
    producer = PRODUCERS.get(product)
    if producer is None:
        raise UofError(f"{root.tag}: unknown product {product}")
    return {
        "producer": producer,
        "timestamp": _millis(_attr(root, "timestamp")),
        "event": _attr(root, "event_id") if event else None,
    }


def _attr(element: Element, name: str) -> str:
    value = element.get(name)
    if value is None:
        raise UofError(f"{element.tag}: no {name}")
    return value


def _millis(value: str) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(value))


def _optional_millis(element: Element, name: str) -> datetime | None:
    value = element.get(name)
    return _millis(value) if value else None


def parse_specifiers(value: str) -> Specifiers:
    """UOF's `specifiers` attribute (`total=2.5`, several joined by `|`) in canonical form."""
    if not value:
        return ()
    pairs = []
    for part in value.split("|"):
        name, sep, val = part.partition("=")
        if not sep or not name:
            raise UofError(f"bad specifiers {value!r}")
        pairs.append((name, val))
    return tuple(sorted(pairs))


def _market_ref(element: Element) -> MarketRef:
    return MarketRef(int(_attr(element, "id")), parse_specifiers(element.get("specifiers", "")))


def _odds_change(root: Element) -> OddsChange:
    markets = []
    odds = root.find("odds")
    for m in odds.findall("market") if odds is not None else []:
        outcomes = tuple(
            OutcomeOdds(
                _attr(o, "id"),
                Decimal(o.get("odds", "")) if o.get("odds") else None,
                o.get("active", "1") == "1",
                Decimal(o.get("probabilities", "")) if o.get("probabilities") else None,
            )
            for o in m.findall("outcome")
        )
        status = FeedMarketStatus.from_uof(int(m.get("status", "1")))
        markets.append(MarketOdds(_market_ref(m), status, outcomes))
    return OddsChange(**_header(root), markets=tuple(markets), state=_event_state(root.find("sport_event_status")))


_PHASES = {
    0: EventPhase.NOT_STARTED,
    1: EventPhase.LIVE,
    2: EventPhase.LIVE,  # suspended play: still live, its markets say whether they trade
    3: EventPhase.ENDED,
    4: EventPhase.CLOSED,
    5: EventPhase.CANCELLED,
    6: EventPhase.NOT_STARTED,  # delayed
    7: EventPhase.LIVE,  # interrupted
    8: EventPhase.NOT_STARTED,  # postponed
    9: EventPhase.CANCELLED,  # abandoned
}


def _event_state(element: Element | None) -> EventState | None:
    """UOF's `sport_event_status`: `status` (0 not started, 1 live, 3 ended, 4 closed, 5 cancelled, ...) and the
    score (`home_score`, `away_score`)."""
    if element is None:
        return None
    status = int(_attr(element, "status"))
    phase = _PHASES.get(status)
    if phase is None:
        raise UofError(f"unknown sport_event_status {status}")
    home, away = element.get("home_score"), element.get("away_score")
    if (home is None) != (away is None):
        raise UofError("sport_event_status: a score needs home_score and away_score")
    return EventState(phase, int(home) if home is not None else None, int(away) if away is not None else None)


def _bet_stop(root: Element) -> BetStop:
    # UOF stops market groups ("all", or named groups of its market descriptions): every market of the event
    return BetStop(**_header(root))


def _bet_settlement(root: Element) -> BetSettlement:
    markets = []
    container = root.find("outcomes")
    for m in container.findall("market") if container is not None else []:
        outcomes = []
        for o in m.findall("outcome"):
            result = o.get("result", "")
            kind = {"1": OutcomeResultKind.WON, "0": OutcomeResultKind.LOST}.get(result, OutcomeResultKind.UNDECIDED)
            dead_heat = o.get("dead_heat_factor")
            outcomes.append(
                OutcomeResult(
                    _attr(o, "id"),
                    kind,
                    Decimal(o.get("void_factor", "0")),
                    Decimal(dead_heat) if dead_heat else None,
                )
            )
        markets.append(MarketResult(_market_ref(m), tuple(outcomes)))
    return BetSettlement(**_header(root), markets=tuple(markets))


def _markets(root: Element) -> tuple[MarketRef, ...]:
    return tuple(_market_ref(m) for m in root.findall("market"))


def _rollback_bet_settlement(root: Element) -> RollbackBetSettlement:
    return RollbackBetSettlement(**_header(root), markets=_markets(root))


def _bet_cancel(root: Element) -> BetCancel:
    return BetCancel(
        **_header(root),
        markets=_markets(root),
        start=_optional_millis(root, "start_time"),
        end=_optional_millis(root, "end_time"),
    )


def _rollback_bet_cancel(root: Element) -> RollbackBetCancel:
    return RollbackBetCancel(
        **_header(root),
        markets=_markets(root),
        start=_optional_millis(root, "start_time"),
        end=_optional_millis(root, "end_time"),
    )


def _fixture_change(root: Element) -> FixtureChange:
    return FixtureChange(**_header(root), start_time=_optional_millis(root, "start_time"))


def _alive(root: Element) -> Alive:
    return Alive(**_header(root, event=False), subscribed=root.get("subscribed", "1") == "1")


def _snapshot_complete(root: Element) -> SnapshotComplete:
    return SnapshotComplete(**_header(root, event=False), request_id=int(_attr(root, "request_id")))


_DECODERS: Mapping[str, Callable[[Element], FeedMessage]] = {
    "odds_change": _odds_change,
    "bet_stop": _bet_stop,
    "bet_settlement": _bet_settlement,
    "rollback_bet_settlement": _rollback_bet_settlement,
    "bet_cancel": _bet_cancel,
    "rollback_bet_cancel": _rollback_bet_cancel,
    "fixture_change": _fixture_change,
    "alive": _alive,
    "snapshot_complete": _snapshot_complete,
}


# ---- encoding ----

_PRODUCTS: Mapping[str, int] = {name: product for product, name in PRODUCERS.items()}
_STATUS_NUMBERS: Mapping[FeedMarketStatus, int] = {FeedMarketStatus.from_uof(n): n for n in (1, 0, -1, -2, -3, -4)}
_PHASE_NUMBERS: Mapping[EventPhase, int] = {
    EventPhase.NOT_STARTED: 0,
    EventPhase.LIVE: 1,
    EventPhase.ENDED: 3,
    EventPhase.CLOSED: 4,
    EventPhase.CANCELLED: 5,
}
_RESULTS: Mapping[OutcomeResultKind, str | None] = {
    OutcomeResultKind.WON: "1",
    OutcomeResultKind.LOST: "0",
    OutcomeResultKind.UNDECIDED: None,  # UOF leaves `result` out of an outcome not yet known
}
_MILLISECOND = timedelta(milliseconds=1)
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def encode(message: FeedMessage) -> bytes:
    """One message as UOF's XML, the inverse of `decode`. A ValueError for what UOF cannot express: a producer it
    has no product for, a time finer than a millisecond, a `placed` result, a `bet_stop` of listed markets, a score
    with one side only, specifiers or text XML cannot carry. `FixtureChange.fixture` has no UOF form (UOF's
    consumers read fixtures from its Sports API): only `start_time` is written."""
    root = Element(message.type.value)
    product = _PRODUCTS.get(message.producer)
    if product is None:
        raise ValueError(f"UOF has no product for the producer {message.producer!r}")
    _set(root, "product", str(product))
    if isinstance(message, Alive | SnapshotComplete):
        if message.event is not None:
            raise ValueError(f"UOF's {message.type} names no event")
    else:
        if message.event is None:
            raise ValueError(f"UOF's {message.type} names its event")
        _set(root, "event_id", message.event)
    _set(root, "timestamp", _to_millis(message.timestamp))
    match message:
        case OddsChange():
            _encode_odds_change(root, message)
        case BetStop():
            if message.markets:
                raise ValueError("UOF's bet_stop stops market groups, not listed markets")
            _set(root, "groups", "all")
        case BetSettlement():
            _encode_settlement(root, message)
        case RollbackBetSettlement():
            _market_children(root, message.markets)
        case BetCancel() | RollbackBetCancel():
            if message.start is not None:
                _set(root, "start_time", _to_millis(message.start))
            if message.end is not None:
                _set(root, "end_time", _to_millis(message.end))
            _market_children(root, message.markets)
        case FixtureChange():
            if message.start_time is not None:
                _set(root, "start_time", _to_millis(message.start_time))
        case Alive():
            _set(root, "subscribed", "1" if message.subscribed else "0")
        case SnapshotComplete():
            _set(root, "request_id", str(message.request_id))
    body: bytes = tostring(root, encoding="utf-8")
    return _DECLARATION + body


def _encode_odds_change(root: Element, message: OddsChange) -> None:
    # UOF's order: sport_event_status, then odds
    state = message.state
    if state is not None:
        status = SubElement(root, "sport_event_status")
        _set(status, "status", str(_PHASE_NUMBERS[state.phase]))
        if (state.home_score is None) != (state.away_score is None):
            raise ValueError("UOF's sport_event_status has a score with both sides or none")
        if state.home_score is not None and state.away_score is not None:
            _set(status, "home_score", str(state.home_score))
            _set(status, "away_score", str(state.away_score))
    if not message.markets:
        return
    odds = SubElement(root, "odds")
    for market in message.markets:
        element = _market(odds, market.market)
        _set(element, "status", str(_STATUS_NUMBERS[market.status]))
        for outcome in market.outcomes:
            child = SubElement(element, "outcome")
            _set(child, "id", outcome.outcome_id)
            if outcome.odds is not None:
                _set(child, "odds", _decimal(outcome.odds))
            if outcome.probability is not None:
                _set(child, "probabilities", _decimal(outcome.probability))
            _set(child, "active", "1" if outcome.active else "0")


def _encode_settlement(root: Element, message: BetSettlement) -> None:
    container = SubElement(root, "outcomes")
    for market in message.markets:
        element = _market(container, market.market)
        for outcome in market.outcomes:
            if outcome.result is OutcomeResultKind.PLACED:
                raise ValueError("UOF has no `placed` result (it settles place markets of their own)")
            child = SubElement(element, "outcome")
            _set(child, "id", outcome.outcome_id)
            result = _RESULTS[outcome.result]
            if result is not None:
                _set(child, "result", result)
            if outcome.void_factor != 0:
                _set(child, "void_factor", _decimal(outcome.void_factor))
            if outcome.dead_heat_factor is not None:
                _set(child, "dead_heat_factor", _decimal(outcome.dead_heat_factor))


def _market_children(root: Element, markets: tuple[MarketRef, ...]) -> None:
    for ref in markets:
        _market(root, ref)


def _market(parent: Element, ref: MarketRef) -> Element:
    element = SubElement(parent, "market")
    _set(element, "id", str(ref.market_id))
    if ref.specifiers:
        _set(element, "specifiers", format_specifiers(ref.specifiers))
    return element


def format_specifiers(values: Specifiers) -> str:
    """Specifiers as UOF's `specifiers` attribute (`total=2.5`, several joined by `|`), the inverse of
    `parse_specifiers`; a ValueError for a name or value the attribute cannot carry."""
    parts = []
    for name, value in values:
        if not name or "=" in name or "|" in name or "|" in value:
            raise ValueError(f"UOF's specifiers cannot carry {name!r}={value!r}")
        parts.append(f"{name}={value}")
    return "|".join(parts)


def _to_millis(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("a feed time is timezone-aware")
    since, rest = divmod(at - _EPOCH, _MILLISECOND)
    if rest:
        raise ValueError(f"UOF's times are whole milliseconds, not {at.isoformat()}")
    return str(since)


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    return str(value)


def _set(element: Element, name: str, value: str) -> None:
    """An attribute, refused when XML 1.0 cannot carry its text (control characters, lone surrogates)."""
    bad = next((c for c in value if not _xml_char(c)), None)
    if bad is not None:
        raise ValueError(f"{element.tag}.{name}: XML cannot carry the character {bad!r}")
    element.set(name, value)


def _xml_char(c: str) -> bool:
    code = ord(c)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
