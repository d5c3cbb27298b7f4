"""Initial and incremental sync: what Broadcast ends up holding, on SQLite and PostgreSQL."""
from __future__ import annotations

import json

from integration.sync import contacts as broadcast_contacts
from integration.sync.conflicts import is_emailable

from .conftest import ConnectedOrg, advance_both, connect


def _by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


def test_initial_sync_brings_every_record_of_every_entity(synced_world: ConnectedOrg):
    org = synced_world
    for entity in ("offices", "agents", "contacts", "properties"):
        theirs = _by_id(org.fake.records(entity))
        ours = _by_id(org.rows(entity))
        assert set(ours) == set(theirs), entity
        for record_id, record in theirs.items():
            assert (ours[record_id]["deleted_at"] is None) == (record["deleted_at"] is None), record_id


def test_contact_fields_are_mapped_faithfully(synced_world: ConnectedOrg):
    org = synced_world
    ours = _by_id(org.rows("contacts"))
    for record in org.fake.records("contacts", include_deleted=False):
        row = ours[record["id"]]
        assert (row["email"], row["first_name"], row["last_name"], row["phone"]) == (
            record["email"], record["first_name"], record["last_name"], record["phone"])
        assert (row["contact_type"], row["office_id"], row["agent_id"]) == (
            record["contact_type"], record["office_id"], record["agent_id"])
        assert row["address_city"] == (record["address"] or {}).get("city")
        assert json.loads(row["tags"]) == record["tags"]
        assert json.loads(row["custom_fields"]) == record["custom_fields"]
        assert json.loads(row["property_ids"]) == record["properties"]
        assert row["email_opt_in"] == int(record["email_opt_in"])
        assert row["status"] == record["status"]
        assert row["email_status"] == "subscribed"


def test_private_notes_are_never_stored(synced_world: ConnectedOrg):
    org = synced_world
    notes = [r["notes"] for r in org.fake.records("contacts") if r.get("notes")]
    assert notes, "the seeded world should have private notes to leak"
    with org.db.transaction(readonly=True) as tx:
        stored = " ".join(str(v) for table in ("contacts", "quarantine")
                          for row in tx.fetchall(f"SELECT * FROM {table}") for v in row.values())
    assert not [n for n in notes if n in stored]
    assert "notes" not in org.rows("contacts")[0]


def test_incremental_sync_applies_creates_updates_and_tombstones(synced_world: ConnectedOrg):
    org = synced_world
    contacts = org.fake.records("contacts", include_deleted=False)
    changed, doomed = contacts[0]["id"], contacts[1]["id"]
    advance_both(org, 600)
    org.fake.mutate("contact", "update", changed, {"first_name": "Renamed"})
    org.fake.mutate("contact", "delete", doomed)
    created = org.fake.mutate("contact", "create", changes={
        "email": "new.person@example.com", "first_name": "New", "last_name": "Person", "email_opt_in": True,
    })["record"]
    advance_both(org, 60)

    summary = org.sync()
    assert summary.kind == "incremental"
    counts = summary.entities["contacts"]
    assert (counts.created, counts.updated, counts.deleted, counts.quarantined) == (1, 1, 1, 0)
    assert summary.entities["offices"].created == summary.entities["offices"].updated == 0
    assert org.row("contacts", changed)["first_name"] == "Renamed"
    tombstone = org.row("contacts", doomed)
    assert tombstone is not None and tombstone["deleted_at"] is not None  # soft delete: the row stays
    assert org.row("contacts", created["id"])["email"] == "new.person@example.com"

    again = org.sync()
    assert again.totals.created == again.totals.updated == again.totals.deleted == 0


