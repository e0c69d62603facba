"""PSP settlement reconciliation, pure: read a PSP's settlement report, match it against what we booked, and say
what is missing, extra or different, and which fees to book. The service reads our side from the database and
books the fees through the ledger; nothing here does I/O.

The report format
-----------------
CSV (RFC 4180, UTF-8; a leading byte-order mark is ignored), one header line, then one line per settled
operation. Column names are matched without regard to case or surrounding spaces; their order is free and
columns beyond these are ignored, so a PSP's export maps to this one by renaming its columns and converting
its values:

- ``connector``: our connector's name (``sim-europa``, ``stripe``): letters, digits, ``.``, ``_``, ``-``
- ``type``: ``charge``, ``refund``, ``payout`` or ``chargeback`` (lower case)
- ``reference``: our reference, the one we gave the PSP (for a chargeback: the disputed charge's)
- ``psp_reference``: the PSP's own id of the operation
- ``amount``: minor units, a positive integer: ``1050`` is 10.50 EUR (never ``10.50``, ``1e3`` or ``+5``); a
  refund's, payout's or chargeback's direction is its type, never a sign
- ``currency``: ISO 4217, upper case, one the platform supports (``EUR``)
- ``fee``: what the PSP charged us for the operation, minor units of its currency, an integer, 0 if none
- ``settled_at``: ISO 8601 with a zone: ``2026-12-05T10:00:00Z``, ``2026-12-05T11:00:00+01:00``

Values are stripped of surrounding spaces; blank lines (and lines of empty fields) are skipped. A row with a bad
value is not read: it is reported by its line number (and field), and the rest of the report is still
reconciled. A header that lacks a column or repeats one, or text that is not CSV (a quote left open), refuses the
whole report (`ReportError`).

Matching
--------
A row matches what we booked by ``(type, reference)``; each such key may appear once in a report (a second
row with it is a duplicate, reported, and otherwise ignored: the first row is the one matched and totalled).
What we expect in the report is what we recorded as settled (`SETTLED_STATUS`): a succeeded charge, a
succeeded refund, payout and chargeback. Then:

- matched: the row's connector, amount and currency equal ours;
- different: same type and reference, but connector, amount or currency differ (each field, ours and theirs);
- missing: we recorded it settled, and the report has no row for it;
- extra: a row for which we have no settled record (none at all, or one that failed or is still pending).

Fees are booked for matched rows only (a different row's fee waits until the difference is resolved and the
report imported again). Each fee has a stable key, ``fee:{connector}:{type}:{reference}``, from which the service
derives the ledger transfer's id, so importing a report again books no fee twice. Connector names cannot hold
``:``, and types are fixed words, so a key names one row only."""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sportsbook.core.errors import InvalidRequest
from sportsbook.core.money import CURRENCY_EXPONENTS, MAX_AMOUNT


class SettlementType(enum.StrEnum):
    """What a settled operation is: the report's `type` column and our records' `kind`."""

    CHARGE = "charge"
    REFUND = "refund"
    PAYOUT = "payout"
    CHARGEBACK = "chargeback"


# The status a record of each kind has once money has moved, so the PSP's report must show it.
SETTLED_STATUS: Mapping[SettlementType, str] = {
    SettlementType.CHARGE: "succeeded",
    SettlementType.REFUND: "succeeded",
    SettlementType.PAYOUT: "succeeded",
    SettlementType.CHARGEBACK: "succeeded",
}

# Money towards us: the sign each type's amount takes in a settlement's net.
_DIRECTION: Mapping[SettlementType, int] = {
    SettlementType.CHARGE: 1,
    SettlementType.REFUND: -1,
    SettlementType.PAYOUT: -1,
    SettlementType.CHARGEBACK: -1,
}

COLUMNS: tuple[str, ...] = (
    "connector",
    "type",
    "reference",
    "psp_reference",
    "amount",
    "currency",
    "fee",
    "settled_at",
)

# ASCII digits only: int() would take "+5", "1_000", " 7" and other scripts' digits.
_DIGITS = re.compile(r"[0-9]+")
_CONNECTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DECIMAL = re.compile(r"[+-]?[0-9]*[.,][0-9]+|[+-]?[0-9.]+[eE][+-]?[0-9]+")
_TYPES: Mapping[str, SettlementType] = {t.value: t for t in SettlementType}


