"""tally serve | demo | replay | audit | prices import | export ledger."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from application.audit import audit_history
from application.errors import TallyError
from infrastructure.settings import Settings
from infrastructure.storage import shown_url
from interfaces.bootstrap import LIVE_PREFIX, bootstrap
from interfaces.cli.audit_replay import BackgroundReplay
from interfaces.cli.export import export_ledger
from interfaces.cli.progress import progress_bar
from interfaces.following import scratch_fill
from interfaces.observability.logs import configure_logging
from interfaces.observability.tracing import instrument_app, start_tracing
from interfaces.start_up import freeze_start_up
from projections import rebuild
from projections.checkpoints import SqlCheckpoints

app = typer.Typer(help="tally: usage-based billing for AI products on an event-sourced ledger.", no_args_is_help=True)
prices = typer.Typer(help="The model price catalog.", no_args_is_help=True)
export = typer.Typer(help="Export the journal.", no_args_is_help=True)
app.add_typer(prices, name="prices")
app.add_typer(export, name="export")
console = Console(stderr=True)
SETTINGS_EPILOG = (
    "Settings come from the environment (TALLY_DATABASE_URL, TALLY_ADMIN_KEY, TALLY_LOG_FORMAT, ...): "
    "docs/configuration.md lists every one with its default and effect."
)


def _settings(dev: bool) -> Settings:
    settings = Settings()
    if not settings.admin_key:
        if not dev:
            console.print("[red]TALLY_ADMIN_KEY is not set.[/red] Set it, or run with --dev to generate one.")
            raise typer.Exit(2)
        settings.admin_key = "sk_dev_" + secrets.token_urlsafe(24)
    return settings


@app.command(epilog=SETTINGS_EPILOG)
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    dev: Annotated[bool, typer.Option(help="Generate and print an admin key when TALLY_ADMIN_KEY is unset.")] = False,
) -> None:
    """Start the HTTP server (REST, GraphQL, docs, /healthz, /metrics)."""
    import uvicorn

    from interfaces.rest.app import create_app

    settings = _settings(dev)
    configure_logging(settings.log_format, settings.log_level)
    tracing = start_tracing()  # before the store opens its first connection
    services = bootstrap(settings)
    _announce(host, port, settings, show_key=dev)
    api = create_app(services, freeze_start_up=True)
    if tracing:
        instrument_app(api)
    # log_config=None: uvicorn's own records go through the handler configured
    # above; its access log is off, RequestObserver writes one line per request.
    uvicorn.run(api, host=host, port=port, log_level="warning", log_config=None, access_log=False)


@app.command(epilog=SETTINGS_EPILOG)
def project() -> None:
    """Run only the projection follower, in the foreground: with servers started
    with TALLY_FOLLOWER=false, one projector applies every page (docs/scaling.md)."""
    settings = Settings(follower=True, projector="thread")
    configure_logging(settings.log_format, settings.log_level)
    services = bootstrap(settings)
    freeze_start_up()
    where = shown_url(settings.database_url)
    if settings.log_format == "json":
        fields = {"store": where, "position": services.follower.position}
        logging.getLogger("tally").info("projecting %s", where, extra={"fields": fields})
    else:
        console.print(f"projecting {where} from position {services.follower.position}; Ctrl-C stops")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


def _announce(host: str, port: int, settings: Settings, *, show_key: bool) -> None:
    base = f"http://{host}:{port}"
    if settings.log_format == "json":  # every line on standard error is JSON, this one too
        fields = {"store": shown_url(settings.database_url), "url": base}
        if show_key:
            fields["admin_key"] = str(settings.admin_key)
        logging.getLogger("tally").info("tally on %s at %s", fields["store"], base, extra={"fields": fields})
        return
    console.print(f"[bold]tally[/bold] on {shown_url(settings.database_url)}")
    console.print(f"  REST docs  {base}/docs")
    console.print(f"  GraphiQL   {base}/graphql")
    console.print(f"  health     {base}/healthz")
    if show_key:
        console.print(f"  admin key  [bold]{settings.admin_key}[/bold]")


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    seconds: Annotated[float, typer.Option(help="Stop after this many seconds (0: run until Ctrl-C).")] = 0,
    rate: Annotated[int, typer.Option(help="Usage events per second in the background stream.")] = 20,
) -> None:
    """A running server with real model prices, plans, customers and a stream of usage."""
    from interfaces.cli.demo import run_demo

    settings = _settings(dev=True)
    run_demo(settings, host, port, seconds, rate, _announce)


@app.command()
def replay() -> None:
    """Rebuild every projection from the event store, then compare it with what was there."""
    settings = Settings()
    services = bootstrap(settings, start_follower=False)
    freeze_start_up()
    compared: list[tuple[int, list[rebuild.Difference] | None]] = []
    parallel = scratch_fill(settings)
    try:
        total = services.app.store.head()
        with progress_bar("replaying", total) as advance:
            position = rebuild.rebuild(
                services.app.store.recorder,
                services.app.store.mapper.to_domain_event,
                services.database,
                LIVE_PREFIX,
                advance,
                on_built=lambda follower: compared.append(rebuild.compare_with_live(follower, LIVE_PREFIX)),
                parallel=parallel,
            )
        old_position, differences = compared[0]
        by = f"{parallel.workers} processes" if parallel.applies(total) else "one process"
        console.print(f"rebuilt to position {position} (the view was at {old_position}) by {by}")
        if differences is not None:
            for difference in differences:
                console.print(f"[red]{difference.table}[/red]: {difference.detail}")
            if differences:
                raise typer.Exit(1)
            console.print("[green]the rebuilt projections equal the ones they replaced[/green]")
    finally:
        services.close()


@app.command()
def audit() -> None:
    """Replay into a scratch store, compare with the live projections, and check the
    ledger: every entry balances, the trial balance is zero, every rating reproduces."""
    settings = Settings()
    services = bootstrap(settings, start_follower=False)
    freeze_start_up()
    replay = BackgroundReplay(settings)  # replays into scratch meanwhile, in a process of its own
    try:
        total = services.app.store.head()
        with progress_bar("checking history", total) as advance:
            report = audit_history(services.app, advance, SqlCheckpoints(services.database))
        with progress_bar("replaying into scratch", total) as advance:
            shown = 0
            while not replay.ready(0.2):
                advance(replay.replayed - shown)
                shown = replay.replayed
        differences = replay.differences()
        console.print(
            f"{report.events} events, {report.entries} entries; re-checked: {report.ratings_checked} ratings, "
            f"{report.settlements_checked} tier settlements, {report.invoices_checked} invoices"
        )
        if report.unsettled:
            console.print(
                f"{len(report.unsettled)} customer months await their tier settlement (the settler is behind)"
            )
        if report.pending_versions:
            console.print(
                f"{len(report.pending_versions)} versions or plan changes await re-rating "
                f"({', '.join(report.pending_versions)}): "
                f"{len(report.awaiting_rerating)} usage events await it (the version watcher is behind)"
            )
        for currency in sorted(report.debits):
            console.print(f"  {currency}: debits {report.debits[currency]} = credits {report.credits[currency]}")
        problems = report.problems + [f"{d.table}: {d.detail}" for d in differences]
        for problem in problems:
            console.print(f"[red]{problem}[/red]")
        if problems:
            raise typer.Exit(1)
        console.print("[green]audit passed: the projections equal a replay and the ledger balances[/green]")
    finally:
        replay.stop()
        services.close()


@app.command()
def rerate(
    price_book: Annotated[
        str | None, typer.Option(help="Re-rate the customers whose plan prices from this book.")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Re-rate the customers on this plan.")] = None,
    since: Annotated[str, typer.Option(help="RFC 3339: usage from this moment on (no offset: UTC).")] = "",
) -> None:
    """Re-rate usage at the versions in force now (what the version watcher does
    after each publication); changes nothing where the amounts already agree."""
    moment = _moment(since or None, "--since")
    if moment is None or (price_book is None) == (plan is None):
        console.print("[red]name one of --price-book or --plan, and --since[/red]")
        raise typer.Exit(2)
    services = bootstrap(Settings(), start_follower=False)
    try:
        services.follower.catch_up()
        report = services.app.rerating.rerate(price_book=price_book, plan=plan, since=moment, reason="tally rerate")
        services.follower.catch_up()
        console.print(f"{report.rerated} of {report.scanned} usage events re-rated ({report.conflicts} conflicts)")
    finally:
        services.close()


@prices.command("import")
def prices_import(
    price_book: Annotated[str, typer.Argument(help="The price book to publish into (created in USD if missing).")],
    providers: Annotated[list[str], typer.Option("--provider", help="Providers to import.")],
    effective_from: Annotated[
        str | None, typer.Option(help="RFC 3339 time the version takes effect (default: now; no offset: UTC).")
    ] = None,
    history_since: Annotated[
        str | None, typer.Option(help="Also publish a version per catalog price change since this RFC 3339 time.")
    ] = None,
) -> None:
    """Publish a price version from the offline model price catalog (genai-prices)."""
    moment = _moment(effective_from, "--effective-from") or datetime.now(UTC)
    since = _moment(history_since, "--history-since")
    services = bootstrap(Settings(), start_follower=False)
    try:
        try:
            services.app.catalog.price_book(price_book)
        except TallyError:
            services.app.catalog.create_price_book(price_book, "USD")
        for version in services.app.catalog.import_prices(price_book, providers, moment, since):
            console.print(
                f"published version {version.number} of {price_book}, effective {version.effective_from.isoformat()}: "
                f"{len(version.rates)} rates ({version.source})"
            )
    except TallyError as error:
        console.print(f"[red]{error.detail}[/red]")
        raise typer.Exit(1) from None
    finally:
        services.close()


def _moment(text: str | None, option: str) -> datetime | None:
    """An RFC 3339 time from the command line; one without an offset is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        console.print(f"[red]{option}: {text!r} is not an RFC 3339 time, e.g. 2026-11-01T00:00:00Z[/red]")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


@export.command("ledger")
def export_ledger_command(
    format: Annotated[Format, typer.Option("--format")] = Format.csv,
    start: Annotated[str | None, typer.Option("--from", help="RFC 3339; no offset: UTC")] = None,
    end: Annotated[str | None, typer.Option("--to", help="RFC 3339, exclusive; no offset: UTC")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write the journal (one line per posting) as CSV or JSON lines."""
    since, until = _moment(start, "--from"), _moment(end, "--to")
    services = bootstrap(Settings(), start_follower=False)
    try:
        services.follower.catch_up()
        stream = output.open("w", newline="") if output else sys.stdout
        count = export_ledger(services.queries, format.value, since, until, stream)
        console.print(f"{count} postings exported")
    finally:
        services.close()


def main() -> None:
    app()
