"""Option A deliveries go to the connection's own webhook route (contract 1.2.0, DECISIONS item 33):
Broadcast learns AgentBuddy's id for the connection from `GET /connection` and posts to
`/webhooks/broadcast/{connection_id}/…`, so AgentBuddy checks one secret. Until it knows the id, the
deprecated route (every secret tried) still carries the message."""
from __future__ import annotations

from datetime import timedelta

from integration.agentbuddy.errors import NotConnected
from integration.outbox import wire
from integration.outbox.queue import Message
from integration.outbox.transports import StoredEndpoints, WebhookTransport

from .conftest import ConnectedOrg


def _opened(org: ConnectedOrg, contact_id: str, message_id: str) -> Message:
    payload = {"event_id": f"bc_evt_{message_id}", "event_type": "opened", "contact_id": contact_id,
               "campaign_id": "bc_campaign_routing", "campaign_name": "Routing",
               "timestamp": org.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    return Message(message_id, org.organization_id, org.organization_id, "event", contact_id, payload, 1,
                   org.clock.now().isoformat())


def test_a_delivery_posts_to_the_connections_own_route(synced_world: ConnectedOrg):
    org = synced_world
    theirs = next(c["id"] for c in org.fake.world()["connections"]
                  if c["account_id"] == org.account_id and c["client_id"] == org.config.client_id)
    endpoints = StoredEndpoints(org.db, org.config, org.clock)
    assert endpoints.agentbuddy_connection_id(org.organization_id) == theirs

    contact_id = org.fake.records("contacts", include_deleted=False)[0]["id"]
    outcome = WebhookTransport(endpoints).send(_opened(org, contact_id, "msg_routing_a"), org.clock.now())
    assert outcome.ok, outcome.error
    arrival = org.fake.inbound()[-1]
    assert arrival["path"] == f"/v1/webhooks/broadcast/{theirs}/events"
    assert (arrival["connection_id"], arrival["signature"], arrival["applied"]) == (theirs, "valid", True)


def test_without_the_connection_id_the_deprecated_route_carries_the_message(synced_world: ConnectedOrg):
    org = synced_world

    class Unlearned(StoredEndpoints):
        def bearer_session(self, connection_id: str):
            raise NotConnected(connection_id, "needs_reauth", "no token for this test")

    endpoints = Unlearned(org.db, org.config, org.clock)
    assert endpoints.agentbuddy_connection_id(org.organization_id) is None
    contact_id = org.fake.records("contacts", include_deleted=False)[1]["id"]
    outcome = WebhookTransport(endpoints).send(_opened(org, contact_id, "msg_routing_b"), org.clock.now())
    assert outcome.ok, outcome.error
    assert org.fake.inbound()[-1]["path"] == "/v1/webhooks/broadcast/events"


def test_the_route_names_the_connection_safely():
    assert wire.webhook_path("batch", "ab_conn_001_broadcast-local") == "/webhooks/broadcast/ab_conn_001_broadcast-local/batch"
    assert wire.webhook_path("event", "a/b") == "/webhooks/broadcast/a%2Fb/events"
    assert wire.webhook_path("propensity", None) == "/webhooks/broadcast/propensity"


def test_an_unknown_connection_id_is_asked_again_only_after_a_while(synced_world: ConnectedOrg):
    org = synced_world
    asked: list[str] = []

    class Down(StoredEndpoints):
        def bearer_session(self, connection_id: str):
            asked.append(connection_id)
            raise NotConnected(connection_id, "needs_reauth", "AgentBuddy is unreachable in this test")

    endpoints = Down(org.db, org.config, org.clock)
    assert [endpoints.agentbuddy_connection_id(org.organization_id) for _ in range(3)] == [None, None, None]
    assert len(asked) == 1
    org.clock.advance(timedelta(minutes=5))
    assert endpoints.agentbuddy_connection_id(org.organization_id) is None and len(asked) == 2
