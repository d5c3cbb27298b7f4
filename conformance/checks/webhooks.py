"""Inbound Option A: Broadcast's Standard Webhooks signed POSTs to `/webhooks/broadcast/{connection_id}/*`.

The signing secret is the connection's (`GET /v1/connection` → `webhook_signing_secret`), and so is the
path (`GET /v1/connection` → `id`; contract 1.2.0, DECISIONS item 33): every check posts to the
connection's own route, and the `webhooks.routing.*` checks hold the routing itself (an unknown
connection, a body signed for another connection, the deprecated route without one). What
a webhook did is read back the way AgentBuddy's own UI would: `GET /v1/contacts/{id}` shows
`campaigns`, `engagement` and `propensity`. Each check writes under campaign ids of its own, so
"changed nothing" is a fact the public API can show.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from contract.categories import category_for

from ..model import Fail, check
from ..signing import signed_headers
from .support import campaign, contact_view, expect_schema, expect_status, foreign_contact, iso

TOLERANCE = 300  # seconds, the contract's ±5 minutes
SINGLE_BODY_LIMIT = 64 * 1024


def route(ctx, kind: str, connection_id: str | None = None) -> str:
    """The connection's own route for `kind` (this run's connection unless another is named)."""
    connection_id = connection_id or ctx.target.connection.get("id")
    if not connection_id:
        raise Fail("GET /v1/connection returned no id: signed webhooks have no route to post to")
    return f"/v1/webhooks/broadcast/{connection_id}/{kind}"


def send(ctx, kind: str, body: Any, secret: str, *, msg_id: str | None = None, offset: float = 0,
         raw: str | None = None, drop: str | None = None, tamper: bool = False, path: str | None = None):
    """POST a Standard Webhooks signed body to the connection's route for `kind` (or to `path`)."""
    text = raw if raw is not None else json.dumps(body)
    when = ctx.target.server_now() + timedelta(seconds=offset)
    headers = signed_headers(secret, msg_id or ctx.unique("kit_msg"), when, text)
    if drop:
        headers.pop(drop)
    if tamper:
        text = text.replace("Conformance kit", "Conformance kat")
    return ctx.probe.post(path or route(ctx, kind), data=text.encode(), headers=headers)


def email_event(ctx, contact_id: str, campaign_id: str, with_event_id: bool = True) -> dict:
    data = {"contact_id": contact_id, "campaign_id": campaign_id, "campaign_name": "Conformance kit"}
    if with_event_id:
        data["event_id"] = ctx.unique("kit_evt")
    return {"event_type": "email.opened", "timestamp": iso(ctx.target.next_instant()), "data": data}


def propensity(ctx, contact_id: str, score: int) -> dict:
    return {"event_type": "propensity.updated", "timestamp": iso(ctx.target.next_instant()),
            "data": {"contact_id": contact_id, "propensity_score": score, "propensity_category": category_for(score),
                     "recommended_action": "Conformance kit check", "contributing_factors": ["Conformance kit"],
                     "score_updated_at": iso(ctx.target.next_instant())}}


def batch(ctx, updates: list[dict]) -> dict:
    return {"event_type": "engagement.batch_update", "timestamp": iso(ctx.target.next_instant()),
            "data": {"updates": updates}}


def _setup(ctx) -> tuple[str, str, str]:
    secret = ctx.need_secret()
    token = ctx.token()
    return secret, token, ctx.contact(token)


def _refused_unchanged(ctx, reply, status: int, codes, what: str, token: str, contact_id: str, campaign_id: str):
    expect_status(reply, status, codes, what=what)
    if campaign(contact_view(ctx, token, contact_id), campaign_id) is not None:
        raise Fail(f"{what} was answered {reply.status}, yet the contact now shows campaign {campaign_id}",
                   reply.exchange)


def _accepted(ctx, reply, what: str) -> dict:
    expect_status(reply, 200, what=what)
    return expect_schema(ctx, "WebhookReceipt", reply, what)


@check("webhooks.events.accepted", "A signed email event is accepted and shows on the contact",
       "contract paths./webhooks/broadcast/events.post; components.schemas.Contact (campaigns); DECISIONS Q11, Q12")
