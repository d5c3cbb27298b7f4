"""`AdminClient`, the one Python client of the admin API, against a fake on a real socket."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import requests

from mock_agentbuddy.admin.client import AdminClient, AdminError

from .mock_helpers import first_active_agent, obtain_token, small_config

MARCH = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture
def admin(live_mock) -> AdminClient:
    base, _ = live_mock(small_config())
    return AdminClient(base)


def test_importing_the_client_loads_none_of_the_app():
    code = ("import sys, mock_agentbuddy.admin.client; "
            "print(sorted(m for m in ('flask', 'authlib', 'openapi_core', 'faker') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_world_export_and_records(admin):
    world = admin.world()
    contact_id = admin.export()["world"]["accounts"][0]["contacts"][0]["id"]
    assert admin.export()["sha256"] == admin.export()["sha256"]
    found = admin.record("contacts", contact_id)
    assert found["account_id"] == world["accounts"][0]["id"] and found["record"]["id"] == contact_id
    assert admin.record("contacts", "ab_contact_99999") is None
    with pytest.raises(AdminError) as refused:
        admin.journal(since=-1)
    assert refused.value.status == 400 and refused.value.body["errors"][0]["field"] == "since"


def test_the_clock_is_set_to_the_microsecond_frozen_advanced_and_released(admin):
    admin.set_clock(MARCH)
    assert admin.clock() == {"now": "2026-03-01T12:00:00.123Z", "frozen": True}
    admin.advance(90)
    assert admin.now() == MARCH.replace(microsecond=123000) + timedelta(seconds=90)
    assert admin.freeze(False)["frozen"] is False


def test_mutate_churn_and_reset(admin):
    account_id = admin.world()["accounts"][0]["id"]
    created = admin.mutate("contact", "create", account_id=account_id)
    assert created["event_type"] == "contact.created"
    updated = admin.mutate("contact", "update", created["record"]["id"], {"tags": ["VIP"]})
    assert updated["record"]["tags"] == ["VIP"]
    assert len(admin.churn(3, account_id)) == 3
    with pytest.raises(AdminError) as refused:
        admin.mutate("contact", "update", created["record"]["id"], {"colour": "blue"})
    assert refused.value.status == 422 and refused.value.body["errors"][0]["field"] == "changes.colour"
    before = admin.export()["sha256"]
    admin.reset()
    assert admin.record("contacts", created["record"]["id"]) is None
    assert admin.export()["sha256"] != before


def test_faults_by_profile_and_by_list(admin):
    assert admin.set_faults(profile="flaky", seed=3)["profile"] == "flaky"
    assert admin.faults()["seed"] == 3
    custom = admin.set_faults([{"kind": "error", "status": 500, "count": 1}])
    assert custom["profile"] == "custom" and custom["faults"][0]["status"] == 500
    assert admin.set_faults([])["faults"] == []
    with pytest.raises(AdminError) as refused:
        admin.set_faults(profile="apocalypse")
    assert refused.value.body["errors"][0]["field"] == "profile"


def test_log_readers_read_each_entry_once_and_skip_past_a_reset(admin):
    arrivals = admin.follow_inbound()
    url = f"{admin.url}/v1/webhooks/broadcast/events"
    for msg in ("msg_1", "msg_2"):
        requests.post(url, data="{}", headers={"Content-Type": "application/json", "webhook-id": msg,
                                               "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}, timeout=5)
    first = arrivals.new()
    assert [e["webhook_id"] for e in first] == ["msg_1", "msg_2"]
    assert all(e["signature"] == "invalid_signature" and e["status"] == 401 for e in first)
    assert arrivals.new() == []
    assert len(arrivals.all()) == 2
    assert admin.inbound(limit=1)["entries"][0]["webhook_id"] == "msg_2"
    journal = admin.journal(operation_id="receiveEmailEventWebhook")
    assert [e["status"] for e in journal["entries"]] == [401, 401]
    admin.reset()  # the log is emptied, its sequence numbers carry on
    arrivals.skip_to_end()
    assert arrivals.seq == 2 and arrivals.all() == []


def test_a_token_from_the_real_oauth_flow_reads_what_the_client_changed(live_mock):
    base, app = live_mock(small_config())
    admin = AdminClient(base)
    client = app.test_client()
    token = obtain_token(client, first_active_agent(admin.world())["email"], "read:contacts")["access_token"]
    created = admin.mutate("contact", "create", changes={"first_name": "Ada"})
    seen = requests.get(f"{base}/v1/contacts/{created['record']['id']}", timeout=5,
                        headers={"Authorization": f"Bearer {token}"})
    assert seen.status_code == 200 and seen.json()["first_name"] == "Ada"
