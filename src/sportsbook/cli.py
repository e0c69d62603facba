"""The `sportsbook` command: run the platform's roles, migrate, manage staff, reconcile, benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from sportsbook.config import Settings
from sportsbook.db.unit_of_work import UnitOfWork

app = typer.Typer(help="Sportsbook: an open-source fixed-odds sportsbook platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Staff users.", no_args_is_help=True)
feed_app = typer.Typer(
    help="The odds feed: run ingestion (the feed role), or replay recorded messages.", invoke_without_command=True
)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(feed_app, name="feed")
payments_app = typer.Typer(help="Payments: PSP settlement reports.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")
psp_sim_app = typer.Typer(help="Local simulators of PSPs' HTTP APIs, to test their connectors.", no_args_is_help=True)
app.add_typer(psp_sim_app, name="psp-sim")

DEMO_ADMIN = ("admin@demo.example.com", "Demo-Admin-Password-2026")
DEMO_PLAYER = ("player@demo.example.com", "Demo-Player-Password-2026")
DEMO_TRADER = ("trader@demo.example.com", "Demo-Trader-Password-2026")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to SPORTSBOOK_DATABASE_URL."""
    from sportsbook.db.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    typer.echo(f"database at {settings.database_url} is up to date")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The staff user's email")],
    password: Annotated[str, typer.Option(help="The staff user's password")],
    role: Annotated[str, typer.Option(help="admin, trader, risk, payments or support")],
) -> None:
    """Create a staff user."""
    from sportsbook.app import build_platform
    from sportsbook.core.errors import DomainError

    async def main() -> str:
        platform = build_platform(Settings())
        try:
            return str(await platform.players.create_staff(email, password, role))
        finally:
            await platform.db.dispose()

    try:
        staff_id = asyncio.run(main())
    except DomainError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created {role} {email} ({staff_id})")


