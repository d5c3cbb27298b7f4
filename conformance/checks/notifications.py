"""Change notifications (AgentBuddy → Broadcast): the kit subscribes a loopback inbox of its own,
changes a contact and reads what arrives: signature, shape, timestamp, and a retry after a 5xx.

Each check subscribes, changes one contact it created beforehand and unsubscribes at the end,
whatever happened. A subscription left behind by a run that died (same inbox path) is removed
first, so the connection's limit of 10 is never filled by the kit.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Iterator

from ..loopback import INBOX_PATH, Delivery, NotificationInbox
from ..model import Exchange, Fail, check
from ..signing import signature_verifies
from .support import expect_status, parse_time

TOLERANCE = 300


@contextmanager
def _subscribed(ctx, token: str, fail_first: int = 0) -> Iterator[tuple[NotificationInbox, dict]]:
    inbox = NotificationInbox(fail_first=fail_first, public_url=ctx.target.options.receiver_url,
                              port=ctx.target.options.receiver_port)
    created = None
    try:
        _remove_leftovers(ctx, token)
        reply = ctx.probe.post("/v1/subscriptions", token=token, json={"url": inbox.url, "events": ["contact.*"]})
        expect_status(reply, 201, what="POST /subscriptions")
        created = reply.json
        yield inbox, created
    finally:
        if isinstance(created, dict) and created.get("id"):
            ctx.probe.request("DELETE", f"/v1/subscriptions/{created['id']}", token=token)
        inbox.close()


def _remove_leftovers(ctx, token: str) -> None:
    reply = ctx.probe.get("/v1/subscriptions", token=token)
    for subscription in ((reply.json or {}).get("data") or []) if isinstance(reply.json, dict) else []:
        if str(subscription.get("url", "")).endswith(INBOX_PATH):  # the kit's own inbox, from a run that died
            ctx.probe.request("DELETE", f"/v1/subscriptions/{subscription['id']}", token=token)


def _one_change(ctx, attempts: int = 1) -> tuple[str, Delivery, list[Delivery]]:
    """Subscribe, update a contact of the kit's, and return (its id, the first delivery, all)."""
    changer = ctx.need_changes()
    ctx.need_secret()
    token = ctx.token()
    contact_id = changer.create_contact()
    with _subscribed(ctx, token, fail_first=attempts - 1) as (inbox, _):
        changer.update_contact(contact_id)
        deliveries = inbox.wait_for(attempts, ctx.target.options.notification_timeout)
    mine = [d for d in deliveries if _body(d).get("data", {}).get("id") == contact_id]
    if len(mine) < attempts:
        raise Fail(f"{len(mine)} notification(s) about contact {contact_id} arrived within "
                   f"{int(ctx.target.options.notification_timeout)} s of its update, expected {attempts}")
    return contact_id, mine[0], mine


def _shown(delivery: Delivery, url: str = "(the kit's inbox)") -> Exchange:
    """A notification the server sent, as evidence (the server is the client here)."""
    return Exchange("POST", url, delivery.headers, delivery.body.decode("utf-8", "replace")[:2000],
                    delivery.answered)


