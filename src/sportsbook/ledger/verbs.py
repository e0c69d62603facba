"""The ledger's verbs: what other features ask of it, keyed by owner and purpose. Pure: no I/O.

A feature builds a `Movements` batch (reserve a stake, void a hold, post a stake, pay a return, take a return
back, reserve a stake again, credit or debit cash) and hands it to `Ledger.apply`, which answers one `Result`
per verb, in order. Each verb names the accounts it needs (`accounts`); the ledger resolves them to ids (a
player's accounts are found, never created; house accounts are created on first use) and the verb turns them
into transfer requests (`transfers`). Accounts, their ids and the house side stay inside the ledger.

Transfer ids are the caller's: it derives them from its own records (`derived_id("stake", bet_id)`), so a
replayed call answers `exists` and never moves the money twice. A verb that makes several transfers makes
them as one linked chain, all or nothing, and answers one result for them all."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from sportsbook.core.money import MAX_AMOUNT
from sportsbook.ledger.model import HOUSE, AccountKey, AccountKind, Flag, Phase, Result, Transfer, TransferRequest

__all__ = [
    "BookFee",
    "Counterpart",
    "HoldCash",
    "MoveCash",
    "Movements",
    "PayReturn",
    "PostStake",
    "ReserveStake",
    "ReserveStakeAgain",
    "Result",
    "TakeBackReturn",
    "Verb",
    "VoidHold",
]

# The codes the verbs' transfers carry (a statement line's `kind`). They are those betting wrote before the
# verbs existed, so a replay of an earlier call compares equal. Closing a hold takes the hold's own code.
STAKE = "bet_stake"
STAKE_REFUND = "bet_stake_refund"
RETURN = "bet_return"
TAKE_BACK = "bet_resettle"
FEE = "psp_fee"
_CLOSES_UNDER_HOLD_CODE = ""

Ids = Sequence[int | None]  # the ids of a verb's `accounts()`, in order; None where the account does not exist


class Counterpart(enum.StrEnum):
    """The house side of a cash credit or debit."""

    ADJUSTMENTS = "adjustments"  # staff adjustments
    EQUITY = "equity"  # opening balances, tests and benchmarks
    PSP_CLEARING = "psp_clearing"  # money in flight with a payment connector (`sub`: the connector's name)


def cash_of(player_id: UUID, currency: str) -> AccountKey:
    return AccountKey(f"player:{player_id}", AccountKind.CASH, currency)


def revenue_in(currency: str) -> AccountKey:
    key = _REVENUE.get(currency)
    if key is None:  # one per currency: every stake and return names it
        key = _REVENUE[currency] = AccountKey(HOUSE, AccountKind.REVENUE, currency)
    return key


_REVENUE: dict[str, AccountKey] = {}


def receivable_of(player_id: UUID, currency: str) -> AccountKey:
    """What a player owes the house after a take-back their cash did not cover."""
    return AccountKey(HOUSE, AccountKind.RECEIVABLE, currency, str(player_id))


def _amount_refused(amount: int) -> Result | None:
    if amount <= 0:
        return Result.AMOUNT_MUST_BE_POSITIVE
    if amount > MAX_AMOUNT:
        return Result.AMOUNT_TOO_LARGE
    return None


@dataclass(frozen=True, slots=True)
class _CashAndRevenue:
    """A verb between a player's cash and house revenue in one currency, under one transfer id."""

    transfer_id: UUID
    player_id: UUID
    currency: str
    amount: int
    reference: str

    @property
    def ids(self) -> tuple[UUID, ...]:
        return (self.transfer_id,)

    def accounts(self) -> tuple[AccountKey, ...]:
        return cash_of(self.player_id, self.currency), revenue_in(self.currency)


@dataclass(frozen=True, slots=True)
class ReserveStake(_CashAndRevenue):
    """Hold a stake: pending player cash -> (player reserved) -> house revenue."""

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        cash, revenue = ids
        if cash is None or revenue is None:
            return Result.ACCOUNT_NOT_FOUND
        return (
            TransferRequest(
                self.transfer_id, cash, revenue, self.amount, Phase.PENDING, code=STAKE, reference=self.reference
            ),
        )


@dataclass(frozen=True, slots=True)
class VoidHold:
    """Release a hold: all of it back where it came from."""

    transfer_id: UUID
    hold_id: UUID

    @property
    def ids(self) -> tuple[UUID, ...]:
        return (self.transfer_id,)

    def accounts(self) -> tuple[AccountKey, ...]:
        return ()

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        return (
            TransferRequest(self.transfer_id, phase=Phase.VOID, pending_id=self.hold_id, code=_CLOSES_UNDER_HOLD_CODE),
        )


