"""The migration matches the table definitions, and the documentation lists every registered schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from sportsbook.db.engine import Database
from sportsbook.db.metadata import metadata
from sportsbook.events import inbox, outbox
from sportsbook.events.model import schemas

OURS = {outbox.outbox.name, inbox.inbox.name}
DOCS = Path(__file__).parents[3] / "docs" / "events.md"


def _diff(conn: Connection) -> list[Any]:
    """What autogenerate would change in the migrated database to match the events tables' definitions."""

    def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        if type_ == "schema":
            return True
        return name in OURS if type_ == "table" else parent_names.get("table_name") in OURS

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return name in OURS if type_ == "table" else obj.table.name in OURS

    context = MigrationContext.configure(
        conn,
        opts={
            "include_name": include_name,
            "include_object": include_object,
            "compare_type": True,
            "compare_server_default": True,
        },
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_tables_match_their_definitions(db: Database) -> None:
    async with db.read() as conn:
        diffs = await conn.run_sync(_diff)
    assert diffs == []


def test_docs_list_every_registered_schema_with_its_fields() -> None:
    text = DOCS.read_text()
    for s in schemas():
        row = re.search(rf"^\|\s*`{re.escape(s.type)}`\s*\|\s*{s.version}\s*\|(.*)$", text, re.MULTILINE)
        assert row, f"docs/events.md has no row for {s.type} v{s.version}"
        for name in s.fields:
            assert f"`{name}`" in row.group(1), f"{s.type} v{s.version}: field {name} missing from the docs"
