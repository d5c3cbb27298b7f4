"""Command line for the engagement pipeline: deliver the outbox, inspect and replay it, re-score,
and serve Broadcast's webhooks (`ingest-server`) with the background service alongside.

Options shared with the other commands (`--database-url`, `--agentbuddy-url`, `--org`, the
token key) come from `cli.common_options`.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from common.clock import SystemClock
from common.serving import run
from integration import outbox
from integration.config import IntegrationConfig
from integration.engagement.pipeline.rescore import rescore_all
from integration.storage import Database

from .app import create_app
from .cli import _fail, common_options
from .service import Service, ServiceOptions, build_worker


def _delivery_options(workers: int) -> Any:
    return ServiceOptions(workers=workers)


def _stop_on_sigterm() -> None:
    """`kill` (SIGTERM) stops like Ctrl-C: in-flight deliveries settle, leases are not left behind."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@click.command("deliver")
@common_options
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Parallel workers.")
@click.option("--drain", is_flag=True, help="Deliver what is due now, then exit (default: keep running).")
@click.option("--mode", type=click.Choice(["webhooks", "api"]), default=None, envvar="AB_HARNESS_DELIVERY_MODE",
              help="Option A signed webhooks (default) or Option B push API (env AB_HARNESS_DELIVERY_MODE).")
def deliver(config: IntegrationConfig, db: Database, organization_id: str, workers: int, drain: bool,
            mode: str | None) -> None:
    """Deliver queued engagement (events, scores, batches) to AgentBuddy."""
    if mode:
        config = config.replace(delivery_mode=mode)
    clock = SystemClock()
    if drain:
        pool = [build_worker(db, config, clock, options=_delivery_options(workers)) for _ in range(workers)]
        threads = [threading.Thread(target=w.drain) for w in pool]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        totals = {k: sum(getattr(w.stats, k) for w in pool) for k in ("delivered", "retried", "dead")}
        click.echo(f"delivered {totals['delivered']}, scheduled for retry {totals['retried']}, "
                   f"dead-lettered {totals['dead']}")
        return
    options = _delivery_options(workers)
    options.sync = options.rescore = False
    _stop_on_sigterm()
    service = Service(db, config, clock, options=options).start()
    click.echo(f"delivering with {workers} worker(s) in {config.delivery_mode} mode; Ctrl-C to stop", err=True)
    try:
        while service.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


@click.group("deliveries", invoke_without_command=True)
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print counts and dead letters as JSON.")
def deliveries(config: IntegrationConfig, db: Database, organization_id: str, as_json: bool) -> None:
    """Outbox status: queued / retrying / delivered / dead-lettered, and the dead letters."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    counts = outbox.counts(db, organization_id)
    dead = outbox.dead_letters(db, organization_id)
    if as_json:
        click.echo(json.dumps({"counts": counts, "dead_letters": dead}, indent=2))
        return
    console = Console()
    summary = Table(title=f"Deliveries to AgentBuddy ({organization_id})")
    for name in counts:
        summary.add_column(name, justify="right")
    summary.add_row(*(str(value) for value in counts.values()))
    console.print(summary)
    if not dead:
        console.print("No dead letters.")
        return
    table = Table(title="Dead letters (replay with `ab-harness deliveries replay --all` or by id)")
    for column in ("id", "kind", "contact_id", "attempts", "last_status", "last_error"):
        table.add_column(column, no_wrap=column in ("id", "contact_id"))
    for row in dead:
        table.add_row(row["id"], row["kind"], row["contact_id"] or "", str(row["attempts"]),
                      str(row["last_status"] or ""), (row["last_error"] or "")[:80])
    console.print(table)


@deliveries.command("replay")
@common_options
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter of the organization.")
@click.argument("message_ids", nargs=-1)
def deliveries_replay(config: IntegrationConfig, db: Database, organization_id: str, replay_all: bool,
                      message_ids: tuple[str, ...]) -> None:
    """Queue dead letters again (same message id, so AgentBuddy never applies one twice)."""
    if replay_all == bool(message_ids):
        _fail("give either --all or one or more message ids")
    ids = [row["id"] for row in outbox.dead_letters(db, organization_id, limit=1_000_000)] if replay_all \
        else list(message_ids)
    replayed = outbox.replay(db, SystemClock().now(), ids) if ids else 0
    click.echo(f"replayed {replayed} message(s); `ab-harness deliver` sends them")
    if message_ids and replayed < len(message_ids):
        _fail(f"{len(message_ids) - replayed} id(s) are not dead letters of {organization_id}")


@click.command("rescore")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rescore_command(config: IntegrationConfig, db: Database, organization_id: str, as_json: bool) -> None:
    """Re-score every contact now (the daily batch) and queue changed scores for AgentBuddy."""
    started = time.perf_counter()
    summary = rescore_all(db, organization_id, SystemClock())
    figures = {**summary.to_dict(), "seconds": round(time.perf_counter() - started, 3)}
    if as_json:
        click.echo(json.dumps(figures, indent=2))
    else:
        click.echo(f"scored {summary.scored} contacts of {organization_id} in {figures['seconds']} s; "
                   f"{summary.changed} changed, {summary.messages} batch message(s) queued")


@click.command("ingest-server")
@common_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(0, 64),
              help="Delivery workers run alongside (0: only receive).")
@click.option("--no-background", is_flag=True, help="Do not run the re-score and sync schedule.")
@click.option("--mode", type=click.Choice(["webhooks", "api"]), default=None, envvar="AB_HARNESS_DELIVERY_MODE",
              help="Option A signed webhooks (default) or Option B push API (env AB_HARNESS_DELIVERY_MODE).")
def ingest_server(config: IntegrationConfig, db: Database, organization_id: str, host: str, port: int,
                  workers: int, no_background: bool, mode: str | None) -> None:
    """Serve Broadcast's webhooks (Resend at /providers/resend/webhook, AgentBuddy notifications)."""
    if mode:
        config = config.replace(delivery_mode=mode)
    if not config.resend_webhook_secret:
        click.echo("RESEND_WEBHOOK_SECRET is not set: provider webhooks will be answered 503.", err=True)
    clock = SystemClock()
    doorbell = outbox.Doorbell()
    app = create_app(config, db=db, clock=clock, doorbell=doorbell)
    options = _delivery_options(workers)
    options.sync = options.rescore = not no_background
    service = Service(db, config, clock, options=options, doorbell=doorbell).start() if workers or not no_background \
        else None
    try:  # in the foreground until Ctrl-C or SIGTERM; in-flight deliveries settle before exit
        run(app, host=host, port=port, on_ready=lambda url: click.echo(
            f"Broadcast listening on {url} (Ctrl-C to stop)", err=True))
    finally:
        if service is not None:
            service.stop()