@app.command()
def reconcile() -> None:
    """Verify the ledger: balances equal their entries, currencies sum to zero, the hash chain is intact."""
    from sportsbook.core.clock import SystemClock
    from sportsbook.db.engine import Database
    from sportsbook.ledger.service import Ledger

    async def main() -> bool:
        db = Database.from_settings(Settings())
        try:
            report = await Ledger(db, SystemClock()).reconcile()
        finally:
            await db.dispose()
        typer.echo(f"checked {report.accounts} accounts and {report.transfers} transfers")
        for chain in report.chains:
            broken = [f for f in report.faults if f.shard == chain.shard]
            verdict = "sound" if not broken else f"{len(broken)} faults"
            typer.echo(f"shard {chain.shard}: {chain.transfers} transfers, head at seq {chain.head_seq}: {verdict}")
        for fault in report.faults:
            where = f"[shard {fault.shard}] " if fault.shard is not None else ""
            typer.echo(f"FAULT {where}{fault.kind}: {fault.subject}: {fault.detail}")
        typer.echo("ledger is sound" if report.sound else f"ledger is NOT sound: {len(report.faults)} faults")
        return report.sound

    if not asyncio.run(main()):
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run the API (and the outbox relay) on the configured backends."""
    settings = Settings()
    _serve(settings, host or settings.host, port or settings.port)


@app.command()
def openapi(
    output: Annotated[Path | None, typer.Option(help="Write the schema to this file instead of printing it")] = None,
) -> None:
    """The HTTP API's OpenAPI schema, as `GET /openapi.json` serves it (the web app's API types are made from it)."""
    import orjson

    from sportsbook.app import create_app

    text = orjson.dumps(create_app(Settings(log_level="ERROR")).openapi(), option=orjson.OPT_INDENT_2)
    if output is None:
        typer.echo(text.decode())
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(text + b"\n")


@app.command()
def demo(port: Annotated[int, typer.Option(help="Port to listen on")] = 8000) -> None:
    """The whole platform on the embedded default (SQLite, in-process bus), seeded with demo users."""
    from sportsbook.db.migrate import upgrade

    # every role in one process: the worker on a thread of its own, the simulated feed in the API's loop
    settings = Settings(embedded_worker=True, embedded_feed=True, feed_adapter="simulator")
    upgrade(settings.database_url)
    asyncio.run(_seed_demo(settings))
    typer.echo(f"Sportsbook demo on http://127.0.0.1:{port}  (API docs: http://127.0.0.1:{port}/docs)")
    typer.echo(f"Web app: http://127.0.0.1:{port}/   back office: http://127.0.0.1:{port}/admin")
    typer.echo(f"  staff (admin):  {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}")
    typer.echo(f"  staff (trader): {DEMO_TRADER[0]} / {DEMO_TRADER[1]}")
    typer.echo(f"  player:         {DEMO_PLAYER[0]} / {DEMO_PLAYER[1]}")
    typer.echo("  test cards:     4242 4242 4242 4242 approved, 4000 0000 0000 3220 3-D Secure (docs/payments.md)")
    _serve(settings, "127.0.0.1", port)


@feed_app.callback()
def feed(ctx: typer.Context) -> None:
    """Run the feed role: the configured adapter's messages (SPORTSBOOK_FEED_ADAPTER: simulator or uof) into the
    catalogue and settlement jobs, until stopped."""
    if ctx.invoked_subcommand is not None:
        return
    from sportsbook.app import run_feed
    from sportsbook.ops.logging import configure_logging

    async def main() -> None:
        settings = Settings()
        configure_logging(settings.log_level, json=settings.log_json)
        stopping = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        await run_feed(settings, stopping, ready=lambda: typer.echo("feed running; Ctrl-C to stop"))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@payments_app.command("reconcile")
def payments_reconcile(
    file: Annotated[Path, typer.Argument(help="A PSP settlement report (CSV; docs/payments.md gives its columns)")],
    since: Annotated[
        str | None, typer.Option(help="Our side from this time (ISO 8601); default: a day before the first row")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Our side up to this time; default: the last row's")] = None,
    book_fees: Annotated[bool, typer.Option(help="Book the matched rows' fees through the ledger")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Match a PSP's settlement report against SPORTSBOOK_DATABASE_URL's payments by reference and amount: what
    is missing, extra or different, and book the fees once (importing the same report again books none). Exits
    1 when anything does not match, 2 when the file cannot be read."""
    from datetime import datetime

    from sportsbook.app import build_platform, start_platform, stop_platform
    from sportsbook.ops.logging import configure_logging
    from sportsbook.payments.reconciliation import ReportError, render

    if not file.is_file():
        typer.echo(f"error: no such file: {file}", err=True)
        raise typer.Exit(2)

    def moment(text: str | None, name: str) -> datetime | None:
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            typer.echo(f"error: --{name} must be an ISO 8601 time with its zone", err=True)
            raise typer.Exit(2)
        return value

    start, end = moment(since, "since"), moment(until, "until")

    async def main() -> bool:
        settings = Settings(log_level="ERROR")
        configure_logging(settings.log_level, json=False)
        platform = build_platform(settings)
        await start_platform(platform, relay=False)
        try:
            try:
                text = file.read_text("utf-8")
                result = await platform.payments.reconcile(text, since=start, until=end, book_fees=book_fees)
            except (ReportError, UnicodeDecodeError) as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
        finally:
            await stop_platform(platform)
        typer.echo(json.dumps(result.as_json(), default=str) if as_json else render(result))
        return result.clean

    if not asyncio.run(main()):
        raise typer.Exit(1)


@feed_app.command("replay")
def feed_replay(
    files: Annotated[list[Path], typer.Argument(help="UOF XML messages: one per file, or several per file")],
) -> None:
    """Run recorded UOF messages through the ingestion against SPORTSBOOK_DATABASE_URL, printing per message its
    type, event, and what it changed or why it was skipped: how to test a mapping before going live."""
    from sportsbook.app import build_feed, build_platform, start_platform, stop_platform
    from sportsbook.feed.replay import ReplayAdapter, recorded
    from sportsbook.ops.logging import configure_logging

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        typer.echo(f"error: no such file: {', '.join(missing)}", err=True)
        raise typer.Exit(2)

    async def main() -> int:
        settings = Settings(log_level="ERROR")  # the report is the output; logs go to stdout too
        configure_logging(settings.log_level, json=False)
        platform = build_platform(settings)
        await start_platform(platform)
        try:
            adapter = ReplayAdapter(recorded(files), platform.clock)
            feed = build_feed(platform, adapter, liveness=False, explain=True)
            await feed.open()
            skipped = 0
            async for item in adapter.messages():
                report = await feed.process(item)
                await feed.flush()  # each message's prices written before the next, so its report is what it did
                skipped += bool(report.skipped) and not report.changed
                for line in report.lines():
                    typer.echo(line)
            return skipped
        finally:
            await stop_platform(platform)

    skipped = asyncio.run(main())
    typer.echo(f"{skipped} message(s) skipped" if skipped else "every message applied")


