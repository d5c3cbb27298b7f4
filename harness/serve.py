"""`ab-harness serve` / `make serve`: both apps on loopback for a person to click through.

The fake AgentBuddy gets a seeded world with auto-approve off, so connecting goes through the
real login and consent pages; Broadcast's web app runs with its background service (delivery,
scheduled sync, re-score), so what a person does on one side shows up on the other.

This is also where the simulator meets the running apps: Broadcast's app gets a story player
(`harness.player.ScenarioPlayer` over `harness.story_backend.LiveBackend`), and its app and
service share one AdjustableClock that a playing story moves (the fake's clock moves with it
through the admin API). `--play NAME` plays library stories from the command line once the
stack is up, connected headlessly as the printed agent.
"""
from __future__ import annotations

import base64
import os
import secrets
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import click

from common import serving
from common.clock import AdjustableClock
from common.serving import ServedApp
from harness.player import ScenarioPlayer
from harness.story_backend import LiveBackend
from integration.agentbuddy import connections
from integration.config import IntegrationConfig, load_or_create_key_file
from integration.outbox import Doorbell
from integration.storage import Database
from integration.web import create_app as create_broadcast
from integration.web.player import MAX_SPEED, MIN_SPEED, PlayerError
from integration.web.service import Service, ServiceOptions
from mock_agentbuddy import MockConfig, create_app as create_fake, state_of
from scenarios.story.loader import library_paths, load


@dataclass
class Stack:
    """The two running servers, Broadcast's background service and story player; `stop()` ends all."""

    fake: ServedApp
    web: ServedApp
    service: object
    login_email: str
    password: str
    workdir: tempfile.TemporaryDirectory | None
    player: object = None   # harness.player.ScenarioPlayer
    clock: AdjustableClock | None = None
    db: object = None
    config: object = None

    def stop(self) -> None:
        if self.player is not None:
            self.player.shutdown()
        self.service.stop()
        self.web.stop()
        self.fake.stop()
        if self.workdir is not None:
            self.workdir.cleanup()


def start_stack(*, mock_port: int = 0, port: int = 0, seed: int = 7, contacts: int = 200,
                database_url: str | None = None, token_key: str | None = None,
                auto_approve: bool = False) -> Stack:
    """Start the fake, then Broadcast pointed at it; ports 0 pick free ones."""
    fake_app = create_fake(MockConfig(seed=seed, port=mock_port, contacts_per_account=contacts,
                                      auto_approve=auto_approve))
    fake = serving.serve(fake_app, port=mock_port)
    workdir = None
    try:
        if database_url is None:
            workdir = tempfile.TemporaryDirectory(prefix="ab-serve-")
            database_url = f"sqlite:///{Path(workdir.name) / 'broadcast.sqlite3'}"
        if token_key is None:
            token_key, _created = load_or_create_key_file()
        # Stories post Resend's signed webhooks to Broadcast: without RESEND_WEBHOOK_SECRET in the
        # environment, this stack makes up its own (it lives as long as the stack does).
        resend_secret = os.environ.get("RESEND_WEBHOOK_SECRET") or "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        config = IntegrationConfig.from_env(database_url=database_url, agentbuddy_url=fake.url, token_key=token_key,
                                            resend_webhook_secret=resend_secret)
        db = Database.from_url(config.database_url)
        db.migrate()
        doorbell = Doorbell()
        clock = AdjustableClock()  # Broadcast's app and service; a playing story sets it
        backend = LiveBackend(db, config, clock, fake.url)
        player = ScenarioPlayer(backend)
        web = serving.serve(create_broadcast(config, db, clock=clock, doorbell=doorbell, player=player), port=port)
        backend.broadcast_url = web.url
        service = Service(db, config, clock, options=ServiceOptions(workers=1), doorbell=doorbell).start()
        backend.service = service
    except BaseException:
        fake.stop()
        if workdir is not None:
            workdir.cleanup()
        raise
    state = state_of(fake_app)
    agent = _login_agent(state)
    return Stack(fake, web, service, agent, "agentbuddy", workdir, player, clock, db, config)


def _login_agent(state) -> str:
    """An active agent of the first account: the login a person can use on the consent flow."""
    account = next(iter(state.world.accounts.values()))
    agents = sorted(account.collections["agents"].records.values(), key=lambda a: a["id"])
    return next(a["email"] for a in agents if a["is_active"] and a.get("deleted_at") is None)


def parse_speed(value: str) -> float | None:
    """`--speed`: simulated days per second, or `full`."""
    if value.strip().lower() == "full":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of simulated days per second nor 'full'.") from None
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise click.BadParameter(f"{speed:g} is outside {MIN_SPEED:g}-{MAX_SPEED:g} days per second (or 'full').")
    return speed