class ReportError(InvalidRequest):
    """The settlement report cannot be read at all (its header, or its CSV)."""

    code = "invalid_settlement_report"

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RowError:
    """A report line that was not read, and why. `field` is None when the line as a whole is wrong."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}" if self.field else f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class SettlementRow:
    """One line of a PSP's settlement report, read and checked. `line` is where it starts in the file."""

    line: int
    connector: str
    type: SettlementType
    reference: str
    psp_reference: str
    amount: int
    currency: str
    fee: int
    settled_at: datetime  # aware, in UTC

    @property
    def key(self) -> tuple[SettlementType, str]:
        return (self.type, self.reference)


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """A report's readable rows, in file order, and its unreadable ones."""

    rows: tuple[SettlementRow, ...]
    errors: tuple[RowError, ...]


@dataclass(frozen=True, slots=True)
class Booked:
    """What our side recorded of one operation with a PSP. Only a settled one (`SETTLED_STATUS`) is expected in a
    report."""

    kind: SettlementType
    reference: str
    connector: str
    amount: int
    currency: str
    status: str

    @property
    def settled(self) -> bool:
        return SETTLED_STATUS[self.kind] == self.status

    @property
    def key(self) -> tuple[SettlementType, str]:
        return (self.kind, self.reference)


@dataclass(frozen=True, slots=True)
class Extra:
    """A report row we have no settled record for; `our_status` is what we have instead (None: nothing)."""

    row: SettlementRow
    our_status: str | None


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str  # connector, amount or currency
    ours: str | int
    theirs: str | int


@dataclass(frozen=True, slots=True)
class Different:
    """A report row and our settled record with its type and reference that disagree on `fields`."""

    row: SettlementRow
    booked: Booked
    fields: tuple[FieldDifference, ...]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A report row whose type and reference an earlier row (on `first_line`) already had."""

    row: SettlementRow
    first_line: int


@dataclass(frozen=True, slots=True)
class Fee:
    """A PSP's fee on a matched row, to book. `key` is stable across imports of the same report."""

    key: str
    connector: str
    type: SettlementType
    reference: str
    amount: int
    currency: str
    line: int