def test_unsubscribed_contact_stays_unsubscribed_whatever_agentbuddy_sends(synced_world: ConnectedOrg):
    org = synced_world
    contact = next(r for r in org.fake.records("contacts", include_deleted=False) if r["email_opt_in"])
    broadcast_contacts.record_email_status(org.db, "org_a", contact["id"], "unsubscribed", org.clock.now())
    advance_both(org, 60)
    org.fake.mutate("contact", "update", contact["id"], {"last_name": "Changed", "email_opt_in": True})
    org.sync()
    row = org.row("contacts", contact["id"])
    assert row["last_name"] == "Changed"  # AgentBuddy wins demographics
    assert row["email_status"] == "unsubscribed"  # Broadcast wins engagement
    assert not is_emailable(row)


def test_contact_without_consent_is_never_emailable(synced_world: ConnectedOrg):
    org = synced_world
    contact = next(r for r in org.fake.records("contacts", include_deleted=False)
                   if r["email_opt_in"] and r["status"] == "active")
    assert is_emailable(org.row("contacts", contact["id"]))
    advance_both(org, 60)
    org.fake.mutate("contact", "update", contact["id"], {"email_opt_in": False})
    org.sync()
    row = org.row("contacts", contact["id"])
    assert row["email_opt_in"] == 0 and not is_emailable(row)


def test_tags_are_the_union_of_agentbuddy_and_broadcast_tags(synced_world: ConnectedOrg):
    org = synced_world
    contact = org.fake.records("contacts", include_deleted=False)[0]
    broadcast_contacts.add_tags(org.db, "org_a", contact["id"], ["Newsletter", "vip"], org.clock)
    advance_both(org, 60)
    org.fake.mutate("contact", "update", contact["id"], {"tags": ["VIP", "Investor"]})
    org.sync()
    row = org.row("contacts", contact["id"])
    assert json.loads(row["tags"]) == ["VIP", "Investor", "Newsletter"]  # "vip" == "VIP"
    assert json.loads(row["ab_tags"]) == ["VIP", "Investor"]


def test_status_is_last_write_wins_between_the_two_sides(synced_world: ConnectedOrg):
    org = synced_world
    contact = next(r for r in org.fake.records("contacts", include_deleted=False) if r["status"] == "active")
    cid = contact["id"]

    advance_both(org, 60)
    broadcast_contacts.set_status(org.db, "org_a", cid, "archived", org.clock)  # Broadcast archives at t1
    advance_both(org, 60)
    org.fake.mutate("contact", "update", cid, {"phone": "+1-555-000-0001"})  # AgentBuddy edits something else at t2
    org.sync()
    row = org.row("contacts", cid)
    assert (row["phone"], row["status"], row["status_source"]) == ("+1-555-000-0001", "archived", "broadcast")

    advance_both(org, 60)
    org.fake.mutate("contact", "update", cid, {"status": "archived"})  # AgentBuddy changes status at t3 > t1
    org.sync()
    row = org.row("contacts", cid)
    assert (row["status"], row["status_source"]) == ("archived", "agentbuddy")

    advance_both(org, 60)
    org.fake.mutate("contact", "update", cid, {"status": "active"})  # AgentBuddy at t4 ...
    advance_both(org, 60)
    broadcast_contacts.set_status(org.db, "org_a", cid, "archived", org.clock)  # ... Broadcast later, at t5
    org.sync()
    row = org.row("contacts", cid)
    assert (row["status"], row["ab_status"], row["status_source"]) == ("archived", "active", "broadcast")

    advance_both(org, 60)
    org.fake.mutate("contact", "update", cid, {"status": "archived"})
    org.sync()  # AgentBuddy now agrees with Broadcast; its write (t6) is the latest
    advance_both(org, 60)
    org.fake.mutate("contact", "update", cid, {"status": "active"})  # and at t7 it re-activates
    org.sync()
    row = org.row("contacts", cid)
    assert (row["status"], row["status_source"]) == ("active", "agentbuddy")