def events_accepted(ctx):
    secret, token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), secret)
    receipt = _accepted(ctx, reply, "a signed email event")
    if receipt.get("status") != "accepted" or receipt.get("webhook_id") != reply.exchange.request_headers["webhook-id"]:
        raise Fail(f"the receipt is {receipt}, expected status accepted and the webhook-id sent", reply.exchange)
    shown = campaign(contact_view(ctx, token, contact_id), campaign_id)
    if shown is None or shown.get("status") not in ("opened", "clicked"):
        raise Fail(f"after an accepted email.opened the contact shows campaign {campaign_id} as {shown}",
                   reply.exchange)


@check("webhooks.propensity.accepted", "A signed propensity update is accepted and shows on the contact",
       "contract paths./webhooks/broadcast/propensity.post; components.schemas.Propensity; DECISIONS Q12")
def propensity_accepted(ctx):
    secret, token, contact_id = _setup(ctx)
    body = propensity(ctx, contact_id, 73)
    reply = send(ctx, "propensity", body, secret)
    _accepted(ctx, reply, "a signed propensity update")
    shown = contact_view(ctx, token, contact_id).get("propensity") or {}
    wanted = {k: body["data"][k] for k in ("propensity_score", "propensity_category", "recommended_action")}
    if {k: shown.get(k) for k in wanted} != wanted:
        raise Fail(f"after an accepted propensity update the contact shows {shown}, expected {wanted}", reply.exchange)


@check("webhooks.batch.per_item", "A batch reports each update, applies the good ones and fails an unknown contact",
       "contract paths./webhooks/broadcast/batch.post; components.schemas.BulkResult; DECISIONS Q13")
def batch_per_item(ctx):
    secret, token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    event = {"event_id": ctx.unique("kit_evt"), "event_type": "clicked", "campaign_id": campaign_id,
             "timestamp": iso(ctx.target.next_instant())}
    missing = ctx.unique("kit_missing_contact")
    reply = send(ctx, "batch", batch(ctx, [
        {"contact_id": contact_id, "engagement_metrics": {"total_opens": 11, "open_rate": 55.0}, "events": [event]},
        {"contact_id": missing, "engagement_metrics": {"total_opens": 1}}]), secret)
    expect_status(reply, 200, what="a signed batch with one unknown contact")
    body = reply.json if isinstance(reply.json, dict) else {}
    errors = ctx.contract.schema_errors("BulkResult", body)
    results = {r.get("index"): r for r in body.get("results") or [] if isinstance(r, dict)}
    good, bad = results.get(0, {}), results.get(1, {})
    if errors or (body.get("received"), body.get("applied"), body.get("failed")) != (2, 1, 1) \
            or good.get("status") != "applied" or (bad.get("status"), bad.get("code")) != ("failed", "not_found"):
        raise Fail(f"the batch result is {body}, expected received 2, applied 1 (index 0), failed 1 (index 1, "
                   f"not_found){'; ' + errors[0] if errors else ''}", reply.exchange)
    shown = contact_view(ctx, token, contact_id)
    if (shown.get("engagement") or {}).get("total_opens") != 11 or campaign(shown, campaign_id) is None:
        raise Fail(f"the applied update does not show on the contact (engagement {shown.get('engagement')}, "
                   f"campaign {campaign_id}: {campaign(shown, campaign_id)})", reply.exchange)


@check("webhooks.events.unknown_contact", "An email event for an unknown contact: 404 not_found",
       "contract paths./webhooks/broadcast/events.post (Unknown contact: 404)")
def events_unknown_contact(ctx):
    secret = ctx.need_secret()
    reply = send(ctx, "events", email_event(ctx, ctx.unique("kit_missing_contact"), ctx.unique("kit_cmp")), secret)
    expect_status(reply, 404, "not_found", what="an email event for a contact that does not exist")


@check("webhooks.events.other_account", "An event signed with this connection's secret cannot touch another "
       "account's contact: 404", "contract components.securitySchemes.webhookSignature; DECISIONS Q11, Part 2 #28")
def events_other_account(ctx):
    secret = ctx.need_secret()
    other = ctx.need_other_account()
    foreign = foreign_contact(ctx, other)
    campaign_id = ctx.unique("kit_cmp")
    reply = send(ctx, "events", email_event(ctx, foreign, campaign_id), secret)
    _refused_unchanged(ctx, reply, 404, "not_found", "an event for another account's contact", other, foreign,
                       campaign_id)


@check("webhooks.routing.unknown_connection", "A signed webhook to a connection that does not exist: 404 not_found",
       "contract components.parameters.ConnectionIdPath, responses.NotFound; DECISIONS item 33")
