"""The ledger's use cases: the verbs applied in a caller's transaction, wallets, statements, expiry, reconcile.

Features use `Ledger.apply` with a batch of verbs (`ledger/verbs.py`), the owner-keyed reads (`wallet`, `owed`,
`statement`), `lock`, `shard_of`, `open_player_accounts` and `reconcile`.

The ledger is sharded: several hash chains, each with its own head, lock and house accounts. A player's accounts
live on one shard, so each verb's transfers stay on one chain; a unit of work locks only the shards its
movements touch, in ascending order, and batches on different shards commit in parallel. Accounts, their ids,
the house side and the store are the ledger's own: the methods marked "engine's raw surface" serve the ledger's
tests, benchmarks and tools."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    GENESIS_HASH,
    HOUSE,
    Account,
    AccountKey,
    AccountKind,
    ChainHeads,
    Fault,
    LedgerBatch,
    Phase,
    Result,
    Transfer,
    TransferRequest,
    player_of,
    player_owner,
    shard_for,
    verify_chain,
)
from sportsbook.ledger.store import ledger_store
from sportsbook.ledger.verbs import (
    Ids,
    Movements,
    PostStake,
    TakeBackReturn,
    VoidHold,
    cash_of,
    receivable_of,
    verb_result,
)

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
class ChainReport:
    """One shard's chain as reconcile walked it."""

    shard: int
    transfers: int
    head_seq: int


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What `sportsbook reconcile` found. Sound when there are no faults; a fault of one chain names its shard."""

    accounts: int
    transfers: int
    faults: list[Fault]
    chains: tuple[ChainReport, ...] = ()

    @property
    def sound(self) -> bool:
        return not self.faults


@dataclass(frozen=True, slots=True)
class _Expire:
    pending_ids: tuple[UUID, ...]
    shard: int


_Item = tuple[TransferRequest, ...] | _Expire


_MOVING = (Phase.SINGLE, Phase.PENDING)


def _receivable_player(key: AccountKey) -> UUID | None:
    """The player a house receivable is on (its sub), if the key is one."""
    if key.owner != HOUSE or key.kind != AccountKind.RECEIVABLE:
        return None
    try:
        return UUID(key.sub)
    except ValueError:
        return None


def _house_id(ids: Mapping[tuple[AccountKey, int], int], key: AccountKey, shard: int | None) -> int | None:
    return ids.get((key, shard)) if shard is not None else None


def _partly_stored(requests: Sequence[TransferRequest], stored: Mapping[UUID, Transfer]) -> bool:
    found = [r.id in stored for r in requests]
    return any(found) and not all(found)


class _ChainHeads:
    """The chain heads one unit of work holds: each shard's locked once, then moved on by each seal it writes.
    `every`: it holds every shard's (the barrier of `Ledger.lock`)."""

    def __init__(self, _conn: AsyncConnection) -> None:
        self.heads: ChainHeads = {}
        self.every = False


