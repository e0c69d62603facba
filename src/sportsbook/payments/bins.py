"""BIN intelligence, pure: a card number's scheme, card type, prepaid flag and issuer country from public BIN
ranges (`data/bin-ranges.csv`, binlist's, Apache-2.0). A lookup is O(log n) and prefers the longest matching
prefix: an 8-digit range over the 6-digit range it refines."""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files


@dataclass(frozen=True, slots=True)
class BinInfo:
    """What a BIN range says of its cards (None where the data does not say)."""

    scheme: str | None
    card_type: str | None  # credit, debit
    prepaid: bool | None
    country: str | None  # ISO 3166 alpha-2 of the issuer
    bank: str | None


_FLAGS = {"y": True, "yes": True, "true": True, "1": True, "n": False, "no": False, "false": False, "0": False}


class _Ranges:
    """Non-overlapping ranges of one prefix length, sorted by start: the last start at or below a key is the
    only range that may hold it."""

    def __init__(self, rows: list[tuple[int, int, BinInfo]]) -> None:
        rows.sort(key=lambda r: r[0])
        self.starts = [r[0] for r in rows]
        self.rows = rows

    def find(self, key: int) -> BinInfo | None:
        i = bisect_right(self.starts, key) - 1
        if i < 0:
            return None
        _start, end, info = self.rows[i]
        return info if key <= end else None


class BinTable:
    """BIN ranges by prefix length, longest first."""

    def __init__(self, rows: Iterable[dict[str, str]]) -> None:
        by_length: dict[int, list[tuple[int, int, BinInfo]]] = {}
        for row in rows:
            start = row["iin_start"].strip()
            if not start.isdigit():
                continue
            end = row.get("iin_end", "").strip() or start
            if not end.isdigit() or len(end) != len(start):
                continue
            prepaid = _FLAGS.get(row.get("prepaid", "").strip().lower())  # binlist writes "y"
            info = BinInfo(
                scheme=row.get("scheme") or None,
                card_type=row.get("type") or None,
                prepaid=prepaid,
                country=row.get("country") or None,
                bank=row.get("bank_name") or None,
            )
            by_length.setdefault(len(start), []).append((int(start), int(end), info))
        self._tables = [(length, _Ranges(rows_)) for length, rows_ in sorted(by_length.items(), reverse=True)]

    def lookup(self, number: str) -> BinInfo | None:
        """The BIN data of a card number (digits; spaces allowed), by its longest matching prefix; None if no
        range holds it."""
        digits = number.replace(" ", "")
        if not digits.isdigit():
            return None
        for length, ranges in self._tables:
            if len(digits) >= length:
                found = ranges.find(int(digits[:length]))
                if found is not None:
                    return found
        return None

    @classmethod
    def from_csv(cls, text: str) -> BinTable:
        return cls(csv.DictReader(io.StringIO(text)))

    @classmethod
    def shipped(cls) -> BinTable:
        """The ranges shipped with the project."""
        return cls.from_csv(files("sportsbook.payments").joinpath("data/bin-ranges.csv").read_text("utf-8"))
