"""The ledger's accounts, ids and store are its own: other packages use its verbs and its reads by player."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "sportsbook"
PRIVATE_MODULES = {"sportsbook.ledger.store"}
PRIVATE_NAMES = {"AccountKey", "AccountKind", "TransferRequest", "HOUSE", "player_owner"}


def _reaches_in(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module in PRIVATE_MODULES:
                found.append(f"imports {node.module}")
            if node.module.startswith("sportsbook.ledger"):
                found.extend(f"imports {alias.name}" for alias in node.names if alias.name in PRIVATE_NAMES)
        elif isinstance(node, ast.Import):
            found.extend(f"imports {a.name}" for a in node.names if a.name in PRIVATE_MODULES)
        elif isinstance(node, ast.Attribute) and node.attr == "store":
            value = node.value
            name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
            if name == "ledger":
                found.append("uses ledger.store")
    return found


def test_no_package_outside_the_ledger_reaches_into_its_accounts_or_store() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("ledger/"):
            continue
        if found := _reaches_in(path):
            offenders[relative] = found
    assert offenders == {}
