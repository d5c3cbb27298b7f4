"""Fixtures for the engagement pipeline, written as the people in the stories would see them.

`broadcast` is one Broadcast organization (on SQLite, and on PostgreSQL when it is reachable)
already connected to an AgentBuddy, with a handful of contacts and a January campaign. `resend`
is the email provider: it signs webhooks exactly as Resend does (Svix) and posts them.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from cryptography.fernet import Fernet
from svix.webhooks import Webhook as SvixWebhook

from integration.engagement.pipeline import campaigns, ingest
from integration import outbox
from common.clock import ManualClock
from integration.config import IntegrationConfig
from integration.agentbuddy.secrets import SecretBox
from integration.storage import Database
from integration.web import create_app

START = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-test-secret-0123456789abc").decode()
AB_SECRET = "whsec_" + base64.b64encode(b"agentbuddy-connection-secret-xyz").decode()
ORG = "org_acme"

CONTACTS = {
    # id: (email, contact_type, email_opt_in, deleted)
    "ab_contact_maria": ("maria@example.com", "owner", True, False),
    "ab_contact_james": ("james@example.com", "buyer", True, False),
    "ab_contact_pat": ("pat@example.com", "lead", False, False),
    "ab_contact_gone": ("gone@example.com", "lead", True, True),
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def config() -> IntegrationConfig:
    return IntegrationConfig(
        database_url="sqlite:///unused", token_key=Fernet.generate_key().decode(),
        resend_webhook_secret=RESEND_SECRET, default_organization_id=ORG,
        agentbuddy_url="http://127.0.0.1:9",
    )


def connect_org(db: Database, config: IntegrationConfig, clock: ManualClock, agentbuddy_url: str,
                secret: str = AB_SECRET, org: str = ORG) -> None:
    """What a completed OAuth connect leaves behind: an active connection with its webhook secret."""
    box = SecretBox(config.require_token_key())
    now = clock.now()
    with db.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)"
                   " ON CONFLICT (organization_id) DO NOTHING", (org, "Acme Realty", now))
        tx.execute(
            "INSERT INTO connections (organization_id, agentbuddy_url, account_id, client_id, scopes, status,"
            " access_token_enc, webhook_secret_enc, connected_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)"
            " ON CONFLICT (organization_id) DO UPDATE SET agentbuddy_url = excluded.agentbuddy_url,"
            " webhook_secret_enc = excluded.webhook_secret_enc, account_id = excluded.account_id",
            (org, agentbuddy_url, "ab_account_001", config.client_id, "write:engagement", box.encrypt("unused-token"),
             box.encrypt(secret), now, now),
        )


def add_contacts(db: Database, clock: ManualClock, contacts: dict[str, tuple], org: str = ORG) -> None:
    now = clock.now()
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO contacts (organization_id, id, email, first_name, last_name, contact_type, email_opt_in,"
            " ab_updated_at, deleted_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(org, cid, email, cid.split("_")[-1].title(), "Example", ctype, opt_in, now, now if deleted else None, now)
             for cid, (email, ctype, opt_in, deleted) in contacts.items()],
        )


@dataclass
class Broadcast:
    """One organization's Broadcast, as the pipeline tests drive it."""

    db: Database
    config: IntegrationConfig
    clock: ManualClock
    org: str = ORG
    doorbell: outbox.Doorbell = field(default_factory=outbox.Doorbell)
    _sends: int = 0

    def send(self, contact_id: str, campaign_id: str = "bc_campaign_jan") -> str:
        """Email a contact in a campaign; returns the provider email id (raises SendRefused)."""
        self._sends += 1
        email_id = f"re_{self._sends:06d}_{contact_id[-6:]}"
        campaigns.record_send(self.db, self.org, campaign_id, contact_id, email_id, self.clock)
        return email_id

    def outbox_rows(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.db.transaction(readonly=True) as tx:
            rows = tx.fetchall("SELECT * FROM outbox WHERE organization_id = ? ORDER BY created_at, id", (self.org,))
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return [r for r in rows if kind is None or r["kind"] == kind]

    def email_status(self, contact_id: str) -> str:
        with self.db.transaction(readonly=True) as tx:
            return tx.fetchval("SELECT email_status FROM contacts WHERE organization_id = ? AND id = ?",
                               (self.org, contact_id))

    def stored_events(self) -> list[dict[str, Any]]:
        with self.db.transaction(readonly=True) as tx:
            return tx.fetchall("SELECT * FROM engagement_events WHERE organization_id = ? ORDER BY occurred_at, id",
                               (self.org,))

    def app(self):
        return create_app(self.config, db=self.db, clock=self.clock, doorbell=self.doorbell)


@pytest.fixture
def broadcast(database: Database, config: IntegrationConfig, clock: ManualClock) -> Broadcast:
    connect_org(database, config, clock, config.agentbuddy_url)
    add_contacts(database, clock, CONTACTS)
    campaigns.upsert_campaign(database, ORG, campaigns.Campaign("bc_campaign_jan", "January Market Update",
                                                                "market_update"), clock)
    return Broadcast(database, config, clock)


@dataclass
class Resend:
    """The email provider: builds Resend-shaped payloads and signs them with Svix."""

    clock: ManualClock
    secret: str = RESEND_SECRET
    _messages: int = 0

    def payload(self, type_: str, email_id: str, *, at: datetime | None = None, **data: Any) -> dict[str, Any]:
        created = (at or self.clock.now()).isoformat().replace("+00:00", "Z")
        body = {"email_id": email_id, "from": "Acme <news@acme.example>", "to": ["someone@example.com"],
                "subject": "January Market Update", "created_at": created}
        body.update(data)
        return {"type": type_, "created_at": created, "data": body}

    def signed(self, payload: dict[str, Any], *, message_id: str | None = None,
               secret: str | None = None) -> tuple[dict[str, str], bytes]:
        self._messages += 1
        message_id = message_id or f"msg_resend_{self._messages:05d}"
        body = json.dumps(payload)
        now = self.clock.now()
        signature = SvixWebhook(secret or self.secret).sign(message_id, now, body)
        headers = {"svix-id": message_id, "svix-timestamp": str(int(now.timestamp())),
                   "svix-signature": signature, "content-type": "application/json"}
        return headers, body.encode()

    def post(self, client, payload: dict[str, Any], **kwargs: Any):
        headers, body = self.signed(payload, **kwargs)
        return client.post("/providers/resend/webhook", data=body, headers=headers)

    def deliver(self, broadcast: Broadcast, payload: dict[str, Any], **kwargs: Any) -> ingest.IngestResult:
        headers, body = self.signed(payload, **kwargs)
        return ingest.ingest_provider_webhook(broadcast.db, broadcast.org, headers, body, broadcast.clock,
                                              secret=self.secret, doorbell=broadcast.doorbell)


@pytest.fixture
def resend(clock: ManualClock) -> Resend:
    return Resend(clock)


@pytest.fixture(scope="session")
def contract_schema():
    """`contract_schema("BatchWebhook").validate(body)`: bodies are checked against the contract itself."""
    from contract import load_spec
    from harness.contract.lint import schema_pointer, schema_registry, validator_for

    spec = load_spec()
    registry = schema_registry(spec)
    return lambda name: validator_for(spec, schema_pointer(spec, name), registry)


@pytest.fixture
def fresh_broadcast(tmp_path, config: IntegrationConfig):
    """`fresh_broadcast("a")`: another, independent organization set-up on its own SQLite file and
    clock (the same start), for checks that the same story gives the same result twice."""
    opened: list[Database] = []

    def make(name: str) -> Broadcast:
        db = Database.from_url(f"sqlite:///{tmp_path}/{name}.sqlite3")
        db.migrate()
        opened.append(db)
        clock = ManualClock(START)
        connect_org(db, config, clock, config.agentbuddy_url)
        add_contacts(db, clock, CONTACTS)
        campaigns.upsert_campaign(db, ORG, campaigns.Campaign("bc_campaign_jan", "January Market Update",
                                                              "market_update"), clock)
        return Broadcast(db, config, clock)

    yield make
    for db in opened:
        db.close()
