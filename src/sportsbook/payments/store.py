"""Payments' tables and the only code that reads or writes them (SQLAlchemy Core): payments, their attempts at
the connectors, the webhooks taken, the card block list and the connectors' switches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import utc
from sportsbook.db.metadata import metadata
from sportsbook.payments.connectors.base import Outcome
from sportsbook.payments.model import Direction, Status

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("player_id", sa.Uuid, nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("parent_id", sa.Uuid, nullable=True),  # a refund's or chargeback's deposit
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("connector", sa.String(40), nullable=True),  # the one that approved, or was tried last
    sa.Column("psp_reference", sa.String(100), nullable=True),
    sa.Column("decline_code", sa.String(40), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    # never the card number: a keyed fingerprint, the BIN and the last four
    sa.Column("card_fingerprint", sa.String(32), nullable=True),
    sa.Column("card_bin", sa.String(8), nullable=True),
    sa.Column("card_last4", sa.String(4), nullable=True),
    sa.Column("card_scheme", sa.String(16), nullable=True),
    sa.Column("card_type", sa.String(16), nullable=True),
    sa.Column("card_prepaid", sa.Boolean, nullable=True),
    sa.Column("card_country", sa.String(2), nullable=True),
    sa.Column("three_ds", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("next_action_url", sa.String(500), nullable=True),
    sa.Column("refunded", sa.BigInteger, nullable=False, server_default="0"),  # refunds asked or done
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("amount > 0", name="payment_amount_positive"),
    sa.CheckConstraint("refunded >= 0 AND refunded <= amount", name="payment_refunded_in_range"),
    sa.CheckConstraint(
        "direction IN ('deposit', 'withdrawal', 'refund', 'chargeback')", name="payment_direction_known"
    ),
    sa.CheckConstraint("status IN ('pending', 'requires_action', 'succeeded', 'failed')", name="payment_status_known"),
    sa.UniqueConstraint("player_id", "direction", "idempotency_key", name="uq_payments_idempotency"),
    sa.Index("ix_payments_player", "player_id", "created_at"),
    sa.Index("ix_payments_open", "status", "updated_at"),
    sa.Index("ix_payments_parent", "parent_id"),
)

payment_attempts = sa.Table(
    "payment_attempts",
    metadata,
    sa.Column("reference", sa.Uuid, primary_key=True),  # ours, given to the PSP: its idempotency key
    sa.Column("payment_id", sa.Uuid, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("connector", sa.String(40), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),  # charge, refund, payout
    sa.Column("outcome", sa.String(16), nullable=True),  # None: sent, no answer recorded yet
    sa.Column("decline_code", sa.String(40), nullable=True),
    sa.Column("advice_code", sa.String(4), nullable=True),
    sa.Column("psp_reference", sa.String(100), nullable=True),
    sa.Column("three_ds", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("card_fingerprint", sa.String(32), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("payment_id", "seq", name="uq_payment_attempts_seq"),
    sa.Index("ix_payment_attempts_card", "card_fingerprint", "started_at"),
    sa.Index("ix_payment_attempts_open", "outcome", "started_at"),
    sa.Index("ix_payment_attempts_psp", "connector", "psp_reference"),
)

payment_webhooks = sa.Table(
    "payment_webhooks",
    metadata,
    sa.Column("connector", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("result", sa.String(40), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

payment_blocks = sa.Table(
    "payment_blocks",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),  # fingerprint, bin (6 or 8 digits)
    sa.Column("value", sa.String(32), primary_key=True),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Uuid, nullable=True),
    sa.CheckConstraint("kind IN ('fingerprint', 'bin')", name="payment_block_kind_known"),
)

payment_connectors = sa.Table(
    "payment_connectors",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("outage", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("approval_rate", sa.Float, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.Uuid, nullable=True),
)


_TAKEN = "taken"  # a webhook's result until what it caused is written beside it, in the same transaction


@dataclass(frozen=True, slots=True)
class Card:
    """What is kept of a card: never its number."""

    fingerprint: str
    bin: str
    last4: str
    scheme: str
    card_type: str | None
    prepaid: bool
    country: str | None


@dataclass(frozen=True, slots=True)
class Payment:
    id: UUID
    player_id: UUID
    direction: Direction
    status: Status
    amount: int
    currency: str
    created_at: datetime
    updated_at: datetime
    parent_id: UUID | None = None
    connector: str | None = None
    psp_reference: str | None = None
    decline_code: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    card: Card | None = None
    three_ds: bool = False
    next_action_url: str | None = None
    refunded: int = 0


@dataclass(frozen=True, slots=True)
class Attempt:
    reference: UUID
    payment_id: UUID
    seq: int
    connector: str
    operation: str
    started_at: datetime
    outcome: Outcome | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    psp_reference: str | None = None
    three_ds: bool = False
    card_fingerprint: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSwitches:
    name: str
    enabled: bool
    outage: bool
    approval_rate: float | None
    latency_ms: float | None


@dataclass(frozen=True, slots=True)
class Block:
    kind: str
    value: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RateRow:
    """Attempts and approvals of one group (a connector, an issuer country, a card type)."""

    key: str
    attempts: int
    approved: int


def _payment(m: Any) -> Payment:
    card = None
    if m["card_fingerprint"] is not None:
        card = Card(
            m["card_fingerprint"],
            m["card_bin"],
            m["card_last4"],
            m["card_scheme"],
            m["card_type"],
            bool(m["card_prepaid"]),
            m["card_country"],
        )
    return Payment(
        id=m["id"],
        player_id=m["player_id"],
        direction=Direction(m["direction"]),
        status=Status(m["status"]),
        amount=m["amount"],
        currency=m["currency"],
        created_at=utc(m["created_at"]),
        updated_at=utc(m["updated_at"]),
        parent_id=m["parent_id"],
        connector=m["connector"],
        psp_reference=m["psp_reference"],
        decline_code=m["decline_code"],
        idempotency_key=m["idempotency_key"],
        request_hash=m["request_hash"],
        card=card,
        three_ds=bool(m["three_ds"]),
        next_action_url=m["next_action_url"],
        refunded=m["refunded"],
    )


def _attempt(m: Any) -> Attempt:
    return Attempt(
        reference=m["reference"],
        payment_id=m["payment_id"],
        seq=m["seq"],
        connector=m["connector"],
        operation=m["operation"],
        started_at=utc(m["started_at"]),
        outcome=Outcome(m["outcome"]) if m["outcome"] is not None else None,
        decline_code=m["decline_code"],
        advice_code=m["advice_code"],
        psp_reference=m["psp_reference"],
        three_ds=bool(m["three_ds"]),
        card_fingerprint=m["card_fingerprint"],
        finished_at=utc(m["finished_at"]) if m["finished_at"] is not None else None,
    )


def _joined(m: Any) -> tuple[Payment, Attempt]:
    return _payment(m), _attempt({c.name: m[f"a_{c.name}"] for c in payment_attempts.c})


def _payment_values(p: Payment) -> dict[str, Any]:
    card = p.card
    return {
        "id": p.id,
        "player_id": p.player_id,
        "direction": str(p.direction),
        "parent_id": p.parent_id,
        "status": p.status.value,
        "amount": p.amount,
        "currency": p.currency,
        "connector": p.connector,
        "psp_reference": p.psp_reference,
        "decline_code": p.decline_code,
        "idempotency_key": p.idempotency_key,
        "request_hash": p.request_hash,
        "card_fingerprint": card.fingerprint if card else None,
        "card_bin": card.bin if card else None,
        "card_last4": card.last4 if card else None,
        "card_scheme": card.scheme if card else None,
        "card_type": card.card_type if card else None,
        "card_prepaid": card.prepaid if card else None,
        "card_country": card.country if card else None,
        "three_ds": p.three_ds,
        "next_action_url": p.next_action_url,
        "refunded": p.refunded,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def _attempt_values(a: Attempt) -> dict[str, Any]:
    return {
        "reference": a.reference,
        "payment_id": a.payment_id,
        "seq": a.seq,
        "connector": a.connector,
        "operation": a.operation,
        "outcome": a.outcome.value if a.outcome else None,
        "decline_code": a.decline_code,
        "advice_code": a.advice_code,
        "psp_reference": a.psp_reference,
        "three_ds": a.three_ds,
        "card_fingerprint": a.card_fingerprint,
        "started_at": a.started_at,
        "finished_at": a.finished_at,
    }


def _insert_if_absent(conn: AsyncConnection, table: sa.Table) -> sa.Insert:
    """`INSERT ... ON CONFLICT DO NOTHING` (the same SQL on both backends, spelt in each dialect's own insert):
    a row already there is found by the rowcount, without the two round trips of a savepoint around an insert
    that may fail, as on PostgreSQL a failed statement aborts the whole transaction."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


class PaymentStore:
    """Payments' tables in one transaction, a unit of work's."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # ---- payments ----

    async def insert(self, payment: Payment) -> bool:
        """Insert a payment; False if its (player, direction, Idempotency-Key) is taken (nothing written)."""
        inserted = await self.conn.execute(_insert_if_absent(self.conn, payments).values(**_payment_values(payment)))
        return bool(inserted.rowcount)

    async def by_key(self, player_id: UUID, direction: Direction, key: str) -> Payment | None:
        row = (
            await self.conn.execute(
                sa.select(payments).where(
                    payments.c.player_id == player_id,
                    payments.c.direction == direction.value,
                    payments.c.idempotency_key == key,
                )
            )
        ).first()
        return _payment(row._mapping) if row is not None else None

    async def get(self, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
        query = sa.select(payments).where(payments.c.id == payment_id)
        if for_update:
            query = query.with_for_update()  # SQLite has none to take: its writer holds the whole file
        row = (await self.conn.execute(query)).first()
        return _payment(row._mapping) if row is not None else None

    async def save(self, payment: Payment) -> None:
        values = _payment_values(payment)
        del values["id"]
        await self.conn.execute(payments.update().where(payments.c.id == payment.id).values(**values))

    async def add_refunded(self, payment_id: UUID, amount: int, now: datetime) -> bool:
        """Count `amount` more as refunded, if the payment's amount still covers it (False: nothing changed)."""
        result = await self.conn.execute(
            payments.update()
            .where(payments.c.id == payment_id, payments.c.refunded + amount <= payments.c.amount)
            .values(refunded=payments.c.refunded + amount, updated_at=now)
        )
        return result.rowcount == 1

    async def of_player(self, player_id: UUID, limit: int) -> list[Payment]:
        rows = await self.conn.execute(
            sa.select(payments)
            .where(payments.c.player_id == player_id)
            .order_by(payments.c.created_at.desc(), payments.c.id)
            .limit(limit)
        )
        return [_payment(r._mapping) for r in rows]

    async def children(self, parent_id: UUID) -> list[Payment]:
        rows = await self.conn.execute(
            sa.select(payments).where(payments.c.parent_id == parent_id).order_by(payments.c.created_at)
        )
        return [_payment(r._mapping) for r in rows]

    async def succeeded(self, since: datetime | None = None) -> list[Payment]:
        """Every succeeded payment (since a time), for reconciliation."""
        query = sa.select(payments).where(payments.c.status == Status.SUCCEEDED.value)
        if since is not None:
            query = query.where(payments.c.updated_at >= since)
        return [_payment(r._mapping) for r in await self.conn.execute(query)]

    async def by_ids(self, ids: Sequence[UUID]) -> dict[UUID, Payment]:
        if not ids:
            return {}
        rows = await self.conn.execute(sa.select(payments).where(payments.c.id.in_(list(ids))))
        return {r.id: _payment(r._mapping) for r in rows}

    # ---- attempts ----

    async def add_attempt(self, attempt: Attempt) -> None:
        await self.conn.execute(payment_attempts.insert().values(**_attempt_values(attempt)))

    async def save_attempt(self, attempt: Attempt) -> None:
        values = _attempt_values(attempt)
        del values["reference"]
        await self.conn.execute(
            payment_attempts.update().where(payment_attempts.c.reference == attempt.reference).values(**values)
        )

    async def attempt(self, reference: UUID) -> Attempt | None:
        row = (
            await self.conn.execute(sa.select(payment_attempts).where(payment_attempts.c.reference == reference))
        ).first()
        return _attempt(row._mapping) if row is not None else None

    async def attempt_by_psp_reference(self, connector: str, psp_reference: str) -> Attempt | None:
        row = (
            await self.conn.execute(
                sa.select(payment_attempts).where(
                    payment_attempts.c.connector == connector, payment_attempts.c.psp_reference == psp_reference
                )
            )
        ).first()
        return _attempt(row._mapping) if row is not None else None

    async def attempts_of(self, payment_ids: Sequence[UUID]) -> dict[UUID, list[Attempt]]:
        out: dict[UUID, list[Attempt]] = {p: [] for p in payment_ids}
        if not payment_ids:
            return out
        rows = await self.conn.execute(
            sa.select(payment_attempts)
            .where(payment_attempts.c.payment_id.in_(list(payment_ids)))
            .order_by(payment_attempts.c.payment_id, payment_attempts.c.seq)
        )
        for r in rows:
            out[r.payment_id].append(_attempt(r._mapping))
        return out

    async def lock_card(self, fingerprint: str) -> None:
        """Hold a card's lock until this transaction ends, so two deposits on one card count its declines and add
        their attempts in turn. PostgreSQL: a transaction-scoped advisory lock (no row, released at commit).
        SQLite has none to take: a unit of work there begins IMMEDIATE, holding the whole file."""
        if self.conn.dialect.name == "postgresql":
            key = int.from_bytes(bytes.fromhex(fingerprint[:16]), "big", signed=True)
            await self.conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    async def declines_of_card(self, fingerprint: str, since: datetime) -> list[datetime]:
        """When this card's charges since a time were declined, or were sent and not answered yet (each may still
        be a decline): what the networks' retry limits count, taken at its worst so no limit is ever passed."""
        rows = await self.conn.execute(
            sa.select(payment_attempts.c.started_at).where(
                payment_attempts.c.card_fingerprint == fingerprint,
                payment_attempts.c.started_at > since,
                payment_attempts.c.operation == "charge",
                sa.or_(
                    payment_attempts.c.outcome == Outcome.DECLINED.value,
                    payment_attempts.c.outcome.is_(None),
                    payment_attempts.c.outcome == Outcome.TIMEOUT.value,
                ),
            )
        )
        return [utc(r.started_at) for r in rows]

    async def unresolved_attempts(self, before: datetime, limit: int) -> list[Attempt]:
        """Attempts sent before a time whose answer is unknown (timed out, or never recorded)."""
        rows = await self.conn.execute(
            sa.select(payment_attempts)
            .where(
                sa.or_(payment_attempts.c.outcome.is_(None), payment_attempts.c.outcome == Outcome.TIMEOUT.value),
                payment_attempts.c.started_at < before,
            )
            .order_by(payment_attempts.c.started_at)
            .limit(limit)
        )
        return [_attempt(r._mapping) for r in rows]

    async def rates(self, group: str, since: datetime) -> list[RateRow]:
        """Charge attempts and approvals since a time, by connector, issuer country or card type."""
        column = {
            "connector": payment_attempts.c.connector,
            "country": payments.c.card_country,
            "card_type": payments.c.card_type,
        }[group]
        approved = sa.func.sum(sa.case((payment_attempts.c.outcome == Outcome.APPROVED.value, 1), else_=0))
        rows = await self.conn.execute(
            sa.select(column.label("key"), sa.func.count().label("attempts"), approved.label("approved"))
            .select_from(payment_attempts.join(payments, payments.c.id == payment_attempts.c.payment_id))
            .where(
                payment_attempts.c.operation == "charge",
                payment_attempts.c.started_at >= since,
                payment_attempts.c.outcome.in_([Outcome.APPROVED.value, Outcome.DECLINED.value, "error", "timeout"]),
            )
            .group_by(column)
            .order_by(column)
        )
        return [RateRow(r.key or "unknown", int(r.attempts), int(r.approved or 0)) for r in rows]

    async def attempts_settled(
        self, connectors: Sequence[str], since: datetime, until: datetime
    ) -> list[tuple[Payment, Attempt]]:
        """Approved attempts at these connectors that finished in [since, until], with their payments."""
        rows = await self.conn.execute(
            sa.select(payments, *[c.label(f"a_{c.name}") for c in payment_attempts.c])
            .select_from(payment_attempts.join(payments, payments.c.id == payment_attempts.c.payment_id))
            .where(
                payment_attempts.c.connector.in_(list(connectors)),
                payment_attempts.c.outcome == Outcome.APPROVED.value,
                payment_attempts.c.finished_at >= since,
                payment_attempts.c.finished_at <= until,
            )
        )
        return [_joined(r._mapping) for r in rows]

    async def attempts_by_references(self, references: Sequence[UUID]) -> list[tuple[Payment, Attempt]]:
        """Attempts with these references, with their payments."""
        out: list[tuple[Payment, Attempt]] = []
        for at in range(0, len(references), 500):
            rows = await self.conn.execute(
                sa.select(payments, *[c.label(f"a_{c.name}") for c in payment_attempts.c])
                .select_from(payment_attempts.join(payments, payments.c.id == payment_attempts.c.payment_id))
                .where(payment_attempts.c.reference.in_(list(references[at : at + 500])))
            )
            out.extend(_joined(r._mapping) for r in rows)
        return out

    async def chargebacks_between(self, connectors: Sequence[str], since: datetime, until: datetime) -> list[Payment]:
        rows = await self.conn.execute(
            sa.select(payments).where(
                payments.c.direction == Direction.CHARGEBACK.value,
                payments.c.connector.in_(list(connectors)),
                payments.c.created_at >= since,
                payments.c.created_at <= until,
            )
        )
        return [_payment(r._mapping) for r in rows]

    async def approved_attempt(self, payment_id: UUID) -> Attempt | None:
        row = (
            await self.conn.execute(
                sa.select(payment_attempts).where(
                    payment_attempts.c.payment_id == payment_id,
                    payment_attempts.c.outcome == Outcome.APPROVED.value,
                )
            )
        ).first()
        return _attempt(row._mapping) if row is not None else None

    # ---- webhooks ----

    async def take_webhook(self, connector: str, event_id: str, type_: str, reference: str, now: datetime) -> bool:
        """Record a webhook as taken; False if it was taken before (a duplicate: do nothing)."""
        inserted = await self.conn.execute(
            _insert_if_absent(self.conn, payment_webhooks).values(
                connector=connector,
                event_id=event_id,
                type=type_,
                reference=reference,
                result=_TAKEN,
                received_at=now,
            )
        )
        return bool(inserted.rowcount)

    async def webhook_result(self, connector: str, event_id: str, result: str) -> None:
        await self.conn.execute(
            payment_webhooks.update()
            .where(payment_webhooks.c.connector == connector, payment_webhooks.c.event_id == event_id)
            .values(result=result[:40])
        )

    # ---- block list ----

    async def blocks(self) -> list[Block]:
        rows = await self.conn.execute(
            sa.select(payment_blocks).order_by(payment_blocks.c.kind, payment_blocks.c.value)
        )
        return [Block(r.kind, r.value, r.reason, utc(r.created_at)) for r in rows]

    async def add_block(self, kind: str, value: str, reason: str, by: UUID, now: datetime) -> bool:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    payment_blocks.insert().values(kind=kind, value=value, reason=reason, created_at=now, created_by=by)
                )
        except IntegrityError:
            return False
        return True

    async def remove_block(self, kind: str, value: str) -> bool:
        result = await self.conn.execute(
            payment_blocks.delete().where(payment_blocks.c.kind == kind, payment_blocks.c.value == value)
        )
        return result.rowcount == 1

    # ---- connectors' switches ----

    async def switches(self) -> list[ConnectorSwitches]:
        rows = await self.conn.execute(sa.select(payment_connectors))
        return [ConnectorSwitches(r.name, r.enabled, r.outage, r.approval_rate, r.latency_ms) for r in rows]

    async def save_switches(self, switches: ConnectorSwitches, by: UUID, now: datetime) -> None:
        await self.conn.execute(payment_connectors.delete().where(payment_connectors.c.name == switches.name))
        await self.conn.execute(
            payment_connectors.insert().values(
                name=switches.name,
                enabled=switches.enabled,
                outage=switches.outage,
                approval_rate=switches.approval_rate,
                latency_ms=switches.latency_ms,
                updated_at=now,
                updated_by=by,
            )
        )


__all__ = ["Attempt", "Block", "Card", "ConnectorSwitches", "Payment", "PaymentStore", "RateRow"]
