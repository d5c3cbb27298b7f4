"""Spec section 9, Phase 2 (Full Entity Sync): the success criteria, one test each.

- All entity types syncing correctly
- Sync completes in < 10 seconds for typical account   (correctness here; the time is `make bench`'s)
- Changes in AgentBuddy reflected in Broadcast within 15 minutes
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any


import mock_agentbuddy
from .support import Broadcast, make_broadcast, parse_iso, start_fake
from common.serving import serve
from integration.agentbuddy import subscriptions
from common.timestamps import parse_rfc3339 as parse_ts
from integration.sync.scheduler import Scheduler
from integration.web import create_app

FIELDS = {  # Broadcast column -> AgentBuddy field, per entity (the contract's names)
    "offices": {"name": "name", "phone": "phone", "email": "email", "parent_office_id": "parent_office_id",
                "address_city": "address.city", "address_zip": "address.zip"},
    "agents": {"email": "email", "first_name": "first_name", "last_name": "last_name", "office_id": "office_id",
               "role": "role", "phone": "phone", "is_active": "is_active"},
    "contacts": {"email": "email", "first_name": "first_name", "last_name": "last_name",
                 "office_id": "office_id", "agent_id": "agent_id", "contact_type": "contact_type"},
    "properties": {"property_type": "property_type", "bedrooms": "bedrooms", "bathrooms": "bathrooms",
                   "square_feet": "square_feet", "estimated_value": "estimated_value",
                   "owner_contact_id": "owner_contact_id", "listing_status": "listing_status",
                   "last_sale_price": "last_sale_price", "address_street": "address.street"},
}
REFERENCES = (  # (entity, column, referenced entity)
    ("offices", "parent_office_id", "offices"),
    ("agents", "office_id", "offices"),
    ("contacts", "office_id", "offices"),
    ("contacts", "agent_id", "agents"),
    ("properties", "owner_contact_id", "contacts"),
)


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = (value or {}).get(part)
    return value


def _comparable(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def assert_entities_match(broadcast: Broadcast) -> dict[str, int]:
    """Every record of every entity is stored (quarantine holds the rest, with a reason), fields
    match, tombstones are soft deletes, and every reference AgentBuddy can resolve Broadcast can too."""
    ours = {entity: {r["id"]: r for r in broadcast.rows(entity)} for entity in FIELDS}
    quarantined = {(q["entity"], q["record_id"]) for q in broadcast.rows("quarantine", order="record_id")}
    counts = {}
    for entity, fields in FIELDS.items():
        theirs = {r["id"]: r for r in broadcast.fake.records(entity, include_deleted=True)}
        missing = set(theirs) - set(ours[entity]) - {rid for ent, rid in quarantined if ent == entity}
        assert not missing, f"{entity}: {sorted(missing)[:5]} neither synced nor quarantined"
        assert set(ours[entity]) <= set(theirs), f"{entity}: Broadcast holds records AgentBuddy never had"
        for record_id, row in ours[entity].items():
            record = theirs[record_id]
            assert (row["deleted_at"] is None) == (record["deleted_at"] is None), (entity, record_id)
            assert parse_ts(row["ab_updated_at"]) == parse_iso(record["updated_at"]), (entity, record_id)
            if record["deleted_at"]:
                continue
            for column, path in fields.items():
                assert row[column] == _comparable(_field(record, path)), (entity, record_id, column)
        counts[entity] = sum(1 for r in ours[entity].values() if r["deleted_at"] is None)
        assert counts[entity] > 0, f"no live {entity} synced"
    for entity, column, target in REFERENCES:
        for row in ours[entity].values():
            ref = row[column]
            if ref is not None and row["deleted_at"] is None and (target, ref) not in quarantined:
                assert ref in ours[target], f"{entity} {row['id']}.{column} -> {ref} is not in Broadcast"
    linked = [pid for c in ours["contacts"].values() for pid in json.loads(c["property_ids"] or "[]")]
    assert linked and set(linked) <= set(ours["properties"]), "contacts' property references resolve"
    return counts


def test_all_entity_types_syncing_correctly(synced: Broadcast):
    """Offices, agents, contacts and properties, with the references between them, after the
    initial sync and again after an incremental sync that creates, updates and deletes."""
    assert_entities_match(synced)

    fake = synced.fake
    synced.advance(600)
    office = next(o for o in fake.records("offices", include_deleted=False))
    agent = next(a for a in fake.records("agents", include_deleted=False) if a["is_active"])
    prop = next(p for p in fake.records("properties", include_deleted=False))
    fake.mutate("office", "update", office["id"], {"name": "Acme Realty — Harbour Office"})
    fake.mutate("agent", "update", agent["id"], {"last_name": "Renamed"})
    fake.mutate("property", "update", prop["id"], {"estimated_value": 987654})
    fake.mutate("property", "delete", next(p["id"] for p in fake.records("properties", include_deleted=False)
                                           if p["id"] != prop["id"]))
    fake.mutate("contact", "create", changes={"email": "new.buyer@example.com", "first_name": "New",
                                              "last_name": "Buyer", "email_opt_in": True, "contact_type": "buyer",
                                              "office_id": office["id"], "agent_id": agent["id"]})
    synced.advance(60)
    summary = synced.sync()
    assert summary.kind == "incremental"
    assert {e: (c.created, c.updated, c.deleted) for e, c in summary.entities.items()} == {
        "offices": (0, 1, 0), "agents": (0, 1, 0), "contacts": (1, 0, 0), "properties": (0, 1, 1)}
    assert_entities_match(synced)
    assert synced.row("offices", office["id"])["name"] == "Acme Realty — Harbour Office"


def test_sync_of_a_typical_1500_contact_account_completes_correctly(database):
    """Spec: "Sync completes in < 10 seconds for typical account". A test cannot promise a
    duration on a shared machine, so this checks the typical account (1,500 contacts with its
    offices, agents and properties) syncs completely and correctly; how long it takes is measured by
    `make bench` (bench/results.json), where the time criterion is judged."""
    fake, stop = start_fake(contacts_per_account=1500)
    try:
        broadcast = make_broadcast(database, fake, sync_page_size=500)
        broadcast.connect()
        summary = broadcast.sync()
        assert summary.kind == "initial" and not any(c.skipped for c in summary.entities.values())
        counts = assert_entities_match(broadcast)
        live = len(fake.records("contacts", include_deleted=False))
        assert counts["contacts"] + sum(1 for q in broadcast.rows("quarantine", order="record_id")
                                        if q["entity"] == "contacts") == live >= 1400
        again = broadcast.sync()
        assert again.totals.created == again.totals.updated == again.totals.deleted == 0
    finally:
        stop()


def _change_everything(broadcast: Broadcast) -> dict[str, str]:
    """An agent's morning in AgentBuddy: a contact edited, one deleted, one added, an office renamed,
    an agent moved to another office, a property revalued and another one removed."""
    fake = broadcast.fake
    contacts = fake.records("contacts", include_deleted=False)
    offices = fake.records("offices", include_deleted=False)
    agent = next(a for a in fake.records("agents", include_deleted=False) if a["is_active"])
    properties = fake.records("properties", include_deleted=False)
    ids = {"updated": contacts[0]["id"], "deleted": contacts[1]["id"], "office": offices[0]["id"],
           "agent": agent["id"], "new_office": next(o["id"] for o in offices if o["id"] != agent["office_id"]),
           "property": properties[0]["id"], "gone_property": properties[1]["id"]}
    fake.mutate("contact", "update", ids["updated"], {"first_name": "Changed", "tags": ["vip", "2026"]})
    fake.mutate("contact", "delete", ids["deleted"])
    ids["created"] = fake.mutate("contact", "create", changes={
        "email": "fresh.lead@example.com", "first_name": "Fresh", "last_name": "Lead", "email_opt_in": True,
    })["record"]["id"]
    fake.mutate("office", "update", ids["office"], {"name": "Harbour Office"})
    fake.mutate("agent", "update", ids["agent"], {"office_id": ids["new_office"]})
    fake.mutate("property", "update", ids["property"], {"estimated_value": 812500})
    fake.mutate("property", "delete", ids["gone_property"])
    return ids


def _assert_reflected(broadcast: Broadcast, ids: dict[str, str]) -> None:
    assert broadcast.row("contacts", ids["updated"])["first_name"] == "Changed"
    assert json.loads(broadcast.row("contacts", ids["updated"])["tags"]) == ["vip", "2026"]
    assert broadcast.row("contacts", ids["deleted"])["deleted_at"] is not None
    assert broadcast.row("contacts", ids["created"])["email"] == "fresh.lead@example.com"
    assert broadcast.row("offices", ids["office"])["name"] == "Harbour Office"
    assert broadcast.row("agents", ids["agent"])["office_id"] == ids["new_office"]
    assert broadcast.row("properties", ids["property"])["estimated_value"] == 812500
    assert broadcast.row("properties", ids["gone_property"])["deleted_at"] is not None
    assert_entities_match(broadcast)


def test_changes_in_agentbuddy_reflected_in_broadcast_within_15_minutes(synced: Broadcast):
    """Without any notification: a change made just after a scheduled run is in Broadcast by the
    next run, 15 minutes of clock later (the schedule's promise), and not sooner by accident."""
    synced.advance(1)
    changed_at = synced.clock.now()
    ids = _change_everything(synced)
    scheduler = Scheduler(synced.db, synced.config, clock=synced.clock)
    synced.advance(5 * 60)
    assert scheduler.tick() == [], "not due yet five minutes after the last run"
    assert synced.row("contacts", ids["updated"])["first_name"] != "Changed"

    synced.advance((changed_at + timedelta(minutes=15) - synced.clock.now()).total_seconds())
    [result] = scheduler.tick()
    assert result.ok and result.detail == "synced"
    _assert_reflected(synced, ids)
    assert synced.clock.now() - changed_at <= timedelta(minutes=15)


def test_changes_in_agentbuddy_reflected_within_15_minutes_by_change_notifications(synced: Broadcast):
    """With Broadcast subscribed to AgentBuddy's change notifications (signed webhooks to its
    web app), a change is in Broadcast as soon as the notification arrives, no clock movement."""
    app = create_app(synced.config, db=synced.db, clock=synced.clock)
    with serve(app, name="broadcast") as served:
        subscriptions.subscribe(synced.db, synced.config, synced.org, f"{served.url}/agentbuddy/notifications",
                                clock=synced.clock)
        synced.advance(1)
        changed_at = synced.clock.now()
        ids = _change_everything(synced)
        assert mock_agentbuddy.state_of(synced.fake.app).notifier.wait_idle(30)
    _assert_reflected(synced, ids)
    assert synced.clock.now() == changed_at
