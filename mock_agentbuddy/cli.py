"""`ab-harness mock` / `python -m mock_agentbuddy`: serve the fake AgentBuddy on loopback, with
the project's production server (`common.serving`, waitress)."""
from __future__ import annotations

import functools
import logging
from datetime import datetime

import click

from common.serving import run
from common.timestamps import parse_rfc3339

from . import create_app, state_of, stop_background
from .api.faults import profile_names
from .api.ratelimit import Quota
from .config import MockConfig
from .defects import DEFECTS

PROFILE_NAMES = profile_names()


def _epoch(_ctx, _param, value: str) -> datetime:
    try:
        return parse_rfc3339(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def check_rate(_ctx, _param, value: str) -> str:
    """A click callback: `--rate-limit` as `Quota.parse` reads it (`verify broadcast` shares it)."""
    try:
        Quota.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=8800, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the world, secrets and faults.")
@click.option("--accounts", default=2, show_default=True, type=click.IntRange(1, 1000), help="Agencies.")
@click.option("--offices-per-account", default=3, show_default=True, type=click.IntRange(1, 1000))
@click.option("--agents-per-account", default=8, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--contacts-per-account", default=200, show_default=True, type=click.IntRange(0, 2_000_000))
@click.option("--properties-per-contact", default=0.6, show_default=True, type=click.FloatRange(0, 10))
@click.option("--epoch", default="2026-01-01T00:00:00Z", show_default=True, callback=_epoch,
              help="Anchor of the seeded world's timestamps (never the wall clock).")
@click.option("--auto-approve", is_flag=True, help="Authorize at once when login_hint names an active agent.")
@click.option("--strict", is_flag=True, help="Validate every response against the contract; violations become 500s.")
@click.option("--rate-limit", default="600/min", show_default=True, callback=check_rate, help="N/s, N/min or N/h per token.")
@click.option("--rate-limit-window", type=click.Choice(["fixed", "sliding"]), default="fixed", show_default=True)
@click.option("--access-token-ttl", default=3600, show_default=True, type=click.IntRange(1), help="Seconds.")
@click.option("--fault", "fault", type=click.Choice(PROFILE_NAMES), default=None, help="Start with a fault profile.")
@click.option("--churn", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Random record changes per minute, applied in the background.")
@click.option("--defect", "defects", multiple=True, type=click.Choice(list(DEFECTS)), metavar="NAME",
              help="Plant a bug on purpose, to see a conformance kit catch it (repeatable): "
                   f"{', '.join(DEFECTS)}.")
@click.option("--docs-dir", default="build/docs", show_default=True, type=click.Path(file_okay=False),
              help="The contract's HTML documentation to serve at /docs/ (what `make docs` builds).")
def mock(host, port, seed, accounts, offices_per_account, agents_per_account, contacts_per_account,
         properties_per_contact, epoch, auto_approve, strict, rate_limit, rate_limit_window, access_token_ttl,
         fault, churn, defects, docs_dir) -> None:
    """Serve the fake AgentBuddy: seeded world, OAuth, read API, inbound webhooks, faults, admin API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = MockConfig(host=host, port=port, seed=seed, accounts=accounts, offices_per_account=offices_per_account,
                        agents_per_account=agents_per_account, contacts_per_account=contacts_per_account,
                        properties_per_contact=properties_per_contact, epoch=epoch, auto_approve=auto_approve,
                        strict=strict, rate_limit=rate_limit, rate_limit_window=rate_limit_window,
                        access_token_ttl=access_token_ttl, faults=fault, churn=churn, defects=frozenset(defects),
                        docs_dir=docs_dir)
    app = create_app(config)
    try:
        run(app, host=host, port=port, on_ready=lambda url: banner(state_of(app), url))
    finally:
        stop_background(app)


def banner(state, url: str, title: str = "Fake AgentBuddy", err: bool = False) -> None:
    """What a person needs to point a client at the fake: URLs, the client, agent logins."""
    cfg = state.config
    echo = functools.partial(click.echo, err=err)
    echo(f"{title} on {url}  (API {url}/v1, admin {url}/__admin/world, contract docs {url}/docs/)")
    echo(f"  seed {cfg.seed}, {len(state.world.accounts)} account(s), {cfg.contacts_per_account} contacts each; "
         f"strict={'on' if cfg.strict else 'off'}, auto-approve={'on' if cfg.auto_approve else 'off'}, "
         f"rate limit {cfg.rate_limit}, faults {cfg.faults or 'none'}, churn {cfg.churn}/min")
    if cfg.defects:
        echo(f"  DEFECTS PLANTED ON PURPOSE: {', '.join(sorted(cfg.defects))}")
    for client in cfg.clients:
        secret = client.client_secret or "(public client: PKCE, no secret)"
        echo(f"  OAuth client {client.client_id} / {secret}")
    echo("  Agent logins (password: agentbuddy):")
    for account in state.world.accounts.values():
        agents = [a for a in account.collections["agents"].records.values() if a["is_active"]]
        for agent in sorted(agents, key=lambda a: a["id"])[:2]:
            echo(f"    {agent['email']:<40} {agent['role']:<7} {account.id} {account.name}")
