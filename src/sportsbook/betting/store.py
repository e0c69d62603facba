"""The only code that reads or writes the betting tables (SQLAlchemy Core)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    exists,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.betting.jobs import JobKind, JobStatus, SettlementJob, Tally
from sportsbook.betting.model import RESULTED, Bet, BetStatus, Leg, StakeState
from sportsbook.betting.settlement_rules import LegResult, Part, SelectionResult
from sportsbook.core.clock import utc
from sportsbook.db.engine import driver_connection
from sportsbook.db.metadata import metadata

bets = Table(
    "bets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("player_id", Uuid, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("type", String(16), nullable=False),
    Column("system", String(16), nullable=True),
    Column("each_way", Boolean, nullable=False),
    Column("odds_change", String(8), nullable=False),
    Column("stake", BigInteger, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("total_stake", BigInteger, nullable=False),
    Column("potential_return", BigInteger, nullable=False),
    # pending (in-play delay running), open, rejected, won, lost, void, half_won, half_lost, cashed_out
    Column("status", String(16), nullable=False),
    Column("reject_code", String(32), nullable=True),
    Column("return_amount", BigInteger, nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("accept_at", DateTime(timezone=True), nullable=True),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    Column("stake_transfer_id", Uuid, nullable=False),
    # held: the stake is still the pending transfer stake_transfer_id (placement's, or the one a rollback opened
    # again); taken: it was posted or released by a settlement
    Column("stake_state", String(8), nullable=False, server_default="held"),
    Column("settle_count", Integer, nullable=False, server_default="0"),
    Index("ix_bets_player", "player_id", "placed_at"),
    Index(
        "ix_bets_pending",
        "accept_at",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
)

bet_legs = Table(
    "bet_legs",
    metadata,
    Column("bet_id", Uuid, nullable=False),
    Column("idx", SmallInteger, nullable=False),
    Column("selection_id", Uuid, nullable=False),
    Column("market_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("odds", Numeric(10, 2), nullable=False),
    Column("each_way_fraction", String(8), nullable=True),
    Column("each_way_places", SmallInteger, nullable=True),
    PrimaryKeyConstraint("bet_id", "idx", name="pk_bet_legs"),
    Index("ix_bet_legs_market", "market_id"),
)

# One row per settlement of a market; a rollback stamps rolled_back_at and a resettlement adds a new row.
market_settlements = Table(
    "market_settlements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("market_id", Uuid, nullable=False),
    Column("results", JSON, nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=False),
    Column("rolled_back_at", DateTime(timezone=True), nullable=True),
    Index("ix_market_settlements_market", "market_id", "settled_at"),
)

non_runners = Table(
    "non_runners",
    metadata,
    Column("selection_id", Uuid, primary_key=True),
    Column("market_id", Uuid, nullable=False),
    Column("odds_at_withdrawal", Numeric(10, 2), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
    Index("ix_non_runners_market", "market_id"),
)

# Legs voided by a feed's bet cancel (bets on a market placed in a time window) or by hand.
leg_voids = Table(
    "leg_voids",
    metadata,
    Column("bet_id", Uuid, nullable=False),
    Column("market_id", Uuid, nullable=False),
    Column("voided_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("bet_id", "market_id", name="pk_leg_voids"),
)

# The windows of a feed's bet cancels: a bet priced inside one is void there, and one written after the window
# was recorded (it was priced from memory before) is refused by placement, which reads these under the ledger lock.
bet_cancellations = Table(
    "bet_cancellations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("market_id", Uuid, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a feed's rollback of the cancel: the window no longer voids anything
    Column("rolled_back_at", DateTime(timezone=True), nullable=True),
    Index("ix_bet_cancellations_market", "market_id", "end_at"),
)

# What every selection's open bets could cost the house (potential return - stake, summed over the open lines
# containing it). Read and written only under every shard's ledger lock, or (placement) a shard's ledger lock and
# the markets' advisory locks (`lock_markets`), so every API node and every shard sees and keeps one total.
selection_exposure = Table(
    "selection_exposure",
    metadata,
    Column("selection_id", Uuid, primary_key=True),
    Column("market_id", Uuid, nullable=False),
    Column("exposure", BigInteger, nullable=False),
    Index("ix_selection_exposure_market", "market_id"),
)

# A slip refused at placement, under the bet id its key derives: a retry with the key is refused the same way.
bet_refusals = Table(
    "bet_refusals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("player_id", Uuid, nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("code", String(48), nullable=False),
    Column("message", String(500), nullable=False),
    Column("extra", JSON, nullable=False),
    Column("refused_at", DateTime(timezone=True), nullable=False),
)

# The terms a pending bet was first struck at, kept when its in-play re-check moves it to new odds.
bet_first_terms = Table(
    "bet_first_terms",
    metadata,
    Column("bet_id", Uuid, primary_key=True),
    Column("odds", JSON, nullable=False),  # each leg's odds in order, as decimal strings
    Column("potential_return", BigInteger, nullable=False),
)

# Settlement jobs (betting/jobs.py): one row a job, its progress written with each chunk it commits.
settlement_jobs = Table(
    "settlement_jobs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("market_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("bets_total", BigInteger, nullable=False),
    Column("bets_done", BigInteger, nullable=False),
    Column("cursor", Uuid, nullable=True),
    Column("tally", JSON, nullable=False),
    Column("error", JSON, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_settlement_jobs_status", "status", "created_at"),
    Index("ix_settlement_jobs_market", "market_id", "created_at"),
)

_LEGS_OF = (
    "SELECT bet_id, selection_id, market_id, event_id, odds, each_way_fraction, each_way_places"
    " FROM bet_legs WHERE bet_id = ANY($1::uuid[]) ORDER BY bet_id, idx"
)
_SETTLE_BETS = f"""
UPDATE bets SET status = v.status, return_amount = v.amount, settled_at = $4, stake_state = '{StakeState.TAKEN.value}',
    settle_count = bets.settle_count + 1
FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS v(id, status, amount)
WHERE bets.id = v.id
"""


# Bet's fields in order (legs aside): open bets are built from these rows by position
_OPEN_BETS = (
    f"SELECT {', '.join(f for f in Bet.__dataclass_fields__ if f != 'legs')} FROM bets"
    f" WHERE id = ANY($1::uuid[]) AND status = '{BetStatus.OPEN.value}'"
)
_VOIDED_LEGS = "SELECT bet_id, market_id FROM leg_voids WHERE bet_id = ANY($1::uuid[])"
_OPEN_SETTLE_COUNTS = (
    f"SELECT id, settle_count FROM bets WHERE id = ANY($1::uuid[]) AND status = '{BetStatus.OPEN.value}'"
)
_EXISTING = (
    "SELECT id, request_hash FROM bets WHERE id = ANY($1::uuid[])"
    " UNION ALL SELECT id, request_hash FROM bet_refusals WHERE id = ANY($1::uuid[])"
)
_STATUS = {s.value: s for s in BetStatus}
_STAKE_STATE = {s.value: s for s in StakeState}


def _open_bet(r: Any, legs: tuple[Leg, ...]) -> Bet:
    """A bet from a row of `_OPEN_BETS`, by position (settlement reads thousands a chunk)."""
    return Bet(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        _STATUS[r[11]],
        r[12],
        r[13],
        r[14],
        r[15],
        r[16],
        r[17],
        r[18],
        _STAKE_STATE[r[19]],
        r[20],
        legs,
    )


@dataclass(frozen=True, slots=True)
class RefusalRow:
    """A placement refused, as answered: HTTP status, code, message and the error body's extra fields."""

    id: UUID
    player_id: UUID
    request_hash: str
    status: int
    code: str
    message: str
    extra: dict[str, Any]


_BET_COLUMNS = [c.name for c in bets.columns]
_LEG_COLUMNS = [c.name for c in bet_legs.columns]


def _bet_tuple(b: Bet) -> tuple[Any, ...]:
    """A bet as a COPY row: Bet's fields are named after the table's columns."""
    return tuple(getattr(b, name) for name in _BET_COLUMNS)


def _bet_values(b: Bet) -> dict[str, Any]:
    return {name: getattr(b, name) for name in Bet.__dataclass_fields__ if name != "legs"}


def _bet(m: Any) -> Bet:
    return Bet(
        id=m["id"],
        player_id=m["player_id"],
        currency=m["currency"],
        type=m["type"],
        system=m["system"],
        each_way=bool(m["each_way"]),
        odds_change=m["odds_change"],
        stake=int(m["stake"]),
        lines=int(m["lines"]),
        total_stake=int(m["total_stake"]),
        potential_return=int(m["potential_return"]),
        status=_STATUS[m["status"]],
        reject_code=m["reject_code"],
        return_amount=m["return_amount"],
        request_hash=m["request_hash"],
        placed_at=utc(m["placed_at"]),
        accept_at=utc(m["accept_at"]) if m["accept_at"] else None,
        settled_at=utc(m["settled_at"]) if m["settled_at"] else None,
        stake_transfer_id=m["stake_transfer_id"],
        stake_state=_STAKE_STATE[m["stake_state"]],
        settle_count=int(m["settle_count"]),
    )


_REOPEN_BETS = f"""
UPDATE bets SET status = '{BetStatus.OPEN.value}', return_amount = NULL, settled_at = NULL,
    stake_state = '{StakeState.HELD.value}',
    stake_transfer_id = v.stake_id, settle_count = bets.settle_count + 1
FROM unnest($1::uuid[], $2::uuid[]) AS v(id, stake_id)
WHERE bets.id = v.id
"""


def encode_results(results: Mapping[UUID, SelectionResult]) -> dict[str, Any]:
    def part(p: Part) -> list[str]:
        return [str(p.won), str(p.void)]

    return {str(k): {"win": part(v.win), "place": part(v.place), "label": v.label.value} for k, v in results.items()}


