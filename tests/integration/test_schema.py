"""The migrations build exactly the tables the code defines, on SQLite and PostgreSQL: every feature's tables."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

import sportsbook.app
import sportsbook.events.inbox  # consumers import it; the app does not
import sportsbook.feed.store  # noqa: F401  (the feed role imports it; the API does not)
from sportsbook.db.engine import Database
from sportsbook.db.metadata import metadata


def _diff(conn: Connection) -> list[Any]:
    def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name != "alembic_version"

    context = MigrationContext.configure(
        conn, opts={"include_name": include_name, "compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_every_table_definition(db: Database) -> None:
    async with db.read() as conn:
        diffs = await conn.run_sync(_diff)
    assert diffs == []
    assert len(metadata.tables) >= 15
