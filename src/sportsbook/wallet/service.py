"""Wallet use cases: what a player holds, what moved, and audited manual adjustments by staff."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sportsbook.core.clock import Clock
from sportsbook.core.errors import InsufficientFunds, InvalidCursor, InvalidRequest
from sportsbook.core.ids import derived_id
from sportsbook.core.money import check_amount
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.ledger.service import Ledger, StatementLine
from sportsbook.ledger.verbs import Movements, Result
from sportsbook.players.model import PlayerNotFound
from sportsbook.wallet.events import WalletAdjustedV1
from sportsbook.wallet.store import WalletStore


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A manual credit (positive) or debit (negative) of a player's cash, and the balance it left."""

    id: UUID
    player_id: UUID
    amount: int
    currency: str
    balance_after: int


@dataclass(frozen=True, slots=True)
class StatementPage:
    items: list[StatementLine]
    next_cursor: str | None


class Wallets:
    """The player-facing side of the ledger."""

    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self.ledger = ledger
        self.clock = clock

    async def transactions(self, player_id: UUID, currency: str, limit: int, cursor: str | None) -> StatementPage:
        """The player's cash movements, newest first, `limit` at a time."""
        before: int | None = None
        if cursor is not None:
            if not cursor.isdigit() or len(cursor) > 18:
                raise InvalidCursor()
            before = int(cursor)
        lines = await self.ledger.statement(player_id, currency, limit=limit + 1, before_seq=before)
        more = len(lines) > limit
        lines = lines[:limit]
        return StatementPage(lines, str(lines[-1].seq) if more and lines else None)

    async def adjust(
        self,
        uow: UnitOfWork,
        *,
        adjustment_id: UUID,
        player_id: UUID,
        currency: str,
        amount: int,
        reason: str,
        staff_id: UUID,
    ) -> Adjustment:
        """Credit or debit the player's cash against the house adjustments account, audited, in the caller's
        unit of work (the Idempotency-Key's)."""
        check_amount(abs(amount))
        if not reason.strip():
            raise InvalidRequest("a reason is required")
        now = self.clock.now()
        transfer_id = derived_id("adjustment", adjustment_id)
        reference = f"adjustment:{adjustment_id}"
        moves = Movements()
        if amount > 0:
            moves.credit_cash(transfer_id, player_id, currency, amount, "adjustment", reference)
        else:
            moves.debit_cash(transfer_id, player_id, currency, -amount, "adjustment", reference)
        (result,) = await self.ledger.apply(uow, moves)
        if result is Result.ACCOUNT_NOT_FOUND:
            raise PlayerNotFound()
        if result is Result.INSUFFICIENT_FUNDS:
            raise InsufficientFunds("the debit is larger than the player's cash balance")
        if result is not Result.OK:
            raise InvalidRequest(f"the ledger refused the adjustment: {result.value}")
        await uow.store(WalletStore).insert_adjustment(
            adjustment_id=adjustment_id,
            player_id=player_id,
            amount=amount,
            currency=currency,
            reason=reason,
            staff_id=staff_id,
            transfer_id=transfer_id,
            now=now,
        )
        balance = (await self.ledger.wallet_in(uow, player_id, currency)).cash
        await uow.outbox.add(
            [WalletAdjustedV1(adjustment_id, player_id, amount, currency, reason, staff_id, transfer_id, now)]
        )
        return Adjustment(adjustment_id, player_id, amount, currency, balance)
