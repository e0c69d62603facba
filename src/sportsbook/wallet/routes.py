"""HTTP for the wallet: balances and statement for players, adjustments for staff."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from sportsbook.core.errors import InsufficientFunds, Unauthorized
from sportsbook.core.ids import new_id
from sportsbook.core.money import InvalidAmount
from sportsbook.idempotency.service import Once, idempotency_key
from sportsbook.ledger.service import Wallet
from sportsbook.ops.openapi import error_responses
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import current_player, require_role
from sportsbook.players.model import PlayerNotFound, Principal, Role
from sportsbook.wallet.service import Adjustment

router = APIRouter(tags=["wallet"])


class WalletOut(BaseModel):
    currency: str
    cash: int
    bonus: int
    reserved: int
    withdrawable: int

    @classmethod
    def of(cls, wallet: Wallet) -> WalletOut:
        return cls(
            currency=wallet.currency,
            cash=wallet.cash,
            bonus=wallet.bonus,
            reserved=wallet.reserved,
            withdrawable=wallet.withdrawable,
        )


class TransactionOut(BaseModel):
    id: UUID
    kind: str
    amount: int
    balance_after: int
    reference: str
    created_at: datetime


class TransactionsOut(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    player_id: UUID
    amount: StrictInt = Field(description="Signed minor units: positive credits, negative debits the cash")
    reason: str = Field(min_length=1, max_length=500)


class AdjustmentOut(BaseModel):
    id: UUID
    player_id: UUID
    amount: int
    currency: str
    balance_after: int


@router.get("/api/v1/wallet", response_model=WalletOut)
async def get_wallet(
    player: Principal = Depends(current_player), platform: Platform = Depends(get_platform)
) -> WalletOut:
    assert player.currency is not None
    return WalletOut.of(await platform.ledger.wallet(player.id, player.currency))


@router.get("/api/v1/wallet/transactions", response_model=TransactionsOut)
async def get_transactions(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> TransactionsOut:
    assert player.currency is not None
    page = await platform.wallets.transactions(player.id, player.currency, limit, cursor)
    return TransactionsOut(
        items=[
            TransactionOut(
                id=line.id,
                kind=line.kind,
                amount=line.amount,
                balance_after=line.balance_after,
                reference=line.reference,
                created_at=line.created_at,
            )
            for line in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/api/v1/admin/adjustments",
    status_code=201,
    response_model=AdjustmentOut,
    responses=error_responses(InsufficientFunds, PlayerNotFound, InvalidAmount),
)
async def post_adjustment(
    body: AdjustmentIn,
    request: Request,
    key: str = Depends(idempotency_key),
    staff: Principal = Depends(require_role(Role.PAYMENTS)),
    platform: Platform = Depends(get_platform),
) -> JSONResponse:
    """A signed manual credit or debit of a player's cash, audited and idempotent."""
    try:
        profile = await platform.players.profile(body.player_id)
    except Unauthorized as exc:
        raise PlayerNotFound() from exc
    if profile.role is not Role.PLAYER or profile.currency is None:
        raise PlayerNotFound()
    currency = profile.currency

    use_case = partial(
        platform.wallets.adjust,
        adjustment_id=new_id(),
        player_id=body.player_id,
        currency=currency,
        amount=body.amount,
        reason=body.reason,
        staff_id=staff.id,
    )
    once = Once.of(f"user:{staff.id}", key, "POST", request.url.path, body.model_dump(mode="json"))
    status, payload = await platform.idempotency.run(once, use_case, _adjustment_answer)
    return JSONResponse(payload, status_code=status)


def _adjustment_answer(adjustment: Adjustment) -> tuple[int, dict[str, Any]]:
    out = AdjustmentOut(
        id=adjustment.id,
        player_id=adjustment.player_id,
        amount=adjustment.amount,
        currency=adjustment.currency,
        balance_after=adjustment.balance_after,
    )
    return 201, out.model_dump(mode="json")