@click.command()
@click.option("--port", default=8900, show_default=True, type=int, help="Broadcast's port (0: a free one).")
@click.option("--mock-port", default=8800, show_default=True, type=int, help="The fake AgentBuddy's port (0: a free one).")
@click.option("--free-ports", is_flag=True, help="Pick free ports for both instead of the defaults.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the fake's world.")
@click.option("--contacts", default=200, show_default=True, type=int, help="Contacts per AgentBuddy account.")
@click.option("--database-url", default=None, help="Broadcast's database (default: a fresh SQLite file, deleted on exit).")
@click.option("--play", "plays", multiple=True, metavar="NAME",
              help="Play this library story once both apps are up (repeatable: one after the other); "
                   "connects Broadcast to AgentBuddy first as the printed agent.")
@click.option("--speed", default="1", show_default=True, metavar="DAYS|full",
              help="Simulated days per second for --play, or 'full'.")
def serve(port: int, mock_port: int, free_ports: bool, seed: int, contacts: int, database_url: str | None,
          plays: tuple[str, ...], speed: str) -> None:
    """Serve the fake AgentBuddy and Broadcast on 127.0.0.1 until Ctrl-C."""
    pace = parse_speed(speed)
    scenarios = _library_stories(plays) if plays else []
    if free_ports:
        port = mock_port = 0
    try:
        stack = start_stack(mock_port=mock_port, port=port, seed=seed, contacts=contacts, database_url=database_url,
                            auto_approve=bool(plays))
    except OSError as exc:
        raise click.ClickException(f"cannot listen ({exc}); another server may hold the port — "
                                   "try --free-ports or --port/--mock-port") from exc
    click.echo(f"Broadcast    {stack.web.url}/settings/integrations/agentbuddy   (contacts: {stack.web.url}/contacts)")
    click.echo(f"AgentBuddy   {stack.fake.url}/ui/contacts   (inbound log: {stack.fake.url}/ui/inbound)")
    click.echo(f"Log in at AgentBuddy as {stack.login_email} with password {stack.password}")
    stop = threading.Event()
    # Ctrl-C and `kill` both end it cleanly, also when started in the background (where a shell
    # leaves SIGINT ignored).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        if scenarios:
            _connect_and_play(stack, scenarios, pace)
        else:
            click.echo("Click “Connect AgentBuddy” on Broadcast's settings page to start, then “Play a story” there. "
                       "Ctrl-C stops both.")
        while not stop.wait(0.5):
            pass
        click.echo("\nStopping…")
    except PlayerError as error:
        raise click.ClickException(error.detail) from None
    finally:
        stack.stop()


def _library_stories(names: tuple[str, ...]) -> list:
    """Each `--play` name as a library scenario, or one sentence naming what exists."""
    by_name = {path.stem: path for path in library_paths()}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise click.BadParameter(f"no library story named {', '.join(map(repr, unknown))}; "
                                 f"choose from {', '.join(sorted(by_name))}.", param_hint="--play")
    return [load(by_name[name]) for name in names]


def _connect_and_play(stack: Stack, scenarios: list, speed: float | None) -> None:
    """Connect headlessly (the fake approves the agent's login hint), then play in a thread of the
    player's own; the story's lines and its expectations are echoed here as they come."""
    connection = connections.connect_headless(stack.db, stack.config, stack.config.default_organization_id,
                                              stack.login_email, clock=stack.clock)
    click.echo(f"Connected Broadcast to AgentBuddy account {connection.account_id} as {stack.login_email}.")
    stack.player.listen(on_line=_echo_line, on_finish=_echo_result)
    stack.player.play_all(scenarios, speed=speed)
    names = ", ".join(s.name for s in scenarios)
    click.echo(f"Playing {names} — watch on Broadcast's contact pages and AgentBuddy's records. Ctrl-C stops both.")


def _echo_line(line: dict) -> None:
    click.echo(f"  day {line.get('day', ''):>3} {str(line.get('at', ''))[11:16]}  {line.get('what', '')}")


def _echo_result(name: str, result: dict) -> None:
    verdict = "PASS" if result.get("passed") else "FAIL"
    outcomes = result.get("expectations", [])
    click.echo(f"{verdict} {name} — {sum(o['passed'] for o in outcomes)}/{len(outcomes)} expectations")
    for outcome in outcomes:
        click.echo(f"  {'✓' if outcome['passed'] else '✗'} {outcome['label']}")
        for check in outcome.get("checks", []):
            if not check.get("passed"):
                click.echo(f"      {check['check']}: expected {check['expected']!r}, got {check['actual']!r}")
