"""The only code that reads or writes the ledger's tables (SQLAlchemy Core).

A batch of transfers runs in one transaction: lock the chain heads of the shards it touches, in ascending order
(this serialises the ledger writers of each shard, so account rows need no further locks and no deadlock is
possible), read what the batch touches, let the model decide, then write set-based: one INSERT of all new
transfers, one UPDATE of every touched balance and chain head.

The shard is a column of every ledger table: an account lives on one shard (a player's on the shard recorded
when it was opened, the house's on every shard, one account per shard), a transfer and a hold on their
accounts' shard, and each shard has its own chain row (`ledger_chain.shard`).

A statement the backends share is written once, in SQLAlchemy Core, in `LedgerStore`; beside it
`SqliteLedgerStore` and `PostgresLedgerStore` hold the few each backend writes its own way (the journal's write
path above all), and `ledger_store` picks one when the Ledger is built. The journal's columns are declared once,
in `transfers`: every column list, row and reader of it is derived from that declaration."""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    and_,
    any_,
    bindparam,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement

from sportsbook.core.clock import utc
from sportsbook.db.engine import driver_connection
from sportsbook.db.metadata import BigIntKey, metadata
from sportsbook.ledger.model import (
    GENESIS_HASH,
    HOUSE,
    Account,
    AccountKind,
    BatchOutcome,
    ChainHeads,
    Flag,
    LedgerState,
    PendingState,
    Phase,
    Resolution,
    Seal,
    Transfer,
    TransferRequest,
)
from sportsbook.ledger.model import AccountKey as AccountKey  # its home was here: the engine's tests import it
from sportsbook.ledger.model import (
    micros as _micros,
)

accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("owner", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("sub", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("non_negative", Boolean, nullable=False),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("shard", SmallInteger, nullable=False, server_default="0"),
    # a house account exists once per shard; a player's accounts once, on one shard (the partial index below)
    UniqueConstraint("owner", "kind", "sub", "currency", "shard", name="uq_ledger_accounts_key"),
    CheckConstraint("NOT non_negative OR balance >= 0", name="balance_non_negative"),
    Index(
        "uq_ledger_accounts_player",
        "owner",
        "kind",
        "sub",
        "currency",
        unique=True,
        postgresql_where=text("owner <> 'house'"),
        sqlite_where=text("owner <> 'house'"),
    ),
)

# Rows whose debit, or credit, is not a holding account (a SINGLE or PENDING row's debit; any but a PENDING row's
# credit): literal SQL, so that a query repeating it lets SQLite and PostgreSQL use the partial index.
_DEBIT_NOT_HELD = f"flags < {Flag.POST}"
_CREDIT_NOT_HELD = f"flags <> {Flag.PENDING}"

transfers = Table(
    "ledger_transfers",
    metadata,
    Column("seq", BigInteger, nullable=False, autoincrement=False),  # numbers its shard's chain
    Column("id", Uuid, nullable=False, unique=True),
    # No foreign keys on the journal: the engine writes only accounts it has just read, accounts are never
    # deleted, and reconcile names any row whose account is unknown. The two FK triggers per row cost a
    # sixth of the batched throughput on PostgreSQL (docs/performance.md).
    Column("debit_account_id", BigInteger, nullable=False),
    Column("credit_account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", String(32), nullable=False),
    Column("flags", SmallInteger, nullable=False),
    Column("reference", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("debit_balance_after", BigInteger, nullable=False),
    Column("credit_balance_after", BigInteger, nullable=False),
    Column("pending_id", Uuid, nullable=True),
    # set on the one row that posts, voids or expires a pending transfer: unique, so it can close only once
    Column("resolves", Uuid, nullable=True),
    Column("target_account_id", BigInteger, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("hash", LargeBinary(32), nullable=False),
    Column("shard", SmallInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("shard", "seq", name="pk_ledger_transfers"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
    Index(
        "uq_ledger_transfers_resolves",
        "resolves",
        unique=True,
        postgresql_where=text("resolves IS NOT NULL"),
        sqlite_where=text("resolves IS NOT NULL"),
    ),
    # The statement's indexes: an account's rows by seq, on the side the account is on. A reserved (holding)
    # account is only ever the credit of a PENDING row and the debit of the rows that close one, and nothing reads
    # its rows by account (the statement is the cash's), so those entries are left out: one index entry fewer per
    # stake placed and per hold closed (docs/performance.md).
    Index("ix_ledger_transfers_debit", "debit_account_id", "seq", postgresql_where=text(_DEBIT_NOT_HELD),
          sqlite_where=text(_DEBIT_NOT_HELD)),
    Index("ix_ledger_transfers_credit", "credit_account_id", "seq", postgresql_where=text(_CREDIT_NOT_HELD),
          sqlite_where=text(_CREDIT_NOT_HELD)),
)  # fmt: skip

# The journal's columns are declared once, in `transfers`. Each is filled from the Transfer attribute of its
# name (`resolves` is derived from the flags) and a Transfer is read back from the columns named after its
# fields; every column list, row tuple and reader of the journal below is derived from these two.
JOURNAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in transfers.columns)
TRANSFER_COLUMNS: tuple[Column[Any], ...] = tuple(transfers.c[f.name] for f in fields(Transfer))


def _sqlite_time(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy stores it in SQLite (aware UTC values, written without the zone)."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


journal_row: Callable[[Transfer], tuple[Any, ...]] = attrgetter(*JOURNAL_COLUMNS)
"""A Transfer as a journal row, in the table's column order."""

# How each column is stored on SQLite, as SQLAlchemy itself stores it: uuids as hex, times as text.
_UUIDS = frozenset(c.name for c in transfers.columns if isinstance(c.type, Uuid))
_TIMES = frozenset(c.name for c in transfers.columns if isinstance(c.type, DateTime))


def _sqlite_row(t: Transfer, stamp: datetime, formatted: str | None) -> tuple[Any, ...]:
    """A Transfer as a SQLite journal row (a batch shares one timestamp, `stamp`, formatted once)."""
    row = []
    for name, value in zip(JOURNAL_COLUMNS, journal_row(t), strict=True):
        if value is not None and name in _UUIDS:
            value = value.hex
        elif value is not None and name in _TIMES:
            value = formatted if value is stamp else _sqlite_time(value)
        row.append(value)
    return tuple(row)


# What a driver hands back that a Transfer holds otherwise: SQLite drops the zone, asyncpg may give a memoryview.
_READ_AS: dict[type[Any], Callable[[Any], Any]] = {DateTime: utc, LargeBinary: bytes}
_CONVERTED = tuple((i, _READ_AS[type(c.type)]) for i, c in enumerate(TRANSFER_COLUMNS) if type(c.type) in _READ_AS)


def transfer_of(row: Iterable[Any]) -> Transfer:
    """A Transfer from a row of TRANSFER_COLUMNS in their order (a SQLAlchemy row or an asyncpg record)."""
    values = list(row)
    for i, read in _CONVERTED:
        if values[i] is not None:
            values[i] = read(values[i])
    return Transfer(*values)


# Open pending transfers: a row while the hold is open, deleted when it is posted, voided or expired.
holds = Table(
    "ledger_holds",
    metadata,
    Column("pending_id", Uuid, primary_key=True),
    # No foreign key, as on the journal (it was half a hold's insert cost): reconcile names a hold on an
    # account that is not a reserved account (`orphan_holds`).
    Column("holding_account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("shard", SmallInteger, nullable=False, server_default="0"),
    Index(
        "ix_ledger_holds_expires_at",
        "expires_at",
        postgresql_where=text("expires_at IS NOT NULL"),
        sqlite_where=text("expires_at IS NOT NULL"),
    ),
)

# The chain's seals: one row per sealed batch of a shard's journal (rows `first_seq` to `seq`), its hash over the
# previous seal's and its rows' own hashes (`model.seal_hash`).
seals = Table(
    "ledger_seals",
    metadata,
    Column("shard", SmallInteger, nullable=False),
    Column("seq", BigInteger, nullable=False, autoincrement=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("shard", "seq", name="pk_ledger_seals"),
)

chain = Table(
    "ledger_chain",
    metadata,
    Column("shard", SmallInteger, primary_key=True, autoincrement=False),  # one chain head per shard
    Column("seq", BigInteger, nullable=False),
    Column("head", LargeBinary(32), nullable=False),
)


@dataclass(frozen=True, slots=True)
class _Identity:
    owner: str
    kind: str
    currency: str
    non_negative: bool
    shard: int

    def account(self, account_id: int, balance: int) -> Account:
        """The account as the model sees it, at `balance`."""
        return Account(account_id, self.owner, self.kind, self.currency, self.non_negative, balance, self.shard)


_Slot = AccountKey | tuple[AccountKey, int]
S = TypeVar("S", AccountKey, tuple[AccountKey, int])
"""Where an account is remembered: a player's by its key (it lives on one shard), a house account by its key and
its shard (it exists on every shard)."""


def _slot(key: AccountKey, shard: int) -> _Slot:
    return (key, shard) if key.owner == HOUSE else key


class LedgerStore(ABC):
    """Reads and writes the ledger tables, every statement the backends share written once in SQLAlchemy Core.
    Holds a cache of account identities (they never change).

    Each backend's store (`SqliteLedgerStore`, `PostgresLedgerStore`, below; `ledger_store` picks one, once)
    writes the journal its own way and overrides the few reads where PostgreSQL's own statement pays."""

    def __init__(self) -> None:
        self._identity: dict[int, _Identity] = {}
        self._ids: dict[_Slot, int] = {}
        # owner -> shard of the players whose accounts this node has read: routing and locking from memory
        self._player_shard: dict[str, int] = {}
        # the accounts this node has known, at balance 0 (`zero_state`; an account's identity never changes)
        self._zeros: dict[int, Account] = {}
        # chain rows this node has seen: the ones it need not create before locking them
        self._chains: set[int] = set()
        # accounts this node created in a transaction still under way: slot -> a weak reference to that
        # transaction. Their ids are cached only once another transaction reads them (a rollback would leave a
        # dangling id, and every later transfer on the account would be refused `account_not_found`). An entry
        # leaves with its transaction object: after that, any transaction that finds the row sees it committed.
        self._fresh: dict[_Slot, weakref.ref[object]] = {}

    # ---- accounts ----

    async def get_or_create_account(self, conn: AsyncConnection, key: AccountKey, now: datetime, shard: int = 0) -> int:
        """The id of the account with this key, created (balance 0) if it does not exist yet: a house account
        on `shard`; a player's wherever it is, or on `shard` when it is new."""
        existing = await self.find_account(conn, key, shard)  # the usual case, and remembered
        if existing is not None:
            return existing
        non_negative = key.owner != HOUSE
        values = {
            "owner": key.owner,
            "kind": key.kind,
            "sub": key.sub,
            "currency": key.currency,
            "non_negative": non_negative,
            "balance": 0,
            "created_at": now,
            "shard": shard,
        }
        if (await conn.execute(self._insert_if_absent(accounts).values(values))).rowcount:
            self._mark_fresh(_slot(key, shard), conn)  # inserted here: remembered once seen committed
        found = await self.find_account(conn, key, shard)
        assert found is not None
        return found

    async def find_account(self, conn: AsyncConnection, key: AccountKey, shard: int | None = None) -> int | None:
        """The id of the account with this key: a player's wherever it lives; a house account on `shard`, or on
        the lowest shard that has it when `shard` is None (a receivable, whose sub names its player)."""
        if shard is not None:
            cached = self._ids.get(_slot(key, shard))
            if cached is not None:
                return cached
        elif key.owner != HOUSE and key in self._ids:
            return self._ids[key]
        query = select(accounts.c.id, accounts.c.non_negative, accounts.c.shard).where(
            accounts.c.owner == key.owner,
            accounts.c.kind == key.kind,
            accounts.c.sub == key.sub,
            accounts.c.currency == key.currency,
        )
        if key.owner == HOUSE and shard is not None:
            query = query.where(accounts.c.shard == shard)
        row = (await conn.execute(query.order_by(accounts.c.shard).limit(1))).first()
        if row is None:
            return None
        ident = _Identity(key.owner, key.kind, key.currency, row.non_negative, int(row.shard))
        self._remember(row.id, ident, key, conn)
        return int(row.id)

    def _known(self, slots: Iterable[S]) -> tuple[dict[S, int], list[S]]:
        """The ids this node knows among `slots` (player keys, or house keys with their shard), and the rest."""
        cached = self._ids
        found: dict[S, int] = {}
        missing: list[S] = []
        for slot in set(slots):
            known = cached.get(slot)
            if known is None:
                missing.append(slot)
            else:
                found[slot] = known
        return found, missing

    async def find_accounts(self, conn: AsyncConnection, keys: Iterable[AccountKey]) -> dict[AccountKey, int]:
        """The ids of the players' accounts that exist among `keys` (player keys: a player's accounts live on
        one shard), those not yet known read in one query: every account of the players among them."""
        found, missing = self._known(keys)
        if missing:
            players = list({k.owner for k in missing})
            read = await self._read_accounts(conn, self._in(accounts.c.owner, players))
            found.update((k, read[k]) for k in missing if k in read)
        return found

    async def find_house_accounts(
        self, conn: AsyncConnection, slots: Iterable[tuple[AccountKey, int]]
    ) -> dict[tuple[AccountKey, int], int]:
        """The ids of the house accounts that exist among these (key, shard) pairs, those not yet known read in
        one query (the house accounts of their kinds and subs on their shards)."""
        found, missing = self._known(slots)
        if missing:
            kinds, subs = list({k.kind for k, _s in missing}), list({k.sub for k, _s in missing})
            shards = list({s for _k, s in missing})
            where = and_(
                accounts.c.owner == HOUSE,
                self._in(accounts.c.kind, kinds),
                self._in(accounts.c.sub, subs),
                self._in(accounts.c.shard, shards),
            )
            read = await self._read_accounts(conn, where)
            found.update((slot, read[slot]) for slot in missing if slot in read)
        return found

    def account_shard(self, account_id: int) -> int | None:
        """The shard of an account this node has read (identities never change), else None."""
        ident = self._identity.get(account_id)
        return ident.shard if ident is not None else None

    def known_player_shard(self, owner: str) -> int | None:
        """The shard of a player whose accounts this node has read, else None."""
        return self._player_shard.get(owner)

    async def player_shards(self, conn: AsyncConnection, owners: Collection[str]) -> dict[str, int]:
        """The shard of each of these players that has accounts: from memory, the others in one query."""
        known = self._player_shard
        found = {o: known[o] for o in owners if o in known}
        missing = [o for o in owners if o not in known]
        if missing:
            await self._read_accounts(conn, self._in(accounts.c.owner, missing))
            found.update((o, known[o]) for o in missing if o in known)
        return found

    async def identify(self, conn: AsyncConnection, ids: Iterable[int]) -> None:
        """Read who the accounts among `ids` not known yet are (their shard among it)."""
        await self._identify(conn, ids)

    async def balances_of(self, conn: AsyncConnection, owner: str, currency: str) -> dict[str, int]:
        """Balance per account kind of one owner in one currency (a house owner's summed across shards)."""
        rows = await conn.execute(
            select(accounts.c.kind, accounts.c.balance).where(
                accounts.c.owner == owner, accounts.c.currency == currency
            )
        )
        out: dict[str, int] = {}
        for r in rows:
            out[r.kind] = out.get(r.kind, 0) + int(r.balance)
        return out

    async def house_balance(self, conn: AsyncConnection, key: AccountKey) -> int:
        """A house account's balance summed across every shard it exists on."""
        total = (
            await conn.execute(
                select(func.coalesce(func.sum(accounts.c.balance), 0)).where(
                    accounts.c.owner == key.owner,
                    accounts.c.kind == key.kind,
                    accounts.c.sub == key.sub,
                    accounts.c.currency == key.currency,
                )
            )
        ).scalar_one()
        return int(total)

    async def account_balances(self, conn: AsyncConnection, ids: Collection[int]) -> dict[int, int]:
        rows = await conn.execute(select(accounts.c.id, accounts.c.balance).where(self._in(accounts.c.id, ids)))
        return {int(row[0]): int(row[1]) for row in rows}

    def _remember(
        self, account_id: int, ident: _Identity, key: AccountKey | None = None, conn: AsyncConnection | None = None
    ) -> None:
        self._identity[account_id] = ident
        if ident.owner != HOUSE:
            self._player_shard[ident.owner] = ident.shard
        if key is None:
            return
        slot = _slot(key, ident.shard)
        fresh = self._fresh.get(slot)
        if fresh is not None:
            if conn is None or fresh() is _transaction_of(conn):
                return  # still only visible to the transaction that created it
            del self._fresh[slot]  # another transaction sees it: committed
        self._ids[slot] = account_id

    def _mark_fresh(self, slot: _Slot, conn: AsyncConnection) -> None:
        def forget(ref: weakref.ref[object]) -> None:  # the transaction is gone, committed or rolled back
            if self._fresh.get(slot) is ref:
                del self._fresh[slot]

        self._fresh[slot] = weakref.ref(_transaction_of(conn), forget)

    # ---- the write path ----

    async def lock_chains(
        self, conn: AsyncConnection, shards: Collection[int] | None, ensure: Collection[int] = ()
    ) -> ChainHeads:
        """Take the chain heads of these shards (every shard's when None) for this transaction, in ascending
        order: the ledger writers of a shard queue on its head, and taking several in one order cannot deadlock.
        `ensure` names shards whose chain row is created first if this node has not seen it yet."""
        wanted = set(ensure) | (set(shards) if shards is not None else set())
        if not wanted <= self._chains:
            await self._create_chains(conn, wanted)
        heads = await self._locked_heads(conn, sorted(shards) if shards is not None else None)
        self._chains.update(heads)
        absent = wanted - heads.keys()
        if absent:  # created by a transaction that rolled back after this node saw it: create it again
            await self._create_chains(conn, absent)
            heads.update(await self._locked_heads(conn, sorted(absent)))
        return heads

    async def lock_chain(self, conn: AsyncConnection, shard: int = 0) -> tuple[int, bytes]:
        """Take one shard's chain head for this transaction."""
        return (await self.lock_chains(conn, [shard]))[shard]

    async def _create_chains(self, conn: AsyncConnection, shards: Collection[int]) -> None:
        rows = [{"shard": s, "seq": 0, "head": GENESIS_HASH} for s in sorted(shards)]
        await conn.execute(self._insert_if_absent(chain), rows)

    async def load_state(
        self,
        conn: AsyncConnection,
        requests: Iterable[TransferRequest],
        now: datetime,
        expiring: Collection[UUID] = (),
        known_pending: Mapping[UUID, Transfer] | None = None,
        *,
        new_ids: bool = False,
        extra_ids: Iterable[UUID] = (),
        extra_accounts: Iterable[int] = (),
    ) -> LedgerState:
        """Read everything the model needs to decide these requests (and expire these pending ids).
        `known_pending` may give pending transfer rows read earlier (rows never change; whether they are still
        open is read here). `new_ids`: the caller knows no request's id is stored, so they are not looked up.
        `extra_ids` and `extra_accounts` are read too, for requests the caller builds from them afterwards (a
        take-back splits by the cash balance read here)."""
        requests = list(requests)
        ids = set() if new_ids else {r.id for r in requests} | set(extra_ids)
        pending_ids = {r.pending_id for r in requests if r.pending_id is not None} | set(expiring)
        state = LedgerState()
        preloaded = {pid: known_pending[pid] for pid in pending_ids if pid in known_pending} if known_pending else {}
        wanted = ids | (pending_ids - preloaded.keys())
        if wanted:
            for t in await self.transfers_by_id(conn, wanted):
                state.transfers[t.id] = t
        state.transfers.update(preloaded)
        account_ids: set[int] = set(extra_accounts)
        for r in requests:
            if r.phase in (Phase.SINGLE, Phase.PENDING):
                account_ids.update((r.debit_account_id, r.credit_account_id))
        pendings = [state.transfers[p] for p in pending_ids if p in state.transfers]
        pendings = [p for p in pendings if p.flags & Flag.PENDING]
        if pendings:
            open_ids = {
                r.pending_id
                for r in await conn.execute(
                    select(holds.c.pending_id).where(self._in(holds.c.pending_id, [p.id for p in pendings]))
                )
            }
            closed = [p.id for p in pendings if p.id not in open_ids]
            resolutions: dict[UUID, Resolution] = {}
            if closed:
                query = select(transfers.c.resolves, transfers.c.flags).where(self._in(transfers.c.resolves, closed))
                for closing in await conn.execute(query):
                    resolutions[closing.resolves] = _resolution(int(closing.flags))
            for p in pendings:
                res = Resolution.OPEN if p.id in open_ids else resolutions.get(p.id, Resolution.VOIDED)
                state.pendings[p.id] = PendingState(p, res)
                account_ids.update((p.debit_account_id, p.credit_account_id))
                if p.target_account_id is not None:
                    account_ids.add(p.target_account_id)
        await self._identify(conn, account_ids)
        for r in requests:
            if r.phase is Phase.PENDING and r.debit_account_id in self._identity:
                ident = self._identity[r.debit_account_id]
                key = AccountKey(ident.owner, AccountKind.RESERVED, ident.currency)
                holding = self._ids.get(_slot(key, ident.shard)) or await self.get_or_create_account(
                    conn, key, now, ident.shard
                )
                state.holding[(ident.owner, ident.currency)] = holding
                account_ids.add(holding)
        await self._identify(conn, account_ids)
        known = [a for a in account_ids if a in self._identity]
        balances = await self.account_balances(conn, known) if known else {}
        for account_id, balance in balances.items():
            ident = self._identity[account_id]
            state.accounts[account_id] = ident.account(account_id, balance)
        return state

    async def zero_state(
        self, conn: AsyncConnection, requests: Iterable[TransferRequest], pending: Mapping[UUID, Transfer]
    ) -> LedgerState:
        """What a set-based write (`write_set`) decides requests on: every account they move at balance 0, so
        that the model works out each row's balances after as movements from the balance before, and every hold
        among `pending` open (`write_set` writes nothing unless each hold it closes is)."""
        state = LedgerState()
        ids: set[int] = set()
        for r in requests:
            if r.phase in (Phase.SINGLE, Phase.PENDING):
                ids.update((r.debit_account_id, r.credit_account_id))
        for p in pending.values():
            state.transfers[p.id] = p
            state.pendings[p.id] = PendingState(p, Resolution.OPEN)
            ids.update((p.debit_account_id, p.credit_account_id))
            if p.target_account_id is not None:
                ids.add(p.target_account_id)
        await self._identify(conn, ids)
        zeros = self._zeros
        for account_id in ids:
            account = zeros.get(account_id)
            if account is None:
                ident = self._identity.get(account_id)
                if ident is None:
                    continue
                account = zeros[account_id] = ident.account(account_id, 0)
            state.accounts[account_id] = account
        return state

    async def write_set(
        self, conn: AsyncConnection, outcome: BatchOutcome, heads: Mapping[int, tuple[int, bytes]]
    ) -> list[Seal] | None:
        """Write a numbered batch decided on `zero_state` set-based, the database working out each row's
        balances after (its accounts' balances plus the movements the batch worked out) and its hash, and
        sealing each shard's rows after its head in `heads`; the seals, or None, having written nothing, when a
        hold the batch closes is not open. None too on a backend that does not write sets (SQLite): the caller
        then decides the batch the usual way."""
        return None

    async def transfers_by_id(self, conn: AsyncConnection, ids: Collection[UUID]) -> list[Transfer]:
        """Stored transfer rows by id (rows never change once written)."""
        query = select(*TRANSFER_COLUMNS).where(self._in(transfers.c.id, ids))
        return [transfer_of(r) for r in await conn.execute(query)]

    async def _identify(self, conn: AsyncConnection, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self._identity]
        if missing:
            await self._read_accounts(conn, self._in(accounts.c.id, missing))

    async def _read_accounts(self, conn: AsyncConnection, where: ColumnElement[bool]) -> dict[_Slot, int]:
        """Read the accounts matching `where` and remember who they are: slot -> id."""
        rows = await conn.execute(
            select(
                accounts.c.id,
                accounts.c.owner,
                accounts.c.kind,
                accounts.c.sub,
                accounts.c.currency,
                accounts.c.non_negative,
                accounts.c.shard,
            ).where(where)
        )
        found: dict[_Slot, int] = {}
        for r in rows:
            key = AccountKey(r.owner, r.kind, r.currency, r.sub)
            ident = _Identity(r.owner, r.kind, r.currency, bool(r.non_negative), int(r.shard))
            self._remember(int(r.id), ident, key, conn)
            found[_slot(key, ident.shard)] = int(r.id)
        return found

    async def write(self, conn: AsyncConnection, outcome: BatchOutcome) -> None:
        """Persist a sealed batch: the new rows, the new balances, the holds and the chain head."""
        if not outcome.rows:
            return
        await self._write_journal(conn, outcome)
        if outcome.opened:
            await self._open_holds(conn, outcome.opened)
        if outcome.closed:
            await conn.execute(holds.delete().where(self._in(holds.c.pending_id, outcome.closed)))

    async def due_holds(self, conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[UUID, int]]:
        """Pending transfers whose timeout has passed and are still open, with their shard."""
        rows = await conn.execute(
            select(holds.c.pending_id, holds.c.shard)
            .where(holds.c.expires_at.is_not(None), holds.c.expires_at <= now)
            .order_by(holds.c.expires_at)
            .limit(limit)
        )
        return [(r.pending_id, int(r.shard)) for r in rows]

    # ---- reading transfers ----

    async def get_transfer(self, conn: AsyncConnection, transfer_id: UUID) -> Transfer | None:
        row = (await conn.execute(select(*TRANSFER_COLUMNS).where(transfers.c.id == transfer_id))).first()
        return transfer_of(row) if row else None

    async def statement(
        self, conn: AsyncConnection, account_id: int, limit: int, before_seq: int | None
    ) -> list[tuple[Transfer, int, int]]:
        """The account's transfers, newest first: (transfer, signed amount, balance after). An account's
        transfers are all on its shard's chain, so its seq orders them. Not for a reserved (holding) account:
        the indexes leave its rows out."""
        await self._identify(conn, [account_id])
        shard = self._identity[account_id].shard if account_id in self._identity else 0
        bound = [transfers.c.seq < before_seq] if before_seq is not None else []
        # the partial indexes' own conditions: every row of an account that is not a holding account meets them
        debits = select(transfers.c.seq).where(
            transfers.c.debit_account_id == account_id, text(_DEBIT_NOT_HELD), *bound
        )
        credits = select(transfers.c.seq).where(
            transfers.c.credit_account_id == account_id, text(_CREDIT_NOT_HELD), *bound
        )
        # Each side walks its own (account, seq) index backwards; SQLite needs them as subqueries.
        newest_debits = debits.order_by(transfers.c.seq.desc()).limit(limit).subquery()
        newest_credits = credits.order_by(transfers.c.seq.desc()).limit(limit).subquery()
        seqs = union_all(select(newest_debits.c.seq), select(newest_credits.c.seq)).subquery()
        rows = await conn.execute(
            select(*TRANSFER_COLUMNS)
            .where(transfers.c.shard == shard, transfers.c.seq.in_(select(seqs.c.seq)))
            .order_by(transfers.c.seq.desc())
            .limit(limit)
        )
        out: list[tuple[Transfer, int, int]] = []
        for row in rows:
            t = transfer_of(row)
            if t.credit_account_id == account_id:
                out.append((t, t.amount, t.credit_balance_after))
            else:
                out.append((t, -t.amount, t.debit_balance_after))
        return out

    # ---- reconciliation queries ----

    async def balance_mismatches(self, conn: AsyncConnection) -> list[Row[Any, Any]]:
        """Accounts whose stored balance differs from credits minus debits of their transfers."""
        credited = select(transfers.c.credit_account_id.label("aid"), transfers.c.amount.label("delta"))
        debited = select(transfers.c.debit_account_id.label("aid"), (-transfers.c.amount).label("delta"))
        movements = union_all(credited, debited).subquery()
        sums = select(movements.c.aid, func.sum(movements.c.delta).label("total")).group_by(movements.c.aid).subquery()
        total = func.coalesce(sums.c.total, literal(0))
        query = (
            select(
                accounts.c.id,
                accounts.c.owner,
                accounts.c.kind,
                accounts.c.currency,
                accounts.c.balance,
                accounts.c.shard,
                total.label("expected"),
            )
            .select_from(accounts.outerjoin(sums, sums.c.aid == accounts.c.id))
            .where(accounts.c.balance != total)
        )
        return list(await conn.execute(query))

    async def currency_totals(self, conn: AsyncConnection) -> dict[tuple[int, str], int]:
        """What the balances of each currency sum to on each shard: (shard, currency) -> total."""
        total = func.sum(accounts.c.balance)
        query = select(accounts.c.shard, accounts.c.currency, total.label("total")).group_by(
            accounts.c.shard, accounts.c.currency
        )
        return {(int(r.shard), r.currency): int(r.total) for r in await conn.execute(query)}

    async def negative_player_balances(self, conn: AsyncConnection) -> list[Row[Any, Any]]:
        query = select(accounts.c.id, accounts.c.owner, accounts.c.kind, accounts.c.balance, accounts.c.shard).where(
            accounts.c.non_negative, accounts.c.balance < 0
        )
        return list(await conn.execute(query))

    async def unknown_or_foreign_accounts(self, conn: AsyncConnection) -> list[Row[Any, Any]]:
        """Transfers naming an account that does not exist, or one of another currency or shard than theirs."""
        debit = accounts.alias("d")
        credit = accounts.alias("c")
        query = (
            select(
                transfers.c.id,
                transfers.c.seq,
                transfers.c.shard,
                debit.c.id.label("debit"),
                credit.c.id.label("credit"),
                and_(debit.c.shard == transfers.c.shard, credit.c.shard == transfers.c.shard).label("same_shard"),
            )
            .select_from(
                transfers.outerjoin(debit, debit.c.id == transfers.c.debit_account_id).outerjoin(
                    credit, credit.c.id == transfers.c.credit_account_id
                )
            )
            .where(
                or_(
                    debit.c.id.is_(None),
                    credit.c.id.is_(None),
                    debit.c.currency != transfers.c.currency,
                    credit.c.currency != transfers.c.currency,
                    debit.c.shard != transfers.c.shard,
                    credit.c.shard != transfers.c.shard,
                )
            )
        )
        return list(await conn.execute(query))

    async def hold_mismatches(self, conn: AsyncConnection) -> list[Row[Any, Any]]:
        """Holding accounts whose balance differs from the sum of the open holds in them."""
        held = (
            select(holds.c.holding_account_id.label("aid"), func.sum(holds.c.amount).label("total"))
            .group_by(holds.c.holding_account_id)
            .subquery()
        )
        total = func.coalesce(held.c.total, literal(0))
        query = (
            select(accounts.c.id, accounts.c.owner, accounts.c.balance, accounts.c.shard, total.label("held"))
            .select_from(accounts.outerjoin(held, held.c.aid == accounts.c.id))
            .where(and_(accounts.c.kind == AccountKind.RESERVED.value, accounts.c.balance != total))
        )
        return list(await conn.execute(query))

    async def orphan_holds(self, conn: AsyncConnection) -> list[Row[Any, Any]]:
        """Open holds whose holding account does not exist or is not a reserved account (no foreign key)."""
        query = (
            select(holds.c.pending_id, holds.c.holding_account_id)
            .select_from(holds.outerjoin(accounts, accounts.c.id == holds.c.holding_account_id))
            .where(or_(accounts.c.id.is_(None), accounts.c.kind != AccountKind.RESERVED.value))
        )
        return list(await conn.execute(query))

    async def count_accounts(self, conn: AsyncConnection) -> int:
        return int((await conn.execute(select(func.count()).select_from(accounts))).scalar_one())

    async def chain_head(self, conn: AsyncConnection, shard: int = 0) -> tuple[int, bytes]:
        row = (await conn.execute(select(chain.c.seq, chain.c.head).where(chain.c.shard == shard))).first()
        return (int(row.seq), bytes(row.head)) if row else (0, GENESIS_HASH)

    async def chain_heads(self, conn: AsyncConnection) -> ChainHeads:
        """Every shard's chain head."""
        rows = await conn.execute(select(chain.c.shard, chain.c.seq, chain.c.head).order_by(chain.c.shard))
        return {int(r.shard): (int(r.seq), bytes(r.head)) for r in rows}

    async def journal_shards(self, conn: AsyncConnection) -> list[int]:
        """The shards that have transfers (a chain row may be missing where someone deleted it)."""
        return [int(s) for s in (await conn.execute(select(transfers.c.shard).distinct())).scalars()]

    async def stream_seals(self, conn: AsyncConnection, after_seq: int, rows: int, shard: int = 0) -> list[Seal]:
        """One shard's seals after the one ending at `after_seq`, in chain order, as many as cover about `rows`
        rows (at least one)."""
        query = (
            select(seals.c.first_seq, seals.c.seq, seals.c.hash)
            .where(seals.c.shard == shard, seals.c.seq > after_seq)
            .order_by(seals.c.seq)
            .limit(rows)
        )
        found: list[Seal] = []
        for r in await conn.execute(query):
            if found and r.seq - after_seq > rows:
                break
            found.append(Seal(shard, int(r.first_seq), int(r.seq), bytes(r.hash)))
        return found

    async def stream_transfers(
        self, conn: AsyncConnection, after_seq: int, limit: int, shard: int = 0, *, up_to: int | None = None
    ) -> list[Transfer]:
        """One shard's transfers after `after_seq` (and up to `up_to`), in chain order (the primary key's)."""
        bound = [transfers.c.seq <= up_to] if up_to is not None else []
        rows = await conn.execute(
            select(*TRANSFER_COLUMNS)
            .where(transfers.c.shard == shard, transfers.c.seq > after_seq, *bound)
            .order_by(transfers.c.seq)
            .limit(limit)
        )
        return [transfer_of(r) for r in rows]

    # ---- what a backend writes its own way ----

    @abstractmethod
    def _insert_if_absent(self, table: Table) -> Insert:
        """`INSERT ... ON CONFLICT DO NOTHING`: the same SQL on both backends, which SQLAlchemy only spells in
        each dialect's own insert."""

    @abstractmethod
    async def _write_journal(self, conn: AsyncConnection, outcome: BatchOutcome) -> None:
        """Insert the batch's rows and seals, set the balances it moved and move the chain heads."""

    async def _open_holds(self, conn: AsyncConnection, opened: list[Transfer]) -> None:
        await conn.execute(holds.insert(), [_hold_row(t) for t in opened])

    async def _locked_heads(self, conn: AsyncConnection, shards: Sequence[int] | None) -> ChainHeads:
        """These shards' chain heads (every shard's when None), locked until commit in ascending shard order
        (SQLite's writer already holds the whole file)."""
        query = select(chain.c.shard, chain.c.seq, chain.c.head).order_by(chain.c.shard).with_for_update()
        if shards is not None:
            query = query.where(self._in(chain.c.shard, shards))
        return {int(r[0]): (int(r[1]), bytes(r[2])) for r in await conn.execute(query)}

    def _in(self, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
        """`column IN values`."""
        return column.in_(list(values))  # type: ignore[no-any-return]


def _transaction_of(conn: AsyncConnection) -> object:
    """The transaction `conn` is in (accounts created in it are not yet committed). The object itself, not its
    `id()`: a later transaction often gets the address of an earlier one that was freed."""
    transaction = conn.sync_connection.get_transaction() if conn.sync_connection is not None else None
    return transaction if transaction is not None else conn


def _sqlite_rows(batch: list[Transfer]) -> list[tuple[Any, ...]]:
    stamp = batch[0].created_at  # a batch shares one timestamp: format it once
    formatted = _sqlite_time(stamp)
    return [_sqlite_row(t, stamp, formatted) for t in batch]


def _resolution(flags: int) -> Resolution:
    if flags & Flag.POST:
        return Resolution.POSTED
    if flags & Flag.EXPIRE:
        return Resolution.EXPIRED
    return Resolution.VOIDED


# The element type of the array each journal column is sent in (a new column of a new type fails here, on
# import). Strings go as text: a cast to varchar(n) would cut a long value short where the column refuses it.
_PG_ARRAY_TYPES: dict[type[Any], str] = {
    BigInteger: "bigint",
    SmallInteger: "smallint",
    Uuid: "uuid",
    String: "text",
    DateTime: "timestamptz",
    LargeBinary: "bytea",
}


def _unnest_arrays(columns: Iterable[Column[Any]]) -> str:
    """The parameters `$1::type[], ...` that send these columns as one array each."""
    return ", ".join(f"${i + 1}::{_PG_ARRAY_TYPES[type(c.type)]}[]" for i, c in enumerate(columns))


def _hold_row(t: Transfer) -> dict[str, Any]:
    """The hold a pending transfer opens: its amount, held in its credit (reserved) account."""
    return {
        "pending_id": t.id,
        "holding_account_id": t.credit_account_id,
        "amount": t.amount,
        "expires_at": t.expires_at,
        "shard": t.shard,
    }


class SqliteLedgerStore(LedgerStore):
    """SQLite's own: the journal goes straight to the driver in the storage format SQLAlchemy itself uses on
    SQLite, as SQLAlchemy's per-row parameter processing doubled the time of a 500-row insert."""

    _INSERT_JOURNAL = (
        f"INSERT INTO ledger_transfers ({', '.join(JOURNAL_COLUMNS)}) VALUES ({', '.join('?' * len(JOURNAL_COLUMNS))})"
    )
    _UPDATE_BALANCE = "UPDATE ledger_accounts SET balance = ? WHERE id = ?"
    _UPDATE_HEAD = "UPDATE ledger_chain SET seq = ?, head = ? WHERE shard = ?"
    _INSERT_SEAL = "INSERT INTO ledger_seals (shard, seq, first_seq, hash) VALUES (?, ?, ?, ?)"

    def _insert_if_absent(self, table: Table) -> Insert:
        return sqlite_insert(table).on_conflict_do_nothing()

    async def _write_journal(self, conn: AsyncConnection, outcome: BatchOutcome) -> None:
        await conn.exec_driver_sql(self._INSERT_JOURNAL, _sqlite_rows(outcome.rows))
        await conn.exec_driver_sql(self._UPDATE_BALANCE, [(v, k) for k, v in outcome.balances.items()])
        await conn.exec_driver_sql(self._INSERT_SEAL, [(s.shard, s.seq, s.first_seq, s.hash) for s in outcome.seals])
        await conn.exec_driver_sql(self._UPDATE_HEAD, [(s.seq, s.hash, s.shard) for s in outcome.seals])


class PostgresLedgerStore(LedgerStore):
    """PostgreSQL's own, through the asyncpg connection under SQLAlchemy's: the set-based journal write (one
    statement of data-modifying CTEs over `unnest` for a small batch, COPY for a large one) that lets one
    transaction carry hundreds of transfers in a few milliseconds, and the reads every batch makes, sent as
    prepared statements taking one array whatever the number of ids."""

    _N = len(JOURNAL_COLUMNS)
    _WRITE_BATCH = f"""
WITH inserted AS (
    INSERT INTO ledger_transfers ({", ".join(JOURNAL_COLUMNS)})
    SELECT * FROM unnest({_unnest_arrays(transfers.columns)})
), balances AS (
    UPDATE ledger_accounts AS a SET balance = v.balance
    FROM unnest(${_N + 1}::bigint[], ${_N + 2}::bigint[]) AS v(id, balance) WHERE a.id = v.id
), seals AS (
    INSERT INTO ledger_seals (shard, seq, first_seq, hash)
    SELECT * FROM unnest(${_N + 3}::smallint[], ${_N + 4}::bigint[], ${_N + 6}::bigint[], ${_N + 5}::bytea[])
)
UPDATE ledger_chain AS c SET seq = h.seq, head = h.head
FROM unnest(${_N + 3}::smallint[], ${_N + 4}::bigint[], ${_N + 5}::bytea[]) AS h(shard, seq, head)
WHERE c.shard = h.shard
"""
    _WRITE_BALANCES = """
WITH balances AS (
    UPDATE ledger_accounts AS a SET balance = v.balance
    FROM unnest($1::bigint[], $2::bigint[]) AS v(id, balance) WHERE a.id = v.id
), seals AS (
    INSERT INTO ledger_seals (shard, seq, first_seq, hash)
    SELECT * FROM unnest($3::smallint[], $4::bigint[], $6::bigint[], $5::bytea[])
)
UPDATE ledger_chain AS c SET seq = h.seq, head = h.head
FROM unnest($3::smallint[], $4::bigint[], $5::bytea[]) AS h(shard, seq, head)
WHERE c.shard = h.shard
"""
    _COPY_FROM_ROWS = 64  # measured: below this one INSERT ... unnest wins, above it COPY does
    _LOCK_CHAINS = (
        "SELECT shard, seq, head FROM ledger_chain WHERE shard = ANY($1::smallint[]) ORDER BY shard FOR UPDATE"
    )
    _LOCK_EVERY_CHAIN = "SELECT shard, seq, head FROM ledger_chain ORDER BY shard FOR UPDATE"
    _SELECT_BALANCES = "SELECT id, balance FROM ledger_accounts WHERE id = ANY($1::bigint[])"
    _SELECT_TRANSFERS = (
        f"SELECT {', '.join(c.name for c in TRANSFER_COLUMNS)} FROM ledger_transfers WHERE id = ANY($1::uuid[])"
    )
    _HOLD_COLUMNS = [c.name for c in holds.columns]

    # The set-based write of a batch decided on balances of 0 (`zero_state`): from one array per column of the
    # rows (their balances after as movements), it checks that every hold the batch closes is open, adds each
    # account's balance to the movements, hashes each row as `model.row_hash` does (a settlement's rows have no
    # target and no expiry), seals each shard's rows after its head as `model.seal_hash` does, and writes rows,
    # balances, holds, seals and heads; nothing at all unless every hold was open.
    _WRITE_SET = f"""
WITH guard AS (
    SELECT count(*) = cardinality($16::uuid[]) AS ok FROM ledger_holds WHERE pending_id = ANY($16::uuid[])
), moved AS (
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
        $8::smallint[], $9::text[], $10::bigint[], $11::bigint[], $12::uuid[], $13::smallint[])
        AS m(seq, id, debit, credit, amount, currency, code, flags, reference, debit_moved, credit_moved, pending,
            shard)
), balanced AS (
    SELECT m.*, d.balance + m.debit_moved AS debit_after, c.balance + m.credit_moved AS credit_after
    FROM moved m JOIN ledger_accounts d ON d.id = m.debit JOIN ledger_accounts c ON c.id = m.credit
), hashed AS (
    SELECT b.*, sha256(convert_to(concat_ws('|', seq, replace(id::text, '-', ''), debit, credit, amount, currency,
        code, flags, reference, $14::bigint, debit_after, credit_after, coalesce(replace(pending::text, '-', ''), ''),
        '', ''), 'UTF8')) AS hash
    FROM balanced b
), inserted AS (
    INSERT INTO ledger_transfers ({", ".join(JOURNAL_COLUMNS)})
    SELECT seq, id, debit, credit, amount, currency, code, flags, reference, $15::timestamptz, debit_after,
        credit_after, pending, CASE WHEN flags & {Flag.RESOLVING} <> 0 THEN pending END, NULL, NULL, hash, shard
    FROM hashed WHERE (SELECT ok FROM guard)
), balances AS (
    UPDATE ledger_accounts AS a SET balance = a.balance + v.moved
    FROM unnest($17::bigint[], $18::bigint[]) AS v(id, moved) WHERE a.id = v.id AND (SELECT ok FROM guard)
), closed AS (
    DELETE FROM ledger_holds WHERE pending_id = ANY($16::uuid[]) AND (SELECT ok FROM guard)
), sealed AS (
    SELECT h.shard, min(x.seq) AS first_seq, max(x.seq) AS seq,
        sha256(h.prev || string_agg(x.hash, ''::bytea ORDER BY x.seq)) AS hash
    FROM hashed x JOIN unnest($19::smallint[], $20::bytea[]) AS h(shard, prev) ON h.shard = x.shard
    GROUP BY h.shard, h.prev
), seals AS (
    INSERT INTO ledger_seals (shard, seq, first_seq, hash)
    SELECT shard, seq, first_seq, hash FROM sealed WHERE (SELECT ok FROM guard)
), heads AS (
    UPDATE ledger_chain AS c SET seq = s.seq, head = s.hash FROM sealed s
    WHERE c.shard = s.shard AND (SELECT ok FROM guard)
)
SELECT shard, first_seq, seq, hash FROM sealed WHERE (SELECT ok FROM guard) ORDER BY shard
"""
    _SET_COLUMNS = ("seq", "id", "debit_account_id", "credit_account_id", "amount", "currency", "code", "flags",
                    "reference", "debit_balance_after", "credit_balance_after", "pending_id", "shard")  # fmt: skip

    def _insert_if_absent(self, table: Table) -> Insert:
        return pg_insert(table).on_conflict_do_nothing()

    async def write_set(
        self, conn: AsyncConnection, outcome: BatchOutcome, heads: Mapping[int, tuple[int, bytes]]
    ) -> list[Seal] | None:
        rows = outcome.rows
        if not rows:
            return []
        if any(r.target_account_id is not None or r.expires_at is not None for r in rows):
            return None  # the hash in SQL covers the rows a settlement writes: no pending transfer among them
        columns = [[getattr(r, c) for r in rows] for c in self._SET_COLUMNS]
        shards = sorted({r.shard for r in rows})
        moved = list(outcome.balances)
        pg = await driver_connection(conn)
        records = await pg.fetch(
            self._WRITE_SET,
            *columns,
            _micros(rows[0].created_at),  # a batch's rows share its one timestamp (`LedgerBatch.now`)
            rows[0].created_at,
            outcome.closed,
            moved,
            [outcome.balances[a] for a in moved],
            shards,
            [heads[s][1] for s in shards],
        )
        if not records:
            return None
        return [Seal(r["shard"], r["first_seq"], r["seq"], bytes(r["hash"])) for r in records]

    async def _write_journal(self, conn: AsyncConnection, outcome: BatchOutcome) -> None:
        pg = await driver_connection(conn)
        ids = list(outcome.balances)
        balances = [outcome.balances[i] for i in ids]
        rows = [journal_row(t) for t in outcome.rows]
        sealed = outcome.seals
        shards, seqs, firsts = [s.shard for s in sealed], [s.seq for s in sealed], [s.first_seq for s in sealed]
        chains = (shards, seqs, [s.hash for s in sealed], firsts)
        if len(rows) <= self._COPY_FROM_ROWS:
            columns = list(zip(*rows, strict=True))
            await pg.execute(self._WRITE_BATCH, *columns, ids, balances, *chains)
        else:
            await pg.copy_records_to_table("ledger_transfers", records=rows, columns=JOURNAL_COLUMNS)
            await pg.execute(self._WRITE_BALANCES, ids, balances, *chains)

    async def _open_holds(self, conn: AsyncConnection, opened: list[Transfer]) -> None:
        records = [tuple(row[c] for c in self._HOLD_COLUMNS) for row in map(_hold_row, opened)]
        pg = await driver_connection(conn)
        await pg.copy_records_to_table("ledger_holds", records=records, columns=self._HOLD_COLUMNS)

    async def _locked_heads(self, conn: AsyncConnection, shards: Sequence[int] | None) -> ChainHeads:
        # through the driver: every ledger writer runs this. One statement: its rows are locked in the order
        # it sorts them (the lock sits above the sort in the plan), ascending by shard
        pg = await driver_connection(conn)
        if shards is None:
            records = await pg.fetch(self._LOCK_EVERY_CHAIN)
        else:
            records = await pg.fetch(self._LOCK_CHAINS, list(shards))
        return {r[0]: (r[1], bytes(r[2])) for r in records}

    async def account_balances(self, conn: AsyncConnection, ids: Collection[int]) -> dict[int, int]:
        records = await (await driver_connection(conn)).fetch(self._SELECT_BALANCES, list(ids))
        return {r["id"]: r["balance"] for r in records}

    async def transfers_by_id(self, conn: AsyncConnection, ids: Collection[UUID]) -> list[Transfer]:
        records = await (await driver_connection(conn)).fetch(self._SELECT_TRANSFERS, list(ids))
        return [transfer_of(r) for r in records]

    def _in(self, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
        # one array parameter, so the prepared statement is reused whatever the number of values
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))  # type: ignore[no-any-return]


def ledger_store(dialect: str) -> LedgerStore:
    """The ledger's store for a backend (the Ledger builds it once, as it keeps the account cache)."""
    return PostgresLedgerStore() if dialect == "postgresql" else SqliteLedgerStore()