@dataclass(frozen=True, slots=True)
class PostStake:
    """Post `amount` of a held stake to revenue and release the rest back to cash (0 < amount <= held)."""

    transfer_id: UUID
    hold_id: UUID
    amount: int

    @property
    def ids(self) -> tuple[UUID, ...]:
        return (self.transfer_id,)

    def accounts(self) -> tuple[AccountKey, ...]:
        return ()

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        refused = _amount_refused(self.amount)  # a post of 0 would mean "all of it" to the engine
        if refused is not None:
            return refused
        return (
            TransferRequest(
                self.transfer_id,
                amount=self.amount,
                phase=Phase.POST,
                pending_id=self.hold_id,
                code=_CLOSES_UNDER_HOLD_CODE,
            ),
        )


@dataclass(frozen=True, slots=True)
class PayReturn(_CashAndRevenue):
    """Pay a return: house revenue -> player cash."""

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        cash, revenue = ids
        if cash is None or revenue is None:
            return Result.ACCOUNT_NOT_FOUND
        return (TransferRequest(self.transfer_id, revenue, cash, self.amount, code=RETURN, reference=self.reference),)


@dataclass(frozen=True, slots=True)
class TakeBackReturn:
    """Take a paid return back: player cash -> revenue for what their cash covers when the batch reaches this
    verb (earlier verbs of the batch included), the rest booked as owed: house receivable (sub = player) ->
    revenue. `transfer_ids` are (cash part, owed part); a part of 0 makes no transfer."""

    transfer_ids: tuple[UUID, UUID]
    player_id: UUID
    currency: str
    amount: int
    reference: str
    code: str = TAKE_BACK
    counterpart: Counterpart | None = None  # None: house revenue (a resettled bet); else that house account
    sub: str = ""

    @property
    def ids(self) -> tuple[UUID, ...]:
        return self.transfer_ids

    def accounts(self) -> tuple[AccountKey, ...]:
        """Cash, revenue, and the receivable (found; the ledger creates it only when something is owed)."""
        house = (
            revenue_in(self.currency) if self.counterpart is None else _house(self.counterpart, self.currency, self.sub)
        )
        return cash_of(self.player_id, self.currency), house, receivable_of(self.player_id, self.currency)

    def refusal(self, ids: Ids) -> Result | None:
        """Why the take-back cannot apply whatever the balances, if it cannot."""
        if ids[0] is None or ids[1] is None:
            return Result.ACCOUNT_NOT_FOUND
        return _amount_refused(self.amount)

    def split(self, ids: Ids, cash_balance: int) -> tuple[TransferRequest, ...]:
        """The split, given the player's cash balance at this point of the batch (`ids[2]` must exist when the
        cash does not cover the amount)."""
        cash, revenue, receivable = ids
        assert cash is not None
        assert revenue is not None
        from_cash = min(self.amount, max(cash_balance, 0))
        owed = self.amount - from_cash
        cash_id, owed_id = self.transfer_ids
        out: list[TransferRequest] = []
        if from_cash:
            out.append(
                TransferRequest(
                    cash_id, cash, revenue, from_cash, code=self.code, reference=self.reference, linked=owed > 0
                )
            )
        if owed:
            assert receivable is not None
            out.append(TransferRequest(owed_id, receivable, revenue, owed, code=self.code, reference=self.reference))
        return tuple(out)

    def replay(self, ids: Ids, cash_part: Transfer | None, owed_part: Transfer | None) -> Result:
        """The answer to a take-back whose transfers (one or both) are stored already: `exists` if they are
        this take-back's split, whatever the cash balance is now, else `exists_with_different_fields`."""
        cash, revenue, receivable = ids
        wanted = ((cash_part, cash), (owed_part, receivable))
        total = 0
        for row, debit in wanted:
            if row is None:
                continue
            fields = (row.debit_account_id, row.credit_account_id, row.flags, row.code, row.reference)
            same = fields == (debit, revenue, Flag.NONE, self.code, self.reference)
            if not same:
                return Result.EXISTS_WITH_DIFFERENT_FIELDS
            total += row.amount
        return Result.EXISTS if total == self.amount else Result.EXISTS_WITH_DIFFERENT_FIELDS


@dataclass(frozen=True, slots=True)
class ReserveStakeAgain:
    """Hold a stake again after its first hold was posted (a rollback reopening a bet): revenue -> player cash
    for the stake (`refund_id`), then a new pending hold cash -> revenue (`hold_id`); linked, all or nothing.
    The player's cash ends where it was, their reserved grows by the stake."""

    refund_id: UUID
    hold_id: UUID
    player_id: UUID
    currency: str
    amount: int
    reference: str

    @property
    def ids(self) -> tuple[UUID, ...]:
        return self.refund_id, self.hold_id

    def accounts(self) -> tuple[AccountKey, ...]:
        return cash_of(self.player_id, self.currency), revenue_in(self.currency)

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        cash, revenue = ids
        if cash is None or revenue is None:
            return Result.ACCOUNT_NOT_FOUND
        return (
            TransferRequest(
                self.refund_id, revenue, cash, self.amount, code=STAKE_REFUND, reference=self.reference, linked=True
            ),
            TransferRequest(
                self.hold_id, cash, revenue, self.amount, Phase.PENDING, code=STAKE, reference=self.reference
            ),
        )


