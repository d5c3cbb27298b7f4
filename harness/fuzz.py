"""`ab-harness fuzz`: the schemathesis CLI against an AgentBuddy, with a real OAuth token.

Pointed at the fake by default (`--start-mock` starts one in-process on a free port); pointed at
a real AgentBuddy sandbox with `--url` and `--token` (or `--login-hint` where it auto-approves).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import click
import requests

from contract import spec_path
from common.serving import ServedApp, serve
from harness.oauth import headless_token
from mock_agentbuddy import create_app
from mock_agentbuddy.config import MockConfig

ALL_PHASES = "examples,coverage,fuzzing,stateful"


def first_agent_email(base_url: str) -> str:
    """The fake lists its logins in the admin world summary."""
    world = requests.get(f"{base_url}/__admin/world", timeout=10).json()
    for account in world["accounts"]:
        for agent in account["agents"]:
            if agent.get("is_active", True):
                return agent["email"]
    raise click.ClickException("the fake's world has no active agent to log in as")


def schemathesis_command(url: str, token: str, seed: int, max_examples: int, phases: str,
                         report_dir: Path | None) -> list[str]:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    command = [
        executable, "run", str(spec_path()), "--url", f"{url.rstrip('/')}/v1",
        "--checks", "all", "--phases", phases, "--seed", str(seed),
        "--max-examples", str(max_examples), "--header", f"Authorization: Bearer {token}",
        "--workers", "1",
    ]
    if report_dir:
        command += ["--report", "junit", "--report-dir", str(report_dir)]
    return command


def launch_mock(seed: int) -> ServedApp:
    # The fuzzer is a heavy but legitimate client: lift the rate limit so it tests behaviour, not quota.
    config = MockConfig(seed=seed, auto_approve=True, strict=True, rate_limit="1000000/min",
                        contacts_per_account=60)
    return serve(create_app(config))


@click.command()
@click.option("--url", help="Base URL of the AgentBuddy to fuzz (without /v1).")
@click.option("--start-mock", is_flag=True, help="Start the fake in-process on a free port and fuzz it.")
@click.option("--token", envvar="AB_FUZZ_TOKEN", help="Bearer token to use (default: obtain one via OAuth).")
@click.option("--login-hint", help="Agent email for auto-approved OAuth (default: the fake's first agent).")
@click.option("--seed", default=42, show_default=True, type=int, help="Schemathesis seed: same seed, same run.")
@click.option("--max-examples", default=25, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--phases", default=ALL_PHASES, show_default=True, help="Schemathesis phases to run.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), help="Write a JUnit report here.")
def fuzz(url, start_mock, token, login_hint, seed, max_examples, phases, report_dir) -> None:
    """Fuzz the contract's API with all schemathesis checks and the stateful phase."""
    if bool(url) == bool(start_mock):
        raise click.UsageError("give exactly one of --url URL or --start-mock")
    with ExitStack() as stack:
        if start_mock:
            server = launch_mock(seed)
            stack.callback(server.stop)
            url = server.url
        if not token:
            hint = login_hint or first_agent_email(url)
            token = headless_token(url, hint)["access_token"]
        command = schemathesis_command(url, token, seed, max_examples, phases, report_dir)
        click.echo(f"fuzzing {url}/v1 (seed {seed}, phases {phases})", err=True)
        result = subprocess.run(command)
    sys.exit(result.returncode)
