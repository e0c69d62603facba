"""Settlement reconciliation: strict parsing with line numbers, matching into the right bucket, fee keys that make
a re-import book nothing twice, and the summary the CLI prints."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.core.money import MAX_AMOUNT
from sportsbook.payments.reconciliation import (
    SETTLED_STATUS,
    Booked,
    Extra,
    FieldDifference,
    ReportError,
    RowError,
    SettlementRow,
    SettlementType,
    Total,
    fee_key,
    parse_report,
    reconcile,
    render,
)

HEADER = "connector,type,reference,psp_reference,amount,currency,fee,settled_at"
GOOD = {
    "connector": "sim-europa",
    "type": "charge",
    "reference": "pay-1",
    "psp_reference": "psp-1",
    "amount": "1050",
    "currency": "EUR",
    "fee": "25",
    "settled_at": "2026-12-05T10:00:00Z",
}
WHEN = datetime(2026, 12, 5, 10, tzinfo=UTC)

CHARGE = SettlementType.CHARGE
REFUND = SettlementType.REFUND
PAYOUT = SettlementType.PAYOUT
CHARGEBACK = SettlementType.CHARGEBACK


def line(**changes: str) -> str:
    return ",".join({**GOOD, **changes}.values())


def report(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def booked(
    reference: str,
    kind: SettlementType = CHARGE,
    *,
    amount: int = 1050,
    currency: str = "EUR",
    connector: str = "sim-europa",
    status: str | None = None,
) -> Booked:
    return Booked(kind, reference, connector, amount, currency, status or SETTLED_STATUS[kind])


def row(
    reference: str,
    type_: SettlementType = CHARGE,
    *,
    amount: int = 1050,
    currency: str = "EUR",
    connector: str = "sim-europa",
    fee: int = 0,
    at: int = 2,
) -> SettlementRow:
    return SettlementRow(at, connector, type_, reference, f"psp-{reference}", amount, currency, fee, WHEN)


# -- parsing ---------------------------------------------------------------------------------------------------


def test_a_good_report_is_read_into_rows_with_their_lines() -> None:
    parsed = parse_report(report(line(), line(reference="pay-2", type="refund", fee="0")))
    assert parsed.errors == ()
    assert parsed.rows == (
        SettlementRow(2, "sim-europa", CHARGE, "pay-1", "psp-1", 1050, "EUR", 25, WHEN),
        SettlementRow(3, "sim-europa", REFUND, "pay-2", "psp-1", 1050, "EUR", 0, WHEN),
    )


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("connector", "", "not a connector name"),
        ("connector", "sim europa", "not a connector name"),
        ("connector", "sim:europa", "not a connector name"),  # ':' would make fee keys ambiguous
        ("type", "Charge", "not one of charge, refund, payout, chargeback"),
        ("type", "fee_adjustment", "not one of"),
        ("type", "", "not one of"),
        ("reference", "", "is empty"),
        ("reference", "pay\x001", "NUL"),
        ("psp_reference", "", "is empty"),
        ("amount", "10.50", "not whole minor units"),
        ("amount", '"10,5"', "not whole minor units"),  # a decimal comma, quoted
        ("amount", "1e3", "not whole minor units"),
        ("amount", "+5", "not a whole number"),
        ("amount", "-5", "cannot be negative"),
        ("amount", "0", "must be positive"),
        ("amount", "", "not a whole number"),
        ("amount", "ten", "not a whole number"),
        ("amount", "1_000", "not a whole number"),
        ("amount", "\u0661\u0662", "not a whole number"),  # Arabic-Indic digits, which int() would take
        ("amount", str(MAX_AMOUNT + 1), "beyond the largest amount"),
        ("currency", "eur", "not an ISO 4217 currency"),
        ("currency", "EURO", "not an ISO 4217 currency"),
        ("currency", "XXX", "not an ISO 4217 currency"),
        ("currency", "", "not an ISO 4217 currency"),
        ("fee", "-1", "cannot be negative"),
        ("fee", "0.25", "not whole minor units"),
        ("fee", "", "not a whole number"),
        ("settled_at", "2026-12-05T10:00:00", "has no zone"),
        ("settled_at", "2026-12-05", "has no zone"),
        ("settled_at", "yesterday", "not an ISO 8601 time"),
        ("settled_at", "", "not an ISO 8601 time"),
    ],
)
def test_a_bad_value_is_reported_with_its_line_and_field_and_the_rest_is_read(
    field: str, value: str, says: str
) -> None:
    parsed = parse_report(report(line(), line(**{"reference": "pay-2", field: value}), line(reference="pay-3")))
    assert [r.reference for r in parsed.rows] == ["pay-1", "pay-3"]
    assert len(parsed.errors) == 1
    error = parsed.errors[0]
    assert (error.line, error.field) == (3, field)
    assert says in error.message
    assert str(error).startswith(f"line 3: {field}: ")


def test_a_zero_fee_is_no_error() -> None:
    assert parse_report(report(line(fee="0"))).rows[0].fee == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (line().rsplit(",", 1)[0], "7 fields where the header has 8"),  # a column missing
        (line() + ",extra", "9 fields where the header has 8"),
    ],
)
def test_a_row_with_the_wrong_number_of_fields_is_reported_with_its_line(text: str, says: str) -> None:
    parsed = parse_report(report(line(), text))
    assert parsed.errors == (RowError(3, None, says),)
    assert str(parsed.errors[0]) == f"line 3: {says}"


def test_every_bad_value_of_a_row_is_reported() -> None:
    parsed = parse_report(report(line(amount="1.5", currency="eur", settled_at="2026-12-05T10:00")))
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "amount"), (2, "currency"), (2, "settled_at")]
    assert parsed.rows == ()


@pytest.mark.parametrize(
    ("text", "at", "says"),
    [
        ("", 1, "empty"),
        ("\n\n", 1, "empty"),
        ("connector,type,reference,amount,currency,fee,settled_at\n", 1, "lacks psp_reference"),
        ("ref,amt\n", 1, "lacks connector, type, reference, psp_reference, amount, currency, fee, settled_at"),
        (HEADER + ",amount\n", 1, "'amount' appears twice"),
        ("\n" + HEADER.replace("fee", "fees") + "\n", 2, "lacks fee"),
        (report(line(), '"sim-europa,charge'), 3, "not valid CSV"),  # a quote never closed
    ],
)
def test_a_report_that_cannot_be_read_is_refused_with_its_line(text: str, at: int, says: str) -> None:
    with pytest.raises(ReportError) as refused:
        parse_report(text)
    assert refused.value.line == at
    assert says in str(refused.value)
    assert str(refused.value).startswith(f"line {at}: ")
    assert refused.value.code == "invalid_settlement_report"


def test_the_header_is_read_in_any_order_case_and_spacing_with_extra_columns_ignored() -> None:
    header = "\ufeff Settled_At ,Fee,CURRENCY,amount,psp_reference,reference,type,connector,merchant_account"
    values = [GOOD[c] for c in reversed(HEADER.split(","))] + ["acct-7"]
    parsed = parse_report(f"{header}\r\n{','.join(values)}\r\n")
    assert parsed.errors == ()
    assert parsed.rows == (SettlementRow(2, "sim-europa", CHARGE, "pay-1", "psp-1", 1050, "EUR", 25, WHEN),)


def test_lines_are_counted_through_blank_lines_and_quoted_line_breaks() -> None:
    text = report("", line(reference='"pay\n1"'), ",,,,,,,", line(reference="pay-2", amount="x"))
    parsed = parse_report(text)
    assert [(r.line, r.reference) for r in parsed.rows] == [(3, "pay\n1")]
    assert [(e.line, e.field) for e in parsed.errors] == [(6, "amount")]


def test_values_are_stripped_and_a_time_with_an_offset_is_kept_in_utc() -> None:
    parsed = parse_report(report(line(amount=" 1050 ", settled_at="2026-12-05T11:00:00+01:00")))
    assert parsed.rows[0].amount == 1050
    assert parsed.rows[0].settled_at == WHEN
    assert parsed.rows[0].settled_at.tzinfo == UTC


def test_a_report_may_come_as_lines_of_a_file() -> None:
    lines = report(line(), line(reference="pay-2")).splitlines(keepends=True)
    assert [r.line for r in parse_report(iter(lines)).rows] == [2, 3]


# -- matching --------------------------------------------------------------------------------------------------


def planted() -> tuple[list[Booked], str]:
    """Our records and a report with one of every mismatch planted in it."""
    ours = [
        booked("ok-charge"),
        booked("ok-refund", REFUND, amount=500),
        booked("ok-payout", PAYOUT, amount=20000, connector="sim-atlas"),
        booked("ok-charge", CHARGEBACK),  # a chargeback carries the disputed charge's reference
        booked("missing-charge"),
        booked("amount-differs"),
        booked("currency-differs", currency="GBP"),
        booked("failed-charge", status="failed"),
        booked("duplicated"),
        booked("pending-payout", PAYOUT, status="pending"),  # not settled, not in the report: nothing to say
    ]
    text = report(
        line(reference="ok-charge", fee="25"),  # 2
        line(reference="ok-refund", type="refund", amount="500", fee="0"),  # 3
        line(reference="ok-payout", type="payout", amount="20000", connector="sim-atlas", fee="100"),  # 4
        line(reference="ok-charge", type="chargeback", fee="1500"),  # 5
        line(reference="amount-differs", amount="1100", fee="26"),  # 6
        line(reference="currency-differs", currency="EUR"),  # 7
        line(reference="failed-charge"),  # 8
        line(reference="unknown-charge"),  # 9
        line(reference="duplicated", fee="25"),  # 10
        line(reference="duplicated", fee="25"),  # 11
        line(reference="bad-row", amount="10.50"),  # 12
    )
    return ours, text


def test_planted_mismatches_each_land_in_their_bucket() -> None:
    ours, text = planted()
    result = reconcile(parse_report(text), ours)

    assert [(r.type, r.reference) for r in result.matched] == [
        (CHARGE, "ok-charge"),
        (REFUND, "ok-refund"),
        (PAYOUT, "ok-payout"),
        (CHARGEBACK, "ok-charge"),
        (CHARGE, "duplicated"),
    ]
    assert [b.reference for b in result.missing] == ["missing-charge"]
    assert [(e.row.line, e.row.reference, e.our_status) for e in result.extra] == [
        (8, "failed-charge", "failed"),
        (9, "unknown-charge", None),
    ]
    assert [(d.row.line, d.row.reference, d.fields) for d in result.different] == [
        (6, "amount-differs", (FieldDifference("amount", 1050, 1100),)),
        (7, "currency-differs", (FieldDifference("currency", "GBP", "EUR"),)),
    ]
    assert [(d.row.line, d.first_line) for d in result.duplicates] == [(11, 10)]
    assert [(e.line, e.field) for e in result.row_errors] == [(12, "amount")]
    assert not result.clean


def test_fees_are_booked_for_matched_rows_only_with_stable_keys() -> None:
    ours, text = planted()
    result = reconcile(parse_report(text), ours)
    assert [(f.key, f.amount, f.currency, f.line) for f in result.fees] == [
        ("fee:sim-europa:charge:ok-charge", 25, "EUR", 2),
        ("fee:sim-atlas:payout:ok-payout", 100, "EUR", 4),
        ("fee:sim-europa:chargeback:ok-charge", 1500, "EUR", 5),
        ("fee:sim-europa:charge:duplicated", 25, "EUR", 10),  # once, though the row is there twice
    ]  # none for the refund (no fee), nor for the different row (line 6), nor for extras


def test_importing_the_same_report_again_books_no_fee_twice() -> None:
    ours, text = planted()
    first = reconcile(parse_report(text), ours)
    again = reconcile(parse_report(text), ours, already_booked_fees={f.key for f in first.fees})
    assert again.fees == ()
    assert again.fees_already_booked == len(first.fees)
    assert again.matched == first.matched


def test_a_fee_key_does_not_depend_on_row_order_line_psp_reference_or_time() -> None:
    ours = [booked("a"), booked("b")]
    one = reconcile([row("a", fee=5, at=2), row("b", fee=7, at=3)], ours)
    other = reconcile(
        [
            replace(row("b", fee=7, at=9), psp_reference="other", settled_at=datetime(2027, 1, 1, tzinfo=UTC)),
            row("a", fee=5, at=12),
        ],
        ours,
    )
    assert (
        {f.key for f in one.fees}
        == {f.key for f in other.fees}
        == {
            fee_key("sim-europa", CHARGE, "a"),
            fee_key("sim-europa", CHARGE, "b"),
        }
    )


def test_a_different_connector_is_a_difference_not_a_match() -> None:
    result = reconcile([row("a", connector="sim-atlas", amount=900)], [booked("a")])
    assert result.different[0].fields == (
        FieldDifference("connector", "sim-europa", "sim-atlas"),
        FieldDifference("amount", 1050, 900),
    )
    assert (result.matched, result.missing, result.extra) == ((), (), ())


def test_a_row_of_another_type_with_our_reference_is_extra_and_ours_missing() -> None:
    result = reconcile([row("a", REFUND)], [booked("a")])
    assert result.extra == (Extra(row("a", REFUND), None),)
    assert result.missing == (booked("a"),)


def test_only_settled_records_are_expected() -> None:
    ours = [
        booked("c", status="requires_action"),
        booked("r", REFUND, status="pending"),
        booked("p", PAYOUT, status="pending"),  # a payout the PSP has not paid yet
        booked("x", CHARGEBACK, status="failed"),
    ]
    assert reconcile([], ours).missing == ()
    assert [e.our_status for e in reconcile([row("p", PAYOUT)], ours).extra] == ["pending"]


def test_our_records_holding_a_settled_operation_twice_is_a_bug_not_a_result() -> None:
    with pytest.raises(ValueError, match="twice"):
        reconcile([], [booked("a"), booked("a")])


def test_totals_sum_the_distinct_rows_per_connector_and_currency() -> None:
    rows = [
        row("c1", amount=1000, fee=20),
        row("c2", amount=3000, fee=30, currency="GBP"),
        row("r1", REFUND, amount=400, fee=0),
        row("p1", PAYOUT, amount=500, fee=5),
        row("b1", CHARGEBACK, amount=100, fee=1500),
        row("c1", amount=1000, fee=20),  # a duplicate counts once
        row("a1", amount=700, fee=7, connector="sim-atlas"),
    ]
    assert reconcile(rows, []).totals == (
        Total("sim-atlas", "EUR", 1, 700, 7, 693),
        Total("sim-europa", "EUR", 4, 2000, 1525, 1000 - 400 - 500 - 100 - 1525),
        Total("sim-europa", "GBP", 1, 3000, 30, 2970),
    )


def test_a_report_that_agrees_with_us_is_clean() -> None:
    result = reconcile([row("a", fee=3)], [booked("a")])
    assert result.clean
    assert len(result.fees) == 1  # a fee to book is no disagreement


# -- presenting ------------------------------------------------------------------------------------------------


def test_the_summary_counts_then_lists_each_mismatch() -> None:
    ours, text = planted()
    out = render(reconcile(parse_report(text), ours))
    assert out.splitlines()[0] == (
        "Settlement report: 5 matched, 1 missing, 2 extra, 2 different, 1 duplicate, 1 unreadable row"
    )
    assert "Fees to book: 4 (16.50 EUR)" in out
    assert "  sim-atlas EUR: 1 row, gross 200.00 EUR, fees 1.00 EUR, net -201.00 EUR" in out
    # charges 1050 + 1100 + 4 x 1050, less the refund's 500 and the chargeback's 1050, less 16.51 of fees
    assert "  sim-europa EUR: 8 rows, gross 79.00 EUR, fees 16.51 EUR, net 31.49 EUR" in out
    assert "  charge missing-charge sim-europa 10.50 EUR" in out
    assert "  line 8: charge failed-charge sim-europa 10.50 EUR: ours is failed" in out
    assert "  line 9: charge unknown-charge sim-europa 10.50 EUR: unknown to us" in out
    assert "  line 6: charge amount-differs: amount 1050 / 1100" in out
    assert "  line 7: charge currency-differs: currency GBP / EUR" in out
    assert "  line 11: charge duplicated sim-europa 10.50 EUR: first on line 10" in out
    assert "  line 12: amount: '10.50' is not whole minor units: write 1050 for 10.50" in out


def test_the_summary_caps_each_list_and_says_how_many_more() -> None:
    result = reconcile([], [booked(f"m{i}") for i in range(25)])
    out = render(result, limit=3)
    missing = out.splitlines()[out.splitlines().index("Missing (settled on our side, not in the report):") :]
    assert missing[1:] == [
        "  charge m0 sim-europa 10.50 EUR",
        "  charge m1 sim-europa 10.50 EUR",
        "  charge m2 sim-europa 10.50 EUR",
        "  ... and 22 more",
    ]


def test_the_summary_of_a_fee_already_booked_says_so() -> None:
    result = reconcile([row("a", fee=3)], [booked("a")], already_booked_fees={fee_key("sim-europa", CHARGE, "a")})
    assert "Fees to book: 0; 1 booked before" in render(result)


def test_the_json_form_holds_every_mismatch_and_the_matched_count() -> None:
    ours, text = planted()
    data = json.loads(json.dumps(reconcile(parse_report(text), ours).as_json()))
    assert data["clean"] is False
    assert data["counts"] == {
        "matched": 5,
        "missing": 1,
        "extra": 2,
        "different": 2,
        "duplicates": 1,
        "row_errors": 1,
        "fees_to_book": 4,
        "fees_already_booked": 0,
    }
    assert data["missing"] == [
        {
            "type": "charge",
            "reference": "missing-charge",
            "connector": "sim-europa",
            "amount": 1050,
            "currency": "EUR",
            "status": "succeeded",
        }
    ]
    assert data["extra"][0]["our_status"] == "failed"
    assert data["extra"][0]["settled_at"] == "2026-12-05T10:00:00+00:00"
    assert data["different"][0]["fields"] == [{"field": "amount", "ours": 1050, "theirs": 1100}]
    assert data["duplicates"][0]["first_line"] == 10
    assert data["row_errors"] == [
        {"line": 12, "field": "amount", "message": "'10.50' is not whole minor units: write 1050 for 10.50"}
    ]
    assert data["fees"][0]["key"] == "fee:sim-europa:charge:ok-charge"
    assert {"connector": "sim-atlas", "currency": "EUR", "count": 1, "gross": 20000, "fees": 100, "net": -20100} in (
        data["totals"]
    )


# -- property: every planted mutation is found where it belongs, and nothing else -------------------------------

MUTATIONS = ("none", "drop", "amount", "currency", "connector", "duplicate")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Booked], list[SettlementRow], dict[str, set[tuple[str, str]]]]:
    """Our records, a report generated from them with planted mutations, and what each bucket must hold."""
    count = draw(st.integers(0, 40))
    ours: list[Booked] = []
    rows: list[SettlementRow] = []
    expect: dict[str, set[tuple[str, str]]] = {
        k: set() for k in ("matched", "missing", "extra", "different", "duplicates")
    }
    for i in range(count):
        kind = draw(st.sampled_from(list(SettlementType)))
        reference = f"ref-{i}"
        record = Booked(
            kind,
            reference,
            draw(st.sampled_from(["sim-europa", "sim-atlas"])),
            draw(st.integers(1, 10**9)),
            draw(st.sampled_from(["EUR", "GBP", "JPY"])),
            draw(st.sampled_from([SETTLED_STATUS[kind], "failed", "pending"])),
        )
        ours.append(record)
        key = (str(kind), reference)
        mine = SettlementRow(
            0,  # numbered once shuffled
            record.connector,
            kind,
            reference,
            f"psp-{i}",
            record.amount,
            record.currency,
            draw(st.integers(0, 500)),
            WHEN,
        )
        if not record.settled:
            if draw(st.booleans()):  # a failure on our side the PSP says it settled
                rows.append(mine)
                expect["extra"].add(key)
            continue
        mutation = draw(st.sampled_from(MUTATIONS))
        if mutation == "drop":
            expect["missing"].add(key)
            continue
        if mutation == "amount":
            mine = replace(mine, amount=record.amount + draw(st.integers(1, 1000)))
        elif mutation == "currency":
            mine = replace(mine, currency="USD")
        elif mutation == "connector":
            mine = replace(mine, connector="sim-rogue")
        rows.append(mine)
        expect["different" if mutation in ("amount", "currency", "connector") else "matched"].add(key)
        if mutation == "duplicate":
            rows.append(replace(mine, psp_reference=f"psp-{i}-again"))
            expect["duplicates"].add(key)
    for j in range(draw(st.integers(0, 5))):  # operations we never heard of
        kind = draw(st.sampled_from(list(SettlementType)))
        rows.append(SettlementRow(0, "sim-europa", kind, f"stranger-{j}", f"psp-s{j}", 1, "EUR", 0, WHEN))
        expect["extra"].add((str(kind), f"stranger-{j}"))
    shuffled = draw(st.permutations(rows))
    return ours, [replace(r, line=n) for n, r in enumerate(shuffled, start=2)], expect


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_planted_mutation_is_reported_in_its_bucket_and_nothing_else(
    scenario: tuple[list[Booked], list[SettlementRow], dict[str, set[tuple[str, str]]]],
) -> None:
    ours, rows, expect = scenario
    result = reconcile(rows, ours)
    found = {
        "matched": [(str(r.type), r.reference) for r in result.matched],
        "missing": [(str(b.kind), b.reference) for b in result.missing],
        "extra": [(str(e.row.type), e.row.reference) for e in result.extra],
        "different": [(str(d.row.type), d.row.reference) for d in result.different],
        "duplicates": [(str(d.row.type), d.row.reference) for d in result.duplicates],
    }
    for bucket, keys in found.items():
        assert sorted(keys) == sorted(expect[bucket]), bucket
    assert {f.key for f in result.fees} == {
        fee_key(r.connector, r.type, r.reference) for r in result.matched if r.fee > 0
    }
    assert all(d.first_line < d.row.line for d in result.duplicates)
    assert sum(t.count for t in result.totals) == len(rows) - len(expect["duplicates"])