def _body(delivery: Delivery) -> dict:
    try:
        body = json.loads(delivery.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@check("notifications.subscription.lifecycle", "Subscriptions are created (201 + Location), listed and deleted "
       "(204, then 404)", "contract paths./subscriptions (post, get), /subscriptions/{id}.delete")
def subscription_lifecycle(ctx):
    token = ctx.token()
    with _subscribed(ctx, token) as (inbox, created):
        errors = ctx.contract.schema_errors("Subscription", created)
        if errors or created.get("url") != inbox.url:
            raise Fail(f"the created subscription {created} is not a Subscription for {inbox.url}"
                       f"{': ' + errors[0] if errors else ''}")
        listed = ctx.probe.get("/v1/subscriptions", token=token)
        expect_status(listed, 200, what="GET /subscriptions")
        if created["id"] not in [s.get("id") for s in (listed.json or {}).get("data") or []]:
            raise Fail(f"GET /subscriptions does not list the new subscription {created['id']}", listed.exchange)
        deleted = ctx.probe.request("DELETE", f"/v1/subscriptions/{created['id']}", token=token)
        expect_status(deleted, 204, what="DELETE /subscriptions/{id}")
        again = ctx.probe.request("DELETE", f"/v1/subscriptions/{created['id']}", token=token)
        expect_status(again, 404, "not_found", what="DELETE of a subscription already deleted")
        listed = ctx.probe.get("/v1/subscriptions", token=token)
        if created["id"] in [s.get("id") for s in (listed.json or {}).get("data") or []]:
            raise Fail(f"GET /subscriptions still lists the deleted {created['id']}", listed.exchange)


@check("notifications.signature", "A change notification is signed with the connection's secret",
       "contract webhooks.changeNotification, components.securitySchemes.webhookSignature; DECISIONS Q11; "
       "Standard Webhooks (signing)")
def signature(ctx):
    _, delivery, _ = _one_change(ctx)
    if not signature_verifies(ctx.target.webhook_secret, delivery.headers, delivery.body):
        raise Fail("the notification's webhook-signature does not verify under the connection's secret",
                   _shown(delivery))


@check("notifications.shape", "A change notification matches the contract and names the change",
       "contract webhooks.changeNotification, components.schemas.ChangeNotification")
def shape(ctx):
    contact_id, delivery, _ = _one_change(ctx)
    body = _body(delivery)
    errors = ctx.contract.schema_errors("ChangeNotification", body)
    if errors:
        raise Fail(f"the notification breaks the contract: {'; '.join(errors[:3])}", _shown(delivery))
    _, record = ctx.get_json(f"/v1/contacts/{contact_id}", ctx.token())
    if body["event_type"] != "contact.updated" or parse_time(body["data"]["updated_at"]) != \
            parse_time(record.get("updated_at")):
        raise Fail(f"the notification says {body['event_type']} at {body['data']['updated_at']}, but the change "
                   f"was contact.updated at {record.get('updated_at')}", _shown(delivery))


@check("notifications.timestamp", "webhook-timestamp is current (±5 minutes); the body's timestamp is not before "
       "the change", "contract webhooks.changeNotification; components.parameters.WebhookTimestampHeader; "
       "Standard Webhooks")
def timestamp(ctx):
    _, delivery, _ = _one_change(ctx)
    stamp = delivery.headers.get("webhook-timestamp", "")
    if not stamp.isdigit():
        raise Fail(f"webhook-timestamp is {stamp!r}, not Unix seconds", _shown(delivery))
    skew = int(stamp) - (ctx.target.server_now().timestamp() - (time.time() - delivery.received_at))
    if abs(skew) > TOLERANCE:
        raise Fail(f"webhook-timestamp is {int(skew)} s from the server's clock when it arrived "
                   f"(tolerance ±{TOLERANCE})", _shown(delivery))
    body = _body(delivery)
    sent, changed = parse_time(body.get("timestamp")), parse_time((body.get("data") or {}).get("updated_at"))
    if sent is None or changed is None or sent < changed:
        raise Fail(f"the body's timestamp {body.get('timestamp')!r} is missing or before the change "
                   f"({(body.get('data') or {}).get('updated_at')!r})", _shown(delivery))


@check("notifications.retry", "A notification answered 503 is delivered again: same webhook-id and body, signed",
       "contract webhooks.changeNotification (retries with exponential backoff); Standard Webhooks (webhook-id)")
def retry(ctx):
    _, first, deliveries = _one_change(ctx, attempts=2)
    second = deliveries[1]
    if first.answered != 503:
        raise Fail("the inbox did not refuse the first delivery (kit error)")
    if second.headers.get("webhook-id") != first.headers.get("webhook-id") or second.body != first.body:
        raise Fail(f"the retry came as webhook-id {second.headers.get('webhook-id')!r} (first "
                   f"{first.headers.get('webhook-id')!r}) and {'the same' if second.body == first.body else 'another'} body",
                   _shown(second))
    if not signature_verifies(ctx.target.webhook_secret, second.headers, second.body):
        raise Fail("the retried notification's signature does not verify", _shown(second))
