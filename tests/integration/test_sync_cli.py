"""The `ab-harness connect / sync / export / disconnect` commands, as a user runs them."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main

from .conftest import FakeAgentBuddy


@pytest.fixture
def run(tmp_path, monkeypatch, fake_agentbuddy: FakeAgentBuddy):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AB_HARNESS_TOKEN_KEY", raising=False)
    runner = CliRunner()
    common = ["--database-url", f"sqlite:///{tmp_path / 'b.sqlite3'}", "--agentbuddy-url", fake_agentbuddy.url,
              "--org", "org_cli"]

    def invoke(*args: str):
        command, rest = list(args[:1]), list(args[1:])
        if command == ["export"]:
            command, rest = ["export", rest[0]], rest[1:]
        result = runner.invoke(main, [*command, *common, *rest], catch_exceptions=False)
        return result

    return invoke


def test_connect_sync_export_disconnect(run, fake_agentbuddy: FakeAgentBuddy, tmp_path):
    connected = run("connect", "--login-hint", fake_agentbuddy.agent_email())
    assert connected.exit_code == 0, connected.output
    assert "Connected org_cli" in connected.output and fake_agentbuddy.account_id() in connected.output
    assert "Created a token encryption key" in connected.output
    assert (tmp_path / ".harness" / "token.key").is_file()

    synced = run("sync", "--json")
    assert synced.exit_code == 0, synced.output
    summary = json.loads(synced.output)
    assert summary["kind"] == "initial"
    assert summary["totals"]["created"] + summary["totals"]["deleted"] == summary["totals"]["records"] > 0

    again = run("sync", "--entity", "contacts")
    assert again.exit_code == 0 and "total" in again.output and "contacts" in again.output
    assert "offices" not in again.output

    exported = run("export", "contacts", "--json")
    assert exported.exit_code == 0, exported.output
    contacts = json.loads(exported.output)
    live = [r for r in fake_agentbuddy.records("contacts", include_deleted=False)]
    assert {c["id"] for c in contacts} == {r["id"] for r in live}
    sample = contacts[0]
    assert {"email", "tags", "email_status", "emailable"} <= set(sample)
    assert "propensity_score" in sample  # the engagement pipeline's scores, left-joined (none yet)
    assert "notes" not in sample

    gone = run("disconnect")
    assert gone.exit_code == 0 and "Disconnected org_cli" in gone.output
    refused = run("sync")
    assert refused.exit_code == 1 and "disconnected" in refused.output


def test_sync_without_a_connection_explains_what_to_do(run):
    result = run("sync")
    assert result.exit_code == 1
    assert "never connected" in result.output
