"""The ledger's use cases: the verbs applied in a caller's transaction, wallets, statements, expiry, reconcile.

Features use `Ledger.apply` with a batch of verbs (`ledger/verbs.py`), the owner-keyed reads (`wallet`, `owed`,
`statement`), `lock`, `open_player_accounts` and `reconcile`. Accounts, their ids, the house side and the store
are the ledger's own: the methods marked "engine's raw surface" serve the ledger's tests, benchmarks and tools."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import Clock
from sportsbook.core.money import check_currency
from sportsbook.db.batching import GroupCommitter
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, reading
from sportsbook.ledger.model import (
    HOUSE,
    Account,
    AccountKey,
    AccountKind,
    Fault,
    LedgerBatch,
    Result,
    Transfer,
    TransferRequest,
    player_owner,
    verify_chain,
)
from sportsbook.ledger.store import ledger_store
from sportsbook.ledger.verbs import Ids, Movements, TakeBackReturn, cash_of, receivable_of, verb_result

log = structlog.get_logger("sportsbook.ledger")

TRANSFERS = PromCounter("sportsbook_ledger_transfers", "Ledger transfer requests by result", ["result"])
BATCH_SIZE = Histogram(
    "sportsbook_ledger_batch_size",
    "Transfer groups committed per ledger transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
COMMIT_SECONDS = Histogram(
    "sportsbook_ledger_commit_seconds",
    "Duration of one group-committed ledger transaction",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)

PLAYER_KINDS = (AccountKind.CASH, AccountKind.BONUS, AccountKind.RESERVED)


@dataclass(frozen=True, slots=True)
class Wallet:
    """A player's balances in minor units."""

    currency: str
    cash: int
    bonus: int
    reserved: int

    @property
    def withdrawable(self) -> int:
        return self.cash


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One movement on an account, as a player or an auditor reads it."""

    id: UUID
    seq: int
    kind: str
    amount: int
    balance_after: int
    reference: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What `sportsbook reconcile` found. Sound when there are no faults."""

    accounts: int
    transfers: int
    faults: list[Fault]

    @property
    def sound(self) -> bool:
        return not self.faults


@dataclass(frozen=True, slots=True)
class _Expire:
    pending_ids: tuple[UUID, ...]


_Item = tuple[TransferRequest, ...] | _Expire


def _partly_stored(requests: Sequence[TransferRequest], stored: Mapping[UUID, Transfer]) -> bool:
    found = [r.id in stored for r in requests]
    return any(found) and not all(found)


class _ChainHead:
    """The chain head as one unit of work holds it: locked once, then moved on by each seal it writes."""

    def __init__(self, _conn: AsyncConnection) -> None:
        self.held = False
        self.seq = 0
        self.hash = b""


