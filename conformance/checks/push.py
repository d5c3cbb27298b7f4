"""Inbound Option B: the push API (`write:engagement`), with `Idempotency-Key` and per-item
batch results. Effects are read back with `GET /v1/contacts/{id}`, as for the webhooks."""
from __future__ import annotations

from contract.categories import category_for

from ..model import Fail, check
from .support import campaign, contact_view, expect_schema, expect_status, foreign_contact, iso

METRICS = {"total_emails_sent": 12, "total_opens": 9, "total_clicks": 3, "open_rate": 75.0, "click_rate": 25.0,
           "engagement_trend": "stable"}


def _setup(ctx) -> tuple[str, str]:
    ctx.need_write()
    token = ctx.token()
    return token, ctx.contact(token)


def _propensity_body(ctx, score: int, when=None) -> dict:
    return {"propensity_score": score, "propensity_category": category_for(score),
            "recommended_action": "Conformance kit check", "contributing_factors": ["Conformance kit"],
            "score_updated_at": iso(when or ctx.target.next_instant())}


def _shows(ctx, token: str, contact_id: str, part: str, wanted: dict, reply, what: str) -> None:
    shown = contact_view(ctx, token, contact_id).get(part) or {}
    if {k: shown.get(k) for k in wanted} != wanted:
        raise Fail(f"{what}: the contact's {part} is {shown}, expected {wanted}", reply.exchange)


@check("push.engagement.replace_and_merge", "POST replaces engagement, PATCH merges; the contact shows both",
       "contract paths./contacts/{id}/engagement (post, patch); DECISIONS Part 2 #20")
def engagement_replace_and_merge(ctx):
    token, contact_id = _setup(ctx)
    path = f"/v1/contacts/{contact_id}/engagement"
    posted = ctx.probe.post(path, token=token, json=METRICS)
    expect_status(posted, 200, what="POST engagement")
    expect_schema(ctx, "Engagement", posted, "POST engagement")
    _shows(ctx, token, contact_id, "engagement", METRICS, posted, "after POST engagement")
    patched = ctx.probe.request("PATCH", path, token=token, json={"total_opens": 10})
    expect_status(patched, 200, what="PATCH engagement")
    _shows(ctx, token, contact_id, "engagement", {**METRICS, "total_opens": 10}, patched,
           "after PATCH total_opens (other fields must be kept)")


@check("push.propensity.stored", "POST propensity stores it; the contact shows it",
       "contract paths./contacts/{id}/propensity.post; components.schemas.Propensity")
def propensity_stored(ctx):
    token, contact_id = _setup(ctx)
    body = _propensity_body(ctx, 64)
    reply = ctx.probe.post(f"/v1/contacts/{contact_id}/propensity", token=token, json=body)
    expect_status(reply, 200, what="POST propensity")
    expect_schema(ctx, "Propensity", reply, "POST propensity")
    _shows(ctx, token, contact_id, "propensity", {k: body[k] for k in ("propensity_score", "propensity_category")},
           reply, "after POST propensity")


@check("push.propensity.out_of_order", "A propensity older than the stored one is acknowledged and not applied",
       "contract components.schemas.PropensityInput (score_updated_at); DECISIONS Part 2 #20")
def propensity_out_of_order(ctx):
    token, contact_id = _setup(ctx)
    path = f"/v1/contacts/{contact_id}/propensity"
    older_time = ctx.target.next_instant()
    newer = _propensity_body(ctx, 82)
    expect_status(ctx.probe.post(path, token=token, json=newer), 200, what="POST a newer propensity")
    late = ctx.probe.post(path, token=token, json=_propensity_body(ctx, 12, when=older_time))
    expect_status(late, 200, what="POST a propensity calculated before the stored one")
    _shows(ctx, token, contact_id, "propensity", {"propensity_score": 82}, late,
           "a late, older propensity must not roll the score back")


@check("push.events.dedup", "An event is stored once (201), its event_id again is acknowledged (200)",
       "contract paths./contacts/{id}/events.post; components.schemas.EngagementEvent (event_id dedupes)")
def events_dedup(ctx):
    token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    event = {"event_id": ctx.unique("kit_evt"), "event_type": "opened", "campaign_id": campaign_id,
             "campaign_name": "Conformance kit", "timestamp": iso(ctx.target.next_instant())}
    path = f"/v1/contacts/{contact_id}/events"
    first = ctx.probe.post(path, token=token, json=event)
    expect_status(first, 201, what="POST an event")
    expect_schema(ctx, "StoredEvent", first, "POST event")
    again = ctx.probe.post(path, token=token, json=event)
    expect_status(again, 200, what="POST the same event_id again")
    if campaign(contact_view(ctx, token, contact_id), campaign_id) is None:
        raise Fail(f"the stored event does not show on the contact as campaign {campaign_id}", first.exchange)


@check("push.idempotency.replay", "A repeated Idempotency-Key returns the first answer and applies nothing again",
       "contract components.parameters.IdempotencyKey; DECISIONS Part 2 #28")
