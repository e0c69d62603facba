"""The `sportsbook` command as an operator runs it: migrate, create staff, refuse bad input with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPORTSBOOK_DATABASE_URL": database_url, "SPORTSBOOK_ARGON2_MEMORY_KIB": "8"}
    return subprocess.run(
        [sys.executable, "-m", "sportsbook.cli", *args], env=env, capture_output=True, text=True, check=False
    )


def test_db_upgrade_then_admin_create_then_reconcile(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'sb.sqlite3'}"
    upgraded = run("db", "upgrade", database_url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert run("db", "upgrade", database_url=url).returncode == 0  # again: nothing to do
    created = run(
        "admin", "create", "--email", "ops@example.com", "--password", "Quite-Long-Secret-2026", "--role", "trader",
        database_url=url,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created trader ops@example.com" in created.stdout
    again = run(
        "admin", "create", "--email", "ops@example.com", "--password", "Quite-Long-Secret-2026", "--role", "trader",
        database_url=url,
    )  # fmt: skip
    assert again.returncode == 2
    assert "email_taken" in again.stderr
    sound = run("reconcile", database_url=url)
    assert sound.returncode == 0
    assert "ledger is sound" in sound.stdout


def test_admin_create_refuses_an_unknown_role_and_a_weak_password(sqlite_url: str) -> None:
    bad_role = run(
        "admin", "create", "--email", "a@example.com", "--password", "Quite-Long-Secret-2026", "--role", "king",
        database_url=sqlite_url,
    )  # fmt: skip
    assert (bad_role.returncode, "invalid_role" in bad_role.stderr) == (2, True)
    weak = run(
        "admin", "create", "--email", "b@example.com", "--password", "password", "--role", "admin",
        database_url=sqlite_url,
    )  # fmt: skip
    assert (weak.returncode, "weak_password" in weak.stderr) == (2, True)


def test_bench_refuses_an_unknown_scenario(sqlite_url: str) -> None:
    result = run("bench", "no_such_scenario", database_url=sqlite_url)
    assert result.returncode == 2
    assert "unknown scenario" in result.stderr


def test_openapi_prints_the_schema_the_api_serves_and_writes_it_to_a_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sb.sqlite3'}"
    printed = run("openapi", database_url=url)
    assert printed.returncode == 0, printed.stderr
    schema = json.loads(printed.stdout)
    assert schema["info"]["title"] == "Sportsbook"
    assert "/api/v1/deposits" in schema["paths"]
    assert "/api/v1/bets/quote" in schema["paths"]
    out = tmp_path / "web" / "openapi.json"
    assert run("openapi", "--output", str(out), database_url=url).returncode == 0
    assert json.loads(out.read_text()) == schema