@dataclass(frozen=True, slots=True)
class MoveCash:
    """Credit a player's cash from a house counterpart (counterpart -> player cash), or debit it to one (player
    cash -> counterpart; `insufficient_funds` beyond the cash balance)."""

    transfer_id: UUID
    player_id: UUID
    currency: str
    amount: int
    code: str
    reference: str
    counterpart: Counterpart = Counterpart.ADJUSTMENTS
    credit: bool = True
    sub: str = ""  # which of the counterpart's accounts (a connector's clearing)

    @property
    def ids(self) -> tuple[UUID, ...]:
        return (self.transfer_id,)

    def accounts(self) -> tuple[AccountKey, ...]:
        return cash_of(self.player_id, self.currency), _house(self.counterpart, self.currency, self.sub)

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        cash, house = ids
        if cash is None or house is None:
            return Result.ACCOUNT_NOT_FOUND
        debit, credit = (house, cash) if self.credit else (cash, house)
        return (
            TransferRequest(self.transfer_id, debit, credit, self.amount, code=self.code, reference=self.reference),
        )


@dataclass(frozen=True, slots=True)
class HoldCash:
    """Hold a player's cash bound for a house counterpart: pending player cash -> (player reserved) ->
    counterpart (a withdrawal on its way to the PSP, a refund); posted or voided later like a stake's hold."""

    transfer_id: UUID
    player_id: UUID
    currency: str
    amount: int
    code: str
    reference: str
    counterpart: Counterpart
    sub: str = ""

    @property
    def ids(self) -> tuple[UUID, ...]:
        return (self.transfer_id,)

    def accounts(self) -> tuple[AccountKey, ...]:
        return cash_of(self.player_id, self.currency), _house(self.counterpart, self.currency, self.sub)

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        cash, house = ids
        if cash is None or house is None:
            return Result.ACCOUNT_NOT_FOUND
        return (
            TransferRequest(
                self.transfer_id, cash, house, self.amount, Phase.PENDING, code=self.code, reference=self.reference
            ),
        )


@dataclass(frozen=True, slots=True)
class BookFee:
    """A PSP's fee on a payment: house PSP fees -> the connector's clearing (what the PSP owes the house shrinks
    by the fee). Booked on the shard of the payment's player, whose cash it names only to find that shard."""

    transfer_id: UUID
    player_id: UUID
    currency: str
    amount: int
    connector: str
    reference: str

    @property
    def ids(self) -> tuple[UUID, ...]:
        return (self.transfer_id,)

    def accounts(self) -> tuple[AccountKey, ...]:
        return (
            cash_of(self.player_id, self.currency),
            AccountKey(HOUSE, AccountKind.PSP_FEES, self.currency),
            _house(Counterpart.PSP_CLEARING, self.currency, self.connector),
        )

    def transfers(self, ids: Ids) -> tuple[TransferRequest, ...] | Result:
        _cash, fees, clearing = ids
        if fees is None or clearing is None:
            return Result.ACCOUNT_NOT_FOUND
        refused = _amount_refused(self.amount)
        if refused is not None:
            return refused
        return (TransferRequest(self.transfer_id, fees, clearing, self.amount, code=FEE, reference=self.reference),)


def _house(counterpart: Counterpart, currency: str, sub: str) -> AccountKey:
    return AccountKey(HOUSE, counterpart.value, currency, sub)


Verb = (
    ReserveStake | VoidHold | PostStake | PayReturn | TakeBackReturn | ReserveStakeAgain | MoveCash | HoldCash | BookFee
)


