"""The documentation lists every registered event schema with its fields (tables: tests/integration/test_schema.py)."""

from __future__ import annotations

import re
from pathlib import Path

from sportsbook.events.model import schemas

DOCS = Path(__file__).parents[3] / "docs" / "events.md"


def test_docs_list_every_registered_schema_with_its_fields() -> None:
    text = DOCS.read_text()
    for s in schemas():
        row = re.search(rf"^\|\s*`{re.escape(s.type)}`\s*\|\s*{s.version}\s*\|(.*)$", text, re.MULTILINE)
        assert row, f"docs/events.md has no row for {s.type} v{s.version}"
        for name in s.fields:
            assert f"`{name}`" in row.group(1), f"{s.type} v{s.version}: field {name} missing from the docs"
