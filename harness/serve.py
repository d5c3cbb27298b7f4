"""`ab-harness serve` / `make serve`: both apps on loopback for a person to click through.

The fake AgentBuddy gets a seeded world with auto-approve off, so connecting goes through the
real login and consent pages; Broadcast's web app runs with its background service (delivery,
scheduled sync, re-score), so what a person does on one side shows up on the other.
"""
from __future__ import annotations

import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import click

from common import serving
from common.serving import ServedApp


@dataclass
class Stack:
    """The two running servers and Broadcast's background service; `stop()` ends all of them."""

    fake: ServedApp
    web: ServedApp
    service: object
    login_email: str
    password: str
    workdir: tempfile.TemporaryDirectory | None

    def stop(self) -> None:
        self.service.stop()
        self.web.stop()
        self.fake.stop()
        if self.workdir is not None:
            self.workdir.cleanup()


def start_stack(*, mock_port: int = 0, port: int = 0, seed: int = 7, contacts: int = 200,
                database_url: str | None = None, token_key: str | None = None) -> Stack:
    """Start the fake, then Broadcast pointed at it; ports 0 pick free ones."""
    from integration.config import IntegrationConfig, load_or_create_key_file
    from integration.storage import Database
    from integration.outbox import Doorbell
    from integration.web.service import Service, ServiceOptions
    from integration.web import create_app as create_broadcast
    from mock_agentbuddy import MockConfig, create_app as create_fake, state_of

    fake_app = create_fake(MockConfig(seed=seed, port=mock_port, contacts_per_account=contacts, auto_approve=False))
    fake = serving.serve(fake_app, port=mock_port)
    workdir = None
    try:
        if database_url is None:
            workdir = tempfile.TemporaryDirectory(prefix="ab-serve-")
            database_url = f"sqlite:///{Path(workdir.name) / 'broadcast.sqlite3'}"
        if token_key is None:
            token_key, _created = load_or_create_key_file()
        config = IntegrationConfig.from_env(database_url=database_url, agentbuddy_url=fake.url, token_key=token_key)
        db = Database.from_url(config.database_url)
        db.migrate()
        doorbell = Doorbell()
        web = serving.serve(create_broadcast(config, db, doorbell=doorbell), port=port)
        service = Service(db, config, options=ServiceOptions(workers=1), doorbell=doorbell).start()
    except BaseException:
        fake.stop()
        if workdir is not None:
            workdir.cleanup()
        raise
    state = state_of(fake_app)
    agent = _login_agent(state)
    return Stack(fake, web, service, agent, "agentbuddy", workdir)


def _login_agent(state) -> str:
    """An active agent of the first account: the login a person can use on the consent flow."""
    account = next(iter(state.world.accounts.values()))
    agents = sorted(account.collections["agents"].records.values(), key=lambda a: a["id"])
    return next(a["email"] for a in agents if a["is_active"] and a.get("deleted_at") is None)


@click.command()
@click.option("--port", default=8900, show_default=True, type=int, help="Broadcast's port (0: a free one).")
@click.option("--mock-port", default=8800, show_default=True, type=int, help="The fake AgentBuddy's port (0: a free one).")
@click.option("--free-ports", is_flag=True, help="Pick free ports for both instead of the defaults.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the fake's world.")
@click.option("--contacts", default=200, show_default=True, type=int, help="Contacts per AgentBuddy account.")
@click.option("--database-url", default=None, help="Broadcast's database (default: a fresh SQLite file, deleted on exit).")
def serve(port: int, mock_port: int, free_ports: bool, seed: int, contacts: int, database_url: str | None) -> None:
    """Serve the fake AgentBuddy and Broadcast on 127.0.0.1 until Ctrl-C."""
    if free_ports:
        port = mock_port = 0
    try:
        stack = start_stack(mock_port=mock_port, port=port, seed=seed, contacts=contacts, database_url=database_url)
    except OSError as exc:
        raise click.ClickException(f"cannot listen ({exc}); another server may hold the port — "
                                   "try --free-ports or --port/--mock-port") from exc
    click.echo(f"Broadcast    {stack.web.url}/settings/integrations/agentbuddy   (contacts: {stack.web.url}/contacts)")
    click.echo(f"AgentBuddy   {stack.fake.url}/ui/contacts   (inbound log: {stack.fake.url}/ui/inbound)")
    click.echo(f"Log in at AgentBuddy as {stack.login_email} with password {stack.password}")
    click.echo("Click “Connect AgentBuddy” on Broadcast's settings page to start. Ctrl-C stops both.")
    stop = threading.Event()
    # Ctrl-C and `kill` both end it cleanly, also when started in the background (where a shell
    # leaves SIGINT ignored).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
        click.echo("\nStopping…")
    finally:
        stack.stop()