def test_invalid_record_is_quarantined_and_released_once_fixed(synced_world: ConnectedOrg):
    org = synced_world
    contact = next(r for r in org.fake.records("contacts", include_deleted=False) if r.get("notes"))
    advance_both(org, 60)
    org.fake.mutate("contact", "update", contact["id"], {"email": "broken@.example", "first_name": "Bad"})
    summary = org.sync()
    assert summary.entities["contacts"].quarantined == 1
    quarantined = org.rows("quarantine", order="record_id")
    assert [q["record_id"] for q in quarantined] == [contact["id"]]
    assert "email" in quarantined[0]["reason"]
    payload = json.loads(quarantined[0]["payload"])
    assert payload["email"] == "broken@.example" and "notes" not in payload
    assert org.row("contacts", contact["id"])["email"] == contact["email"]  # the last good version stays

    advance_both(org, 60)
    org.fake.mutate("contact", "update", contact["id"], {"email": "fixed@example.com"})
    summary = org.sync()
    assert summary.entities["contacts"].released == 1
    assert org.rows("quarantine", order="record_id") == []
    row = org.row("contacts", contact["id"])
    assert (row["email"], row["first_name"]) == ("fixed@example.com", "Bad")


def test_two_organizations_never_see_each_others_records(connected_org: ConnectedOrg):
    org_a = connected_org
    org_b = connect(org_a.db, org_a.config, org_a.clock, org_a.fake, "org_b", account_index=1)
    org_a.sync()
    org_b.sync()
    a_ids = {r["id"] for r in org_a.rows("contacts")}
    b_ids = {r["id"] for r in org_b.rows("contacts")}
    assert a_ids == {r["id"] for r in org_a.fake.records("contacts", 0)}
    assert b_ids == {r["id"] for r in org_b.fake.records("contacts", 1)}
    assert not a_ids & b_ids
    b_emails = {r["email"] for r in org_b.rows("contacts")}
    assert not b_emails & {r["email"] for r in org_a.rows("contacts")}

    advance_both(org_a, 60)
    some_b = sorted(b_ids)[0]
    org_a.fake.mutate("contact", "update", some_b, {"first_name": "OnlyB"})
    summary_a = org_a.sync()
    assert summary_a.totals.updated == 0
    org_b.sync()
    assert org_b.row("contacts", some_b)["first_name"] == "OnlyB"
    assert org_a.row("contacts", some_b) is None


def test_email_status_only_escalates_unless_a_person_resubscribes(synced_world: ConnectedOrg):
    org = synced_world
    cid = org.fake.records("contacts", include_deleted=False)[0]["id"]
    now = org.clock.now()
    assert broadcast_contacts.record_email_status(org.db, "org_a", cid, "complained", now)
    assert not broadcast_contacts.record_email_status(org.db, "org_a", cid, "bounced", now)
    assert org.row("contacts", cid)["email_status"] == "complained"
    assert broadcast_contacts.record_email_status(org.db, "org_a", cid, "subscribed", now, force=True)
    assert org.row("contacts", cid)["email_status"] == "subscribed"


def test_a_mapping_that_names_a_private_field_is_refused():
    import pytest

    from integration.sync.declarations import CONTACTS, EntityMapping, Field, MappingError, private_fields

    assert "notes" in private_fields("Contact")  # read from the contract's x-private flags
    leaky = EntityMapping("contacts", "Contact", CONTACTS.fields + (Field("notes", "notes", "text"),))
    with pytest.raises(MappingError, match="private"):
        leaky.check()


def _plant_phantom(org: ConnectedOrg, contact_id: str = "ab_contact_99999") -> str:
    """A contact we hold that AgentBuddy purged long ago (no tombstone left to tell us)."""
    with org.db.transaction() as tx:
        tx.execute("INSERT INTO contacts (organization_id, id, email, first_name, last_name, ab_updated_at, synced_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   ("org_a", contact_id, "gone@example.com", "Gone", "Away", "2020-01-01T00:00:00.000000Z",
                    org.clock.now()))
    return contact_id


