"""`sportsbook feed replay`: recorded UOF messages run through the ingestion against the configured database, each
reported with what it changed or why it was skipped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sportsbook.app import build_platform, start_platform, stop_platform
from sportsbook.betting.jobs import JobKind
from sportsbook.catalog.model import EventDraft, MarketDraft, SelectionDraft
from sportsbook.config import Settings
from sportsbook.feed.replay import split_messages
from tests.unit.cli.test_cli import run

DATA = Path(__file__).parents[2] / "data" / "uof"
MATCH = "sr:match:10927088"


def _with_match(url: str) -> None:
    """The match as staff create it: with its UOF id and a 1x2 market; the feed adds the others."""

    async def main() -> None:
        platform = build_platform(Settings(database_url=url, log_level="WARNING"))
        await start_platform(platform, relay=False)
        try:
            await platform.catalog.create_event(
                EventDraft(
                    sport="football",
                    name="Arsenal v Chelsea",
                    start_time=datetime(2026, 1, 1, 10, 30, tzinfo=UTC),
                    competitors=("Arsenal", "Chelsea"),
                    external_ids={"uof": MATCH},
                    markets=[
                        MarketDraft(
                            "1x2",
                            [
                                SelectionDraft("home", "2.00"),
                                SelectionDraft("draw", "3.00"),
                                SelectionDraft("away", "4.00"),
                            ],
                        )
                    ],
                )
            )
        finally:
            await stop_platform(platform)

    asyncio.run(main())


def test_replay_reports_each_message_and_applies_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'replay.sqlite3'}"
    assert run("db", "upgrade", database_url=url).returncode == 0
    _with_match(url)
    files = sorted(str(p) for p in DATA.glob("*.xml"))
    replayed = run("feed", "replay", *files, database_url=url)
    assert replayed.returncode == 0, replayed.stderr
    out = replayed.stdout.splitlines()

    def lines(prefix: str) -> list[str]:
        return [line for line in out if line.startswith(prefix)]

    prematch = lines(f"odds_change {MATCH}")
    assert any("created total market" in line for line in prematch)
    assert any("created asian_handicap market" in line for line in prematch)
    assert any("created btts market" in line for line in prematch)
    assert any("skipped (unmapped: market 540|variant=sr:exact_goals:5+ has no mapping)" in line for line in prematch)
    assert any("event live 1:0" in line for line in prematch)
    assert lines(f"bet_stop {MATCH}") == [f"bet_stop {MATCH}: 4 markets suspended"]
    settled = lines(f"bet_settlement {MATCH}")
    assert len(settled) == 2
    assert all(f"{JobKind.SETTLE.value} job" in line for line in settled)
    assert any("rollback job" in line for line in lines(f"rollback_bet_settlement {MATCH}"))
    assert any("bet_cancel job" in line for line in lines(f"bet_cancel {MATCH}"))
    assert any("rollback_bet_cancel job" in line for line in lines(f"rollback_bet_cancel {MATCH}"))
    assert any(line.startswith("undecodable -: skipped (undecodable: not well-formed XML") for line in out)
    assert out[-1] == "1 message(s) skipped"


def test_replay_refuses_a_missing_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'replay.sqlite3'}"
    missing = run("feed", "replay", str(tmp_path / "nope.xml"), database_url=url)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr


def test_a_file_of_messages_splits_at_each_declaration_or_line() -> None:
    two = (DATA / "06_cancels.xml").read_bytes()
    assert [m.split(b"\n")[1][:12] for m in split_messages(two)] == [b"<bet_cancel ", b"<rollback_be"]
    lines = b'<alive product="1" timestamp="1"/>\n<alive product="3" timestamp="2"/>\n'
    assert split_messages(lines) == [b'<alive product="1" timestamp="1"/>', b'<alive product="3" timestamp="2"/>']
    one = (DATA / "04_bet_settlement.xml").read_bytes()
    assert split_messages(one) == [one.strip()]
    assert split_messages(b"  \n") == []