def decode_results(data: Mapping[str, Any]) -> dict[UUID, SelectionResult]:
    def part(p: list[str]) -> Part:
        return Part(Fraction(p[0]), Fraction(p[1]))

    return {UUID(k): SelectionResult(part(v["win"]), part(v["place"]), LegResult(v["label"])) for k, v in data.items()}


_CANCEL_WINDOWS = (
    "SELECT market_id, start_at, end_at FROM bet_cancellations"
    " WHERE market_id = ANY($1::uuid[]) AND end_at > $2 AND rolled_back_at IS NULL"
)


_EXPOSURES_ON = "SELECT selection_id, market_id, exposure FROM selection_exposure WHERE market_id = ANY($1::uuid[])"
_LOCK_MARKETS = "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY k) AS keys"


def _market_lock_key(market_id: UUID) -> int:
    """A market's advisory lock key: the first 64 bits of its id, signed (a collision only queues two markets
    together)."""
    return int.from_bytes(market_id.bytes[:8], "big", signed=True)


_ADD_EXPOSURE = """
INSERT INTO selection_exposure (selection_id, market_id, exposure)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[])
ON CONFLICT (selection_id) DO UPDATE SET exposure = selection_exposure.exposure + EXCLUDED.exposure
"""


class BetStore:
    """The betting tables in one transaction (a unit of work's), through SQLAlchemy Core on any backend. Takes
    and returns Bet entities. `bet_store` builds PostgreSQL's own where a statement is worth writing for it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def existing(self, ids: Collection[UUID]) -> dict[UUID, str]:
        """Request fingerprints of the keys among `ids` answered already, with a bet or a refusal (replays)."""
        conn = self.conn
        if not ids:
            return {}
        wanted = list(ids)
        query = select(bets.c.id, bets.c.request_hash).where(bets.c.id.in_(wanted))
        refused = select(bet_refusals.c.id, bet_refusals.c.request_hash).where(bet_refusals.c.id.in_(wanted))
        return {r.id: r.request_hash for r in await conn.execute(query.union_all(refused))}

    async def insert_refusals(self, rows: Sequence[RefusalRow], now: datetime) -> None:
        conn = self.conn
        if rows:
            await conn.execute(
                bet_refusals.insert(),
                [
                    {
                        "id": r.id,
                        "player_id": r.player_id,
                        "request_hash": r.request_hash,
                        "status": r.status,
                        "code": r.code,
                        "message": r.message[:500],
                        "extra": r.extra,
                        "refused_at": now,
                    }
                    for r in rows
                ],
            )

    async def refusal(self, refusal_id: UUID) -> RefusalRow | None:
        conn = self.conn
        c = bet_refusals.c
        query = select(c.id, c.player_id, c.request_hash, c.status, c.code, c.message, c.extra).where(
            c.id == refusal_id
        )
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        return RefusalRow(row.id, row.player_id, row.request_hash, int(row.status), row.code, row.message, row.extra)

    async def first_terms(self, bet_id: UUID) -> tuple[list[Decimal], int] | None:
        """The odds (per leg) and potential return a re-struck bet was first struck at; None if never re-struck."""
        conn = self.conn
        query = select(bet_first_terms.c.odds, bet_first_terms.c.potential_return).where(
            bet_first_terms.c.bet_id == bet_id
        )
        row = (await conn.execute(query)).first()
        return None if row is None else ([Decimal(o) for o in row.odds], int(row.potential_return))

    async def insert(self, rows: Sequence[Bet]) -> None:
        """Insert bets with their legs (one statement for each table)."""
        conn = self.conn
        if not rows:
            return
        await conn.execute(bets.insert(), [_bet_values(b) for b in rows])
        await conn.execute(
            bet_legs.insert(),
            [
                {
                    "bet_id": b.id,
                    "idx": i,
                    "selection_id": leg.selection_id,
                    "market_id": leg.market_id,
                    "event_id": leg.event_id,
                    "odds": leg.odds,
                    "each_way_fraction": leg.each_way_fraction,
                    "each_way_places": leg.each_way_places,
                }
                for b in rows
                for i, leg in enumerate(b.legs)
            ],
        )

    async def set_status(
        self, bet_id: UUID, status: BetStatus, *, reject_code: str | None = None, expect: BetStatus
    ) -> bool:
        """Move a bet from status `expect` to `status`; False if it was not in `expect` (someone else moved it)."""
        result = await self.conn.execute(
            update(bets)
            .where(and_(bets.c.id == bet_id, bets.c.status == expect.value))
            .values(status=status.value, reject_code=reject_code)
        )
        return bool(result.rowcount)

    async def lock_status(self, bet_id: UUID) -> BetStatus | None:
        """The bet's status, its row locked until the transaction ends (SQLite has no row locks to take: its
        writer already holds the whole file)."""
        query = select(bets.c.status).where(bets.c.id == bet_id).with_for_update()
        found = (await self.conn.execute(query)).scalar_one_or_none()
        return None if found is None else _STATUS[found]

    async def restrike(self, bet_id: UUID, odds: Sequence[Decimal], potential_return: int) -> None:
        """Give a pending bet's legs (in order) new odds, and the bet its new potential return; the terms it was
        first struck at are kept (a replay of its key answers them)."""
        conn = self.conn
        if await self.first_terms(bet_id) is None:
            bet = await self.get(bet_id)
            assert bet is not None
            await conn.execute(
                bet_first_terms.insert().values(
                    bet_id=bet_id, odds=[str(leg.odds) for leg in bet.legs], potential_return=bet.potential_return
                )
            )
        await conn.execute(update(bets).where(bets.c.id == bet_id).values(potential_return=potential_return))
        for idx, price in enumerate(odds):
            await conn.execute(
                update(bet_legs).where(bet_legs.c.bet_id == bet_id, bet_legs.c.idx == idx).values(odds=price)
            )

    async def get(self, bet_id: UUID) -> Bet | None:
        conn = self.conn
        rows = await self._with_legs(await conn.execute(select(bets).where(bets.c.id == bet_id)))
        return rows[0] if rows else None

    async def of_player(
        self,
        player_id: UUID,
        statuses: Collection[BetStatus] | None,
        limit: int,
        after: tuple[datetime, UUID] | None,
    ) -> list[Bet]:
        """A player's bets, newest first; `after` is the (placed_at, id) of the last bet of the previous page."""
        conn = self.conn
        query = select(bets).where(bets.c.player_id == player_id)
        if statuses:
            query = query.where(bets.c.status.in_([s.value for s in statuses]))
        if after is not None:
            placed_at, bet_id = after
            query = query.where(
                or_(bets.c.placed_at < placed_at, and_(bets.c.placed_at == placed_at, bets.c.id > bet_id))
            )
        query = query.order_by(bets.c.placed_at.desc(), bets.c.id).limit(limit)
        return await self._with_legs(await conn.execute(query))

    async def _with_legs(self, result: Any) -> list[Bet]:
        conn = self.conn
        found = [_bet(r._mapping) for r in result]
        if not found:
            return []
        legs: dict[UUID, list[Leg]] = {b.id: [] for b in found}
        ids = list(legs)
        for start in range(0, len(ids), 500):
            query = select(bet_legs).where(bet_legs.c.bet_id.in_(ids[start : start + 500])).order_by(bet_legs.c.idx)
            for r in await conn.execute(query):
                legs[r.bet_id].append(
                    Leg(
                        r.selection_id, r.market_id, r.event_id, Decimal(r.odds), r.each_way_fraction, r.each_way_places
                    )
                )
        return [replace(b, legs=tuple(legs[b.id])) for b in found]

    async def open_bets(self, ids: Sequence[UUID]) -> list[Bet]:
        """The bets among `ids` that are open, with their legs."""
        conn = self.conn
        if not ids:
            return []
        query = select(bets).where(bets.c.id.in_(list(ids)), bets.c.status == BetStatus.OPEN.value)
        return await self._with_legs(await conn.execute(query))

    async def open_settle_counts(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        """The bets among `ids` that are open -> how many times each has been settled before."""
        conn = self.conn
        if not ids:
            return {}
        query = select(bets.c.id, bets.c.settle_count).where(
            bets.c.id.in_(list(ids)), bets.c.status == BetStatus.OPEN.value
        )
        return {r.id: int(r.settle_count) for r in await conn.execute(query)}

    async def mark_settled(self, outcomes: Sequence[tuple[UUID, str, int]], now: datetime) -> None:
        """Close bets with their status and return; their stake is no longer held."""
        conn = self.conn
        await conn.execute(
            update(bets)
            .where(bets.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                return_amount=bindparam("b_return"),
                settled_at=now,
                stake_state=StakeState.TAKEN.value,
                settle_count=bets.c.settle_count + 1,
            ),
            [{"b_id": bet_id, "b_status": status, "b_return": amount} for bet_id, status, amount in outcomes],
        )

    async def reopen(self, holds: Sequence[tuple[UUID, UUID]]) -> None:
        """Open settled bets again after a rollback, each (bet id, new stake hold id) with its stake held again by
        that pending transfer, which the next settlement posts or voids as it did the first."""
        conn = self.conn
        if not holds:
            return
        await conn.execute(
            update(bets)
            .where(bets.c.id == bindparam("b_id"))
            .values(
                status=BetStatus.OPEN.value,
                return_amount=None,
                settled_at=None,
                stake_state=StakeState.HELD.value,
                stake_transfer_id=bindparam("b_stake"),
                settle_count=bets.c.settle_count + 1,
            ),
            [{"b_id": bet_id, "b_stake": stake_id} for bet_id, stake_id in holds],
        )

    async def results_for_markets(self, market_ids: Iterable[UUID]) -> dict[UUID, dict[UUID, SelectionResult]]:
        """The results in force per market: its latest settlement that was not rolled back."""
        return {market: decode_results(stored) for market, stored in (await self.stored_results(market_ids)).items()}

    async def stored_results(self, market_ids: Iterable[UUID]) -> dict[UUID, dict[str, Any]]:
        """`results_for_markets` as stored, not decoded: cheap to compare with what was read before."""
        conn = self.conn
        ids = list(market_ids)
        if not ids:
            return {}
        rows = await conn.execute(
            select(market_settlements.c.market_id, market_settlements.c.results)
            .where(market_settlements.c.market_id.in_(ids), market_settlements.c.rolled_back_at.is_(None))
            .order_by(market_settlements.c.settled_at)
        )
        return {r.market_id: r.results for r in rows}

    async def withdrawals(self, market_ids: Iterable[UUID]) -> dict[UUID, list[tuple[UUID, datetime, Decimal]]]:
        """The runners withdrawn per market: (selection, when, odds at withdrawal), oldest first. Their Rule 4
        deductions are the rules' to work out (settlement.rule4_deduction)."""
        conn = self.conn
        ids = list(market_ids)
        out: dict[UUID, list[tuple[UUID, datetime, Decimal]]] = defaultdict(list)
        if not ids:
            return out
        query = select(non_runners).where(non_runners.c.market_id.in_(ids))
        rows = await conn.execute(query.order_by(non_runners.c.withdrawn_at, non_runners.c.selection_id))
        for r in rows:
            out[r.market_id].append((r.selection_id, utc(r.withdrawn_at), Decimal(r.odds_at_withdrawal)))
        return out

    async def insert_settlement(
        self, settlement_id: UUID, market_id: UUID, results: Mapping[UUID, SelectionResult], now: datetime
    ) -> None:
        conn = self.conn
        await conn.execute(
            market_settlements.insert().values(
                id=settlement_id, market_id=market_id, results=encode_results(results), settled_at=now
            )
        )

    async def roll_back_settlement(self, market_id: UUID, now: datetime) -> bool:
        """Stamp the market's settlement in force as rolled back; False when there is none."""
        conn = self.conn
        current = (
            await conn.execute(
                select(market_settlements.c.id)
                .where(market_settlements.c.market_id == market_id, market_settlements.c.rolled_back_at.is_(None))
                .order_by(market_settlements.c.settled_at.desc())
                .limit(1)
            )
        ).first()
        if current is None:
            return False
        await conn.execute(
            update(market_settlements).where(market_settlements.c.id == current.id).values(rolled_back_at=now)
        )
        return True

    async def open_bet_ids_on(self, market_id: UUID, after: UUID | None = None) -> list[UUID]:
        """Ids of the open bets with a leg on this market, in id order, after `after` (a job's cursor)."""
        on_market = select(bet_legs.c.bet_id).where(bet_legs.c.market_id == market_id)
        query = select(bets.c.id).where(bets.c.id.in_(on_market), bets.c.status == BetStatus.OPEN.value)
        return await self._ids_after(query, after)

    async def settled_bet_ids_on(self, market_id: UUID, after: UUID | None = None) -> list[UUID]:
        """Ids of the bets with a leg on this market that a settlement closed, in id order, after `after`."""
        on_market = select(bet_legs.c.bet_id).where(bet_legs.c.market_id == market_id)
        settled = [s.value for s in RESULTED]  # a cash-out is final: a rollback leaves it closed
        return await self._ids_after(
            select(bets.c.id).where(bets.c.id.in_(on_market), bets.c.status.in_(settled)), after
        )

    async def _ids_after(self, query: Any, after: UUID | None) -> list[UUID]:
        if after is not None:
            query = query.where(bets.c.id > after)
        return [r.id for r in await self.conn.execute(query.order_by(bets.c.id))]

    async def insert_non_runner(
        self, selection_id: UUID, market_id: UUID, odds_at_withdrawal: Decimal, now: datetime
    ) -> None:
        conn = self.conn
        await conn.execute(
            non_runners.insert().values(
                selection_id=selection_id, market_id=market_id, odds_at_withdrawal=odds_at_withdrawal, withdrawn_at=now
            )
        )

    async def bet_ids_placed_on(
        self, market_id: UUID, start: datetime, end: datetime, after: UUID | None = None
    ) -> list[UUID]:
        """Bets with a leg on this market placed in [start, end), that a cancellation can still touch, in id
        order, after `after` (a job's cursor)."""
        on_market = select(bet_legs.c.bet_id).where(bet_legs.c.market_id == market_id)
        query = select(bets.c.id).where(
            bets.c.id.in_(on_market),
            bets.c.placed_at >= start,
            bets.c.placed_at < end,
            bets.c.status.not_in((BetStatus.REJECTED.value, BetStatus.CASHED_OUT.value)),
        )
        return await self._ids_after(query, after)

    async def insert_bet_cancellation(
        self, cancellation_id: UUID, market_id: UUID, start: datetime, end: datetime, now: datetime
    ) -> None:
        conn = self.conn
        await conn.execute(
            bet_cancellations.insert().values(
                id=cancellation_id, market_id=market_id, start_at=start, end_at=end, created_at=now
            )
        )

    async def cancel_windows(
        self, market_ids: Collection[UUID], since: datetime
    ) -> dict[UUID, list[tuple[datetime, datetime]]]:
        """The bet-cancel windows [start, end) on these markets that end after `since`, per market."""
        conn = self.conn
        if not market_ids:
            return {}
        found: dict[UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
        c = bet_cancellations.c
        query = select(c.market_id, c.start_at, c.end_at).where(
            c.market_id.in_(list(market_ids)), c.end_at > since, c.rolled_back_at.is_(None)
        )
        for row in await conn.execute(query):
            found[row.market_id].append((utc(row.start_at), utc(row.end_at)))
        return dict(found)

    async def roll_back_bet_cancellation(self, market_id: UUID, start: datetime, end: datetime, now: datetime) -> bool:
        """Stamp the market's bet cancel of exactly [start, end) rolled back; False when none stands."""
        c = bet_cancellations.c
        result = await self.conn.execute(
            bet_cancellations.update()
            .where(c.market_id == market_id, c.start_at == start, c.end_at == end, c.rolled_back_at.is_(None))
            .values(rolled_back_at=now)
        )
        return bool(result.rowcount)

    async def unvoid_legs(self, bet_ids: Sequence[UUID], market_id: UUID) -> None:
        """These bets' legs on the market are no longer void, except a bet placed in a bet cancel of the market
        that still stands (windows may overlap)."""
        conn = self.conn
        if not bet_ids:
            return
        c = bet_cancellations.c
        standing = select(bets.c.id).where(
            bets.c.id.in_(list(bet_ids)),
            exists().where(
                c.market_id == market_id,
                c.rolled_back_at.is_(None),
                c.start_at <= bets.c.placed_at,
                c.end_at > bets.c.placed_at,
            ),
        )
        await conn.execute(
            leg_voids.delete().where(
                leg_voids.c.market_id == market_id,
                leg_voids.c.bet_id.in_(list(bet_ids)),
                leg_voids.c.bet_id.not_in(standing),
            )
        )

    async def void_legs(self, bet_ids: Sequence[UUID], market_id: UUID, now: datetime) -> None:
        """Record these bets' legs on the market as void (again is harmless)."""
        conn = self.conn
        known = {
            r.bet_id
            for r in await conn.execute(
                select(leg_voids.c.bet_id).where(
                    leg_voids.c.market_id == market_id, leg_voids.c.bet_id.in_(list(bet_ids))
                )
            )
        }
        fresh = [{"bet_id": b, "market_id": market_id, "voided_at": now} for b in bet_ids if b not in known]
        if fresh:
            await conn.execute(leg_voids.insert(), fresh)

    async def voided_legs(self, bet_ids: Sequence[UUID]) -> set[tuple[UUID, UUID]]:
        """(bet id, market id) of the voided legs among these bets."""
        conn = self.conn
        if not bet_ids:
            return set()
        rows = await conn.execute(
            select(leg_voids.c.bet_id, leg_voids.c.market_id).where(leg_voids.c.bet_id.in_(list(bet_ids)))
        )
        return {(r.bet_id, r.market_id) for r in rows}

    async def has_settlement(self, market_id: UUID) -> bool:
        conn = self.conn
        row = await conn.execute(
            select(market_settlements.c.id)
            .where(market_settlements.c.market_id == market_id, market_settlements.c.rolled_back_at.is_(None))
            .limit(1)
        )
        return row.first() is not None

    async def settled_bets(self, ids: Sequence[UUID]) -> list[Bet]:
        """The bets among `ids` a settlement closed (not cash-outs), with legs."""
        conn = self.conn
        if not ids:
            return []
        settled = [s.value for s in RESULTED]  # a cash-out is final: a rollback leaves it closed
        query = select(bets).where(bets.c.id.in_(list(ids)), bets.c.status.in_(settled))
        return await self._with_legs(await conn.execute(query))

    async def due_pending(self, now: datetime, limit: int) -> list[Bet]:
        """Pending in-play bets whose delay is over, oldest first. Matches the partial index ix_bets_pending: a
        literal `status = 'pending'` (a bound value would not), so the poll never scans the bets table."""
        conn = self.conn
        query = (
            select(bets)
            .where(text("status = 'pending'"), bets.c.accept_at <= now)
            .order_by(bets.c.accept_at)
            .limit(limit)
        )
        return await self._with_legs(await conn.execute(query))

    async def lock_markets(self, market_ids: Collection[UUID]) -> None:
        """Queue this transaction behind every other one that checks or books exposure on these markets, until
        it commits: placement batches of different ledger shards run at the same time, and the liability limits
        must hold across them. On SQLite the write transaction already holds the whole database."""
        return

    async def exposures_on_markets(self, market_ids: Collection[UUID]) -> list[tuple[UUID, UUID, int]]:
        """(selection, market, exposure) of every selection with exposure on these markets."""
        conn = self.conn
        if not market_ids:
            return []
        rows = await conn.execute(
            select(
                selection_exposure.c.selection_id, selection_exposure.c.market_id, selection_exposure.c.exposure
            ).where(selection_exposure.c.market_id.in_(list(market_ids)))
        )
        return [(r.selection_id, r.market_id, int(r.exposure)) for r in rows]

    async def add_exposure(self, deltas: Mapping[UUID, tuple[UUID, int]]) -> None:
        """Add `delta` to each selection's exposure (selection -> (market, delta)), in one upsert."""
        conn = self.conn
        changes = [(sel, market, delta) for sel, (market, delta) in deltas.items() if delta != 0]
        if not changes:
            return
        upsert = sqlite_insert(selection_exposure)
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[selection_exposure.c.selection_id],
                set_={"exposure": selection_exposure.c.exposure + upsert.excluded.exposure},
            ),
            [{"selection_id": sel, "market_id": market, "exposure": delta} for sel, market, delta in changes],
        )