@dataclass(frozen=True, slots=True)
class Total:
    """A connector's settled operations in one currency, as the report says (its distinct rows). `net` is the
    money towards us: charges less refunds, payouts, chargebacks and fees."""

    connector: str
    currency: str
    count: int
    gross: int
    fees: int
    net: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The outcome of matching a report against our records: every bucket in report order (missing: in our
    records' order), and the totals sorted by connector and currency."""

    matched: tuple[SettlementRow, ...]
    missing: tuple[Booked, ...]
    extra: tuple[Extra, ...]
    different: tuple[Different, ...]
    duplicates: tuple[Duplicate, ...]
    fees: tuple[Fee, ...]
    fees_already_booked: int
    totals: tuple[Total, ...]
    row_errors: tuple[RowError, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether the report and our records agree entirely (fees to book are no disagreement)."""
        return not (self.missing or self.extra or self.different or self.duplicates or self.row_errors)

    def as_json(self) -> dict[str, object]:
        """Everything but the matched rows themselves (their count only), for `--json`."""
        return {
            "clean": self.clean,
            "counts": self._counts(),
            "missing": [_booked_json(b) for b in self.missing],
            "extra": [{**_row_json(e.row), "our_status": e.our_status} for e in self.extra],
            "different": [
                {
                    **_row_json(d.row),
                    "fields": [{"field": f.field, "ours": f.ours, "theirs": f.theirs} for f in d.fields],
                }
                for d in self.different
            ],
            "duplicates": [{**_row_json(d.row), "first_line": d.first_line} for d in self.duplicates],
            "row_errors": [{"line": e.line, "field": e.field, "message": e.message} for e in self.row_errors],
            "fees": [
                {
                    "key": f.key,
                    "connector": f.connector,
                    "type": str(f.type),
                    "reference": f.reference,
                    "amount": f.amount,
                    "currency": f.currency,
                    "line": f.line,
                }
                for f in self.fees
            ],
            "totals": [
                {
                    "connector": t.connector,
                    "currency": t.currency,
                    "count": t.count,
                    "gross": t.gross,
                    "fees": t.fees,
                    "net": t.net,
                }
                for t in self.totals
            ],
        }

    def _counts(self) -> dict[str, int]:
        return {
            "matched": len(self.matched),
            "missing": len(self.missing),
            "extra": len(self.extra),
            "different": len(self.different),
            "duplicates": len(self.duplicates),
            "row_errors": len(self.row_errors),
            "fees_to_book": len(self.fees),
            "fees_already_booked": self.fees_already_booked,
        }


def fee_key(connector: str, type_: SettlementType, reference: str) -> str:
    """The stable key of a row's fee; the service derives the fee transfer's id from it."""
    return f"fee:{connector}:{type_}:{reference}"


# -- parsing -------------------------------------------------------------------------------------------------


def parse_report(text: str | Iterable[str]) -> ParsedReport:
    """Read a settlement report (the whole text, or its lines with their line ends as a file opened with
    ``newline=""`` gives them). Bad rows are returned as errors; a bad header or broken CSV raises
    `ReportError`."""
    lines: Iterable[str] = io.StringIO(text, newline="") if isinstance(text, str) else text
    records = _records(lines)
    header = next(records, None)
    if header is None:
        raise ReportError(1, "the report is empty: a header line is expected")
    header_line, names = header
    index = _columns(header_line, names)
    positions = [index[column] for column in COLUMNS]
    width = len(names)
    rows: list[SettlementRow] = []
    errors: list[RowError] = []
    for line, values in records:
        if len(values) != width:
            errors.append(RowError(line, None, f"{len(values)} fields where the header has {width}"))
            continue
        fields = [values[i].strip() for i in positions]
        # A fast path for the good row, which a million-row report is made of; anything it doubts goes to
        # `_row`, which decides and says why. It accepts nothing `_row` would refuse.
        connector, type_text, reference, psp_reference, amount, currency, fee, settled_at = fields
        type_ = _TYPES.get(type_text)
        if (
            type_ is not None
            and reference
            and psp_reference
            and "\x00" not in reference
            and "\x00" not in psp_reference
            and currency in CURRENCY_EXPONENTS
            and _CONNECTOR.fullmatch(connector)
            and _DIGITS.fullmatch(amount)
            and _DIGITS.fullmatch(fee)
        ):
            amount_, fee_, when = int(amount), int(fee), _instant(settled_at)
            if 0 < amount_ <= MAX_AMOUNT and fee_ <= MAX_AMOUNT and isinstance(when, datetime):
                rows.append(
                    SettlementRow(line, connector, type_, reference, psp_reference, amount_, currency, fee_, when)
                )
                continue
        row = _row(line, dict(zip(COLUMNS, fields, strict=True)), errors)
        if row is not None:
            rows.append(row)
    return ParsedReport(tuple(rows), tuple(errors))


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    # Spreadsheets write UTF-8 with a byte-order mark, which would become part of the first column's name.
    first = True
    for line in lines:
        yield line.removeprefix("\ufeff") if first else line
        first = False


def _records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record with the line it starts on (a quoted field may span lines)."""
    reader = csv.reader(_without_bom(lines), strict=True)
    before = 0
    try:
        for values in reader:
            start, before = before + 1, reader.line_num
            # A blank line, or a spreadsheet's line of empty fields; the first field's test spares the rest.
            if values and (values[0].strip() or any(v.strip() for v in values)):
                yield start, values
    except csv.Error as e:
        raise ReportError(before + 1, f"not valid CSV ({e})") from None


def _columns(line: int, names: list[str]) -> dict[str, int]:
    """Where each required column is, or `ReportError`."""
    index: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = raw.strip().lower()
        if name in index:
            raise ReportError(line, f"column {name!r} appears twice in the header")
        if name in COLUMNS:
            index[name] = i
    absent = [c for c in COLUMNS if c not in index]
    if absent:
        raise ReportError(line, f"the header lacks {', '.join(absent)} (it must name {', '.join(COLUMNS)})")
    return index


def _row(line: int, v: dict[str, str], errors: list[RowError]) -> SettlementRow | None:
    """The row if every value is good; otherwise each bad value goes to `errors`."""
    found = len(errors)

    def bad(column: str, message: str) -> None:
        errors.append(RowError(line, column, message))

    for column, value in v.items():
        if "\x00" in value:  # PostgreSQL's text cannot hold NUL
            bad(column, "holds a NUL character")
    if len(errors) > found:
        return None

    connector = v["connector"]
    if not _CONNECTOR.fullmatch(connector):
        bad("connector", f"{connector!r} is not a connector name (letters, digits, '.', '_', '-')")
    type_ = _TYPES.get(v["type"])
    if type_ is None:
        bad("type", f"{v['type']!r} is not one of {', '.join(SettlementType)}")
    for column in ("reference", "psp_reference"):
        if not v[column]:
            bad(column, "is empty")
    amount = _minor_units(v["amount"], positive=True)
    if isinstance(amount, str):
        bad("amount", amount)
    fee = _minor_units(v["fee"], positive=False)
    if isinstance(fee, str):
        bad("fee", fee)
    currency = v["currency"]
    if currency not in CURRENCY_EXPONENTS:
        bad("currency", f"{currency!r} is not an ISO 4217 currency the platform supports (upper case: EUR)")
    settled_at = _instant(v["settled_at"])
    if isinstance(settled_at, str):
        bad("settled_at", settled_at)

    # Every bad value was recorded above; the type checks only tell the checker so.
    if type_ is None or isinstance(amount, str) or isinstance(fee, str) or isinstance(settled_at, str):
        return None
    if len(errors) > found:
        return None
    return SettlementRow(
        line=line,
        connector=connector,
        type=type_,
        reference=v["reference"],
        psp_reference=v["psp_reference"],
        amount=amount,
        currency=currency,
        fee=fee,
        settled_at=settled_at,
    )


def _minor_units(value: str, *, positive: bool) -> int | str:
    """The amount, or what is wrong with it."""
    if not _DIGITS.fullmatch(value):
        if _DECIMAL.fullmatch(value):
            return f"{value!r} is not whole minor units: write 1050 for 10.50"
        if value.startswith("-") and _DIGITS.fullmatch(value[1:]):
            return "cannot be negative (the type says which way money went)"
        return f"{value!r} is not a whole number of minor units"
    amount = int(value)
    if positive and amount == 0:
        return "must be positive"
    if amount > MAX_AMOUNT:
        return f"{amount} is beyond the largest amount the platform takes ({MAX_AMOUNT})"
    return amount


def _instant(value: str) -> datetime | str:
    """The time in UTC, or what is wrong with it."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not an ISO 8601 time"
    if when.utcoffset() is None:
        return f"{value!r} has no zone (write Z or an offset such as +01:00)"
    return when.astimezone(UTC)


# -- matching ------------------------------------------------------------------------------------------------


def reconcile(
    report: ParsedReport | Iterable[SettlementRow],
    booked: Iterable[Booked],
    *,
    already_booked_fees: Iterable[str] = (),
) -> Reconciliation:
    """Match a report's rows against our records, in one pass over each. `already_booked_fees` holds the
    `Fee.key` of every fee booked before (by an earlier import), which are not booked again. A parsed report's
    row errors are carried into the result."""
    rows, row_errors = (report.rows, report.errors) if isinstance(report, ParsedReport) else (report, ())
    # Keyed by type, then reference: string keys in one dict a type, rather than a tuple built per row.
    expected: dict[SettlementType, dict[str, Booked]] = {t: {} for t in SettlementType}
    unsettled: dict[SettlementType, dict[str, Booked]] = {t: {} for t in SettlementType}
    in_order: list[Booked] = []
    for record in booked:
        settled = SETTLED_STATUS[record.kind] == record.status
        if settled:
            in_order.append(record)
        into = (expected if settled else unsettled)[record.kind]
        if record.reference in into:
            raise ValueError(f"our records hold {record.kind} {record.reference!r} twice")
        into[record.reference] = record
    done = set(already_booked_fees)

    seen: dict[SettlementType, dict[str, int]] = {t: {} for t in SettlementType}
    matched: list[SettlementRow] = []
    extra: list[Extra] = []
    different: list[Different] = []
    duplicates: list[Duplicate] = []
    fees: list[Fee] = []
    fees_already_booked = 0
    totals: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        seen_of_type = seen[row.type]
        first = seen_of_type.get(row.reference)
        if first is not None:
            duplicates.append(Duplicate(row, first))
            continue
        seen_of_type[row.reference] = row.line
        total = totals.get((row.connector, row.currency))
        if total is None:
            total = totals[(row.connector, row.currency)] = [0, 0, 0, 0]
        total[0] += 1
        total[1] += row.amount
        total[2] += row.fee
        total[3] += _DIRECTION[row.type] * row.amount - row.fee

        ours = expected[row.type].get(row.reference)
        if ours is None:
            other = unsettled[row.type].get(row.reference)
            extra.append(Extra(row, other.status if other is not None else None))
            continue
        if ours.amount != row.amount or ours.currency != row.currency or ours.connector != row.connector:
            different.append(Different(row, ours, _differences(ours, row)))
            continue
        matched.append(row)
        if row.fee > 0:
            fkey = fee_key(row.connector, row.type, row.reference)
            if fkey in done:
                fees_already_booked += 1
            else:
                fees.append(Fee(fkey, row.connector, row.type, row.reference, row.fee, row.currency, row.line))

    return Reconciliation(
        matched=tuple(matched),
        missing=tuple(b for b in in_order if b.reference not in seen[b.kind]),
        extra=tuple(extra),
        different=tuple(different),
        duplicates=tuple(duplicates),
        fees=tuple(fees),
        fees_already_booked=fees_already_booked,
        totals=tuple(Total(c, cur, *t) for (c, cur), t in sorted(totals.items())),
        row_errors=tuple(row_errors),
    )


def _differences(ours: Booked, row: SettlementRow) -> tuple[FieldDifference, ...]:
    fields: list[FieldDifference] = []
    if ours.connector != row.connector:
        fields.append(FieldDifference("connector", ours.connector, row.connector))
    if ours.amount != row.amount:
        fields.append(FieldDifference("amount", ours.amount, row.amount))
    if ours.currency != row.currency:
        fields.append(FieldDifference("currency", ours.currency, row.currency))
    return tuple(fields)


# -- presenting ----------------------------------------------------------------------------------------------


def render(reconciliation: Reconciliation, *, limit: int = 20) -> str:
    """A readable summary for the CLI: the counts, the totals, then each kind of mismatch, `limit` lines each."""
    r = reconciliation
    fee_sums: dict[str, int] = {}
    for f in r.fees:
        fee_sums[f.currency] = fee_sums.get(f.currency, 0) + f.amount
    out = [
        "Settlement report: "
        + ", ".join(
            [
                f"{len(r.matched):,} matched",
                f"{len(r.missing):,} missing",
                f"{len(r.extra):,} extra",
                f"{len(r.different):,} different",
                _count(len(r.duplicates), "duplicate"),
                _count(len(r.row_errors), "unreadable row"),
            ]
        ),
        f"Fees to book: {len(r.fees):,}"
        + (f" ({', '.join(_money(a, c) for c, a in sorted(fee_sums.items()))})" if fee_sums else "")
        + (f"; {r.fees_already_booked:,} booked before" if r.fees_already_booked else ""),
    ]
    if r.totals:
        out.append("Totals by connector and currency (the report's distinct rows):")
        out.extend(
            f"  {t.connector} {t.currency}: {_count(t.count, 'row')}, gross {_money(t.gross, t.currency)}, "
            f"fees {_money(t.fees, t.currency)}, net {_money(t.net, t.currency)}"
            for t in r.totals
        )
    _section(
        out,
        "Missing (settled on our side, not in the report)",
        [f"  {b.kind} {b.reference} {b.connector} {_money(b.amount, b.currency)}" for b in r.missing],
        limit,
    )
    _section(
        out,
        "Extra (in the report, not settled on our side)",
        [
            f"  line {e.row.line}: {_describe(e.row)}: "
            + ("unknown to us" if e.our_status is None else f"ours is {e.our_status}")
            for e in r.extra
        ],
        limit,
    )
    _section(
        out,
        "Different (ours / theirs)",
        [
            f"  line {d.row.line}: {d.row.type} {d.row.reference}: "
            + "; ".join(f"{f.field} {f.ours} / {f.theirs}" for f in d.fields)
            for d in r.different
        ],
        limit,
    )
    _section(
        out,
        "Duplicates (the first row is the one reconciled)",
        [f"  line {d.row.line}: {_describe(d.row)}: first on line {d.first_line}" for d in r.duplicates],
        limit,
    )
    _section(out, "Unreadable rows", [f"  {e}" for e in r.row_errors], limit)
    return "\n".join(out)


def _section(out: list[str], title: str, lines: Sequence[str], limit: int) -> None:
    if not lines:
        return
    out.append(f"{title}:")
    out.extend(lines[:limit])
    if len(lines) > limit:
        out.append(f"  ... and {len(lines) - limit:,} more")


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}" if n == 1 else f"{n:,} {thing}s"


def _describe(row: SettlementRow) -> str:
    return f"{row.type} {row.reference} {row.connector} {_money(row.amount, row.currency)}"


def _money(amount: int, currency: str) -> str:
    exp = CURRENCY_EXPONENTS.get(currency, 0)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole:,}.{frac:0{exp}d} {currency}" if exp else f"{sign}{whole:,} {currency}"


def _row_json(row: SettlementRow) -> dict[str, object]:
    return {
        "line": row.line,
        "connector": row.connector,
        "type": str(row.type),
        "reference": row.reference,
        "psp_reference": row.psp_reference,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "settled_at": row.settled_at.isoformat(),
    }


def _booked_json(b: Booked) -> dict[str, object]:
    return {
        "type": str(b.kind),
        "reference": b.reference,
        "connector": b.connector,
        "amount": b.amount,
        "currency": b.currency,
        "status": b.status,
    }