def routing_unknown_connection(ctx):
    secret, token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    path = route(ctx, "events", ctx.unique("kit_no_such_connection"))
    reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), secret, path=path)
    _refused_unchanged(ctx, reply, 404, "not_found", "an event posted to an unknown connection's route", token,
                       contact_id, campaign_id)


@check("webhooks.routing.other_connection", "A body signed for another connection, posted to this one's route: "
       "401 invalid_signature, nothing applied", "contract components.securitySchemes.webhookSignature; "
       "DECISIONS item 33 (the signature binds body and connection)")
def routing_other_connection(ctx):
    secret, token, contact_id = _setup(ctx)
    other = ctx.need_other_account()
    reply = ctx.probe.get("/v1/connection", token=other)
    theirs = reply.json.get("webhook_signing_secret") if reply.status == 200 and isinstance(reply.json, dict) else None
    if not theirs or theirs == secret:
        raise Fail("the second account's GET /v1/connection gave no secret of its own", reply.exchange)
    campaign_id = ctx.unique("kit_cmp")
    sent = send(ctx, "events", email_event(ctx, contact_id, campaign_id), theirs)
    _refused_unchanged(ctx, sent, 401, "invalid_signature", "an event signed with another connection's secret",
                       token, contact_id, campaign_id)


@check("webhooks.routing.deprecated_route", "The deprecated route without a connection still accepts a signed event",
       "contract paths./webhooks/broadcast/events.post (deprecated in 1.2.0, kept until a new major); DECISIONS Q5, "
       "item 33")
def routing_deprecated_route(ctx):
    secret, token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), secret,
                 path="/v1/webhooks/broadcast/events")
    _accepted(ctx, reply, "a signed email event on the deprecated route")
    if campaign(contact_view(ctx, token, contact_id), campaign_id) is None:
        raise Fail(f"the deprecated route accepted the event, yet the contact does not show campaign {campaign_id}",
                   reply.exchange)


@check("webhooks.signature.invalid", "A wrong signature or a body changed after signing: 401 invalid_signature, "
       "nothing applied", "contract components.securitySchemes.webhookSignature, responses.WebhookUnauthorized; "
       "Standard Webhooks (verifying)")
def signature_invalid(ctx):
    secret, token, contact_id = _setup(ctx)
    wrong = "whsec_" + "S2l0V3JvbmdTZWNyZXRGb3JUaGVDb25mb3JtYW5jZUtpdA=="
    for what, key, tamper in (("an event signed with another secret", wrong, False),
                              ("an event whose body changed after signing", secret, True)):
        campaign_id = ctx.unique("kit_cmp")
        reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), key, tamper=tamper)
        _refused_unchanged(ctx, reply, 401, "invalid_signature", what, token, contact_id, campaign_id)


def _timestamp_check(name: str, offset: int, title: str):
    @check(f"webhooks.timestamp.{name}", title, "contract components.parameters.WebhookTimestampHeader, "
           "responses.WebhookUnauthorized; DECISIONS Q11 (±5 minutes); Standard Webhooks")
    def run(ctx):
        secret, token, contact_id = _setup(ctx)
        campaign_id = ctx.unique("kit_cmp")
        reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), secret, offset=offset)
        _refused_unchanged(ctx, reply, 401, "timestamp_out_of_tolerance",
                           f"an event signed {abs(offset)} s in the {'past' if offset < 0 else 'future'}",
                           token, contact_id, campaign_id)

    return run


timestamp_stale = _timestamp_check("stale", -(TOLERANCE + 100), "A timestamp over 5 minutes old: 401, nothing applied")
timestamp_future = _timestamp_check("future", TOLERANCE + 100,
                                    "A timestamp over 5 minutes ahead: 401, nothing applied")


@check("webhooks.timestamp.within_tolerance", "A timestamp 4 minutes old is still accepted",
       "contract components.parameters.WebhookTimestampHeader (rejected only beyond 300 s); DECISIONS Q11")
def timestamp_within(ctx):
    secret, token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), secret, offset=-(TOLERANCE - 60))
    _accepted(ctx, reply, "an event signed 4 minutes ago")
    if campaign(contact_view(ctx, token, contact_id), campaign_id) is None:
        raise Fail("an event signed 4 minutes ago was acknowledged but does not show on the contact", reply.exchange)


