"""`ab-harness send-webhook`: any example of the contract (or a file), signed, to a receiver."""
from __future__ import annotations

import json

import requests

from harness.oauth import headless_token


def _secret_and_contact(fake) -> tuple[str, str]:
    """The connection's secret (admin view) and a live contact of its account (public API)."""
    world = fake.world()
    account = world["accounts"][0]["id"]
    secret = next(c["webhook_secret"] for c in world["connections"]
                  if c["client_id"] == "broadcast-local" and c["account_id"] == account)
    token = headless_token(fake.url, fake.agent(0))["access_token"]
    page = requests.get(f"{fake.url}/v1/contacts", params={"per_page": 1}, timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).json()
    return secret, page["data"][0]["id"]


def test_list_names_every_webhook_payload_of_the_contract(kit):
    run = kit("send-webhook", "--list")

    assert run.exit_code == 0
    for name in ("events.spec73", "events.clicked", "propensity.spec73", "batch.appendixB",
                 "changeNotification.contactUpdated"):
        assert name in run.stdout
    assert "/webhooks/broadcast/{connection_id}/events" in run.stdout  # the deprecated route is not offered


def test_an_example_signed_and_sent_lands_on_the_contact(serve_fake, kit):
    fake = serve_fake()
    secret, contact = _secret_and_contact(fake)

    run = kit("send-webhook", "--url", fake.url, "--secret", secret, "--example", "events.clicked",
              "--contact-id", contact, "--id", "msg_kit_1")

    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"POST {fake.url}/v1/webhooks/broadcast/events -> 200 application/json")
    assert json.loads(run.stdout.splitlines()[1]) == {"webhook_id": "msg_kit_1", "status": "accepted"}
    events = requests.get(f"{fake.admin_url}/__admin/records/contacts/{contact}", timeout=10).json()["events"]
    assert [e["event_id"] for e in events] == ["bc_evt_0001"]

    again = kit("send-webhook", "--url", fake.url, "--secret", secret, "--example", "events.clicked",
                "--contact-id", contact, "--id", "msg_kit_1")
    assert again.exit_code == 0 and '"status":"duplicate"' in again.stdout


def test_a_wrong_secret_or_a_stale_timestamp_is_shown_as_the_receiver_answered(serve_fake, kit):
    fake = serve_fake()
    secret, contact = _secret_and_contact(fake)
    wrong = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="

    refused = kit("send-webhook", "--url", fake.url, "--secret", wrong, "--example", "propensity.spec73",
                  "--contact-id", contact)
    stale = kit("send-webhook", "--url", fake.url, "--secret", secret, "--example", "propensity.spec73",
                "--contact-id", contact, "--timestamp-offset", "-400")

    assert refused.exit_code == 1 and "-> 401" in refused.stdout and "invalid_signature" in refused.stdout
    assert stale.exit_code == 1 and "-> 401" in stale.stdout and "timestamp_out_of_tolerance" in stale.stdout


def test_a_file_goes_byte_for_byte_to_a_full_url(serve_fake, kit, tmp_path):
    fake = serve_fake()
    secret, contact = _secret_and_contact(fake)
    payload = tmp_path / "batch.json"
    payload.write_text(json.dumps({"event_type": "engagement.batch_update", "timestamp": "2026-01-15T00:00:00Z",
                                   "data": {"updates": [{"contact_id": contact,
                                                         "engagement_metrics": {"total_opens": 3}}]}}))

    run = kit("send-webhook", "--url", f"{fake.url}/v1/webhooks/broadcast/batch", "--secret", secret,
              "--file", str(payload))

    assert run.exit_code == 0, run.stdout
    assert json.loads(run.stdout.splitlines()[1])["applied"] == 1


def test_bad_input_is_one_sentence(kit, tmp_path):
    cases = [
        (("--url", "http://127.0.0.1:1", "--secret", "whsec_QUFB", "--example", "nope"), "No example 'nope'"),
        (("--url", "http://127.0.0.1:1", "--secret", "not-a-secret", "--example", "events.spec73"), "whsec_"),
        (("--url", "http://127.0.0.1:1", "--secret", "whsec_QUFB"), "exactly one of --example"),
        (("--url", "http://127.0.0.1:1", "--secret", "whsec_QUFBQQ==", "--example", "events.spec73"), "Cannot reach"),
        (("--url", "http://127.0.0.1:1", "--secret", "whsec_QUFB", "--file", str(tmp_path / "none.json")),
         "Cannot read"),
    ]
    for args, expected in cases:
        run = kit("send-webhook", *args)
        assert run.exit_code == 2, (args, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], (args, run.stderr)


def test_with_a_connection_id_the_example_goes_to_the_connections_route(serve_fake, kit):
    fake = serve_fake()
    secret, contact = _secret_and_contact(fake)
    world = fake.world()
    connection_id = next(c["id"] for c in world["connections"]
                         if c["client_id"] == "broadcast-local" and c["account_id"] == world["accounts"][0]["id"])

    run = kit("send-webhook", "--url", fake.url, "--secret", secret, "--example", "events.clicked",
              "--contact-id", contact, "--connection-id", connection_id)

    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"POST {fake.url}/v1/webhooks/broadcast/{connection_id}/events -> 200")
