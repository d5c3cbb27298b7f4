"""The read API as Broadcast's sync sees it: pages, filters, tombstones, tenancy, errors."""
from __future__ import annotations

import pytest

from .mock_helpers import sweep


def test_full_sweep_returns_every_live_contact_exactly_once_in_order(api, world):
    seen = sweep(api, "/v1/contacts", per_page=7)
    ids = [c["id"] for c in seen]
    assert len(ids) == len(set(ids)) == world["accounts"][0]["counts"]["contacts"]["live"]
    keys = [(c["updated_at"], c["id"]) for c in seen]
    assert keys == sorted(keys)
    assert all(c["deleted_at"] is None for c in seen)


def test_first_page_reports_total_and_page_size(api, world):
    body = api.get("/v1/contacts", query_string={"per_page": 5}).get_json()
    assert body["pagination"]["per_page"] == 5
    assert body["pagination"]["total"] == world["accounts"][0]["counts"]["contacts"]["live"]
    assert len(body["data"]) == 5 and body["pagination"]["next_cursor"]
    assert body["pagination"]["page"] == 1
    second = api.get("/v1/contacts", query_string={"per_page": 5, "cursor": body["pagination"]["next_cursor"]})
    assert second.get_json()["pagination"]["page"] == 2


def test_sweep_while_the_world_churns_misses_nothing_and_converges(api, client):
    start = client.get("/__admin/clock").get_json()["now"]

    def churn(_page):
        assert client.post("/__admin/mutate", json={"churn": {"count": 4, "account_id": "ab_account_001"}}).status_code == 200

    before = {c["id"] for c in sweep(api, "/v1/contacts", include_deleted="true", per_page=500)}
    seen = sweep(api, "/v1/contacts", mutate_between=churn, per_page=6, updated_since="2000-01-01T00:00:00Z")
    versions = [(c["id"], c["updated_at"]) for c in seen]
    assert len(versions) == len(set(versions)), "no record version is served twice"
    assert before <= {c["id"] for c in seen}, "every record that existed at the start was seen"
    final = {c["id"]: c for c in sweep(api, "/v1/contacts", include_deleted="true", per_page=500)}
    last_seen = {}
    for contact in seen:
        last_seen[contact["id"]] = contact
    changed_after_sweep = {c["id"] for c in sweep(api, "/v1/contacts", updated_since=start, per_page=500)}
    for contact_id, contact in final.items():
        if contact_id in last_seen and contact_id not in changed_after_sweep:
            assert last_seen[contact_id] == contact
    # a follow-up incremental sweep from the newest updated_at seen brings everything up to date
    newest = max(c["updated_at"] for c in seen)
    for contact in sweep(api, "/v1/contacts", updated_since=newest, per_page=500):
        last_seen[contact["id"]] = contact
    assert last_seen == final


@pytest.mark.parametrize("name,value", [("office_id", "ab_office_001"), ("agent_id", None), ("contact_type", "owner")])
def test_filters_return_only_matching_contacts(api, world, name, value):
    value = value or world["accounts"][0]["agents"][2]["id"]
    everything = sweep(api, "/v1/contacts", per_page=500)
    filtered = sweep(api, "/v1/contacts", per_page=3, **{name: value})
    assert filtered and all(c[name] == value for c in filtered)
    assert {c["id"] for c in filtered} == {c["id"] for c in everything if c[name] == value}
    first = api.get("/v1/contacts", query_string={name: value, "per_page": 3}).get_json()
    assert first["pagination"]["total"] == len(filtered)


def test_agents_filter_by_office(api, world):
    office = world["accounts"][0]["offices"][0]["id"]
    agents = sweep(api, "/v1/agents", office_id=office)
    assert agents and all(a["office_id"] == office for a in agents)


def test_tombstones_appear_with_updated_since_or_include_deleted(api, client):
    contact = api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]
    deleted = client.post("/__admin/mutate", json={"entity": "contact", "op": "delete", "id": contact["id"]}).get_json()
    stamp = deleted["record"]["deleted_at"]
    assert contact["id"] not in {c["id"] for c in sweep(api, "/v1/contacts", per_page=500)}
    with_deleted = {c["id"]: c for c in sweep(api, "/v1/contacts", per_page=500, include_deleted="true")}
    assert with_deleted[contact["id"]]["deleted_at"] == stamp
    assert with_deleted[contact["id"]]["email"] == contact["email"], "tombstones keep their fields"
    since = sweep(api, "/v1/contacts", updated_since=stamp)
    assert [c["id"] for c in since] == [contact["id"]]
    one = api.get(f"/v1/contacts/{contact['id']}").get_json()
    assert one["deleted_at"] == stamp


def test_every_entity_lists_and_gets(api):
    for path in ("/v1/offices", "/v1/agents", "/v1/contacts", "/v1/properties"):
        page = api.get(path, query_string={"per_page": 2})
        assert page.status_code == 200, page.get_json()
        first = page.get_json()["data"][0]
        one = api.get(f"{path}/{first['id']}")
        assert one.status_code == 200 and one.get_json() == first
        assert page.headers["RateLimit-Policy"] and page.headers["RateLimit"]


def test_another_accounts_record_is_not_found(api, agent_token, client):
    other = Api2(client, agent_token(account=1))
    theirs = other.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]["id"]
    answer = api.get(f"/v1/contacts/{theirs}")
    assert answer.status_code == 404
    assert answer.get_json()["code"] == "not_found"
    assert answer.content_type == "application/problem+json"
    mine = {c["id"] for c in sweep(api, "/v1/contacts", per_page=500)}
    assert theirs not in mine


def test_scopes_are_enforced_per_resource(client, agent_token):
    token = agent_token(scopes="read:contacts")
    answer = client.get("/v1/offices", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403 and answer.get_json()["code"] == "insufficient_scope"
    assert client.get("/v1/contacts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/v1/contacts").status_code == 401


def test_connection_says_who_the_token_speaks_for(api, world):
    body = api.get("/v1/connection").get_json()
    account = world["accounts"][0]
    assert body["account"]["id"] == account["id"]
    assert body["client"]["id"] == "broadcast-local"
    connection = next(c for c in world["connections"]
                      if c["account_id"] == account["id"] and c["client_id"] == "broadcast-local")
    assert body["webhook_signing_secret"] == connection["webhook_secret"]
    assert body["webhook_signing_secret"].startswith("whsec_")


def test_subscriptions_lifecycle(api):
    created = api.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/hook", "events": ["contact.*"]})
    assert created.status_code == 201, created.get_json()
    sub = created.get_json()
    assert created.headers["Location"].endswith(sub["id"])
    assert [s["id"] for s in api.get("/v1/subscriptions").get_json()["data"]] == [sub["id"]]
    assert api.get("/v1/connection").get_json()["subscriptions"][0]["id"] == sub["id"]
    assert api.delete(f"/v1/subscriptions/{sub['id']}").status_code == 204
    assert api.delete(f"/v1/subscriptions/{sub['id']}").status_code == 404
    assert api.get("/v1/subscriptions").get_json()["data"] == []


class Api2:
    def __init__(self, client, token):
        self.client, self.token = client, token

    def get(self, path, **kwargs):
        return self.client.get(path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
