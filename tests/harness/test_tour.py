"""The day-one tour a Broadcast developer sees in `make demo` really happens against the fake."""
from __future__ import annotations

import pytest

from harness import tour


@pytest.fixture
def fake():
    server = tour.start_fake(seed=7)
    yield server
    server.stop()


def test_tour_connects_reads_contacts_and_delivers_one_signed_webhook_once(fake):
    result = tour.run_tour(fake.url, seed=7)

    assert result.account_id == "ab_account_001"
    assert "read:contacts" in result.scopes and "write:engagement" in result.scopes
    assert result.contacts_total == 120 and len(result.contacts_shown) == 5
    assert result.webhook_status == 200 and result.replay_status == 200
    verdicts = [(e["signature"], e["duplicate"], e["applied"]) for e in result.inbound[-2:]]
    assert verdicts == [("valid", False, True), ("valid", True, False)]
    statuses = {c["id"]: c["status"] for c in result.contact_after["campaigns"]}
    assert statuses == {"bc_campaign_456": "opened"}


def test_same_seed_gives_the_same_tour(fake):
    first = tour.run_tour(fake.url, seed=7)
    again = tour.start_fake(seed=7)
    try:
        second = tour.run_tour(again.url, seed=7)
    finally:
        again.stop()
    assert [c["id"] for c in first.contacts_shown] == [c["id"] for c in second.contacts_shown]
    assert first.login == second.login
