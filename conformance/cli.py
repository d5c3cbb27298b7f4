"""`ab-harness verify agentbuddy` (the provider kit) and `ab-harness send-webhook`; `verify broadcast`
(the consumer side) is `consumer.py`'s. `harness/cli.py` lists them under the `verify` group.

Exit codes: 0 every check passed or was skipped; 1 a check failed; 2 the kit could not run
(bad input, unreachable server, refused credentials, a failing state hook) — said in one sentence.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from contract import spec_path

from . import SUITE_NAME, SUITE_VERSION
from .checks import AREAS, select
from .examples import body_text, send, target_url, webhook_examples
from .model import KitError
from .reports import publish
from .runner import run
from .schema import ContractView
from .target import DEFAULT_REDIRECT_URI, Options, Target


def console(stderr: bool = False) -> Console:
    """Rich's 80 columns when piped would cut the tables; logs and CI get 140."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 140)


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


@click.command("agentbuddy")
@click.option("--url", help="The AgentBuddy server's base URL (its API is under /v1).")
@click.option("--client-id", help="Your OAuth client's id (the fake's is found by itself).")
@click.option("--client-secret", envvar="AB_KIT_CLIENT_SECRET", help="Its secret; none for a public client. "
              "[env AB_KIT_CLIENT_SECRET]")
@click.option("--redirect-uri", default=DEFAULT_REDIRECT_URI, show_default=True,
              help="A redirect URI registered for the client (loopback: any port, RFC 8252).")
@click.option("--login-hint", help="An agent's email, for a server that approves login_hint at once (headless).")
@click.option("--interactive", is_flag=True, help="Authorize in a browser; the kit catches the loopback redirect.")
@click.option("--interactive-timeout", default=300.0, show_default=True, type=click.FloatRange(5, 3600),
              help="Seconds to wait for each approval in the browser.")
@click.option("--token", envvar="AB_KIT_TOKEN", help="An access token, when you can only hand over tokens. "
              "[env AB_KIT_TOKEN]")
@click.option("--refresh-token", envvar="AB_KIT_REFRESH_TOKEN", help="A refresh token (with --client-id): the kit "
              "refreshes for fresh tokens. [env AB_KIT_REFRESH_TOKEN]")
@click.option("--other-login-hint", help="An agent of a second account (tenant isolation checks).")
@click.option("--other-token", envvar="AB_KIT_OTHER_TOKEN", help="A token of a second account. [env AB_KIT_OTHER_TOKEN]")
@click.option("--state-hook", metavar="CMD", help="Your script that creates, updates and deletes a contact (below).")
@click.option("--no-admin", is_flag=True, help="Never use the fake's /__admin/ API, even where it answers.")
@click.option("--contract", "contract_path", type=click.Path(dir_okay=True, path_type=Path), default=None,
              help="The contract to verify against [default: the harness's openapi/agentbuddy.yaml].")
@click.option("--only", multiple=True, metavar="AREA|ID", help="Run only this area or check (repeatable).")
@click.option("--list", "list_only", is_flag=True, help="List the checks with their clauses and exit.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report here.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write a self-contained HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of the table.")
@click.option("--timeout", default=15.0, show_default=True, type=click.FloatRange(1, 300), help="Seconds per request.")
@click.option("--notification-timeout", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds to wait for a change notification.")
@click.option("--receiver-url", help="Public base URL forwarding to the kit's notification inbox (a tunnel), "
              "when the server cannot reach this machine's loopback.")
@click.option("--receiver-port", default=0, type=click.IntRange(0, 65535), help="Port of that inbox (0: any).")
def agentbuddy(url, client_id, client_secret, redirect_uri, login_hint, interactive, interactive_timeout, token, refresh_token,
               other_login_hint, other_token, state_hook, no_admin, contract_path, only, list_only, junit, html,
               as_json, timeout, notification_timeout, receiver_url, receiver_port) -> None:
    """Verify an AgentBuddy (a sandbox or the fake) against the contract: OAuth, the API, sync
    semantics, inbound webhooks and push, change notifications. Every check cites the clause it
    enforces; one that cannot look is skipped with the reason, never passed.

    \b
    Credentials, as a partner has them:
      --client-id/--client-secret with --login-hint (a server that auto-approves) or --interactive;
      or --token (and --refresh-token). Against the fake, nothing is needed: the kit finds a client
      and an agent in its admin API.

    \b
    The state hook (--state-hook CMD), for checks that watch records change. The kit runs
      CMD create contact      create a live contact in the token's account
      CMD update contact ID   change any CRM field of contact ID (its updated_at moves on)
      CMD delete contact ID   delete contact ID (the API then serves a tombstone)
    Each prints one JSON object with the record's "id" on stdout and exits 0. Environment:
    AB_KIT_URL (the server) and AB_KIT_ACCOUNT_ID (the token's account). A hook that fails
    stops the run (exit 2).

    \b
    Exit status: 0 nothing failed, 1 a check failed, 2 the kit could not run.
    """
    selected = select(tuple(only))
    if only and not selected:
        raise click.UsageError(f"--only {' '.join(only)} names no area or check; areas: {', '.join(AREAS)}")
    if list_only:
        _list(selected)
        return
    if not url or not url.startswith(("http://", "https://")):
        raise click.UsageError("give --url, the server's http(s) base URL")
    options = Options(url=url, contract=contract_path or spec_path(), client_id=client_id,
                      client_secret=client_secret, redirect_uri=redirect_uri, login_hint=login_hint,
                      interactive=interactive, interactive_timeout=interactive_timeout, token=token, refresh_token=refresh_token,
                      other_login_hint=other_login_hint, other_token=other_token, state_hook=state_hook,
                      use_admin=not no_admin, timeout=timeout, notification_timeout=notification_timeout,
                      receiver_url=receiver_url, receiver_port=receiver_port)
    progress = console(stderr=True)
    try:
        target = Target.open(options)
        try:
            with progress.status(f"{SUITE_NAME} {SUITE_VERSION}: starting") as status:
                report = run(target, selected, on_result=lambda o: status.update(f"{o.check.id}: {o.status}"))
        finally:
            target.close()
    except KitError as error:
        fail(str(error))
    publish(report, console(), junit=junit, html=html, as_json=as_json)
    sys.exit(0 if report.passed else 1)


def _list(checks) -> None:
    out = console()
    table = Table(title=f"{SUITE_NAME} {SUITE_VERSION}: {len(checks)} checks", title_justify="left", expand=True)
    table.add_column("check", no_wrap=True, min_width=max((len(c.id) for c in checks), default=5))
    for column in ("area", "clause", "what it checks"):
        table.add_column(column)
    for item in checks:
        table.add_row(item.id, item.area, item.clause, item.title)
    out.print(table)


@click.command("send-webhook")
@click.option("--url", help="The receiver: a full URL, or the server's base (then the example's own path is used).")
@click.option("--secret", envvar="AB_WEBHOOK_SECRET", help="The Standard Webhooks secret (whsec_…). "
              "[env AB_WEBHOOK_SECRET]")
@click.option("--example", "example_name", metavar="NAME", help="A payload of the contract, by name (--list).")
@click.option("--file", "file_path", type=click.Path(dir_okay=False, path_type=Path), help="Send this file's bytes.")
@click.option("--contact-id", help="Replace every contact_id in the payload (the examples name sample contacts).")
@click.option("--connection-id", help="Post to this connection's route (the id of GET /v1/connection); without it "
              "the deprecated route that names no connection is used.")
@click.option("--id", "msg_id", help="The webhook-id to send (default: a new one); repeat one to test deduplication.")
@click.option("--timestamp-offset", default=0, type=int, help="Sign this many seconds off now (e.g. -400: stale).")
@click.option("--list", "list_only", is_flag=True, help="List the contract's webhook payloads and exit.")
@click.option("--contract", "contract_path", type=click.Path(path_type=Path), default=None,
              help="The contract to take examples from [default: the harness's].")
def send_webhook(url, secret, example_name, file_path, contact_id, connection_id, msg_id, timestamp_offset,
                 list_only, contract_path) -> None:
    """Sign a payload with Standard Webhooks and POST it; print the status and the answer.

    For AgentBuddy engineers building the receiver of Broadcast's webhooks by hand. Exit status
    0 when the receiver answered 2xx, 1 otherwise, 2 when it could not be sent.
    """
    try:
        examples = webhook_examples(ContractView.load(contract_path or spec_path()))
        if list_only:
            for example in examples.values():
                click.echo(f"{example.name:<36} {example.path or '(full URL)':<44} {example.summary}")
            return
        if bool(example_name) == bool(file_path):
            raise KitError("Give exactly one of --example NAME (see --list) or --file PATH.")
        if not url or not secret:
            raise KitError("Give --url (where to send) and --secret (whsec_…, from GET /v1/connection).")
        example = None
        if example_name:
            example = examples.get(example_name)
            if example is None:
                raise KitError(f"No example {example_name!r}; one of: {', '.join(examples)}.")
        text = None
        if file_path:
            try:
                text = file_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise KitError(f"Cannot read {file_path} ({type(error).__name__}).") from None
        destination = target_url(url, example, connection_id)
        answer = send(destination, secret, body_text(example, text, contact_id), msg_id, timestamp_offset)
    except KitError as error:
        fail(str(error))
    click.echo(f"POST {destination} -> {answer.status_code} {answer.headers.get('Content-Type', '')}".rstrip())
    click.echo(answer.text)
    sys.exit(0 if 200 <= answer.status_code < 300 else 1)