class Ledger:
    """Moves money. Every transfer goes through here; every call is idempotent by transfer id.

    `store` is the engine's own: its tests and benchmarks reach into it, features must not (betting still
    does, until it moves onto `apply`)."""

    def __init__(self, db: Database, clock: Clock, *, batch_max: int = 500) -> None:
        self.db = db
        self.clock = clock
        self.store = ledger_store(db.dialect)  # the backend's store, chosen once
        self._writer: GroupCommitter[_Item, list[Result]] = GroupCommitter(
            db, self._process, max_batch=batch_max, name="ledger", on_batch=self._observe
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._stop_sweeping = asyncio.Event()

    # ---- lifecycle ----

    async def start(self, *, sweep_s: float = 5.0) -> None:
        """Start the group-commit writer and the sweeper that expires timed-out holds."""
        await self._writer.start()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(sweep_s), name="ledger-expiry")

    async def stop(self) -> None:
        """Finish what is queued and the sweep under way, then stop."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            self._stop_sweeping.set()
            await sweeper
            self._stop_sweeping.clear()
        await self._writer.stop()

    # ---- the verbs ----

    async def apply(
        self,
        uow: UnitOfWork,
        movements: Movements,
        *,
        known_pending: Mapping[UUID, Transfer] | None = None,
        new_ids: bool = False,
    ) -> list[Result]:
        """Apply a batch of verbs inside the caller's transaction: one result per verb, in order. Takes the chain
        lock once (first, so the house accounts it creates on first use are created under it), reads what the
        batch touches, decides every verb in order and writes them as one seal of the chain. An empty batch
        takes no lock.

        `known_pending` may carry the rows of the holds it voids or posts, read before the lock
        (`pending_transfers`); whether each is still open is read under it. `new_ids` skips looking the
        transfer ids up, for a caller that checked under the lock that none is stored (ids derived from a state
        it checked): a stored one then fails the whole transaction on the journal's primary key instead of
        answering `exists`, so the money never moves twice either way."""
        verbs = list(movements)
        if not verbs:
            return []
        conn = uow.connection
        store = self.store
        now = self.clock.now()
        chain = await self._hold_chain(uow)
        prev_seq, prev_hash = chain.seq, chain.hash
        needs = [verb.accounts() for verb in verbs]
        ids = await self._resolve(conn, needs, now)
        plans: list[tuple[TransferRequest, ...] | Result | None] = []  # None: a take-back, split in its turn
        resolved: list[Ids] = []
        loading: list[TransferRequest] = []
        extra_ids: list[UUID] = []
        extra_accounts: list[int] = []
        for verb, keys in zip(verbs, needs, strict=True):
            got = [ids.get(k) for k in keys]
            resolved.append(got)
            if isinstance(verb, TakeBackReturn):
                refused = verb.refusal(got)
                plans.append(refused)
                if refused is None:
                    extra_ids.extend(verb.transfer_ids)
                    extra_accounts.extend(a for a in got if a is not None)
                continue
            plan = verb.transfers(got)
            plans.append(plan)
            if not isinstance(plan, Result):
                loading.extend(plan)
        state = await store.load_state(
            conn,
            loading,
            now,
            (),
            known_pending,
            new_ids=new_ids,
            extra_ids=extra_ids,
            extra_accounts=extra_accounts,
        )
        batch = LedgerBatch(state, now)
        results: list[Result] = [Result.OK] * len(verbs)
        tally: Counter[Result] = Counter()
        segment: list[TransferRequest] = []
        spans: list[tuple[int, int]] = []  # (verb index, how many of the segment's requests are its own)
        for i, step in enumerate(plans):
            if isinstance(step, Result):
                results[i] = step
                tally[step] += 1
            elif step is None:
                # the split reads the cash balance as the verbs before this one left it: apply those first
                self._apply_segment(batch, segment, spans, results, tally)
                segment, spans = [], []
                verb = verbs[i]
                assert isinstance(verb, TakeBackReturn)
                results[i] = await self._take_back(conn, batch, verb, resolved[i], new_ids, now, tally)
            elif len(step) > 1 and not new_ids and _partly_stored(step, state.transfers):
                # a verb is all or nothing, its replay too: never complete one half of it
                results[i] = Result.EXISTS_WITH_DIFFERENT_FIELDS
                tally[Result.EXISTS_WITH_DIFFERENT_FIELDS] += 1
            else:
                segment.extend(step)
                spans.append((i, len(step)))
        self._apply_segment(batch, segment, spans, results, tally)
        outcome = batch.seal(prev_seq, prev_hash)
        await store.write(conn, outcome)
        chain.seq, chain.hash = outcome.head_seq, outcome.head_hash
        for result, n in tally.items():
            TRANSFERS.labels(result.value).inc(n)
        return results

    async def _resolve(
        self, conn: AsyncConnection, needs: Sequence[tuple[AccountKey, ...]], now: datetime
    ) -> dict[AccountKey, int]:
        """The ids of the accounts the verbs name: the players' found (all of them in one query, for those not
        cached), receivables found (created only when a take-back books something owed), the other house
        accounts created on first use, in the currencies of the players found (none for a currency nobody in
        the batch holds)."""
        store = self.store
        found: set[AccountKey] = set()
        house: set[AccountKey] = set()
        for keys in needs:
            for key in keys:
                if key.owner != HOUSE or key.kind == AccountKind.RECEIVABLE:
                    found.add(key)
                else:
                    house.add(key)
        ids = await store.find_accounts(conn, found) if found else {}
        if house:
            currencies = {k.currency for k in ids if k.owner != HOUSE}
            for key in house:
                if key.currency in currencies:
                    ids[key] = await store.get_or_create_account(conn, key, now)
        return ids

    @staticmethod
    def _apply_segment(
        batch: LedgerBatch,
        segment: list[TransferRequest],
        spans: list[tuple[int, int]],
        results: list[Result],
        tally: Counter[Result],
    ) -> None:
        if not segment:
            return
        got = batch.apply(segment)
        tally.update(got)
        at = 0
        for i, n in spans:
            results[i] = got[at] if n == 1 else verb_result(got[at : at + n])
            at += n

    async def _take_back(
        self,
        conn: AsyncConnection,
        batch: LedgerBatch,
        verb: TakeBackReturn,
        ids: Ids,
        new_ids: bool,
        now: datetime,
        tally: Counter[Result],
    ) -> Result:
        state = batch.state
        if not new_ids:
            cash_part, owed_part = (state.transfers.get(t) for t in verb.transfer_ids)
            if cash_part is not None or owed_part is not None:
                replayed = verb.replay(ids, cash_part, owed_part)
                tally[replayed] += 1
                return replayed
        cash = ids[0]
        assert cash is not None
        balance = batch.balance(cash)  # read under the lock, moved by the verbs before this one
        if balance < verb.amount and ids[2] is None:
            ids = [ids[0], ids[1], await self._open_receivable(conn, state.accounts, verb, now)]
        got = batch.apply(verb.split(ids, balance))
        tally.update(got)
        return verb_result(got)

    async def _open_receivable(
        self, conn: AsyncConnection, accounts: dict[int, Account], verb: TakeBackReturn, now: datetime
    ) -> int:
        """The player's receivable, created under the lock, and known to the batch with its balance."""
        account_id = await self.store.get_or_create_account(conn, receivable_of(verb.player_id, verb.currency), now)
        if account_id not in accounts:
            balance = (await self.store.account_balances(conn, [account_id])).get(account_id, 0)
            accounts[account_id] = Account(account_id, HOUSE, AccountKind.RECEIVABLE, verb.currency, False, balance)
        return account_id

    # ---- transfers: the engine's raw surface ----

    async def create_transfers(self, requests: Sequence[TransferRequest]) -> list[Result]:
        """Apply a batch (linked chains all or nothing), group-committed with other callers' batches. The
        engine's raw surface, for its tests, benchmarks and tools: features use `apply`."""
        if not requests:
            return []
        return await self._writer.submit(tuple(requests))

    async def transfer(self, request: TransferRequest) -> Result:
        """One raw transfer, group-committed (the engine's raw surface)."""
        return (await self.create_transfers([request]))[0]

    async def create_transfers_in(
        self,
        uow: UnitOfWork,
        requests: Sequence[TransferRequest],
        *,
        known_pending: Mapping[UUID, Transfer] | None = None,
        new_ids: bool = False,
    ) -> list[Result]:
        """Apply raw transfer requests inside the caller's transaction. Transitional: betting still calls it
        until it moves onto `apply`, which features use; then it goes. `known_pending` may carry the rows of
        the pending transfers it posts or voids, read before the lock (`pending_transfers`): settlement reads
        them while the previous chunk is written.
        `new_ids` skips looking the requests' ids up, for a caller that knows none of them is stored (ids
        derived from a state it checked under the lock). A stored one then fails the whole transaction on
        the journal's primary key instead of answering `exists`: never applied twice either way."""
        return (await self._process(uow, [tuple(requests)], known_pending, new_ids))[0]

    async def pending_transfers(self, uow: UnitOfWork, ids: Collection[UUID]) -> dict[UUID, Transfer]:
        """The stored rows of these transfers (holds a batch will close), for `apply(known_pending=...)`."""
        return {t.id: t for t in await self.store.transfers_by_id(uow.connection, ids)} if ids else {}

    async def lock(self, uow: UnitOfWork) -> None:
        """Queue this unit of work behind every other ledger writer, so the balances it reads stay true until it
        commits. Call it first in a transaction that decides transfers from balances (e.g. a resettlement).
        A unit of work takes the lock once: later calls, and the verbs applied in it, reuse the head it read."""
        await self._hold_chain(uow)

    async def _hold_chain(self, uow: UnitOfWork) -> _ChainHead:
        head = uow.store(_ChainHead)
        if not head.held:
            head.seq, head.hash = await self.store.lock_chain(uow.connection)
            head.held = True
        return head

    async def expire_due(self) -> int:
        """Release every hold whose timeout has passed. Returns how many were released."""
        async with self.db.read() as conn:
            due = await self.store.due_holds(conn, self.clock.now(), limit=1000)
        if not due:
            return 0
        results = await self._writer.submit(_Expire(tuple(due)))
        return sum(1 for r in results if r is Result.OK)

    async def _process(
        self,
        uow: UnitOfWork,
        items: Sequence[_Item],
        known_pending: Mapping[UUID, Transfer] | None = None,
        new_ids: bool = False,
    ) -> list[list[Result]]:
        conn = uow.connection
        now = self.clock.now()
        chain = await self._hold_chain(uow)
        prev_seq, prev_hash = chain.seq, chain.hash
        groups = [i for i in items if not isinstance(i, _Expire)]
        expiring = {p for i in items if isinstance(i, _Expire) for p in i.pending_ids}
        requests = (r for g in groups for r in g)
        state = await self.store.load_state(conn, requests, now, expiring, known_pending, new_ids=new_ids)
        batch = LedgerBatch(state, now)
        results: list[list[Result]] = []
        for item in items:
            if isinstance(item, _Expire):
                expired = set(batch.expire(item.pending_ids))
                results.append(
                    [Result.OK if p in expired else Result.PENDING_TRANSFER_NOT_PENDING for p in item.pending_ids]
                )
            else:
                results.append(batch.apply(item))
        outcome = batch.seal(prev_seq, prev_hash)
        await self.store.write(conn, outcome)
        chain.seq, chain.hash = outcome.head_seq, outcome.head_hash
        tally = Counter(r.value for group in results for r in group)
        for result, n in tally.items():
            TRANSFERS.labels(result).inc(n)
        return results

    @staticmethod
    def _observe(size: int, seconds: float) -> None:
        BATCH_SIZE.observe(size)
        COMMIT_SECONDS.observe(seconds)

    async def _sweep_forever(self, every_s: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_sweeping.wait(), every_s)
            if self._stop_sweeping.is_set():
                return
            try:
                await self.expire_due()
            except Exception as exc:  # keep sweeping; the next pass retries
                log.warning("ledger_expiry_failed", error=repr(exc))

    # ---- accounts ----

    async def open_player_accounts(self, uow: UnitOfWork, player_id: UUID, currency: str) -> None:
        """Create the player's cash, bonus and reserved accounts in the caller's unit of work."""
        conn = uow.connection
        check_currency(currency)
        owner = player_owner(player_id)
        now = self.clock.now()
        for kind in PLAYER_KINDS:
            await self.store.get_or_create_account(conn, AccountKey(owner, kind, currency), now)

    async def player_account(self, player_id: UUID, kind: AccountKind, currency: str) -> int | None:
        """The id of a player's account, if it exists (the engine's raw surface)."""
        async with self.db.read() as conn:
            return await self.store.find_account(conn, AccountKey(player_owner(player_id), kind, currency))

    async def house_account(self, kind: AccountKind, currency: str, sub: str = "") -> int:
        """The id of a house account, created on first use (the engine's raw surface)."""
        check_currency(currency)
        key = AccountKey(HOUSE, kind, currency, sub)
        async with self.db.read() as conn:
            found = await self.store.find_account(conn, key)
        if found is not None:
            return found
        async with self.db.transaction() as conn:
            return await self.store.get_or_create_account(conn, key, self.clock.now())

    async def account(self, key: AccountKey) -> int:
        """The id of any account by key, created on first use (the engine's raw surface: tests, benchmarks)."""
        async with self.db.transaction() as conn:
            return await self.store.get_or_create_account(conn, key, self.clock.now())

    async def balances(self, account_ids: Sequence[int]) -> dict[int, int]:
        """Balances by account id (the engine's raw surface; features read `wallet` and `owed`)."""
        async with self.db.read() as conn:
            return await self.store.account_balances(conn, account_ids)

    async def get_transfer(self, transfer_id: UUID) -> Transfer | None:
        """One stored transfer row (the engine's raw surface)."""
        async with self.db.read() as conn:
            return await self.store.get_transfer(conn, transfer_id)

    # ---- reads by owner ----

    async def wallet(self, player_id: UUID, currency: str) -> Wallet:
        """The player's balances in `currency` (zeros for a player without accounts)."""
        async with reading(self.db) as uow:
            return await self.wallet_in(uow, player_id, currency)

    async def wallet_in(self, uow: UnitOfWork, player_id: UUID, currency: str) -> Wallet:
        """`wallet` as the caller's unit of work sees it (its own writes included)."""
        got = await self.store.balances_of(uow.connection, player_owner(player_id), currency)
        return Wallet(
            currency=currency,
            cash=got.get(AccountKind.CASH, 0),
            bonus=got.get(AccountKind.BONUS, 0),
            reserved=got.get(AccountKind.RESERVED, 0),
        )

    async def owed(self, player_id: UUID, currency: str) -> int:
        """What the player owes the house: the part of taken-back returns their cash did not cover."""
        async with reading(self.db) as uow:
            conn = uow.connection
            return await self._owed(conn, player_id, currency)

    async def _owed(self, conn: AsyncConnection, player_id: UUID, currency: str) -> int:
        account_id = await self.store.find_account(conn, receivable_of(player_id, currency))
        if account_id is None:
            return 0
        return -(await self.store.account_balances(conn, [account_id])).get(account_id, 0)

    async def statement(
        self, player_id: UUID, currency: str, *, limit: int = 50, before_seq: int | None = None
    ) -> list[StatementLine]:
        """The movements of the player's cash, newest first, with the balance after each (none for a player
        without a cash account). `before_seq` pages on from a line's `seq`."""
        async with self.db.read() as conn:
            cash = await self.store.find_account(conn, cash_of(player_id, currency))
            if cash is None:
                return []
            rows = await self.store.statement(conn, cash, limit, before_seq)
        return [
            StatementLine(t.id, t.seq, t.code, amount, after, t.reference, t.created_at) for t, amount, after in rows
        ]

    # ---- reconciliation ----

    async def reconcile(self, *, chunk: int = 20_000) -> ReconcileReport:
        """Prove the ledger sound: balances equal their entries, currencies sum to zero, the chain holds."""
        faults: list[Fault] = []
        async with self.db.read() as conn:
            for r in await self.store.balance_mismatches(conn):
                faults.append(
                    Fault(
                        "balance_mismatch",
                        f"account {r.id} ({r.owner} {r.kind} {r.currency})",
                        f"balance {r.balance}, entries sum to {r.expected}",
                    )
                )
            for r in await self.store.currency_totals(conn):
                faults.append(Fault("currency_unbalanced", f"currency {r.currency}", f"accounts sum to {r.total}"))
            for r in await self.store.negative_player_balances(conn):
                faults.append(Fault("negative_balance", f"account {r.id} ({r.owner} {r.kind})", f"{r.balance}"))
            for r in await self.store.unknown_or_foreign_accounts(conn):
                kind = "unknown_account" if r.debit is None or r.credit is None else "currency_mismatch"
                faults.append(Fault(kind, f"transfer {r.id}", f"seq {r.seq}"))
            for r in await self.store.hold_mismatches(conn):
                faults.append(
                    Fault(
                        "holds_mismatch",
                        f"account {r.id} ({r.owner} reserved)",
                        f"balance {r.balance}, open holds {r.held}",
                    )
                )
            for r in await self.store.orphan_holds(conn):
                faults.append(Fault("unknown_account", f"hold {r.pending_id}", f"account {r.holding_account_id}"))
            head_seq, head_hash = await self.store.chain_head(conn)
            n_accounts = await self.store.count_accounts(conn)
            last_seq, last_hash, count = 0, b"\x00" * 32, 0
            while True:
                rows = await self.store.stream_transfers(conn, last_seq, chunk)
                if not rows:
                    break
                faults.extend(verify_chain(rows, last_seq, last_hash))
                count += len(rows)
                last_seq, last_hash = rows[-1].seq, rows[-1].hash
            if (last_seq, last_hash) != (head_seq, head_hash):
                faults.append(
                    Fault(
                        "chain_head_mismatch", "ledger chain", f"journal ends at seq {last_seq}, head says {head_seq}"
                    )
                )
        return ReconcileReport(accounts=n_accounts, transfers=count, faults=faults)
