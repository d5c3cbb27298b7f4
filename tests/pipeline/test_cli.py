"""An operator's view: `ab-harness deliveries`, `deliveries replay`, `rescore`."""
from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import main
from integration import outbox
from integration.storage import Database


def _operator_env(tmp_path, config) -> tuple[dict[str, str], Database]:
    url = f"sqlite:///{tmp_path}/ops.sqlite3"
    db = Database.from_url(url)
    db.migrate()
    env = {"AB_HARNESS_DATABASE_URL": url, "AB_HARNESS_ORG": "org_acme", "AB_HARNESS_TOKEN_KEY": config.token_key,
           "COLUMNS": "200"}
    return env, db


def _dead_letter(db: Database, clock) -> str:
    with db.transaction() as tx:
        message_id = outbox.enqueue(tx, organization_id="org_acme", connection_id="org_acme", kind="event",
                                    payload={"event_id": "evt_1", "contact_id": "ab_contact_1"}, now=clock.now(),
                                    contact_id="ab_contact_1")
    [claimed] = outbox.claim(db, "w", clock.now())
    outbox.mark_failed(db, claimed, "w", clock.now(), status=404, error="HTTP 404: no such contact",
                       next_attempt_at=None)
    return message_id


def test_deliveries_lists_counts_and_dead_letters_and_replay_requeues_them(tmp_path, config, clock):
    env, db = _operator_env(tmp_path, config)
    message_id = _dead_letter(db, clock)
    runner = CliRunner()

    shown = runner.invoke(main, ["deliveries", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["counts"]["dead"] == 1
    assert report["dead_letters"][0]["id"] == message_id and report["dead_letters"][0]["last_status"] == 404

    table = runner.invoke(main, ["deliveries"], env=env)
    assert message_id in table.output

    unknown = runner.invoke(main, ["deliveries", "replay", "msg_nope"], env=env)
    assert unknown.exit_code == 1 and "not dead letters" in unknown.output

    replayed = runner.invoke(main, ["deliveries", "replay", "--all"], env=env)
    assert replayed.exit_code == 0 and "replayed 1" in replayed.output
    assert outbox.counts(db, "org_acme")["dead"] == 0 and outbox.counts(db, "org_acme")["queued"] == 1


def test_replay_needs_all_or_ids(tmp_path, config):
    env, _ = _operator_env(tmp_path, config)
    result = CliRunner().invoke(main, ["deliveries", "replay"], env=env)
    assert result.exit_code == 1 and "--all" in result.output


def test_rescore_reports_what_it_did(tmp_path, config):
    env, _ = _operator_env(tmp_path, config)
    result = CliRunner().invoke(main, ["rescore", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["organization_id"] == "org_acme"
