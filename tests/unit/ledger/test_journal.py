"""The journal's columns are declared once (`ledger_transfers`): a Transfer and the table cannot part ways."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import UTC, datetime

from sqlalchemy.dialects.sqlite.base import SQLiteDialect

from sportsbook.ledger.model import Flag, Transfer
from sportsbook.ledger.store import JOURNAL_COLUMNS, TRANSFER_COLUMNS, _sqlite_rows, journal_row, transfer_of, transfers

DERIVED = {"resolves"}  # columns filled from a Transfer property, not read back


def _every_field_set() -> Transfer:
    return Transfer(
        id=uuid.uuid4(),
        debit_account_id=11,
        credit_account_id=12,
        amount=1_234,
        currency="EUR",
        code="bet_stake",
        flags=int(Flag.POST),
        reference="bet:1",
        created_at=datetime(2030, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC),
        debit_balance_after=-5,
        credit_balance_after=7,
        pending_id=uuid.uuid4(),
        target_account_id=13,
        expires_at=datetime(2030, 1, 3, tzinfo=UTC),
        seq=42,
        hash=bytes(range(32)),
    )


def test_every_transfer_field_is_a_journal_column_of_its_name() -> None:
    assert [c.name for c in TRANSFER_COLUMNS] == [f.name for f in fields(Transfer)]
    assert set(JOURNAL_COLUMNS) - {f.name for f in fields(Transfer)} == DERIVED


def test_every_journal_column_is_filled_from_the_transfer_attribute_of_its_name() -> None:
    t = _every_field_set()
    assert tuple(c.name for c in transfers.columns) == JOURNAL_COLUMNS
    assert dict(zip(JOURNAL_COLUMNS, journal_row(t), strict=True)) == {
        name: getattr(t, name) for name in JOURNAL_COLUMNS
    }
    assert t.resolves == t.pending_id


def test_a_transfer_read_back_from_its_row_is_the_same_transfer() -> None:
    t = _every_field_set()
    stored = dict(zip(JOURNAL_COLUMNS, journal_row(t), strict=True))
    naive = {**stored, "created_at": t.created_at.replace(tzinfo=None), "hash": memoryview(t.hash)}  # as drivers give
    assert transfer_of(stored[c.name] for c in TRANSFER_COLUMNS) == t
    assert transfer_of(naive[c.name] for c in TRANSFER_COLUMNS) == t


def test_the_sqlite_row_is_what_sqlalchemy_itself_would_store() -> None:
    dialect = SQLiteDialect()
    plain = _every_field_set()
    empty = Transfer(**{**{f.name: getattr(plain, f.name) for f in fields(Transfer)}, "pending_id": None})
    empty.expires_at = empty.target_account_id = None
    later = Transfer(**{f.name: getattr(plain, f.name) for f in fields(Transfer)})
    later.created_at = datetime(2031, 1, 1, tzinfo=UTC)  # not the batch's shared timestamp
    for t, row in zip([plain, empty, later], _sqlite_rows([plain, empty, later]), strict=True):
        expected = []
        for column, value in zip(transfers.columns, journal_row(t), strict=True):
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            expected.append(process(value) if process is not None and value is not None else value)
        assert list(row) == expected
