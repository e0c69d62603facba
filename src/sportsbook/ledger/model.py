"""The ledger's rules, pure: which transfers apply, what they do to balances, and the hash chain.

The model follows TigerBeetle's `create_transfers`: a batch of transfers, each with a client-supplied id and
a result code; `linked` chains that succeed or fail together; two-phase transfers (pending, then post, void
or expiry). Every stored transfer is one debit and one credit of the same amount, so a balance is always
credits minus debits and every currency sums to zero by construction.

A pending transfer moves the amount from the debit account into the debit owner's `reserved` (holding)
account; posting moves it from there to the intended credit account (a partial post releases the rest back);
voiding or expiry releases it all. Players therefore see held money as `reserved`, never as spendable cash.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from sportsbook.core.ids import derived_id
from sportsbook.core.money import MAX_AMOUNT

GENESIS_HASH = bytes(32)
MAX_REFERENCE = 128
MAX_CODE = 32
MAX_TIMEOUT_S = 30 * 24 * 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AccountKind(enum.StrEnum):
    """What an account holds. Player accounts may never go negative; house accounts may."""

    CASH = "cash"  # player: spendable money
    BONUS = "bonus"  # player: bonus money
    RESERVED = "reserved"  # holding account of pending transfers (stakes and withdrawals on hold)
    BETS_IN_PLAY = "bets_in_play"  # house: stakes of open bets
    REVENUE = "revenue"  # house: gross gaming revenue
    PSP_CLEARING = "psp_clearing"  # house: money in flight with a payment connector (sub = connector)
    PSP_FEES = "psp_fees"  # house: what the payment connectors charged
    ADJUSTMENTS = "adjustments"  # house: counterpart of manual credits and debits
    EQUITY = "equity"  # house: counterpart for tests, benchmarks and opening balances
    RECEIVABLE = "receivable"  # house, sub = player: what a player owes after a resettlement took back winnings


HOUSE = "house"


class AccountKey(NamedTuple):
    """The identity of an account: who owns it, what it holds, in which currency. Private to the ledger: other
    features name money by owner and purpose through the verbs (`ledger/verbs.py`). A tuple: it is hashed and
    compared several times per verb of a batch, which a dataclass does in Python and a tuple in C."""

    owner: str
    kind: str
    currency: str
    sub: str = ""


def player_owner(player_id: UUID) -> str:
    """The ledger owner name of a player."""
    return f"player:{player_id}"


def player_of(owner: str) -> UUID | None:
    """The player an owner name stands for, if it is a player's."""
    if not owner.startswith("player:"):
        return None
    try:
        return UUID(owner.removeprefix("player:"))
    except ValueError:
        return None


