"""Stripe's decline words and the networks' codes: every code a simulated issuer answers survives the trip
through Stripe's words; the simulator reads Stripe's bracketed form keys."""

from __future__ import annotations

import pytest

from sportsbook.payments.connectors.simulated import PROFILES
from sportsbook.payments.stripe_codes import network_to_stripe, stripe_to_network
from sportsbook.payments.stripe_sim import luhn_valid, nest

CODES = sorted(
    {code for p in PROFILES.values() for code, _ in p.decline_codes + p.payout_decline_codes}
    | {"43", "51", "54", "96", "authentication_required", "authentication_failed"}
)


@pytest.mark.parametrize("code", CODES)
def test_every_simulated_code_survives_stripes_words(code: str) -> None:
    assert stripe_to_network(network_to_stripe(code)) == code


@pytest.mark.parametrize(
    ("word", "code"),
    [("insufficient_funds", "51"), ("do_not_honor", "05"), ("stolen_card", "43"), ("expired_card", "54"),
     ("processing_error", "96"), ("authentication_required", "authentication_required"), ("a_new_word", "05"),
     (None, "05")],
)  # fmt: skip
def test_stripes_words_map_to_network_codes(word: str | None, code: str) -> None:
    assert stripe_to_network(word) == code


def test_bracketed_form_keys_nest() -> None:
    pairs = [
        ("amount", "100"),
        ("payment_method_options[card][request_three_d_secure]", "any"),
        ("metadata[reference]", "r-1"),
        ("metadata[attempt_number]", "2"),
        ("expand[]", "latest_charge"),
    ]
    assert nest(pairs) == {
        "amount": "100",
        "payment_method_options": {"card": {"request_three_d_secure": "any"}},
        "metadata": {"reference": "r-1", "attempt_number": "2"},
        "expand": {"[]": "latest_charge"},
    }


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4242424242424242", True), ("4000000000003220", True), ("4242424242424241", False), ("4242", False),
     ("4242 4242 4242 4242", False)],
)  # fmt: skip
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid
