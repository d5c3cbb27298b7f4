"""`ab-harness verify broadcast`: the fake in verification mode, judging the client pointed at it.

Broadcast's production client is not our reference integration. Its developers start the fake
here, run their client's flows against it (connect, sync, deliver), and stop it with Ctrl-C or
SIGTERM: the fake's verdict on everything the client did (`mock_agentbuddy.verdict`, one rule per
row, each finding with the log entries that show it) is printed the way the provider kit prints
its checks — a table per family, `--json`, `--junit`, `--html`, by the same writers. `GET
/__admin/verdict` answers the same at any time, and `--url` judges a fake already running (a
replay's, or one a CI job started with `ab-harness mock`).

Exit codes: 0 clean, 1 a finding, 2 the fake could not be served or reached, or no client ever
came (nothing to judge) — said in one sentence.
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import requests
from rich.table import Table

from common.serving import run
from contract import spec_path
from mock_agentbuddy import MockConfig, create_app, state_of, stop_background
from mock_agentbuddy.admin.client import AdminClient, AdminError
from mock_agentbuddy.cli import banner, check_rate
from mock_agentbuddy.verdict import rules, verdict_of

from . import CONSUMER_SUITE, CONSUMER_VERSION
from .cli import console, fail
from .model import Check, Exchange, KitError, Outcome
from .reports import publish
from .runner import Report
from .schema import ContractView

HOST = "127.0.0.1"  # the fake binds loopback only, like every server of the harness


@click.command("broadcast")
@click.option("--port", default=8800, show_default=True, type=click.IntRange(0, 65535),
              help="Where the fake listens on 127.0.0.1 (0: any free port).")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the fake's world and secrets.")
@click.option("--accounts", default=2, show_default=True, type=click.IntRange(1, 1000), help="Agencies.")
@click.option("--contacts-per-account", default=200, show_default=True, type=click.IntRange(0, 2_000_000))
@click.option("--auto-approve", is_flag=True, help="Authorize at once when login_hint names an active agent "
              "(for a client that connects headless).")
@click.option("--rate-limit", default="600/min", show_default=True, callback=check_rate,
              help="The published quota per token (N/s, N/min or N/h); bursts are judged against it.")
@click.option("--access-token-ttl", default=3600, show_default=True, type=click.IntRange(1),
              help="Seconds an access token lives.")
@click.option("--log-size", default=100_000, show_default=True, type=click.IntRange(1000, 10_000_000),
              help="Requests (and inbound deliveries) kept for the verdict; it says how many rolled off.")
@click.option("--url", help="Judge the fake already running at URL (its /__admin/verdict) instead of starting one.")
@click.option("--list", "list_only", is_flag=True, help="List the rules with their clauses and exit.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report here.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write a self-contained HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of the table.")
def broadcast(port, seed, accounts, contacts_per_account, auto_approve, rate_limit, access_token_ttl, log_size,
              url, list_only, junit, html, as_json) -> None:
    """Serve the fake AgentBuddy in verification mode and judge the Broadcast client that uses it:
    contract violations, OAuth misuse (PKCE, state, replays, a hammered token endpoint, expired
    tokens), paging misuse, ignored Retry-After and RateLimit, bursts, and webhooks with bad
    signatures, stale timestamps, reused ids or duplicated events.

    \b
    1. ab-harness verify broadcast --port 8800 --auto-approve --junit verdict.xml
    2. point your client at http://127.0.0.1:8800 and run its flows
    3. Ctrl-C (or SIGTERM): the verdict, with evidence from the fake's journal and inbound log

    \b
    Exit status: 0 clean, 1 a finding, 2 the fake could not be served or reached, or recorded
    no request at all.
    """
    if list_only:
        _list()
        return
    started, began = datetime.now(timezone.utc), time.perf_counter()
    try:
        if url:
            target, verdict = url.rstrip("/"), _judged_elsewhere(url.rstrip("/"))
        else:
            config = MockConfig(host=HOST, port=port, seed=seed, accounts=accounts,
                                contacts_per_account=contacts_per_account, auto_approve=auto_approve,
                                rate_limit=rate_limit, access_token_ttl=access_token_ttl, journal_size=log_size)
            target, verdict = _serve_and_judge(config)
        if not verdict["judged"]["requests"] and not verdict["judged"]["inbound"]:
            raise KitError(f"The fake at {target} recorded no request from a client: nothing to judge "
                           "(point your client at it, then stop it).")
    except KitError as error:
        fail(str(error))
    report = report_of(verdict, target, ContractView.load(spec_path()).version, started,
                       time.perf_counter() - began)
    publish(report, console(), junit=junit, html=html, as_json=as_json, preface=judged_line(verdict))
    sys.exit(0 if report.passed else 1)


def _serve_and_judge(config: MockConfig) -> tuple[str, dict[str, Any]]:
    """Serve until Ctrl-C or SIGTERM; then the verdict on everything the client did."""
    app = create_app(config)
    served: list[str] = []

    def ready(url: str) -> None:
        served.append(url)
        banner(state_of(app), url, title="Fake AgentBuddy in verification mode", err=True)
        click.echo(f"Point your client at {url} and run its flows. Stop with Ctrl-C (or SIGTERM) for the verdict; "
                   f"GET {url}/__admin/verdict answers at any time.", err=True)

    try:
        run(app, host=HOST, port=config.port, on_ready=ready)
    except OSError as error:
        raise KitError(f"Cannot serve the fake on {HOST}:{config.port}: {error.strerror or error} "
                       "(choose another --port, or 0 for any free one).") from None
    finally:
        stop_background(app)
    return served[0], verdict_of(state_of(app))


def _judged_elsewhere(url: str) -> dict[str, Any]:
    try:
        return AdminClient(url, timeout=60).verdict()
    except AdminError as error:
        raise KitError(f"{url} is not a fake AgentBuddy with its admin API open "
                       f"(GET /__admin/verdict answered {error.status}).") from None
    except (requests.RequestException, ValueError) as error:
        raise KitError(f"Cannot reach a fake AgentBuddy at {url} ({type(error).__name__}).") from None


def report_of(verdict: dict[str, Any], target: str, contract: str, started: datetime, seconds: float) -> Report:
    """The verdict as the kit's `Report`: one row per rule, its findings as detail and evidence."""
    found: dict[str, list[dict]] = {}
    for item in verdict["findings"]:
        found.setdefault(item["id"], []).append(item)
    outcomes = []
    for item in verdict["rules"]:
        rule = Check(item["id"], item["family"], item["title"], item["clause"], _judged_by_the_fake,
                     severity=item["severity"])
        findings = found.get(item["id"], [])
        detail = f"{item['severity']}: " + "; ".join(f["message"] for f in findings) if findings else item["detail"]
        evidence = [_exchange(target, e) for f in findings for e in f["evidence"]]
        outcomes.append(Outcome(rule, item["status"], detail, evidence))
    return Report(target, contract, started, outcomes, seconds, suite=CONSUMER_SUITE, version=CONSUMER_VERSION,
                  row_name="rule")


def judged_line(verdict: dict[str, Any]) -> str:
    judged = verdict["judged"]
    line = (f"Judged {judged['requests']} request(s), {judged['inbound']} webhook/push delivery(ies) and "
            f"{judged['notifications']} notification attempt(s) the fake recorded.")
    lost = judged.get("journal_rolled_off", 0) + judged.get("inbound_rolled_off", 0)
    if lost:
        line += f" {lost} older record(s) rolled off the logs and were not judged (raise --log-size)."
    return line


def _judged_by_the_fake(_ctx) -> None:
    """A rule's row runs nothing here: the fake judged it (`mock_agentbuddy.verdict`)."""


def _exchange(target: str, entry: dict[str, Any]) -> Exchange:
    note = f"{entry['log']} #{entry['seq']} at {entry['time']}" + (f"; {entry['note']}" if entry.get("note") else "")
    return Exchange(entry.get("method") or "", f"{target}{entry['request']}", {}, None, status=entry.get("status"),
                    note=note)


def _list() -> None:
    items = rules()
    table = Table(title=f"{CONSUMER_SUITE} {CONSUMER_VERSION}: {len(items)} rules", title_justify="left", expand=True)
    table.add_column("rule", no_wrap=True, min_width=max(len(r.id) for r in items))
    for column in ("severity", "clause", "what a good client does"):
        table.add_column(column)
    for item in items:
        table.add_row(item.id, item.severity, item.clause, item.title)
    console().print(table)
