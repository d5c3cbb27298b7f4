"""The contract's surface, as other rooms rely on it: every operation, its id and its scope.

The fake routes and the client call these operations by name; removing or renaming one is a
breaking change that must be deliberate, so it has to be made here too.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.lint import iter_operations

# (method, path, operationId, required scope; None: any valid token; "signature": Standard Webhooks)
SURFACE = [
    ("get", "/offices", "listOffices", "read:offices"),
    ("get", "/offices/{id}", "getOffice", "read:offices"),
    ("get", "/contacts", "listContacts", "read:contacts"),
    ("get", "/contacts/{id}", "getContact", "read:contacts"),
    ("get", "/agents", "listAgents", "read:agents"),
    ("get", "/agents/{id}", "getAgent", "read:agents"),
    ("get", "/properties", "listProperties", "read:properties"),
    ("get", "/properties/{id}", "getProperty", "read:properties"),
    ("get", "/connection", "getConnection", None),
    ("post", "/subscriptions", "createSubscription", None),
    ("get", "/subscriptions", "listSubscriptions", None),
    ("delete", "/subscriptions/{id}", "deleteSubscription", None),
    ("post", "/webhooks/broadcast/{connection_id}/events", "receiveConnectionEmailEventWebhook", "signature"),
    ("post", "/webhooks/broadcast/{connection_id}/propensity", "receiveConnectionPropensityWebhook", "signature"),
    ("post", "/webhooks/broadcast/{connection_id}/batch", "receiveConnectionEngagementBatchWebhook", "signature"),
    # deprecated in 1.2.0 (DECISIONS item 33), kept until the next major version
    ("post", "/webhooks/broadcast/events", "receiveEmailEventWebhook", "signature"),
    ("post", "/webhooks/broadcast/propensity", "receivePropensityWebhook", "signature"),
    ("post", "/webhooks/broadcast/batch", "receiveEngagementBatchWebhook", "signature"),
    ("post", "/contacts/{id}/engagement", "pushContactEngagement", "write:engagement"),
    ("patch", "/contacts/{id}/engagement", "patchContactEngagement", "write:engagement"),
    ("post", "/contacts/{id}/propensity", "pushContactPropensity", "write:engagement"),
    ("patch", "/contacts/{id}/propensity", "patchContactPropensity", "write:engagement"),
    ("post", "/contacts/{id}/events", "pushContactEvent", "write:engagement"),
    ("post", "/engagement/bulk", "pushEngagementBulk", "write:engagement"),
]
# `webhooks` holds only what AgentBuddy sends; what Broadcast sends is described once, at its receiving path.
TOP_LEVEL_WEBHOOKS = {"changeNotification"}
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs/ARCHITECTURE.md"


def test_paths_are_exactly_the_agreed_surface(contract):
    actual = {(op.method, op.key) for op in iter_operations(contract) if op.section == "paths"}
    assert actual == {(method, path) for method, path, _, _ in SURFACE}
    assert set(contract["webhooks"]) == TOP_LEVEL_WEBHOOKS


@pytest.mark.parametrize("method,path,operation_id,scope", SURFACE, ids=[row[2] for row in SURFACE])
def test_operation_id_and_security(contract, method, path, operation_id, scope):
    operation = contract["paths"][path][method]
    assert operation["operationId"] == operation_id
    if scope == "signature":
        assert operation["security"] == [{"webhookSignature": []}]
        names = {p["$ref"].rsplit("/", 1)[-1] for p in operation["parameters"]}
        assert {"WebhookIdHeader", "WebhookTimestampHeader", "WebhookSignatureHeader"} <= names
    else:
        assert operation["security"] == [{"oauth2": [scope] if scope else []}, {"bearerAuth": []}]
        assert operation["x-required-scope"] == scope


def test_push_operations_take_an_idempotency_key(contract):
    for method, path, _, scope in SURFACE:
        if scope == "write:engagement":
            refs = [p["$ref"] for p in contract["paths"][path][method]["parameters"]]
            assert "#/components/parameters/IdempotencyKey" in refs, (method, path)


def test_problem_codes_match_the_architecture_page(contract):
    if not ARCHITECTURE.is_file():
        pytest.skip("docs/ARCHITECTURE.md is not in this checkout")
    text = ARCHITECTURE.read_text(encoding="utf-8")
    listed = text[text.index("Stable codes:"):].split("`")[1]
    documented = {code.strip() for code in listed.split(",")}
    assert documented == set(contract["components"]["schemas"]["ProblemCode"]["enum"])


# Each field Broadcast sends is defined once (components.schemas) and referenced from every body that carries it.
SHARED_FIELDS = {
    "propensity_score": "PropensityScore", "propensity_category": "PropensityCategory",
    "seller_likelihood": "IntentScore", "buyer_activity_score": "IntentScore",
    "recommended_action": "RecommendedAction", "score_updated_at": "ScoreUpdatedAt",
    "contributing_factors": "ContributingFactors", "total_emails_sent": "EmailCount", "total_opens": "EmailCount",
    "total_clicks": "EmailCount", "open_rate": "OpenRate", "click_rate": "ClickRate",
    "engagement_trend": "EngagementTrend",
}
CARRIERS = ("Propensity", "PropensityInput", "PropensityPatch", "PropensityData", "BatchUpdate", "Engagement",
            "EngagementMetricsInput", "EngagementMetricsPatch")


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        return ({node["$ref"]} if "$ref" in node else set()).union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


@pytest.mark.parametrize("carrier", CARRIERS)
def test_propensity_and_metrics_fields_are_defined_once(contract, carrier):
    properties = contract["components"]["schemas"][carrier]["properties"]
    for field, target in SHARED_FIELDS.items():
        if field in properties:
            assert f"#/components/schemas/{target}" in _refs(properties[field]), (carrier, field)
            assert "type" not in properties[field], f"{carrier}.{field} redefines its type instead of referencing {target}"


def test_webhooks_describe_only_what_agentbuddy_sends(contract):
    for name, item in contract["webhooks"].items():
        assert item["post"]["summary"].startswith("AgentBuddy → Broadcast"), name


def test_the_connectionless_webhook_routes_are_deprecated_beside_their_replacements(contract):
    for kind in ("events", "propensity", "batch"):
        old = contract["paths"][f"/webhooks/broadcast/{kind}"]["post"]
        new = contract["paths"][f"/webhooks/broadcast/{{connection_id}}/{kind}"]["post"]
        assert old.get("deprecated") is True and "deprecated" not in new
        assert {"Deprecation", "Sunset"} <= set(old["responses"]["200"]["headers"])
        assert "404" in new["responses"]  # an unknown connection
        assert new["parameters"][0] == {"$ref": "#/components/parameters/ConnectionIdPath"}