def shard_for(player_id: UUID, shards: int) -> int:
    """The shard a new player's accounts open on: a stable hash of the player id, modulo the number of shards.
    Stable across processes and versions (not Python's salted `hash`), so every node routes a player alike; the
    shard is then recorded on the account rows, so changing the number of shards never moves a player."""
    if shards < 1:
        raise ValueError("a ledger has at least one shard")
    digest = hashlib.blake2b(player_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


class Phase(enum.StrEnum):
    """Which step of a transfer's life a request is."""

    SINGLE = "single"  # posted at once
    PENDING = "pending"  # first phase: hold the amount
    POST = "post"  # second phase: move (part of) the held amount to its destination
    VOID = "void"  # second phase: release the held amount


class Flag:
    """What a stored transfer row is (stored, hashed, never changed). Plain ints: IntFlag is slow here."""

    NONE = 0
    PENDING = 1
    POST = 2
    VOID = 4
    RELEASE = 8  # the unposted rest of a partially posted pending transfer
    EXPIRE = 16  # a pending transfer released because its timeout passed
    RESOLVING = POST | VOID | EXPIRE  # the row types that close a pending transfer


class Result(enum.StrEnum):
    """The outcome of one transfer request: `ok`, or why it did not apply."""

    OK = "ok"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY = "accounts_must_have_the_same_currency"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    ACCOUNTS_MUST_BE_ON_THE_SAME_SHARD = "accounts_must_be_on_the_same_shard"
    INVALID_CODE = "invalid_code"
    REFERENCE_TOO_LONG = "reference_too_long"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    TIMEOUT_OUT_OF_RANGE = "timeout_out_of_range"
    HOLDING_ACCOUNT_RESERVED_FOR_PENDING = "holding_account_reserved_for_pending_transfers"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """One transfer as a client asks for it.

    SINGLE and PENDING move `amount` from `debit_account_id` to `credit_account_id`. POST and VOID name the
    pending transfer in `pending_id`; a POST's `amount` may be less than the pending amount (the rest is
    released) and 0 means all of it. A POST or VOID with an empty `code` takes the pending transfer's code (as
    TigerBeetle's code 0 does). `linked` ties this request to the next one: all or nothing."""

    id: UUID
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int = 0
    phase: Phase = Phase.SINGLE
    pending_id: UUID | None = None
    timeout_s: int = 0
    code: str = "transfer"
    reference: str = ""
    linked: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    """What the model needs to know of an account."""

    id: int
    owner: str
    kind: str
    currency: str
    non_negative: bool
    balance: int
    shard: int = 0  # the chain its transfers are sealed on


@dataclass(slots=True)
class Transfer:
    """A stored transfer row: one debit, one credit, immutable once sealed, chained by hash.

    `seq` and `hash` are filled in by `LedgerBatch.seal`; nothing changes a row after that."""

    id: UUID
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    code: str
    flags: int
    reference: str
    created_at: datetime
    debit_balance_after: int
    credit_balance_after: int
    pending_id: UUID | None = None  # for POST, VOID, RELEASE and EXPIRE rows: the pending transfer
    target_account_id: int | None = None  # for PENDING rows: where a post will send the money
    expires_at: datetime | None = None  # for PENDING rows with a timeout
    seq: int = 0
    hash: bytes = b""
    shard: int = 0  # the chain the row is sealed on: its accounts' shard (never in the hash: each chain is its own)

    @property
    def resolves(self) -> UUID | None:
        """The pending transfer this row closes (at most one row may close each)."""
        return self.pending_id if self.flags & Flag.RESOLVING else None


class Resolution(enum.StrEnum):
    """What became of a pending transfer."""

    OPEN = "open"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PendingState:
    """A pending transfer and what has become of it."""

    transfer: Transfer
    resolution: Resolution


@dataclass
class LedgerState:
    """The slice of the ledger a batch reads: the accounts, transfers and pending holds it touches."""

    accounts: dict[int, Account] = field(default_factory=dict)
    transfers: dict[UUID, Transfer] = field(default_factory=dict)
    pendings: dict[UUID, PendingState] = field(default_factory=dict)
    # (owner, currency) -> id of that owner's RESERVED account, for new pending transfers
    holding: dict[tuple[str, str], int] = field(default_factory=dict)


def content_bytes(t: Transfer, created_micros: int | None = None) -> bytes:
    """The canonical content a transfer's own hash covers: every field but the hash itself, its seq included (so
    a row's hash binds it to its place in its chain).

    `created_micros` may pass `t.created_at` already converted (a batch shares one timestamp)."""
    pending = t.pending_id.hex if t.pending_id else ""
    target = t.target_account_id if t.target_account_id is not None else ""
    expires = micros(t.expires_at) if t.expires_at else ""
    created = micros(t.created_at) if created_micros is None else created_micros
    return (
        f"{t.seq}|{t.id.hex}|{t.debit_account_id}|{t.credit_account_id}|{t.amount}|{t.currency}|{t.code}|"
        f"{t.flags}|{t.reference}|{created}|{t.debit_balance_after}|{t.credit_balance_after}|"
        f"{pending}|{target}|{expires}"
    ).encode()


def row_hash(t: Transfer) -> bytes:
    """SHA-256 of a transfer's content: each row is hashed on its own, so a set of rows can be hashed at once
    (by the database, in a set-based write) and the chain is made by the seals over them."""
    return hashlib.sha256(content_bytes(t)).digest()


def seal_hash(prev_hash: bytes, row_hashes: Iterable[bytes]) -> bytes:
    """SHA-256 of the previous seal's hash and the hashes of the batch's rows in seq order: the chain link."""
    return hashlib.sha256(prev_hash + b"".join(row_hashes)).digest()


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: how a row's hashed content gives a time."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Seal:
    """One sealed batch of one shard's chain: its rows `first_seq` to `seq`, and `hash`, the `seal_hash` over
    the previous seal's hash (the chain head before it) and those rows' own hashes. The chain head is the last
    seal's (seq, hash)."""

    shard: int
    first_seq: int
    seq: int
    hash: bytes


ChainHeads = dict[int, tuple[int, bytes]]
"""shard -> (seq, hash) of that shard's chain head."""


@dataclass
class BatchOutcome:
    """What a batch decided: new rows (sequenced on their shard's chain, each hashed on its own), new balances,
    opened and closed holds, the seal of each chain it sealed rows on and the new head of every chain."""

    rows: list[Transfer]
    balances: dict[int, int]
    opened: list[Transfer]  # PENDING rows now open
    closed: list[UUID]  # pending ids now resolved
    heads: ChainHeads
    seals: list[Seal] = field(default_factory=list)  # one per chain it sealed rows on

    @property
    def head_seq(self) -> int:
        """The head's seq, for a batch sealed on one chain."""
        return self._only_head()[0]

    @property
    def head_hash(self) -> bytes:
        return self._only_head()[1]

    def _only_head(self) -> tuple[int, bytes]:
        if len(self.heads) != 1:
            raise ValueError(f"sealed on {len(self.heads)} chains, not one")
        return next(iter(self.heads.values()))


class LedgerBatch:
    """Applies requests to a LedgerState one after another, then seals the accepted rows into the chain.

    `apply` may be called several times (one call per caller in a group commit): each call's linked chains
    must close within that call."""

    def __init__(self, state: LedgerState, now: datetime) -> None:
        self.state = state
        self.now = now
        self._balances: dict[int, int] = {}
        self._rows: list[Transfer] = []
        self._opened: dict[UUID, Transfer] = {}
        self._closed: list[UUID] = []
        self._undo: list[tuple[str, object, object]] = []

    # ---- reading the working state ----

    def balance(self, account_id: int) -> int:
        got = self._balances.get(account_id)
        return got if got is not None else self.state.accounts[account_id].balance

    # ---- applying ----

    def apply(self, requests: Sequence[TransferRequest]) -> list[Result]:
        """Decide every request in order. Linked chains are all or nothing; the rest are independent."""
        results: list[Result] = [Result.OK] * len(requests)
        chain_start: int | None = None
        chain_failed = False
        mark = self._mark()
        for i, req in enumerate(requests):
            if chain_start is None:
                chain_start, chain_failed, mark = i, False, self._mark()
            if chain_failed:
                results[i] = Result.LINKED_EVENT_FAILED
            elif req.linked and i == len(requests) - 1:
                results[i] = Result.LINKED_EVENT_CHAIN_OPEN
            else:
                results[i] = self._apply_one(req)
            if results[i] not in (Result.OK, Result.EXISTS) and not chain_failed:
                chain_failed = True
                for j in range(chain_start, i):
                    results[j] = Result.LINKED_EVENT_FAILED
                self._rollback(mark)
            if not req.linked:
                chain_start = None
        return results

    def _apply_one(self, req: TransferRequest) -> Result:
        existing = self.state.transfers.get(req.id)
        if existing is not None:
            return Result.EXISTS if self._same(req, existing) else Result.EXISTS_WITH_DIFFERENT_FIELDS
        if len(req.code) > MAX_CODE or not (req.code or req.phase in _CLOSING):
            return Result.INVALID_CODE
        if len(req.reference) > MAX_REFERENCE:
            return Result.REFERENCE_TOO_LONG
        if req.timeout_s and req.phase is not Phase.PENDING:
            return Result.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        if req.phase in (Phase.POST, Phase.VOID):
            return self._resolve(req)
        return self._single_or_pending(req)

    def _single_or_pending(self, req: TransferRequest) -> Result:
        if req.amount <= 0:
            return Result.AMOUNT_MUST_BE_POSITIVE
        if req.amount > MAX_AMOUNT:
            return Result.AMOUNT_TOO_LARGE
        if req.debit_account_id == req.credit_account_id:
            return Result.ACCOUNTS_MUST_BE_DIFFERENT
        debit = self.state.accounts.get(req.debit_account_id)
        credit = self.state.accounts.get(req.credit_account_id)
        if debit is None or credit is None:
            return Result.ACCOUNT_NOT_FOUND
        if debit.currency != credit.currency:
            return Result.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY
        if debit.shard != credit.shard:  # a transfer is sealed on one chain: both its accounts live there
            return Result.ACCOUNTS_MUST_BE_ON_THE_SAME_SHARD
        if not 0 <= req.timeout_s <= MAX_TIMEOUT_S:
            return Result.TIMEOUT_OUT_OF_RANGE
        if AccountKind.RESERVED in (debit.kind, credit.kind):
            # only the two-phase machinery moves money in and out of holding accounts, so that what they
            # hold always equals the open pending transfers
            return Result.HOLDING_ACCOUNT_RESERVED_FOR_PENDING
        if debit.non_negative and self.balance(debit.id) < req.amount:
            return Result.INSUFFICIENT_FUNDS
        if req.phase is Phase.SINGLE:
            self._record(req.id, debit.id, credit.id, req.amount, debit.currency, req.code, Flag.NONE, req)
            return Result.OK
        holding_id = self.state.holding.get((debit.owner, debit.currency))
        if holding_id is None or holding_id not in self.state.accounts:
            return Result.ACCOUNT_NOT_FOUND
        if self.state.accounts[holding_id].shard != debit.shard:
            return Result.ACCOUNTS_MUST_BE_ON_THE_SAME_SHARD
        expires = self.now + timedelta(seconds=req.timeout_s) if req.timeout_s else None
        row = self._record(
            req.id,
            debit.id,
            holding_id,
            req.amount,
            debit.currency,
            req.code,
            Flag.PENDING,
            req,
            target_account_id=credit.id,
            expires_at=expires,
        )
        self._set_opened(row.id, row)
        return Result.OK

    def _resolve(self, req: TransferRequest) -> Result:
        if req.pending_id is None:
            return Result.PENDING_ID_REQUIRED
        found = self._pending(req.pending_id)
        if found is None:
            if req.pending_id in self.state.transfers:
                return Result.PENDING_TRANSFER_NOT_PENDING
            return Result.PENDING_TRANSFER_NOT_FOUND
        pending, resolution = found
        if resolution is not Resolution.OPEN:
            return _RESOLVED_RESULT[resolution]
        if req.amount < 0:
            return Result.AMOUNT_MUST_BE_POSITIVE
        if pending.expires_at is not None and self.now >= pending.expires_at:
            return Result.PENDING_TRANSFER_EXPIRED
        holding, origin = pending.credit_account_id, pending.debit_account_id
        target = pending.target_account_id
        assert target is not None
        code = req.code or pending.code
        if req.phase is Phase.VOID:
            if req.amount not in (0, pending.amount):
                return Result.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
            self._record(
                req.id,
                holding,
                origin,
                pending.amount,
                pending.currency,
                code,
                Flag.VOID,
                req,
                pending_id=pending.id,
            )
        else:
            amount = req.amount or pending.amount
            if amount > pending.amount:
                return Result.EXCEEDS_PENDING_TRANSFER_AMOUNT
            self._record(req.id, holding, target, amount, pending.currency, code, Flag.POST, req, pending_id=pending.id)
            if amount < pending.amount:
                self._record(
                    derived_id(req.id, "release"),
                    holding,
                    origin,
                    pending.amount - amount,
                    pending.currency,
                    code,
                    Flag.RELEASE,
                    req,
                    pending_id=pending.id,
                )
        self._set_closed(pending.id, Resolution.POSTED if req.phase is Phase.POST else Resolution.VOIDED)
        return Result.OK

    def expire(self, pending_ids: Iterable[UUID], code: str = "expiry") -> list[UUID]:
        """Release every still-open pending transfer among `pending_ids` whose timeout has passed."""
        expired: list[UUID] = []
        for pid in pending_ids:
            found = self._pending(pid)
            if found is None or found[1] is not Resolution.OPEN:
                continue
            p = found[0]
            if p.expires_at is None or self.now < p.expires_at:
                continue
            self._record(
                derived_id(pid, "expire"),
                p.credit_account_id,
                p.debit_account_id,
                p.amount,
                p.currency,
                code,
                Flag.EXPIRE,
                None,
                pending_id=pid,
            )
            self._set_closed(pid, Resolution.EXPIRED)
            expired.append(pid)
        return expired

    # ---- sealing ----

    def seal(self, prev_seq: int, prev_hash: bytes, shard: int = 0) -> BatchOutcome:
        """Number and hash the accepted rows after the chain head `prev_seq`/`prev_hash` of their one shard."""
        return self.seal_chains({shard: (prev_seq, prev_hash)})

    def seal_chains(self, heads: Mapping[int, tuple[int, bytes]]) -> BatchOutcome:
        """Number and hash the accepted rows, each on its shard's chain after that shard's head in `heads`
        (every shard the rows are on must be there), and seal each shard's rows as one batch on its chain. The
        outcome's heads are those of the chains it moved."""
        last = self._number(heads)
        hashes: dict[int, list[bytes]] = {shard: [] for shard in last}
        sha256 = hashlib.sha256
        now, now_micros = self.now, micros(self.now)
        for row in self._rows:
            stamp = now_micros if row.created_at is now else None
            row.hash = sha256(content_bytes(row, stamp)).digest()
            hashes[row.shard].append(row.hash)
        seals = [
            Seal(shard, heads[shard][0] + 1, seq, seal_hash(heads[shard][1], hashes[shard]))
            for shard, seq in last.items()
        ]
        return BatchOutcome(
            rows=self._rows,
            balances=dict(self._balances),
            opened=list(self._opened.values()),
            closed=list(self._closed),
            heads={s.shard: (s.seq, s.hash) for s in seals} if seals else dict(heads),
            seals=seals,
        )

    def numbered(self, heads: Mapping[int, tuple[int, bytes]]) -> BatchOutcome:
        """Number the accepted rows on their shards' chains as `seal_chains` does, but neither hash nor seal
        them: for a set-based write in which the database hashes the rows and seals them (the outcome's heads
        and seals are left empty)."""
        self._number(heads)
        return BatchOutcome(
            rows=self._rows,
            balances=dict(self._balances),
            opened=list(self._opened.values()),
            closed=list(self._closed),
            heads={},
        )

    def _number(self, heads: Mapping[int, tuple[int, bytes]]) -> dict[int, int]:
        """Give each accepted row the next seq of its shard's chain: the last seq of each chain moved."""
        last: dict[int, int] = {}
        for row in self._rows:
            shard = row.shard
            row.seq = last[shard] = (last[shard] if shard in last else heads[shard][0]) + 1
        return last

    # ---- internals ----

    def _same(self, req: TransferRequest, t: Transfer) -> bool:
        if req.phase is Phase.SINGLE:
            return (
                t.flags == Flag.NONE
                and (req.debit_account_id, req.credit_account_id, req.amount)
                == (t.debit_account_id, t.credit_account_id, t.amount)
                and (req.code, req.reference) == (t.code, t.reference)
            )
        if req.phase is Phase.PENDING:
            return (
                t.flags == Flag.PENDING
                and (req.debit_account_id, req.credit_account_id, req.amount)
                == (t.debit_account_id, t.target_account_id, t.amount)
                and (req.code, req.reference) == (t.code, t.reference)
                and (t.expires_at is None) == (req.timeout_s == 0)
            )
        flag = Flag.POST if req.phase is Phase.POST else Flag.VOID
        code = req.code
        if not code:  # the pending transfer's code, as `_resolve` took it
            assert req.pending_id is not None
            pending = self.state.transfers.get(req.pending_id)
            code = pending.code if pending is not None else t.code
        if t.flags != flag or t.pending_id != req.pending_id or (code, req.reference) != (t.code, t.reference):
            return False
        return req.amount == 0 or req.amount == t.amount

    def _pending(self, pid: UUID) -> tuple[Transfer, Resolution] | None:
        if pid in self._opened:
            return self._opened[pid], Resolution.OPEN
        state = self.state.pendings.get(pid)
        if state is None:
            return None
        return state.transfer, state.resolution

    def _record(
        self,
        tid: UUID,
        debit_id: int,
        credit_id: int,
        amount: int,
        currency: str,
        code: str,
        flags: int,
        req: TransferRequest | None,
        *,
        pending_id: UUID | None = None,
        target_account_id: int | None = None,
        expires_at: datetime | None = None,
    ) -> Transfer:
        debit_after = self.balance(debit_id) - amount
        credit_after = self.balance(credit_id) + amount
        self._set_balance(debit_id, debit_after)
        self._set_balance(credit_id, credit_after)
        row = Transfer(
            shard=self.state.accounts[debit_id].shard,
            id=tid,
            debit_account_id=debit_id,
            credit_account_id=credit_id,
            amount=amount,
            currency=currency,
            code=code,
            flags=flags,
            reference=req.reference if req else "",
            created_at=self.now,
            debit_balance_after=debit_after,
            credit_balance_after=credit_after,
            pending_id=pending_id,
            target_account_id=target_account_id,
            expires_at=expires_at,
        )
        self._rows.append(row)
        self._undo.append(("row", None, None))
        if tid not in self.state.transfers:
            self.state.transfers[tid] = row
            self._undo.append(("transfer", tid, None))
        return row

    def _set_balance(self, account_id: int, value: int) -> None:
        self._undo.append(("balance", account_id, self._balances.get(account_id)))
        self._balances[account_id] = value

    def _set_opened(self, pid: UUID, row: Transfer) -> None:
        self._opened[pid] = row
        self._undo.append(("opened", pid, None))

    def _set_closed(self, pid: UUID, resolution: Resolution) -> None:
        if pid in self._opened:
            # opened and closed in the same batch: never lands in the open-holds table
            row = self._opened.pop(pid)
            self._undo.append(("reopen", pid, row))
        else:
            self._closed.append(pid)
            self._undo.append(("closed", pid, None))
        previous = self.state.pendings.get(pid)
        transfer = previous.transfer if previous else self.state.transfers[pid]
        self.state.pendings[pid] = PendingState(transfer, resolution)
        self._undo.append(("pending", pid, previous))

    def _mark(self) -> int:
        return len(self._undo)

    def _rollback(self, mark: int) -> None:
        while len(self._undo) > mark:
            what, key, old = self._undo.pop()
            if what == "row":
                self._rows.pop()
            elif what == "transfer":
                assert isinstance(key, UUID)
                del self.state.transfers[key]
            elif what == "balance":
                assert isinstance(key, int)
                if old is None:
                    del self._balances[key]
                else:
                    assert isinstance(old, int)
                    self._balances[key] = old
            elif what == "opened":
                assert isinstance(key, UUID)
                del self._opened[key]
            elif what == "reopen":
                assert isinstance(key, UUID)
                assert isinstance(old, Transfer)
                self._opened[key] = old
            elif what == "closed":
                self._closed.pop()
            elif what == "pending":
                assert isinstance(key, UUID)
                if old is None:
                    self.state.pendings.pop(key, None)
                else:
                    assert isinstance(old, PendingState)
                    self.state.pendings[key] = old


_CLOSING = (Phase.POST, Phase.VOID)

_RESOLVED_RESULT = {
    Resolution.POSTED: Result.PENDING_TRANSFER_ALREADY_POSTED,
    Resolution.VOIDED: Result.PENDING_TRANSFER_ALREADY_VOIDED,
    Resolution.EXPIRED: Result.PENDING_TRANSFER_EXPIRED,
}


# ---- reconciliation (pure): what the stored ledger must satisfy ----


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing reconcile found wrong, naming the account or transfer, and the shard when it is one chain's."""

    kind: str
    subject: str
    detail: str
    shard: int | None = None


def verify_chain(
    rows: Sequence[Transfer],
    seals: Sequence[Seal],
    prev_seq: int = 0,
    prev_hash: bytes = GENESIS_HASH,
    shard: int | None = None,
) -> list[Fault]:
    """Check a stretch of one shard's chain after the seal that ended at `prev_seq` with `prev_hash`: the rows
    (in seq order) follow one another with no gap and each hash recomputes from its row; the seals (in order)
    follow one another, each over the rows after the one before, and each hash recomputes over the previous
    seal's hash and its rows' hashes; every row is in a seal. Faults name the transfer or the seal, and the shard
    when one is given."""
    faults: list[Fault] = []
    where = f"shard {shard}, " if shard is not None else ""
    expected_seq = prev_seq + 1
    hashes: dict[int, bytes] = {}
    for row in rows:
        if row.seq != expected_seq:
            faults.append(
                Fault("chain_gap", f"transfer {row.id}", f"{where}seq {row.seq}, expected {expected_seq}", shard)
            )
        if row_hash(row) != row.hash:
            faults.append(
                Fault(
                    "hash_mismatch",
                    f"transfer {row.id}",
                    f"{where}seq {row.seq}: stored hash does not match content",
                    shard,
                )
            )
        hashes[row.seq] = row.hash
        expected_seq = row.seq + 1
    expected_first, expected_prev = prev_seq + 1, prev_hash
    for seal in seals:
        subject = f"seal of seq {seal.first_seq}-{seal.seq}"
        if seal.first_seq != expected_first:
            faults.append(Fault("seal_gap", subject, f"{where}expected a seal from seq {expected_first}", shard))
        covered = (hashes.get(seq, b"") for seq in range(seal.first_seq, seal.seq + 1))
        if seal_hash(expected_prev, covered) != seal.hash:
            detail = f"{where}stored hash does not match its rows and the seal before"
            faults.append(Fault("seal_mismatch", subject, detail, shard))
        expected_first, expected_prev = seal.seq + 1, seal.hash
    for row in rows:
        if row.seq >= expected_first:
            detail = f"{where}seq {row.seq} is in no seal"
            faults.append(Fault("unsealed_transfer", f"transfer {row.id}", detail, shard))
    return faults
