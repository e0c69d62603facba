"""Stripe's decline words and the networks' codes the platform speaks, one table both ways (pure).

Stripe answers a decline with a word (`decline_code`: `insufficient_funds`, `do_not_honor`, ...) and, on recent
API versions, the network's own code beside it (`network_decline_code`). The connector prefers the network's code;
where only the word is there it maps the word with this table, and keeps the word in the result's message."""

from __future__ import annotations

STRIPE_TO_NETWORK: dict[str, str] = {
    "do_not_honor": "05",
    "generic_decline": "05",
    "call_issuer": "01",
    "pickup_card": "04",
    "incorrect_number": "14",
    "invalid_number": "14",
    "invalid_account": "14",
    "invalid_amount": "13",
    "lost_card": "41",
    "stolen_card": "43",
    "insufficient_funds": "51",
    "expired_card": "54",
    "incorrect_pin": "55",
    "transaction_not_allowed": "57",
    "not_permitted": "57",
    "card_not_supported": "57",
    "fraudulent": "59",
    "card_velocity_exceeded": "61",
    "restricted_card": "62",
    "security_violation": "63",
    "withdrawal_count_limit_exceeded": "65",
    "issuer_not_available": "91",
    "processing_error": "96",
    "try_again_later": "19",
    "authentication_required": "authentication_required",
    "payment_intent_authentication_failure": "authentication_failed",
    # payout failures (a card payout's, or the platform account's)
    "declined": "05",
    "account_closed": "14",
    "unsupported_card": "57",
    "could_not_process": "96",
}

# The word the simulator sends for a network code: the first word of the table that maps to it.
NETWORK_TO_STRIPE: dict[str, str] = {}
for _word, _code in STRIPE_TO_NETWORK.items():
    NETWORK_TO_STRIPE.setdefault(_code, _word)


def stripe_to_network(word: str | None) -> str:
    """The network's code for a Stripe decline word; an unknown word is a generic decline ("05")."""
    return STRIPE_TO_NETWORK.get(word or "", "05")


def network_to_stripe(code: str | None) -> str:
    """Stripe's word for a network code; an unknown code is `generic_decline`."""
    return NETWORK_TO_STRIPE.get(code or "", "generic_decline")
