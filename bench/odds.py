"""Odds feed ingestion: decoded `odds_change` messages through `FeedIngestion` into the catalogue, on one core.

Set-up: the platform on `settings.database_url`, 40 football events with their feed ids and four markets each
(1x2, total 2.5, asian handicap -0.5, btts: nine selections), the ingestion with an in-memory adapter (no
liveness: producers count as up) and its flusher running as in the feed role.

Phases:
- ingest: `messages` decoded messages (SPORTSBOOK_BENCH_MESSAGES, default 15,000 a second of `--seconds`), each
  pricing every selection of one event at a new time, processed one after another as the feed role's consumer
  does; the flusher writes each market's latest state every `feed_flush_s` meanwhile (coalesced). The figure is
  selection price updates per second of wall time, from the first message to the last one's prices committed
  in the catalogue (so the database writes are inside it), with the process's CPU time beside it.
- decode: the same messages as UOF XML through `uof.decode`: messages and selection updates per second.
- baseline: the floor of the work per update in Python, measured in the same run: each update's price stored
  in a dict keyed by (event, market, outcome). `ingest_ratio` is the ingest rate over it."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sportsbook.app import build_feed, build_platform, start_platform, stop_platform
from sportsbook.catalog.model import EventDraft, MarketDraft, SelectionDraft
from sportsbook.config import Settings
from sportsbook.db.migrate import upgrade
from sportsbook.feed.adapter import FeedAdapter, Undecodable
from sportsbook.feed.model import FeedMarketStatus, FeedMessage, MarketOdds, MarketRef, OddsChange, OutcomeOdds
from sportsbook.feed.service import MARKETS_WRITTEN
from sportsbook.feed.uof import UOF_MARKETS, MarketMapping, decode
from sportsbook.pricing.model import LADDER

EVENTS = 40
PER_SECOND = 15_000  # messages generated per second of --seconds
MARKETS: list[tuple[MarketRef, tuple[str, ...], str, tuple[str, ...], dict[str, str]]] = [
    (MarketRef(1), ("1", "2", "3"), "1x2", ("home", "draw", "away"), {}),
    (MarketRef(18, (("total", "2.5"),)), ("12", "13"), "total", ("over", "under"), {"total": "2.5"}),
    (MarketRef(16, (("hcp", "-0.5"),)), ("1714", "1715"), "asian_handicap", ("home", "away"), {"hcp": "-0.5"}),
    (MarketRef(29), ("74", "76"), "btts", ("yes", "no"), {}),
]
SELECTIONS_PER_MESSAGE = sum(len(m[1]) for m in MARKETS)


class _BenchAdapter(FeedAdapter):
    """Decoded messages as fast as the ingestion takes them, once `go` is set; `done` once they are all taken."""

    name = "bench"
    provider = "uof"
    markets: Mapping[int, MarketMapping] = UOF_MARKETS

    def __init__(self, messages: list[OddsChange]) -> None:
        self.queued = messages
        self.go = asyncio.Event()
        self.done = asyncio.Event()
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._stopped.set()

    async def messages(self) -> AsyncIterator[FeedMessage | Undecodable]:
        await self.go.wait()
        for message in self.queued:
            yield message
        self.done.set()
        await self._stopped.wait()

    async def request_recovery(self, producer: str, since: datetime | None, request_id: int) -> None:
        return None


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    count = int(os.environ.get("SPORTSBOOK_BENCH_MESSAGES", str(int(PER_SECOND * max(seconds, 1)))))
    upgrade(settings.database_url)
    platform = build_platform(settings.model_copy(update={"log_level": "WARNING"}))
    await start_platform(platform)
    run_id = uuid.uuid4().hex[:8]
    events = [f"sr:match:bench{run_id}{i}" for i in range(EVENTS)]
    try:
        for i, external in enumerate(events):
            await platform.catalog.create_event(_draft(external, i))
        messages = _messages(events, count, random.Random(7))
        adapter = _BenchAdapter(messages)
        feed = build_feed(platform, adapter, liveness=False)
        await feed.start()
        written_before = MARKETS_WRITTEN._value.get()
        echo(f"ingesting {count:,} odds_change messages ({count * SELECTIONS_PER_MESSAGE:,} selection updates)")
        cpu0, t0 = time.process_time(), time.perf_counter()
        adapter.go.set()  # the feed role's own consumer and flusher take them from here
        await adapter.done.wait()
        await asyncio.sleep(0)  # the last message's processing
        await feed.flush()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        await feed.stop()
        written = MARKETS_WRITTEN._value.get() - written_before
    finally:
        await stop_platform(platform)

    updates = count * SELECTIONS_PER_MESSAGE
    ingest_rate = updates / wall
    xml = [_xml(m) for m in messages[: min(count, 50_000)]]
    t0 = time.perf_counter()
    for raw in xml:
        decode(raw)
    decode_wall = time.perf_counter() - t0
    baseline = _baseline(messages)
    figures: dict[str, Any] = {
        "scenario": "odds",
        "backend": "postgresql" if settings.database_url.startswith("postgres") else "sqlite",
        "messages": count,
        "selection_updates": updates,
        "throughput_per_s": round(ingest_rate),
        "ingest_updates_per_s": round(ingest_rate),
        "ingest_messages_per_s": round(count / wall),
        "ingest_cpu_us_per_update": round(cpu / updates * 1e6, 2),
        "markets_written": int(written),
        "markets_written_per_s": round(written / wall),
        "decode_messages_per_s": round(len(xml) / decode_wall),
        "decode_updates_per_s": round(len(xml) * SELECTIONS_PER_MESSAGE / decode_wall),
        "baseline_updates_per_s": round(baseline),
        "ingest_ratio": round(ingest_rate / baseline, 4),
    }
    echo(
        f"ingest: {ingest_rate:,.0f} selection updates/s ({count / wall:,.0f} messages/s, "
        f"{cpu / updates * 1e6:.2f} us CPU per update), {written:,.0f} market states written"
    )
    decoded = figures["decode_messages_per_s"], figures["decode_updates_per_s"]
    echo(f"decode (UOF XML): {decoded[0]:,} messages/s = {decoded[1]:,} updates/s")
    echo(f"baseline (a dict store per update): {baseline:,.0f} updates/s; ingest = {figures['ingest_ratio']}x")
    return figures


def _draft(external: str, i: int) -> EventDraft:
    return EventDraft(
        sport="football",
        name=f"Bench {i} v Odds {i}",
        start_time=datetime.now(UTC) + timedelta(hours=1),
        competitors=(f"Bench {i}", f"Odds {i}"),
        external_ids={"uof": external},
        markets=[
            MarketDraft(kind, [SelectionDraft(o, "2.00") for o in outcomes], specifiers=specs)
            for _ref, _ids, kind, outcomes, specs in MARKETS
        ],
    )


def _messages(events: list[str], count: int, rng: random.Random) -> list[OddsChange]:
    """`count` messages, each pricing every selection of one event at a new time; outcome prices shared."""
    prices = [p for p in LADDER if Decimal("1.20") <= p <= Decimal("8")]
    pool = {(oid, p): OutcomeOdds(oid, p) for _ref, ids, *_ in MARKETS for oid in ids for p in prices}
    start = datetime.now(UTC)
    messages = []
    for n in range(count):
        markets = tuple(
            MarketOdds(ref, FeedMarketStatus.ACTIVE, tuple(pool[(oid, rng.choice(prices))] for oid in ids))
            for ref, ids, *_ in MARKETS
        )
        at = start + timedelta(milliseconds=n)
        messages.append(OddsChange(producer="live", timestamp=at, event=events[n % len(events)], markets=markets))
    return messages


def _xml(message: OddsChange) -> bytes:
    millis = int(message.timestamp.timestamp() * 1000)
    markets = "".join(
        f'<market id="{m.market.market_id}"'
        + (f' specifiers="{"|".join(f"{k}={v}" for k, v in m.market.specifiers)}"' if m.market.specifiers else "")
        + ' status="1">'
        + "".join(f'<outcome id="{o.outcome_id}" odds="{o.odds}" active="1"/>' for o in m.outcomes)
        + "</market>"
        for m in message.markets
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<odds_change product="1" event_id="{message.event}" timestamp="{millis}">'
        f'<sport_event_status status="1" home_score="0" away_score="0"/><odds>{markets}</odds></odds_change>'
    ).encode()


def _baseline(messages: list[OddsChange]) -> float:
    """Updates per second of the least a consumer does with a price: store it under its key."""
    book: dict[tuple[str | None, MarketRef, str], Decimal | None] = {}
    t0 = time.perf_counter()
    for message in messages:
        event = message.event
        for market in message.markets:
            ref = market.market
            for outcome in market.outcomes:
                book[(event, ref, outcome.outcome_id)] = outcome.odds
    return len(messages) * SELECTIONS_PER_MESSAGE / (time.perf_counter() - t0)
