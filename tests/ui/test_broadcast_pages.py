"""Broadcast's pages through Flask's test client: empty states, errors, filters and operator actions."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet

from integration import outbox
from common.clock import ManualClock
from common.serving import free_port
from integration.config import IntegrationConfig
from integration.storage import Database
from integration.web import create_app

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
ORG = "org_default"
SETTINGS = "/settings/integrations/agentbuddy"



@pytest.fixture(params=["sqlite", "postgresql"])
def broadcast(request, tmp_path):
    """Broadcast's app over SQLite, and over PostgreSQL where AB_TEST_POSTGRES_URL is set."""
    config = IntegrationConfig(database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}",
                               agentbuddy_url=f"http://127.0.0.1:{free_port()}",
                               token_key=Fernet.generate_key().decode(), http_max_retries=0)
    if request.param == "sqlite":
        db = Database.from_url(config.database_url)
    else:
        db = Database.from_url(request.getfixturevalue("postgres_url"), schema=f"ui_{uuid.uuid4().hex[:12]}")
    db.migrate()
    app = create_app(config, db, ManualClock(NOW))
    yield app.test_client(), db
    if request.param == "sqlite":
        db.close()
    else:
        db.drop_schema()


def csrf(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(SETTINGS).get_data(as_text=True)).group(1)


def flashes(response) -> list[str]:
    return re.findall(r'class="flash [a-z]+"[^>]*>([^<]+)', response.get_data(as_text=True))


def seed_contacts(db, rows):
    """Contacts with optional metrics and scores, written the way sync and scoring store them."""
    with db.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)", (ORG, ORG, NOW))
        for cid, first, score, category, opens in rows:
            tx.execute("INSERT INTO contacts (organization_id, id, email, first_name, last_name, contact_type,"
                       " ab_updated_at, synced_at) VALUES (?, ?, ?, ?, 'Test', 'owner', ?, ?)",
                       (ORG, cid, f"{first.lower()}@example.com", first, NOW, NOW))
            if opens is not None:
                tx.execute("INSERT INTO contact_metrics (organization_id, contact_id, total_emails_sent, total_opens,"
                           " open_rate, engagement_trend, computed_at) VALUES (?, ?, 5, ?, ?, 'stable', ?)",
                           (ORG, cid, opens, opens * 20.0, NOW))
            if score is not None:
                tx.execute("INSERT INTO contact_scores (organization_id, contact_id, propensity_score,"
                           " propensity_category, recommended_action, contributing_factors, score_updated_at)"
                           " VALUES (?, ?, ?, ?, ?, '[\"3 opens in 7 days\"]', ?)",
                           (ORG, cid, score, category, f"Action for {first}", NOW))


def names(response) -> list[str]:
    return re.findall(r'<a href="/contacts/[^"]+">(\w+) Test</a>', response.get_data(as_text=True))


def test_nothing_yet_every_page_says_what_to_do(broadcast):
    client, _ = broadcast
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "Not connected" in page and "Connect AgentBuddy" in page and "No sync has run yet" in page
    contacts = client.get("/contacts").get_data(as_text=True)
    assert "No contacts yet" in contacts and "Connect AgentBuddy" in contacts
    missing = client.get("/contacts/ab_contact_404")
    assert missing.status_code == 404 and "text/html" in missing.content_type
    assert "no such contact" in missing.get_data(as_text=True)


def test_actions_without_a_connection_or_agentbuddy_explain_themselves(broadcast):
    client, _ = broadcast
    token = csrf(client)
    down = client.post(SETTINGS + "/connect", data={"csrf": token}, follow_redirects=True)
    assert any("AgentBuddy is not reachable" in m for m in flashes(down))
    sync = client.post(SETTINGS + "/sync", data={"csrf": token}, follow_redirects=True)
    assert flashes(sync) == ["Sync did not run: AgentBuddy is not connected yet. Connect it first."]
    gone = client.post(SETTINGS + "/disconnect", data={"csrf": token}, follow_redirects=True)
    assert flashes(gone) == ["There is no AgentBuddy connection to disconnect."]
    forged = client.post(SETTINGS + "/disconnect", data={"csrf": "forged"})
    assert forged.status_code == 400 and "expired" in forged.get_data(as_text=True)


