"""The seeded world: reproducible, relational, realistic."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from mock_agentbuddy.world.builder import build_world

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def digest(world) -> str:
    return hashlib.sha256(json.dumps(world.to_jsonable(), sort_keys=True).encode()).hexdigest()


def test_same_seed_gives_the_same_world_byte_for_byte():
    first = build_world(7, EPOCH, 2, 3, 6, 150, 0.6)
    second = build_world(7, EPOCH, 2, 3, 6, 150, 0.6)
    assert digest(first) == digest(second)


def test_another_seed_gives_another_world():
    assert digest(build_world(7, EPOCH, 1, 3, 6, 50, 0.6)) != digest(build_world(8, EPOCH, 1, 3, 6, 50, 0.6))


def test_world_is_relational_and_consistent():
    world = build_world(7, EPOCH, 2, 4, 8, 200, 0.6)
    logins = set()
    for account in world.accounts.values():
        c = account.collections
        offices, agents, contacts, props = (c[n].records for n in ("offices", "agents", "contacts", "properties"))
        heads = [o for o in offices.values() if o["parent_office_id"] is None]
        assert len(heads) == 1, "one head office per agency"
        assert all(o["parent_office_id"] in offices for o in offices.values() if o["parent_office_id"])
        assert {a["role"] for a in agents.values()} >= {"broker", "admin", "agent"}
        for agent in agents.values():
            assert agent["office_id"] in offices
            assert agent["email"] not in logins, "agent emails are logins: unique across the world"
            logins.add(agent["email"])
        for contact in contacts.values():
            assert contact["agent_id"] in agents and contact["office_id"] in offices
            assert contact["contact_type"] in ("buyer", "seller", "owner", "lead")
            assert contact["created_at"] <= contact["updated_at"] < "2026-01-01T00:00:00.000Z"
            for prop_id in contact["properties"]:
                assert props[prop_id]["owner_contact_id"] == contact["id"]
        for prop in props.values():
            assert prop["owner_contact_id"] in contacts
            if prop["bathrooms"] is not None:
                assert prop["bathrooms"] * 2 == int(prop["bathrooms"] * 2)


def test_world_has_the_variety_a_sync_must_handle():
    world = build_world(7, EPOCH, 1, 3, 8, 500, 0.6)
    contacts = list(world.accounts["ab_account_001"].collections["contacts"].records.values())
    assert any(c["deleted_at"] for c in contacts), "some tombstones from the start"
    assert any(c["notes"] for c in contacts), "private notes exist (Broadcast must drop them)"
    assert 0.7 < sum(c["email_opt_in"] for c in contacts) / len(contacts) < 0.97
    assert any("price_range_max" in c["custom_fields"] for c in contacts)
    assert any("ownership_years" in c["custom_fields"] for c in contacts)
    assert any(c["tags"] for c in contacts)
    agents = world.accounts["ab_account_001"].collections["agents"].records.values()
    assert any(not a["is_active"] for a in agents), "a deactivated agent (cannot log in)"
    assert contacts[0]["id"].startswith("ab_contact_")