@app.command()
def worker() -> None:
    """Run the worker role without serving HTTP: settlement jobs, event consumers and the outbox relay."""
    from sportsbook.app import run_worker
    from sportsbook.ops.logging import configure_logging

    async def main() -> None:
        settings = Settings()
        configure_logging(settings.log_level, json=settings.log_json)
        stopping = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)  # stop between chunks
        await run_worker(
            settings, stopping, freeze=settings.gc_freeze, ready=lambda: typer.echo("worker running; Ctrl-C to stop")
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@app.command()
def bench(
    scenario: Annotated[str, typer.Argument(help="ledger")],
    seconds: Annotated[float, typer.Option(help="How long each phase runs")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on the last line")] = False,
) -> None:
    """Run a benchmark scenario from bench/ against SPORTSBOOK_DATABASE_URL and print its figures."""
    root = Path(__file__).resolve().parents[2]
    for candidate in (root, Path.cwd()):
        if (candidate / "bench" / "__init__.py").exists():
            sys.path.insert(0, str(candidate))
            break
    try:
        module = importlib.import_module(f"bench.{scenario}")
    except ModuleNotFoundError as exc:
        typer.echo(f"unknown scenario {scenario!r}: {exc}", err=True)
        raise typer.Exit(2) from exc
    # uvloop, as `serve` runs: the default loop's socket writes were a sixth of the placement profile
    figures: dict[str, object] = uvloop.run(module.run(Settings(), seconds=seconds, echo=typer.echo))
    if as_json:
        typer.echo(json.dumps(figures))
    else:
        for key, value in figures.items():
            typer.echo(f"{key:>28}: {value}")


@psp_sim_app.command("stripe")
def psp_sim_stripe(
    port: Annotated[int, typer.Option(help="Port to listen on")] = 12111,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    api_key: Annotated[str, typer.Option(help="The secret key clients must present")] = "sk_test_simulated",
    webhook_url: Annotated[str | None, typer.Option(help="Where to POST signed webhooks")] = None,
    webhook_secret: Annotated[str, typer.Option(help="The webhooks' signing secret")] = "whsec_simulated",
    profile: Annotated[str, typer.Option(help="The simulated issuers' profile")] = "sim-atlas",
    latency_scale: Annotated[float, typer.Option(help="Multiplies the profile's latency (0: none)")] = 1.0,
) -> None:
    """Serve a local simulator of Stripe's HTTP API (PaymentIntents, refunds, payouts, signed webhooks)."""
    import uvicorn

    from sportsbook.payments.connectors.simulated import PROFILES
    from sportsbook.payments.stripe_sim import StripeSimulator

    if profile not in PROFILES:
        typer.echo(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}", err=True)
        raise typer.Exit(2)
    simulator = StripeSimulator(
        api_key=api_key, webhook_url=webhook_url, webhook_secret=webhook_secret, profile=PROFILES[profile],
        latency_scale=latency_scale, public_url=f"http://{host}:{port}",
    )  # fmt: skip
    typer.echo(f"stripe simulator on http://{host}:{port}")
    uvicorn.run(simulator.app(), host=host, port=port, log_config=None, access_log=False)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from sportsbook.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


async def _seed_demo(settings: Settings) -> None:
    """Demo events, an admin, a trader and a player with an audited opening balance. A second run changes
    nothing."""
    from sportsbook.app import build_platform
    from sportsbook.catalog.demo import seed_demo_card
    from sportsbook.core.ids import derived_id
    from sportsbook.players.model import EmailTaken, Kyc
    from sportsbook.players.service import Registration

    platform = build_platform(settings)
    try:
        await platform.catalog.start()
        await seed_demo_card(platform.catalog, platform.clock.now())
        try:
            admin_id = await platform.players.create_staff(DEMO_ADMIN[0], DEMO_ADMIN[1], "admin")
            await platform.players.create_staff(DEMO_TRADER[0], DEMO_TRADER[1], "trader")
            registration = Registration(
                email=DEMO_PLAYER[0], password=DEMO_PLAYER[1], date_of_birth=date(1990, 5, 17), country="GB",
                currency="EUR",
            )  # fmt: skip
            player = await platform.players.register(registration)
        except EmailTaken:
            return  # seeded by an earlier run
        async with platform.db.transaction() as conn:
            await platform.wallets.adjust(
                UnitOfWork(conn),
                adjustment_id=derived_id("demo-opening-balance", player.id),
                player_id=player.id,
                currency="EUR",
                amount=100_000,
                reason="demo opening balance",
                staff_id=admin_id,
            )
        await platform.players.set_kyc(player.id, Kyc.VERIFIED, admin_id)  # so that the demo player may withdraw
    finally:
        await platform.db.dispose()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