class Ledger:
    """Moves money. Every transfer goes through here; every call is idempotent by transfer id.

    `shards` is how many chains new players spread over (`ledger_shards`); a player stays on the shard recorded
    on their accounts whatever it is later set to. `set_based`: see `_apply_set`. `store` is the engine's own:
    its tests and benchmarks reach into it, features must not."""

    def __init__(
        self, db: Database, clock: Clock, *, batch_max: int = 500, shards: int = 1, set_based: bool = True
    ) -> None:
        if shards < 1:
            raise ValueError("a ledger has at least one shard")
        self.db = db
        # whether `apply` writes a settlement's fresh transfers set-based where the store can (PostgreSQL); off,
        # it decides them as any batch (the tests compare the two)
        self.set_based = set_based
        self.clock = clock
        self.shards = shards
        self.store = ledger_store(db.dialect)  # the backend's store, chosen once
        # one group committer per shard: batches on different shards commit in parallel
        self._writers: list[GroupCommitter[_Item, list[Result]]] = [
            GroupCommitter(db, self._process, max_batch=batch_max, name=f"ledger:{s}", on_batch=self._observe)
            for s in range(shards)
        ]
        self._sweeper: asyncio.Task[None] | None = None
        self._stop_sweeping = asyncio.Event()

    # ---- lifecycle ----

    async def start(self, *, sweep_s: float = 5.0) -> None:
        """Start the group-commit writers and the sweeper that expires timed-out holds."""
        for writer in self._writers:
            await writer.start()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(sweep_s), name="ledger-expiry")

    async def stop(self) -> None:
        """Finish what is queued and the sweep under way, then stop."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            self._stop_sweeping.set()
            await sweeper
            self._stop_sweeping.clear()
        for writer in self._writers:
            await writer.stop()

    # ---- shards ----

    def shard_of(self, player_id: UUID) -> int:
        """The shard of a player's accounts, from memory: the one recorded on them once this node has read them,
        else where a player opens under the current setting. For grouping work per shard (a group committer
        per shard); correctness never rests on it, as `apply` locks the shards the accounts say."""
        known = self.store.known_player_shard(player_owner(player_id))
        return known if known is not None else shard_for(player_id, self.shards)

    # ---- the verbs ----

    async def apply(
        self,
        uow: UnitOfWork,
        movements: Movements,
        *,
        known_pending: Mapping[UUID, Transfer] | None = None,
        new_ids: bool = False,
    ) -> list[Result]:
        """Apply a batch of verbs inside the caller's transaction: one result per verb, in order. Finds the
        players' accounts (from memory once known) and the holds it closes, locks the chain heads of the shards
        they live on (in ascending order, once per unit of work), reads what the batch touches, decides every
        verb in order and writes each shard's transfers as one seal of that shard's chain. A verb's transfers
        never leave its player's shard: the house accounts it names are that shard's, created on first use
        under the lock. An empty batch takes no lock.

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
        needs = [verb.accounts() for verb in verbs]
        # Who the players are and which holds are closed never changes: read before the lock, from memory once
        # known, to learn which shards to lock.
        players = await store.find_accounts(conn, {k for keys in needs for k in keys if k.owner != HOUSE})
        pending: dict[UUID, Transfer] = dict(known_pending) if known_pending else {}
        unread = [v.hold_id for v in verbs if isinstance(v, VoidHold | PostStake) and v.hold_id not in pending]
        if unread:
            pending.update((t.id, t) for t in await store.transfers_by_id(conn, unread))
        shards: list[int | None] = []
        for verb, keys in zip(verbs, needs, strict=True):
            if keys:
                own = next((players.get(k) for k in keys if k.owner != HOUSE), None)
                shards.append(store.account_shard(own) if own is not None else None)
            else:
                hold = pending.get(verb.hold_id) if isinstance(verb, VoidHold | PostStake) else None
                shards.append(hold.shard if hold is not None else None)
        chains = await self._hold_chains(uow, {s for s in shards if s is not None})
        ids = await self._house_ids(conn, needs, shards, now)
        plans: list[tuple[TransferRequest, ...] | Result | None] = []  # None: a take-back, split in its turn
        resolved: list[Ids] = []
        loading: list[TransferRequest] = []
        extra_ids: list[UUID] = []
        extra_accounts: list[int] = []
        for verb, keys, shard in zip(verbs, needs, shards, strict=True):
            got = [players.get(k) if k.owner != HOUSE else _house_id(ids, k, shard) for k in keys] if keys else []
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
        if new_ids and self.set_based and await self._apply_set(conn, plans, pending, chains, now):
            TRANSFERS.labels(Result.OK.value).inc(len(verbs))
            return [Result.OK] * len(verbs)
        state = await store.load_state(
            conn,
            loading,
            now,
            (),
            pending,
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
                shard = shards[i]
                assert shard is not None
                results[i] = await self._take_back(conn, batch, verb, resolved[i], new_ids, now, tally, shard)
            elif len(step) > 1 and not new_ids and _partly_stored(step, state.transfers):
                # a verb is all or nothing, its replay too: never complete one half of it
                results[i] = Result.EXISTS_WITH_DIFFERENT_FIELDS
                tally[Result.EXISTS_WITH_DIFFERENT_FIELDS] += 1
            else:
                segment.extend(step)
                spans.append((i, len(step)))
        self._apply_segment(batch, segment, spans, results, tally)
        outcome = batch.seal_chains(chains.heads)
        await store.write(conn, outcome)
        chains.heads.update(outcome.heads)
        for result, n in tally.items():
            TRANSFERS.labels(result.value).inc(n)
        return results

    async def _apply_set(
        self,
        conn: AsyncConnection,
        plans: Sequence[tuple[TransferRequest, ...] | Result | None],
        pending: Mapping[UUID, Transfer],
        chains: _ChainHeads,
        now: datetime,
    ) -> bool:
        """Write a batch of fresh transfers set-based (a settlement's: holds posted or voided, returns paid) when
        the store can and the batch is of that kind, and whether it did. The model decides the batch on balances
        of 0 (`zero_state`), so that it reads no balance; the database adds the balances, hashes each row and
        seals them (`write_set`), and writes nothing unless every hold closed was open. Whatever it did not
        write, `apply` decides the usual way."""
        requests: list[TransferRequest] = []
        for plan in plans:
            if not isinstance(plan, tuple):  # a refusal or a take-back: decided the usual way
                return False
            requests.extend(plan)
        if any(r.phase is Phase.PENDING or r.linked for r in requests):
            return False
        holds = {p: pending[p] for r in requests if (p := r.pending_id) is not None and p in pending}
        batch = LedgerBatch(await self.store.zero_state(conn, requests, holds), now)
        if any(result is not Result.OK for result in batch.apply(requests)):
            return False
        seals = await self.store.write_set(conn, batch.numbered(chains.heads), chains.heads)
        if seals is None:
            return False
        chains.heads.update((s.shard, (s.seq, s.hash)) for s in seals)
        return True

    async def _house_ids(
        self,
        conn: AsyncConnection,
        needs: Sequence[tuple[AccountKey, ...]],
        shards: Sequence[int | None],
        now: datetime,
    ) -> dict[tuple[AccountKey, int], int]:
        """The ids of the house accounts the verbs name, each on its verb's shard (that of the verb's player or
        hold, locked already): receivables found (created only when a take-back books something owed), the
        others created on first use, only for a verb whose player was found (none in a currency nobody in the
        batch holds, none on a shard no player of the batch lives on)."""
        found: set[tuple[AccountKey, int]] = set()
        create: set[tuple[AccountKey, int]] = set()
        for keys, shard in zip(needs, shards, strict=True):
            if shard is None:
                continue
            for key in keys:
                if key.owner != HOUSE:
                    continue
                (found if key.kind == AccountKind.RECEIVABLE else create).add((key, shard))
        ids = await self.store.find_house_accounts(conn, found) if found else {}
        for key, shard in create:
            ids[(key, shard)] = await self.store.get_or_create_account(conn, key, now, shard)
        return ids

    async def _hold_chains(self, uow: UnitOfWork, shards: Collection[int] | None) -> _ChainHeads:
        """Lock the chain heads of these shards (every shard's when None) that this unit of work does not hold
        yet, in ascending order. A unit of work that holds a shard and then needs a lower one takes it out of
        order: PostgreSQL would find a deadlock if it formed, and the group committer retries."""
        held = uow.store(_ChainHeads)
        if held.every:
            return held
        if shards is None:
            got = await self.store.lock_chains(uow.connection, None, ensure=range(self.shards))
            for shard, head in got.items():
                held.heads.setdefault(shard, head)
            held.every = True
            return held
        missing = [s for s in shards if s not in held.heads]
        if missing:
            held.heads.update(await self.store.lock_chains(uow.connection, missing))
        return held

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
        shard: int,
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
            ids = [ids[0], ids[1], await self._open_receivable(conn, state.accounts, verb, now, shard)]
        got = batch.apply(verb.split(ids, balance))
        tally.update(got)
        return verb_result(got)

    async def _open_receivable(
        self, conn: AsyncConnection, accounts: dict[int, Account], verb: TakeBackReturn, now: datetime, shard: int
    ) -> int:
        """The player's receivable, created on their shard under its lock, and known to the batch with its
        balance."""
        key = receivable_of(verb.player_id, verb.currency)
        account_id = await self.store.get_or_create_account(conn, key, now, shard)
        if account_id not in accounts:
            balance = (await self.store.account_balances(conn, [account_id])).get(account_id, 0)
            accounts[account_id] = Account(
                account_id, HOUSE, AccountKind.RECEIVABLE, verb.currency, False, balance, shard
            )
        return account_id

    # ---- transfers: the engine's raw surface ----

    async def create_transfers(self, requests: Sequence[TransferRequest]) -> list[Result]:
        """Apply a batch (linked chains all or nothing), group-committed with other callers' batches on the
        writer of its first account's shard. The engine's raw surface, for its tests, benchmarks and tools:
        features use `apply`."""
        if not requests:
            return []
        return await self._writers[self._route(requests)].submit(tuple(requests))

    def _route(self, requests: Sequence[TransferRequest]) -> int:
        """The writer for a raw batch: its first known account's shard (from memory; the lock is decided by the
        batch's own accounts and holds whatever writer it runs on)."""
        for r in requests:
            if r.phase in (Phase.SINGLE, Phase.PENDING):
                shard = self.store.account_shard(r.debit_account_id)
                if shard is not None:
                    return shard % len(self._writers)
        return 0

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
        """Apply raw transfer requests inside the caller's transaction (the engine's raw surface).
        `known_pending` may carry the rows of the pending transfers it posts or voids, read before the lock
        (`pending_transfers`). `new_ids` skips looking the requests' ids up, for a caller that knows none of
        them is stored. A stored one then fails the whole transaction on the journal's primary key instead of
        answering `exists`: never applied twice either way."""
        return (await self._process(uow, [tuple(requests)], known_pending, new_ids))[0]

    async def pending_transfers(self, uow: UnitOfWork, ids: Collection[UUID]) -> dict[UUID, Transfer]:
        """The stored rows of these transfers (holds a batch will close), for `apply(known_pending=...)`."""
        return {t.id: t for t in await self.store.transfers_by_id(uow.connection, ids)} if ids else {}

    async def lock(self, uow: UnitOfWork, *, players: Collection[UUID] | None = None) -> None:
        """Queue this unit of work behind other ledger writers, so the balances it reads stay true until it
        commits. With no `players`, behind every ledger writer: it takes every shard's lock, in ascending order
        (a barrier: a rollback, a settlement's listing, a bet-cancel window rely on it). With `players`, behind
        the writers of those players' shards only (a placement batch of one shard). A unit of work takes each
        shard's lock once: later calls, and the verbs applied in it, reuse the heads it read."""
        if players is None:
            await self._hold_chains(uow, None)
            return
        owners = {player_owner(p): p for p in players}
        recorded = await self.store.player_shards(uow.connection, owners.keys())
        shards = {recorded.get(o, shard_for(p, self.shards)) for o, p in owners.items()}
        await self._hold_chains(uow, shards)

    async def expire_due(self) -> int:
        """Release every hold whose timeout has passed. Returns how many were released."""
        async with self.db.read() as conn:
            due = await self.store.due_holds(conn, self.clock.now(), limit=1000)
        if not due:
            return 0
        by_shard: dict[int, list[UUID]] = defaultdict(list)
        for pending_id, shard in due:
            by_shard[shard].append(pending_id)
        released = 0
        for shard, ids in sorted(by_shard.items()):
            writer = self._writers[shard % len(self._writers)]
            results = await writer.submit(_Expire(tuple(ids), shard))
            released += sum(1 for r in results if r is Result.OK)
        return released

    async def _process(
        self,
        uow: UnitOfWork,
        items: Sequence[_Item],
        known_pending: Mapping[UUID, Transfer] | None = None,
        new_ids: bool = False,
    ) -> list[list[Result]]:
        conn = uow.connection
        store = self.store
        now = self.clock.now()
        groups = [i for i in items if not isinstance(i, _Expire)]
        expiring = {p for i in items if isinstance(i, _Expire) for p in i.pending_ids}
        requests = [r for g in groups for r in g]
        # the shards to lock, from what never changes (accounts' identities, pending rows), read before the lock
        accounts = {a for r in requests if r.phase in _MOVING for a in (r.debit_account_id, r.credit_account_id)}
        await store.identify(conn, accounts)
        pending: dict[UUID, Transfer] = dict(known_pending) if known_pending else {}
        closing = {r.pending_id for r in requests if r.pending_id is not None} | expiring
        unread = [p for p in closing if p not in pending]
        if unread:
            pending.update((t.id, t) for t in await store.transfers_by_id(conn, unread))
        shards = {store.account_shard(a) for a in accounts} | {pending[p].shard for p in closing if p in pending}
        shards |= {i.shard for i in items if isinstance(i, _Expire)}
        chains = await self._hold_chains(uow, {s for s in shards if s is not None})
        state = await store.load_state(conn, requests, now, expiring, pending, new_ids=new_ids)
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
        outcome = batch.seal_chains(chains.heads)
        await store.write(conn, outcome)
        chains.heads.update(outcome.heads)
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
        """Create the player's cash, bonus and reserved accounts in the caller's unit of work, on the shard
        their accounts already live on, else on `shard_for` the current number of shards."""
        conn = uow.connection
        check_currency(currency)
        owner = player_owner(player_id)
        now = self.clock.now()
        shard = (await self.store.player_shards(conn, [owner])).get(owner, shard_for(player_id, self.shards))
        for kind in PLAYER_KINDS:
            await self.store.get_or_create_account(conn, AccountKey(owner, kind, currency), now, shard)

    async def player_account(self, player_id: UUID, kind: AccountKind, currency: str) -> int | None:
        """The id of a player's account, if it exists (the engine's raw surface)."""
        async with self.db.read() as conn:
            return await self.store.find_account(conn, AccountKey(player_owner(player_id), kind, currency))

    async def house_account(self, kind: AccountKind, currency: str, sub: str = "", shard: int = 0) -> int:
        """The id of a house account on one shard, created on first use (the engine's raw surface; a house
        account's balance across shards is `house_balance`)."""
        check_currency(currency)
        key = AccountKey(HOUSE, kind, currency, sub)
        async with self.db.read() as conn:
            found = await self.store.find_account(conn, key, shard)
        if found is not None:
            return found
        async with self.db.transaction() as conn:
            return await self.store.get_or_create_account(conn, key, self.clock.now(), shard)

    async def house_balance(self, kind: AccountKind, currency: str, sub: str = "") -> int:
        """A house account's balance: the sum of its accounts on every shard."""
        async with self.db.read() as conn:
            return await self.store.house_balance(conn, AccountKey(HOUSE, kind, currency, sub))

    async def account(self, key: AccountKey, shard: int | None = None) -> int:
        """The id of any account by key, created on first use (the engine's raw surface: tests, benchmarks):
        a house account on `shard`; with no shard, a player's on their shard, a receivable on its player's, any
        other house account on the lowest shard that has it, else shard 0."""
        async with self.db.transaction() as conn:
            if shard is None:
                found = await self.store.find_account(conn, key)
                if found is not None:
                    return found
                player = player_of(key.owner) or _receivable_player(key)
                shard = 0
                if player is not None:
                    owner = player_owner(player)
                    shard = (await self.store.player_shards(conn, [owner])).get(owner, shard_for(player, self.shards))
            return await self.store.get_or_create_account(conn, key, self.clock.now(), shard)

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
        """Prove the ledger sound: balances equal their entries, every currency sums to zero on each shard and
        across shards, each transfer is on its accounts' shard, and every shard's chain holds."""
        faults: list[Fault] = []
        chains: list[ChainReport] = []
        async with self.db.read() as conn:
            store = self.store
            for r in await store.balance_mismatches(conn):
                faults.append(
                    Fault(
                        "balance_mismatch",
                        f"account {r.id} ({r.owner} {r.kind} {r.currency})",
                        f"shard {r.shard}: balance {r.balance}, entries sum to {r.expected}",
                        int(r.shard),
                    )
                )
            faults.extend(_currency_faults(await store.currency_totals(conn)))
            for r in await store.negative_player_balances(conn):
                faults.append(
                    Fault("negative_balance", f"account {r.id} ({r.owner} {r.kind})", f"{r.balance}", int(r.shard))
                )
            for r in await store.unknown_or_foreign_accounts(conn):
                if r.debit is None or r.credit is None:
                    kind = "unknown_account"
                elif not r.same_shard:
                    kind = "shard_mismatch"
                else:
                    kind = "currency_mismatch"
                faults.append(Fault(kind, f"transfer {r.id}", f"shard {r.shard}, seq {r.seq}", int(r.shard)))
            for r in await store.hold_mismatches(conn):
                faults.append(
                    Fault(
                        "holds_mismatch",
                        f"account {r.id} ({r.owner} reserved)",
                        f"shard {r.shard}: balance {r.balance}, open holds {r.held}",
                        int(r.shard),
                    )
                )
            for r in await store.orphan_holds(conn):
                faults.append(Fault("unknown_account", f"hold {r.pending_id}", f"account {r.holding_account_id}"))
            heads = await store.chain_heads(conn)
            n_accounts = await store.count_accounts(conn)
            count = 0
            for shard in sorted(heads.keys() | set(await store.journal_shards(conn))):
                walked, found = await self._verify_chain(conn, shard, heads.get(shard), chunk)
                faults.extend(found)
                count += walked
                chains.append(ChainReport(shard, walked, heads.get(shard, (0, GENESIS_HASH))[0]))
        return ReconcileReport(accounts=n_accounts, transfers=count, faults=faults, chains=tuple(chains))

    async def _verify_chain(
        self, conn: AsyncConnection, shard: int, head: tuple[int, bytes] | None, chunk: int
    ) -> tuple[int, list[Fault]]:
        """Walk one shard's chain, seals and the rows they cover about `chunk` rows at a time, then any rows
        after the last seal: how many transfers it has, and what is wrong with it."""
        faults: list[Fault] = []
        sealed_seq, sealed_hash, last_row, count = 0, GENESIS_HASH, 0, 0
        store = self.store
        while seals := await store.stream_seals(conn, sealed_seq, chunk, shard):
            end = seals[-1].seq
            rows = await store.stream_transfers(conn, sealed_seq, end - sealed_seq, shard, up_to=end)
            faults.extend(verify_chain(rows, seals, sealed_seq, sealed_hash, shard))
            count += len(rows)
            last_row = rows[-1].seq if rows else last_row
            sealed_seq, sealed_hash = end, seals[-1].hash
        after = sealed_seq
        while rows := await store.stream_transfers(conn, after, chunk, shard):  # rows no seal covers
            faults.extend(verify_chain(rows, [], after, sealed_hash, shard))
            count += len(rows)
            after = last_row = rows[-1].seq
        head_seq, head_hash = head if head is not None else (0, GENESIS_HASH)
        subject = f"chain of shard {shard}"
        if head is None:
            faults.append(Fault("chain_head_mismatch", subject, "no chain head row", shard))
        elif last_row != head_seq:
            faults.append(
                Fault("chain_head_mismatch", subject, f"journal ends at seq {last_row}, head says {head_seq}", shard)
            )
        elif (sealed_seq, sealed_hash) != (head_seq, head_hash):
            detail = f"the last seal ends at seq {sealed_seq}, head says {head_seq} and another hash"
            faults.append(Fault("chain_head_mismatch", subject, detail, shard))
        return count, faults


def _currency_faults(totals: Mapping[tuple[int, str], int]) -> list[Fault]:
    """Every currency must sum to zero on each shard (a transfer never leaves its shard) and so across them."""
    faults: list[Fault] = []
    across: dict[str, int] = defaultdict(int)
    for (shard, currency), total in sorted(totals.items()):
        across[currency] += total
        if total:
            faults.append(
                Fault("currency_unbalanced", f"currency {currency}", f"accounts on shard {shard} sum to {total}", shard)
            )
    for currency, total in sorted(across.items()):
        if total:
            faults.append(Fault("currency_unbalanced", f"currency {currency}", f"accounts sum to {total}"))
    return faults


def group_by_shard(shards: Iterable[int]) -> dict[int, list[int]]:
    """Positions of items by shard, in their order: how a caller splits work per shard."""
    out: dict[int, list[int]] = defaultdict(list)
    for i, shard in enumerate(shards):
        out[shard].append(i)
    return dict(out)
