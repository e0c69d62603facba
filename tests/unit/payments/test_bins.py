"""BIN lookup: the longest matching prefix wins, ranges hold their ends, anything else is unknown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.payments.bins import BinInfo, BinTable

CSV = """iin_start,iin_end,number_length,number_luhn,scheme,brand,type,prepaid,country,bank_name
411111,,,,visa,,credit,,US,Six Bank
41111122,41111130,,,visa,,debit,true,GB,Eight Bank
520000,520099,,,mastercard,,debit,false,DE,Range Bank
abc,,,,visa,,credit,,US,bad row
"""
TABLE = BinTable.from_csv(CSV)
SIX = BinInfo("visa", "credit", None, "US", "Six Bank")
EIGHT = BinInfo("visa", "debit", True, "GB", "Eight Bank")
RANGE = BinInfo("mastercard", "debit", False, "DE", "Range Bank")


@pytest.mark.parametrize(
    ("number", "info"),
    [
        ("4111 1111 1111 1111", SIX),  # 41111111 is below the 8-digit range
        ("4111112200000000", EIGHT),
        ("4111113000000000", EIGHT),  # the range's end is in it
        ("4111113100000000", SIX),  # past the 8-digit range: the 6-digit one
        ("5200000000000000", RANGE),
        ("5200990000000000", RANGE),
        ("5201000000000000", None),
        ("4000000000000000", None),
        ("41111", None),  # shorter than any prefix
        ("not a card", None),
    ],
)
def test_the_longest_matching_prefix_wins(number: str, info: BinInfo | None) -> None:
    assert TABLE.lookup(number) == info


def test_the_shipped_ranges_load_and_answer() -> None:
    table = BinTable.shipped()
    found = table.lookup("3411420000000000")
    assert found is not None
    assert (found.scheme, found.card_type, found.country) == ("amex", "credit", "US")


@given(st.text(alphabet="0123456789 ", max_size=20))
def test_any_number_is_found_or_unknown(number: str) -> None:
    found = TABLE.lookup(number)
    assert found is None or isinstance(found, BinInfo)


def test_binlists_prepaid_flag_is_read() -> None:
    table = BinTable.shipped()
    prepaid = table.lookup("5313060000000000")
    assert prepaid is not None
    assert (prepaid.prepaid, prepaid.country, prepaid.card_type) == (True, "GB", "debit")
    flagged = [table.lookup(b + "0000000000") for b in ("453748", "467726", "467765", "516511", "528061")]
    assert all(info is not None and info.prepaid for info in flagged)