def test_needs_reauth_offers_reconnect(broadcast):
    client, db = broadcast
    with db.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)", (ORG, ORG, NOW))
        tx.execute("INSERT INTO connections (organization_id, agentbuddy_url, account_id, account_name, client_id,"
                   " scopes, status, connected_at, updated_at, last_error) VALUES (?, 'http://x', 'ab_account_001',"
                   " 'Warren Homes', 'broadcast-local', 'read:contacts', 'needs_reauth', ?, ?, 'refresh refused')",
                   (ORG, NOW, NOW))
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "Needs reconnecting" in page and "refresh refused" in page and ">Reconnect</button>" in page
    assert "Sync now" not in page
    contacts = client.get("/contacts").get_data(as_text=True)
    assert "needs reauth" in contacts and "reconnect" in contacts


def test_contacts_sort_filter_and_search(broadcast):
    client, db = broadcast
    seed_contacts(db, [("ab_contact_1", "Maria", 87, "hot", 5), ("ab_contact_2", "James", 62, "warm", 3),
                       ("ab_contact_3", "Ann", 20, "cold", 0), ("ab_contact_4", "Zed", None, None, None)])
    assert names(client.get("/contacts")) == ["Maria", "James", "Ann", "Zed"]  # hottest first, unscored last
    assert names(client.get("/contacts?sort=score&dir=asc")) == ["Ann", "James", "Maria", "Zed"]
    assert names(client.get("/contacts?sort=name&dir=asc")) == ["Ann", "James", "Maria", "Zed"]
    assert names(client.get("/contacts?sort=DROP TABLE contacts")) == ["Maria", "James", "Ann", "Zed"]
    hot = client.get("/contacts?category=hot").get_data(as_text=True)
    assert names(client.get("/contacts?category=hot")) == ["Maria"] and "Action for Maria" in hot
    assert names(client.get("/contacts?category=cool")) == []
    assert "No contacts match" in client.get("/contacts?category=cool").get_data(as_text=True)
    assert names(client.get("/contacts?q=jam")) == ["James"]
    record = client.get("/contacts/ab_contact_1").get_data(as_text=True)
    assert "Action for Maria" in record and "3 opens in 7 days" in record and "No email events" in record


def test_dead_letters_are_listed_and_replayed(broadcast):
    client, db = broadcast
    seed_contacts(db, [("ab_contact_1", "Maria", 87, "hot", 5)])
    with db.transaction() as tx:
        message = outbox.enqueue(tx, organization_id=ORG, connection_id=ORG, kind="propensity",
                                 payload={"contact_id": "ab_contact_1"}, now=NOW, contact_id="ab_contact_1")
        other = outbox.enqueue(tx, organization_id="org_other", connection_id="org_other", kind="event",
                               payload={}, now=NOW)
        tx.execute("UPDATE outbox SET status = 'dead', attempts = 8, last_status = 500, last_error = 'HTTP 500'")
    page = client.get(SETTINGS).get_data(as_text=True)
    assert message in page and other not in page and 'id="dead">1<' in page
    replayed = client.post(SETTINGS + "/replay", data={"csrf": csrf(client), "id": [message, other]},
                           follow_redirects=True)
    assert flashes(replayed) == ["Queued 1 dead-lettered message for delivery again."]
    assert outbox.counts(db, ORG)["queued"] == 1 and outbox.counts(db, "org_other")["dead"] == 1


def test_quarantined_records_are_shown(broadcast):
    client, db = broadcast
    with db.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)", (ORG, ORG, NOW))
        tx.execute("INSERT INTO quarantine (organization_id, entity, record_id, reason, payload, first_seen,"
                   " last_seen, occurrences) VALUES (?, 'contacts', 'ab_contact_9', 'email: not an email', '{}', ?, ?, 2)",
                   (ORG, NOW, NOW))
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "ab_contact_9" in page and "email: not an email" in page and "×2" in page
