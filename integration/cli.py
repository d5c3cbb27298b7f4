"""Command line for Broadcast's side: connect, disconnect, sync, export.

Every command takes `--database-url`, `--agentbuddy-url` and `--org` (defaults from
`AB_HARNESS_*` variables, then `IntegrationConfig`). The token key comes from
`AB_HARNESS_TOKEN_KEY`; without it the CLI creates one in `.harness/token.key` on first use and
says so on stderr, so a laptop demo needs no set-up while production sets the variable.
"""
from __future__ import annotations

import functools
import json
import sys
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable

import click

from common.clock import SystemClock
from .config import DEFAULT_KEY_FILE, IntegrationConfig, load_or_create_key_file
from integration.storage import Database, from_json


# ----------------------------------------------------------------------------- shared options

def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    @click.option("--database-url", envvar="AB_HARNESS_DATABASE_URL", default=None,
                  help="sqlite:///path or postgresql://… (default sqlite:///.harness/broadcast.sqlite3).")
    @click.option("--agentbuddy-url", envvar="AB_HARNESS_AGENTBUDDY_URL", default=None,
                  help="AgentBuddy origin, e.g. http://127.0.0.1:8800 (the API is under /v1).")
    @click.option("--org", "organization_id", envvar="AB_HARNESS_ORG", default=None,
                  help="Broadcast organization (tenant) id (default org_default).")
    @functools.wraps(command)
    def wrapper(database_url: str | None, agentbuddy_url: str | None, organization_id: str | None,
                **kwargs: Any) -> Any:
        config = IntegrationConfig.from_env(database_url=database_url, agentbuddy_url=agentbuddy_url,
                                            default_organization_id=organization_id)
        if not config.token_key:
            key, created = load_or_create_key_file(DEFAULT_KEY_FILE)
            if created:
                click.echo(f"Created a token encryption key in {DEFAULT_KEY_FILE} (set AB_HARNESS_TOKEN_KEY "
                           "to use your own).", err=True)
            config = config.replace(token_key=key)
        db = Database.from_url(config.database_url)
        try:
            db.migrate()
            return command(config=config, db=db, organization_id=config.default_organization_id, **kwargs)
        finally:
            db.close()

    return wrapper


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


# ----------------------------------------------------------------------------- connect

class _CallbackHandler(BaseHTTPRequestHandler):
    """One-shot loopback receiver for the OAuth redirect (RFC 8252)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if not self.path.startswith("/callback"):
            self.send_error(404)
            return
        self.server.callback_url = f"http://127.0.0.1:{self.server.server_port}{self.path}"  # type: ignore[attr-defined]
        body = b"<h1>Broadcast</h1><p>You can close this tab and return to the terminal.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _browser_connect(db: Database, config: IntegrationConfig, organization_id: str, open_browser: bool,
                     timeout: float):
    from integration.agentbuddy import connections

    server = HTTPServer(("127.0.0.1", 0), _CallbackHandler)
    server.callback_url = None  # type: ignore[attr-defined]
    server.timeout = timeout
    try:
        redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
        url, _pending = connections.begin_connect(db, config, organization_id, redirect_uri=redirect_uri)
        click.echo("Open this URL to connect AgentBuddy:\n\n  " + url + "\n")
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        click.echo(f"Waiting for AgentBuddy to redirect back to {redirect_uri} …", err=True)
        deadline = time.monotonic() + timeout
        while server.callback_url is None:  # type: ignore[attr-defined]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _fail(f"no redirect arrived within {timeout:.0f} s")
            server.timeout = remaining
            server.handle_request()  # one request (or the timeout); a favicon request just loops
        return connections.complete_connect(db, config, server.callback_url)  # type: ignore[attr-defined]
    finally:
        server.server_close()


@click.command("connect")
@common_options
@click.option("--login-hint", help="Agent email; with a fake started with --auto-approve no browser is needed.")
@click.option("--no-browser", is_flag=True, help="Only print the authorization URL.")
@click.option("--notify-url", help="Subscribe this URL to AgentBuddy change notifications.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the browser redirect.")
def connect(config: IntegrationConfig, db: Database, organization_id: str, login_hint: str | None,
            no_browser: bool, notify_url: str | None, timeout: float) -> None:
    """Connect a Broadcast organization to an AgentBuddy account (OAuth 2.0 + PKCE)."""
    from integration.agentbuddy import connections, oauth as oauth_client, subscriptions

    try:
        if login_hint:
            connection = connections.connect_headless(db, config, organization_id, login_hint)
        else:
            connection = _browser_connect(db, config, organization_id, not no_browser, timeout)
        if notify_url:
            subscriptions.subscribe(db, config, organization_id, notify_url)
    except (connections.ConnectError, oauth_client.OAuthFlowError, oauth_client.TransientOAuthError) as exc:
        _fail(str(exc))
    click.echo(f"Connected {organization_id} to AgentBuddy account {connection.account_name} "
               f"({connection.account_id}); scopes: {' '.join(connection.scopes)}")


@click.command("disconnect")
@common_options
def disconnect(config: IntegrationConfig, db: Database, organization_id: str) -> None:
    """Revoke the organization's AgentBuddy tokens; synced data is kept."""
    from integration.agentbuddy import connections, disconnect as disconnect_module

    try:
        result = disconnect_module.disconnect(db, config, organization_id)
    except connections.NotConnected as exc:
        _fail(str(exc))
    confirmed = result.revoked_refresh_token or result.revoked_access_token
    click.echo(f"Disconnected {organization_id}" + ("" if confirmed else " (AgentBuddy did not confirm revocation)"))