class Movements:
    """A batch of verbs for one `Ledger.apply`: one chain lock, one seal, one result per verb, in order."""

    __slots__ = ("_verbs",)

    def __init__(self) -> None:
        self._verbs: list[Verb] = []

    def __len__(self) -> int:
        return len(self._verbs)

    def __iter__(self) -> Iterator[Verb]:
        return iter(self._verbs)

    def __getitem__(self, index: int) -> Verb:
        return self._verbs[index]

    def reserve_stake(self, transfer_id: UUID, player_id: UUID, currency: str, amount: int, reference: str) -> None:
        """Hold `amount` of the player's cash as a stake bound for revenue (`account_not_found` for a player
        without a cash account in `currency`, `insufficient_funds` beyond their cash)."""
        self._verbs.append(ReserveStake(transfer_id, player_id, currency, amount, reference))

    def void_hold(self, transfer_id: UUID, hold_id: UUID) -> None:
        """Release the hold `hold_id` in full (a refused bet, a settlement that returns the whole stake)."""
        self._verbs.append(VoidHold(transfer_id, hold_id))

    def post_stake(self, transfer_id: UUID, hold_id: UUID, amount: int) -> None:
        """Post `amount` of the hold to revenue, releasing the rest to cash (0 < amount <= held)."""
        self._verbs.append(PostStake(transfer_id, hold_id, amount))

    def pay_return(self, transfer_id: UUID, player_id: UUID, currency: str, amount: int, reference: str) -> None:
        """Pay `amount` from house revenue into the player's cash."""
        self._verbs.append(PayReturn(transfer_id, player_id, currency, amount, reference))

    def take_back_return(
        self, transfer_ids: tuple[UUID, UUID], player_id: UUID, currency: str, amount: int, reference: str
    ) -> None:
        """Take `amount` back into revenue: from the player's cash as far as it covers it when the batch gets
        here, the rest booked as owed by the player. `transfer_ids` are (cash part, owed part). `amount` must be
        positive (`amount_must_be_positive`): a bet that paid nothing has nothing to take back."""
        self._verbs.append(TakeBackReturn(transfer_ids, player_id, currency, amount, reference))

    def take_back_cash(
        self,
        transfer_ids: tuple[UUID, UUID],
        player_id: UUID,
        currency: str,
        amount: int,
        code: str,
        reference: str,
        counterpart: Counterpart,
        sub: str = "",
    ) -> None:
        """Take `amount` from the player back to the house `counterpart` (a chargeback to the connector's
        clearing): from their cash as far as it covers it, the rest booked as owed by the player."""
        self._verbs.append(TakeBackReturn(transfer_ids, player_id, currency, amount, reference, code, counterpart, sub))

    def reserve_stake_again(
        self, refund_id: UUID, hold_id: UUID, player_id: UUID, currency: str, amount: int, reference: str
    ) -> None:
        """Refund a posted stake from revenue and hold it again (`hold_id` is the new hold), all or nothing."""
        self._verbs.append(ReserveStakeAgain(refund_id, hold_id, player_id, currency, amount, reference))

    def credit_cash(
        self,
        transfer_id: UUID,
        player_id: UUID,
        currency: str,
        amount: int,
        code: str,
        reference: str,
        counterpart: Counterpart = Counterpart.ADJUSTMENTS,
        sub: str = "",
    ) -> None:
        """Credit `amount` to the player's cash from the house `counterpart` (`sub`: which of its accounts)."""
        self._verbs.append(MoveCash(transfer_id, player_id, currency, amount, code, reference, counterpart, sub=sub))

    def debit_cash(
        self,
        transfer_id: UUID,
        player_id: UUID,
        currency: str,
        amount: int,
        code: str,
        reference: str,
        counterpart: Counterpart = Counterpart.ADJUSTMENTS,
        sub: str = "",
    ) -> None:
        """Debit `amount` from the player's cash to the house `counterpart` (never below zero)."""
        self._verbs.append(
            MoveCash(transfer_id, player_id, currency, amount, code, reference, counterpart, credit=False, sub=sub)
        )

    def hold_cash(
        self,
        transfer_id: UUID,
        player_id: UUID,
        currency: str,
        amount: int,
        code: str,
        reference: str,
        counterpart: Counterpart,
        sub: str = "",
    ) -> None:
        """Hold `amount` of the player's cash bound for the house `counterpart` (`insufficient_funds` beyond
        their cash); `post_hold` or `void_hold` closes it."""
        self._verbs.append(HoldCash(transfer_id, player_id, currency, amount, code, reference, counterpart, sub))

    def post_hold(self, transfer_id: UUID, hold_id: UUID, amount: int) -> None:
        """Post `amount` of a hold to where it was bound, releasing the rest to cash (0 < amount <= held)."""
        self._verbs.append(PostStake(transfer_id, hold_id, amount))

    def book_fee(
        self, transfer_id: UUID, player_id: UUID, currency: str, amount: int, connector: str, reference: str
    ) -> None:
        """Book a connector's fee on a payment of this player's (PSP fees <- the connector's clearing)."""
        self._verbs.append(BookFee(transfer_id, player_id, currency, amount, connector, reference))


def verb_result(results: Sequence[Result]) -> Result:
    """One verb's result from those of its transfers: the first refusal that is not just its chain failing,
    else `exists` when every transfer was stored already, else `ok`."""
    if len(results) == 1:
        return results[0]
    refused = [r for r in results if r is not Result.OK and r is not Result.EXISTS]
    if refused:
        return next((r for r in refused if r is not Result.LINKED_EVENT_FAILED), refused[0])
    return Result.EXISTS if all(r is Result.EXISTS for r in results) else Result.OK
