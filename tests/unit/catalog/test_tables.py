"""The migration creates exactly the catalogue tables the store defines, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from sportsbook.catalog import store
from sportsbook.db.engine import Database
from sportsbook.db.metadata import metadata

OURS = {store.events.name, store.markets.name, store.selections.name}


def _diff(conn: Connection) -> list[Any]:
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


async def test_migrated_catalog_tables_match_their_definitions(db: Database) -> None:
    async with db.read() as conn:
        diffs = await conn.run_sync(_diff)
    assert diffs == []