# ----------------------------------------------------------------------------- sync

def _summary_table(summary: Any) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=f"{summary.kind} sync of {summary.organization_id} in {summary.seconds:.2f} s",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    columns = ("created", "updated", "deleted", "unchanged", "quarantined", "released", "pages")
    table.add_column("entity", no_wrap=True)
    for name in columns:
        table.add_column("same" if name == "unchanged" else name, justify="right", no_wrap=True)
    notes = []
    for entity, counts in summary.entities.items():
        if counts.skipped:
            table.add_row(entity + "†", *["-"] * len(columns))
            notes.append(f"† {entity}: {counts.skipped}")
            continue
        table.add_row(entity + ("*" if counts.resumed else ""), *[str(getattr(counts, name)) for name in columns])
    totals = summary.totals
    table.add_row("total", *[str(getattr(totals, name)) for name in columns], style="bold")
    if any(counts.resumed for counts in summary.entities.values()):
        notes.append("* resumed an interrupted run from its last checkpoint")
    table.caption = "\n".join(notes) or None
    return table


@click.command("sync")
@common_options
@click.option("--full", is_flag=True, help="Sweep everything instead of changes since the last sync.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--entity", "entities", multiple=True,
              type=click.Choice(["offices", "agents", "contacts", "properties"]), help="Only these (repeatable).")
def sync(config: IntegrationConfig, db: Database, organization_id: str, full: bool, as_json: bool,
         entities: tuple[str, ...]) -> None:
    """Sync offices, agents, contacts and properties from AgentBuddy."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from integration.agentbuddy import connections
    from integration import sync as sync_engine
    from integration.agentbuddy.errors import AgentBuddyError

    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True, disable=as_json)
    tasks: dict[str, Any] = {}

    def report(stream: str, done: int, total: int | None) -> None:
        if stream not in tasks:
            tasks[stream] = progress.add_task(stream, total=total)
        progress.update(tasks[stream], completed=done, total=max(total or 0, done))

    try:
        with progress:
            summary = sync_engine.sync(db, config, organization_id, full=full, entities=entities or None,
                                       clock=SystemClock(), progress=report)
    except (connections.NotConnected, sync_engine.SyncBusy, AgentBuddyError) as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        Console().print(_summary_table(summary))


# ----------------------------------------------------------------------------- export

@click.group("export")
def export() -> None:
    """Export what Broadcast holds."""


@export.command("contacts")
@common_options
@click.option("--json", "as_json", is_flag=True, default=True, help="JSON (the only format).")
@click.option("--include-deleted", is_flag=True, help="Include soft-deleted contacts.")
def export_contacts_command(config: IntegrationConfig, db: Database, organization_id: str, as_json: bool,
                            include_deleted: bool) -> None:
    """Contacts as Broadcast sees them (merged tags, email status, scores when computed)."""
    from integration.sync.contacts import export_contacts

    click.echo(json.dumps(export_contacts(db, organization_id, include_deleted), indent=2, ensure_ascii=False))


# ----------------------------------------------------------------------------- engagement pipeline
# deliver, deliveries (+ replay), rescore, ingest-server: the outbox and the daily batch.

def _delivery_options(workers: int) -> Any:
    from .service import ServiceOptions

    return ServiceOptions(workers=workers)


def _stop_on_sigterm() -> None:
    """`kill` (SIGTERM) stops like Ctrl-C: in-flight deliveries settle, leases are not left behind."""
    import signal

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
    from .service import Service, build_worker

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
    from rich.console import Console
    from rich.table import Table

    from . import outbox

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
    from . import outbox

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
    from .rescore import rescore_all

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
    from werkzeug.serving import make_server

    from .outbox import Doorbell
    from .service import Service
    from .web import create_app

    if not config.resend_webhook_secret:
        click.echo("RESEND_WEBHOOK_SECRET is not set: provider webhooks will be answered 503.", err=True)
    clock = SystemClock()
    doorbell = Doorbell()
    app = create_app(config, db=db, clock=clock, doorbell=doorbell)
    options = _delivery_options(workers)
    options.sync = options.rescore = not no_background
    service = Service(db, config, clock, options=options, doorbell=doorbell).start() if workers or not no_background \
        else None
    server = make_server(host, port, app, threaded=True)
    _stop_on_sigterm()
    click.echo(f"Broadcast listening on http://{host}:{server.server_port} (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if service is not None:
            service.stop()
