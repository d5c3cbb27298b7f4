"""`ab-harness`: one command line for every room of the project.

Commands are loaded lazily from the room that owns them, so `ab-harness --help` stays fast
and a room's heavy imports are paid only by the command that needs them.
"""
from __future__ import annotations

import importlib

import click

# name -> (module, attribute, one-line help shown by `ab-harness --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "mock": ("mock_agentbuddy.cli", "mock", "Serve the fake AgentBuddy (seeded world, OAuth, webhooks, faults)."),
    "fuzz": ("harness.fuzz", "fuzz", "Fuzz an AgentBuddy (the fake or a sandbox) with schemathesis."),
    "lint": ("harness.contract.lint", "lint", "Lint the OpenAPI contract (our rules, openapi-spec-validator, Spectral, Redocly)."),
    "docs": ("harness.contract.docs", "docs", "Build the contract's documentation as self-contained HTML (make docs)."),
    "contract": ("harness.contract.diff", "contract", "Contract tooling: `contract diff OLD NEW` classifies every change."),
    "demo": ("harness.demo", "demo", "Run the demo on embedded defaults."),
    "bench": ("harness.bench", "bench", "Measure sync, re-score and delivery speed; write bench/results.json."),
    "replay": ("scenarios.cli", "replay", "Replay scenario files through the integration and the fake on a simulated clock."),
    "evaluate": ("scenarios.cli", "evaluate", "Score a seeded population; precision/recall of 'hot' for planted intent."),
    "generate": ("scenarios.cli", "generate", "Stream a seeded population's email events (canonical or Resend) as JSON Lines."),
    "serve": ("harness.serve", "serve", "Serve the fake AgentBuddy and Broadcast on loopback for a person to click through."),
    "connect": ("integration.web.cli", "connect", "Connect a Broadcast organization to AgentBuddy (OAuth 2.0 + PKCE)."),
    "disconnect": ("integration.web.cli", "disconnect", "Revoke an organization's AgentBuddy tokens (data is kept)."),
    "sync": ("integration.web.cli", "sync", "Sync offices, agents, contacts and properties from AgentBuddy."),
    "export": ("integration.web.cli", "export", "Export what Broadcast holds (contacts as JSON)."),
    "deliver": ("integration.web.pipeline_cli", "deliver", "Deliver queued engagement (events, scores, batches) to AgentBuddy."),
    "deliveries": ("integration.web.pipeline_cli", "deliveries", "Outbox status and dead letters; `deliveries replay` re-queues them."),
    "rescore": ("integration.web.pipeline_cli", "rescore_command", "Re-score every contact now (the daily batch) and queue changes."),
    "ingest-server": ("integration.web.pipeline_cli", "ingest_server", "Serve Broadcast's webhooks (Resend, AgentBuddy) with delivery workers."),
    "verify": ("conformance.cli", "verify", "Conformance kits: `verify agentbuddy --url URL` checks an AgentBuddy against the contract."),
    "send-webhook": ("conformance.cli", "send_webhook", "Sign a contract example (or a file) with Standard Webhooks and POST it."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Contract harness for the Broadcast <-> AgentBuddy integration.

    Run `ab-harness COMMAND --help` for what each command does.
    """
