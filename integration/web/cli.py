"""Command line for Broadcast's side: connect, disconnect, sync, export (the pipeline's commands —
deliver, deliveries, rescore, ingest-server — are in `pipeline_cli`).

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
import webbrowser
from typing import Any, Callable

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from werkzeug.wrappers import Request, Response

from common.clock import SystemClock
from common.serving import serve
from integration import sync as sync_engine
from integration.agentbuddy import connections, oauth, subscriptions
from integration.agentbuddy import disconnect as disconnecting
from integration.agentbuddy.errors import AgentBuddyError
from integration.config import DEFAULT_KEY_FILE, IntegrationConfig, load_or_create_key_file
from integration.storage import Database
from integration.sync.contacts import export_contacts


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

CALLBACK_PAGE = b"<h1>Broadcast</h1><p>You can close this tab and return to the terminal.</p>"


def _browser_connect(db: Database, config: IntegrationConfig, organization_id: str, open_browser: bool,
                     timeout: float):
    """Authorization code flow through the person's browser, with a one-shot loopback receiver
    for the redirect (RFC 8252) served by the project's server."""
    arrived: list[str] = []
    done = threading.Event()

    @Request.application
    def receiver(request: Request) -> Response:
        if not request.path.startswith("/callback"):
            return Response("not found", status=404)
        arrived.append(request.url)
        page = Response(CALLBACK_PAGE, content_type="text/html; charset=utf-8")
        page.call_on_close(done.set)  # once the browser has its page, the receiver may stop
        return page

    with serve(receiver, name="oauth-callback") as served:
        redirect_uri = f"{served.url}/callback"
        url, _pending = connections.begin_connect(db, config, organization_id, redirect_uri=redirect_uri)
        click.echo("Open this URL to connect AgentBuddy:\n\n  " + url + "\n")
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        click.echo(f"Waiting for AgentBuddy to redirect back to {redirect_uri} …", err=True)
        if not done.wait(timeout):
            _fail(f"no redirect arrived within {timeout:.0f} s")
    return connections.complete_connect(db, config, arrived[0])


@click.command("connect")
@common_options
@click.option("--login-hint", help="Agent email; with a fake started with --auto-approve no browser is needed.")
@click.option("--no-browser", is_flag=True, help="Only print the authorization URL.")
@click.option("--notify-url", help="Our notification receiver (…/agentbuddy/notifications); the organization's own URL under it is subscribed to AgentBuddy change notifications.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the browser redirect.")
def connect(config: IntegrationConfig, db: Database, organization_id: str, login_hint: str | None,
            no_browser: bool, notify_url: str | None, timeout: float) -> None:
    """Connect a Broadcast organization to an AgentBuddy account (OAuth 2.0 + PKCE)."""
    try:
        if login_hint:
            connection = connections.connect_headless(db, config, organization_id, login_hint)
        else:
            connection = _browser_connect(db, config, organization_id, not no_browser, timeout)
        if notify_url:
            subscriptions.subscribe(db, config, organization_id, notify_url)
    except (connections.ConnectError, oauth.OAuthFlowError, oauth.TransientOAuthError) as exc:
        _fail(str(exc))
    click.echo(f"Connected {organization_id} to AgentBuddy account {connection.account_name} "
               f"({connection.account_id}); scopes: {' '.join(connection.scopes)}")


@click.command("disconnect")
@common_options
def disconnect(config: IntegrationConfig, db: Database, organization_id: str) -> None:
    """Revoke the organization's AgentBuddy tokens; synced data is kept."""
    try:
        result = disconnecting.disconnect(db, config, organization_id)
    except connections.NotConnected as exc:
        _fail(str(exc))
    confirmed = result.revoked_refresh_token or result.revoked_access_token
    click.echo(f"Disconnected {organization_id}" + ("" if confirmed else " (AgentBuddy did not confirm revocation)"))


# ----------------------------------------------------------------------------- sync

def _summary_table(summary: Any) -> Any:
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
    click.echo(json.dumps(export_contacts(db, organization_id, include_deleted), indent=2, ensure_ascii=False))