def test_a_full_sync_soft_deletes_what_agentbuddy_no_longer_has(synced_world: ConnectedOrg):
    org = synced_world
    phantom = _plant_phantom(org)
    advance_both(org, 60)
    assert org.sync().entities["contacts"].deleted == 0  # incremental: cannot know
    advance_both(org, 60)
    summary = org.sync(full=True)
    assert summary.entities["contacts"].deleted == 1
    assert org.row("contacts", phantom)["deleted_at"] is not None
    live_theirs = {r["id"] for r in org.fake.records("contacts", include_deleted=False)}
    live_ours = {r["id"] for r in org.rows("contacts") if r["deleted_at"] is None}
    assert live_ours == live_theirs


def test_after_a_long_pause_the_next_sync_sweeps_everything(synced_world: ConnectedOrg):
    org = synced_world
    phantom = _plant_phantom(org)
    advance_both(org, 86 * 24 * 3600)  # longer than AgentBuddy keeps tombstones (and our refresh token)
    connect(org.db, org.config, org.clock, org.fake)  # the agent reconnects
    summary = org.sync()
    assert summary.entities["contacts"].deleted == 1
    assert org.row("contacts", phantom)["deleted_at"] is not None


def test_validation_reasons_name_the_field():
    from integration.sync.declarations import CONTACTS
    from integration.sync.mapping import map_record

    good = {"id": "ab_contact_1", "email": "a@example.com", "first_name": "A", "last_name": "B",
            "email_opt_in": True, "updated_at": "2026-01-10T12:00:00.123Z", "notes": "secret"}
    mapped = map_record(CONTACTS, good)
    assert mapped.valid and mapped.row["ab_updated_at"] == "2026-01-10T12:00:00.123000Z"
    assert "notes" not in mapped.row
    bad = dict(good, email="no-at-sign", first_name="", last_name="Nul\x00", email_opt_in="yes",
               updated_at="yesterday")
    fields = {e["field"] for e in map_record(CONTACTS, bad).errors}
    assert fields == {"email", "first_name", "last_name", "email_opt_in", "updated_at"}
    tombstone = dict(bad, updated_at="2026-01-10T12:00:00Z", deleted_at="2026-01-10T12:00:00Z")
    assert map_record(CONTACTS, tombstone).valid  # a deletion is applied even to a broken record


def test_a_broken_tombstone_for_an_unknown_record_is_still_stored_as_deleted(database):
    from datetime import datetime, timezone

    from integration.sync import pages, streams
    from integration.sync.summary import EntitySummary

    with database.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES ('o', 'O', ?)",
                   (datetime(2026, 1, 1, tzinfo=timezone.utc),))
    entity = EntitySummary()
    tombstone = {"id": "ab_contact_7", "email": "broken", "email_opt_in": "yes", "tags": "x",
                 "updated_at": "2026-01-09T00:00:00Z", "deleted_at": "2026-01-09T00:00:00Z"}
    pages.apply_page(database, "o", streams.stream("contacts"), [tombstone], "2026-01-10T00:00:00.000000Z", entity,
                     checkpoint=lambda tx, mark: None)
    assert (entity.deleted, entity.quarantined) == (1, 0)
    with database.transaction() as tx:
        row = tx.fetchone("SELECT email, email_opt_in, tags, deleted_at FROM contacts WHERE id = 'ab_contact_7'")
    assert row == {"email": None, "email_opt_in": 0, "tags": "[]", "deleted_at": "2026-01-09T00:00:00.000000Z"}


def test_broadcasts_copy_of_contacts_is_read_by_id(synced_world: ConnectedOrg):
    org = synced_world
    theirs = org.fake.records("contacts", include_deleted=False)[0]
    rows = broadcast_contacts.contact_rows(org.db, "org_a", [theirs["id"], "ab_contact_nobody"])
    assert list(rows) == [theirs["id"], "ab_contact_nobody"]
    assert rows[theirs["id"]]["email"] == theirs["email"] and rows["ab_contact_nobody"] is None