@check("webhooks.headers.missing", "A webhook without webhook-id, -timestamp or -signature: 400, nothing applied",
       "contract components.parameters.WebhookIdHeader/WebhookTimestampHeader/WebhookSignatureHeader (required), "
       "responses.BadRequest")
def headers_missing(ctx):
    secret, token, contact_id = _setup(ctx)
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        campaign_id = ctx.unique("kit_cmp")
        reply = send(ctx, "events", email_event(ctx, contact_id, campaign_id), secret, drop=header)
        _refused_unchanged(ctx, reply, 400, ("invalid_request", "validation_failed"), f"an event without {header}",
                           token, contact_id, campaign_id)


@check("webhooks.body.malformed_json", "A signed body that is not JSON: 400 invalid_request",
       "contract components.responses.BadRequest (unparseable JSON)")
def body_malformed(ctx):
    secret = ctx.need_secret()
    reply = send(ctx, "events", None, secret, raw='{"event_type": "email.opened", "data": ')
    expect_status(reply, 400, "invalid_request", what="a signed body that is not JSON")


@check("webhooks.body.schema_violation", "A signed body that breaks the schema: 422 validation_failed, nothing applied",
       "contract components.responses.ValidationFailed; DECISIONS Q12 (a score of 101 is a 422)")
def body_schema_violation(ctx):
    secret, token, contact_id = _setup(ctx)
    before = contact_view(ctx, token, contact_id).get("propensity")
    body = propensity(ctx, contact_id, 50)
    body["data"]["propensity_score"] = 101
    reply = send(ctx, "propensity", body, secret)
    expect_status(reply, 422, "validation_failed", what="a propensity_score of 101")
    if contact_view(ctx, token, contact_id).get("propensity") != before:
        raise Fail("a refused propensity update (score 101) changed the contact's propensity", reply.exchange)


@check("webhooks.body.oversize", "A signed event over 64 KiB: 413 payload_too_large, nothing applied",
       "contract components.responses.PayloadTooLarge; DECISIONS Part 2 #23")
def body_oversize(ctx):
    secret, token, contact_id = _setup(ctx)
    campaign_id = ctx.unique("kit_cmp")
    text = json.dumps(email_event(ctx, contact_id, campaign_id))
    padded = text + " " * (SINGLE_BODY_LIMIT + 1 - len(text))  # trailing whitespace: still valid JSON
    reply = send(ctx, "events", None, secret, raw=padded)
    _refused_unchanged(ctx, reply, 413, "payload_too_large", "an event of 64 KiB + 1 byte", token, contact_id,
                       campaign_id)


@check("webhooks.dedup.webhook_id", "A repeated webhook-id is acknowledged as a duplicate and applied once",
       "contract paths./webhooks/broadcast/*.post (deduplicated on webhook-id); DECISIONS Q11; Standard Webhooks")
def dedup_webhook_id(ctx):
    secret, token, contact_id = _setup(ctx)
    event = email_event(ctx, contact_id, ctx.unique("kit_cmp"), with_event_id=False)
    msg = ctx.unique("kit_msg")
    _accepted(ctx, send(ctx, "events", event, secret, msg_id=msg), "an email event")
    again = send(ctx, "events", event, secret, msg_id=msg)
    receipt = _accepted(ctx, again, "the same email event again, same webhook-id")
    if receipt.get("status") != "duplicate":
        raise Fail(f"a repeated webhook-id was answered {receipt}, not status duplicate", again.exchange)
    first, msg_first = batch(ctx, [{"contact_id": contact_id, "engagement_metrics": {"total_opens": 5}}]), \
        ctx.unique("kit_msg")
    expect_status(send(ctx, "batch", first, secret, msg_id=msg_first), 200, what="a batch setting total_opens 5")
    later = batch(ctx, [{"contact_id": contact_id, "engagement_metrics": {"total_opens": 7}}])
    expect_status(send(ctx, "batch", later, secret), 200, what="a batch setting total_opens 7")
    replay = send(ctx, "batch", first, secret, msg_id=msg_first)
    expect_status(replay, 200, what="the first batch again, same webhook-id")
    opens = (contact_view(ctx, token, contact_id).get("engagement") or {}).get("total_opens")
    if opens != 7:
        raise Fail(f"a batch delivered again under its webhook-id was applied again: total_opens is {opens}, not 7",
                   replay.exchange)