class PostgresBetStore(BetStore):
    """PostgreSQL's own statements where they pay: COPY for new bets, `unnest` for a chunk's updates, one
    prepared array-parameter statement per read that every placement batch or settlement chunk makes (SQLAlchemy's
    expanding IN would prepare a new statement per size), rows built by position from the driver's records."""

    async def existing(self, ids: Collection[UUID]) -> dict[UUID, str]:
        # through the driver: every placement batch asks
        conn = self.conn
        if not ids:
            return {}
        pg = await driver_connection(conn)
        return {r[0]: r[1] for r in await pg.fetch(_EXISTING, list(ids))}

    async def insert(self, rows: Sequence[Bet]) -> None:
        conn = self.conn
        if not rows:
            return
        pg = await driver_connection(conn)
        await pg.copy_records_to_table("bets", records=[_bet_tuple(b) for b in rows], columns=_BET_COLUMNS)
        legs = [
            (
                b.id,
                i,
                leg.selection_id,
                leg.market_id,
                leg.event_id,
                leg.odds,
                leg.each_way_fraction,
                leg.each_way_places,
            )
            for b in rows
            for i, leg in enumerate(b.legs)
        ]
        await pg.copy_records_to_table("bet_legs", records=legs, columns=_LEG_COLUMNS)

    async def open_bets(self, ids: Sequence[UUID]) -> list[Bet]:
        conn = self.conn
        if not ids:
            return []
        pg = await driver_connection(conn)
        ids = list(ids)
        legs: dict[UUID, list[Leg]] = defaultdict(list)
        for r in await pg.fetch(_LEGS_OF, ids):
            legs[r[0]].append(Leg(r[1], r[2], r[3], r[4], r[5], r[6]))
        return [_open_bet(r, tuple(legs[r[0]])) for r in await pg.fetch(_OPEN_BETS, ids)]

    async def open_settle_counts(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        conn = self.conn
        if not ids:
            return {}
        pg = await driver_connection(conn)
        return {r[0]: r[1] for r in await pg.fetch(_OPEN_SETTLE_COUNTS, list(ids))}

    async def mark_settled(self, outcomes: Sequence[tuple[UUID, str, int]], now: datetime) -> None:
        conn = self.conn
        pg = await driver_connection(conn)
        ids, statuses, returns = (list(column) for column in zip(*outcomes, strict=True)) if outcomes else ([], [], [])
        await pg.execute(_SETTLE_BETS, ids, statuses, returns, now)

    async def reopen(self, holds: Sequence[tuple[UUID, UUID]]) -> None:
        # one statement for all of them, as settlement's mark_settled
        conn = self.conn
        if not holds:
            return
        pg = await driver_connection(conn)
        ids, stake_ids = (list(column) for column in zip(*holds, strict=True))
        await pg.execute(_REOPEN_BETS, ids, stake_ids)

    async def cancel_windows(
        self, market_ids: Collection[UUID], since: datetime
    ) -> dict[UUID, list[tuple[datetime, datetime]]]:
        # every placement batch asks: one prepared statement, any number of ids
        conn = self.conn
        if not market_ids:
            return {}
        found: dict[UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
        for r in await (await driver_connection(conn)).fetch(_CANCEL_WINDOWS, list(market_ids), since):
            found[r[0]].append((r[1], r[2]))
        return dict(found)

    async def voided_legs(self, bet_ids: Sequence[UUID]) -> set[tuple[UUID, UUID]]:
        # one array parameter: settlement asks for thousands of bets at a time
        conn = self.conn
        if not bet_ids:
            return set()
        pg = await driver_connection(conn)
        return {(r[0], r[1]) for r in await pg.fetch(_VOIDED_LEGS, list(bet_ids))}

    async def lock_markets(self, market_ids: Collection[UUID]) -> None:
        # transaction-scoped advisory locks: no row, no WAL, released at commit; taken in one order (ascending
        # key) by every placement batch, after its ledger shard locks, so they cannot deadlock
        if not market_ids:
            return
        keys = sorted({_market_lock_key(m) for m in market_ids})
        await (await driver_connection(self.conn)).execute(_LOCK_MARKETS, keys)

    async def exposures_on_markets(self, market_ids: Collection[UUID]) -> list[tuple[UUID, UUID, int]]:
        conn = self.conn
        if not market_ids:
            return []
        pg = await driver_connection(conn)
        records = await pg.fetch(_EXPOSURES_ON, list(market_ids))
        return [(r["selection_id"], r["market_id"], r["exposure"]) for r in records]

    async def add_exposure(self, deltas: Mapping[UUID, tuple[UUID, int]]) -> None:
        conn = self.conn
        changes = [(sel, market, delta) for sel, (market, delta) in deltas.items() if delta != 0]
        if not changes:
            return
        pg = await driver_connection(conn)
        sels, markets, amounts = (list(column) for column in zip(*changes, strict=True))
        await pg.execute(_ADD_EXPOSURE, sels, markets, amounts)
        return


class JobStore:
    """The settlement jobs table in one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def insert(self, job: SettlementJob) -> bool:
        """Queue a job; False if a job with its id exists already (a duplicate delivery of what queued it)."""
        if await self.get(job.id) is not None:
            return False
        await self.conn.execute(settlement_jobs.insert().values(**_job_values(job)))
        return True

    async def latest_created_at(self, market_id: UUID) -> datetime | None:
        """When the market's newest job was queued (a market's jobs run in the order they were queued)."""
        c = settlement_jobs.c
        query = select(c.created_at).where(c.market_id == market_id).order_by(c.created_at.desc()).limit(1)
        found = (await self.conn.execute(query)).scalar()
        return utc(found) if found is not None else None

    async def get(self, job_id: UUID, *, lock: bool = False) -> SettlementJob | None:
        query = select(settlement_jobs).where(settlement_jobs.c.id == job_id)
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _job(row._mapping) if row is not None else None

    async def save(self, job: SettlementJob) -> None:
        values = _job_values(job)
        del values["id"]
        await self.conn.execute(update(settlement_jobs).where(settlement_jobs.c.id == job.id).values(**values))

    async def page(
        self,
        statuses: Collection[JobStatus],
        market_id: UUID | None,
        limit: int,
        after: tuple[datetime, UUID] | None,
    ) -> list[SettlementJob]:
        """Jobs, newest first; `after` is the (created_at, id) of the last job of the previous page."""
        c = settlement_jobs.c
        query = select(settlement_jobs)
        if statuses:
            query = query.where(c.status.in_([s.value for s in statuses]))
        if market_id is not None:
            query = query.where(c.market_id == market_id)
        if after is not None:
            created_at, job_id = after
            query = query.where(or_(c.created_at < created_at, and_(c.created_at == created_at, c.id > job_id)))
        query = query.order_by(c.created_at.desc(), c.id).limit(limit)
        return [_job(r._mapping) for r in await self.conn.execute(query)]

    async def next_claimable(self, now: datetime) -> SettlementJob | None:
        """The oldest job a worker may take now, locked (skipping rows another worker holds): queued, or running
        with its lease lapsed, and with no older unfinished job on its market (a market's jobs run in order: a
        rollback must find what the settlement before it closed)."""
        c = settlement_jobs.c
        earlier = settlement_jobs.alias("earlier")
        blocked = (
            select(earlier.c.id)
            .where(
                earlier.c.market_id == c.market_id,
                earlier.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
                or_(
                    earlier.c.created_at < c.created_at, and_(earlier.c.created_at == c.created_at, earlier.c.id < c.id)
                ),
            )
            .exists()
        )
        claimable = or_(
            c.status == JobStatus.QUEUED.value,
            and_(c.status == JobStatus.RUNNING.value, or_(c.lease_until.is_(None), c.lease_until <= now)),
        )
        query = (
            select(settlement_jobs)
            .where(claimable, ~blocked)
            .order_by(c.created_at, c.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=settlement_jobs)
        )
        row = (await self.conn.execute(query)).first()
        return _job(row._mapping) if row is not None else None


def _job_values(job: SettlementJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind.value,
        "market_id": job.market_id,
        "status": job.status.value,
        "params": dict(job.params),
        "bets_total": job.bets_total,
        "bets_done": job.bets_done,
        "cursor": job.cursor,
        "tally": job.tally.to_json(),
        "error": dict(job.error) if job.error is not None else None,
        "attempts": job.attempts,
        "lease_until": job.lease_until,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _job(m: Any) -> SettlementJob:
    def when(value: datetime | None) -> datetime | None:
        return utc(value) if value is not None else None

    return SettlementJob(
        id=m["id"],
        kind=JobKind(m["kind"]),
        market_id=m["market_id"],
        status=JobStatus(m["status"]),
        params=dict(m["params"]),
        created_at=utc(m["created_at"]),
        bets_total=int(m["bets_total"]),
        bets_done=int(m["bets_done"]),
        cursor=m["cursor"],
        tally=Tally.from_json(m["tally"]),
        error=dict(m["error"]) if m["error"] is not None else None,
        attempts=int(m["attempts"]),
        lease_until=when(m["lease_until"]),
        started_at=when(m["started_at"]),
        finished_at=when(m["finished_at"]),
    )


def bet_store(conn: AsyncConnection) -> BetStore:
    """The betting store for this connection's backend (a unit of work builds it once per transaction)."""
    return PostgresBetStore(conn) if conn.dialect.name == "postgresql" else BetStore(conn)