def idempotency_replay(ctx):
    token, contact_id = _setup(ctx)
    path = f"/v1/contacts/{contact_id}/engagement"
    key = ctx.unique("kit-key")
    first = ctx.probe.request("PATCH", path, token=token, json={"total_opens": 5}, headers={"Idempotency-Key": key})
    expect_status(first, 200, what="PATCH with an Idempotency-Key")
    expect_status(ctx.probe.request("PATCH", path, token=token, json={"total_opens": 7}), 200,
                  what="PATCH total_opens 7 without a key")
    again = ctx.probe.request("PATCH", path, token=token, json={"total_opens": 5}, headers={"Idempotency-Key": key})
    if again.status != first.status or again.json != first.json:
        raise Fail(f"the repeated key answered {again.status} {again.json}, not the first answer "
                   f"{first.status} {first.json}", again.exchange)
    _shows(ctx, token, contact_id, "engagement", {"total_opens": 7}, again,
           "a request repeated under its Idempotency-Key was applied again")


@check("push.idempotency.conflict", "An Idempotency-Key reused with another body: 409 conflict, nothing applied",
       "contract components.parameters.IdempotencyKey, responses.Conflict; DECISIONS Part 2 #28")
def idempotency_conflict(ctx):
    token, contact_id = _setup(ctx)
    path = f"/v1/contacts/{contact_id}/engagement"
    key = ctx.unique("kit-key")
    expect_status(ctx.probe.request("PATCH", path, token=token, json={"total_opens": 5},
                                    headers={"Idempotency-Key": key}), 200, what="PATCH with an Idempotency-Key")
    reused = ctx.probe.request("PATCH", path, token=token, json={"total_opens": 6}, headers={"Idempotency-Key": key})
    expect_status(reused, 409, "conflict", what="the same Idempotency-Key with another body")
    _shows(ctx, token, contact_id, "engagement", {"total_opens": 5}, reused,
           "a request refused as an Idempotency-Key conflict was applied")


@check("push.bulk.per_item", "/engagement/bulk reports each update, applies the good ones, fails an unknown contact",
       "contract paths./engagement/bulk.post; components.schemas.BulkResult; DECISIONS Q13")
def bulk_per_item(ctx):
    token, contact_id = _setup(ctx)
    reply = ctx.probe.post("/v1/engagement/bulk", token=token, json={"updates": [
        {"contact_id": ctx.unique("kit_missing_contact"), "engagement_metrics": {"total_opens": 1}},
        {"contact_id": contact_id, "engagement_metrics": {"total_opens": 13}}]})
    expect_status(reply, 200, what="a bulk push with one unknown contact")
    body = reply.json if isinstance(reply.json, dict) else {}
    results = {r.get("index"): r for r in body.get("results") or [] if isinstance(r, dict)}
    errors = ctx.contract.schema_errors("BulkResult", body)
    if errors or (body.get("received"), body.get("applied"), body.get("failed")) != (2, 1, 1) \
            or (results.get(0, {}).get("status"), results.get(0, {}).get("code")) != ("failed", "not_found") \
            or results.get(1, {}).get("status") != "applied":
        raise Fail(f"the bulk result is {body}, expected index 0 failed (not_found) and index 1 applied"
                   f"{'; ' + errors[0] if errors else ''}", reply.exchange)
    _shows(ctx, token, contact_id, "engagement", {"total_opens": 13}, reply, "after the bulk push")


@check("push.validation.rejected", "A body that breaks the schema: 422 validation_failed naming the field, "
       "nothing applied", "contract components.responses.ValidationFailed; DECISIONS Q12")
def validation_rejected(ctx):
    token, contact_id = _setup(ctx)
    before = contact_view(ctx, token, contact_id).get("propensity")
    reply = ctx.probe.post(f"/v1/contacts/{contact_id}/propensity", token=token,
                           json={**_propensity_body(ctx, 50), "propensity_score": 101})
    expect_status(reply, 422, "validation_failed", what="a propensity_score of 101")
    fields = [e.get("field", "") for e in (reply.json or {}).get("errors") or []] if isinstance(reply.json, dict) else []
    if isinstance(reply.json, dict) and not any("propensity_score" in f for f in fields):
        raise Fail(f"the 422 does not name propensity_score in errors (fields: {fields})", reply.exchange)
    if contact_view(ctx, token, contact_id).get("propensity") != before:
        raise Fail("a refused propensity (score 101) changed the contact", reply.exchange)


@check("push.tenant.isolation", "Pushing onto another account's contact: 404, nothing applied",
       "DECISIONS Part 2 #28; contract components.responses.NotFound")
def tenant_isolation(ctx):
    ctx.need_write()
    other = ctx.need_other_account()
    foreign = foreign_contact(ctx, other)
    campaign_id = ctx.unique("kit_cmp")
    reply = ctx.probe.post(f"/v1/contacts/{foreign}/events", token=ctx.token(), json={
        "event_id": ctx.unique("kit_evt"), "event_type": "opened", "campaign_id": campaign_id,
        "timestamp": iso(ctx.target.next_instant())})
    expect_status(reply, 404, "not_found", what="POST an event onto another account's contact")
    if campaign(contact_view(ctx, other, foreign), campaign_id) is not None:
        raise Fail("the push onto another account's contact was applied there", reply.exchange)
