"""Campaigns and sends: the record that Broadcast emailed contact Y in campaign X as email Z.

The send record is what lets a provider webhook (which only knows its own email id) find the
AgentBuddy contact and campaign it is about. It is also the one gate every email passes, so
consent lives here: a contact without `email_opt_in`, one whose address unsubscribed, bounced
hard or complained, or one AgentBuddy deleted, is refused — whatever the campaign tool asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from common.clock import Clock
from integration.storage import Database, Tx, in_lists
from integration.sync.conflicts import SUPPRESSED_STATUSES


class UnknownCampaign(LookupError):
    pass


class SendRefused(Exception):
    """Broadcast must not email this contact; `reason` is a stable code for logs and UIs."""

    def __init__(self, contact_id: str, reason: str) -> None:
        super().__init__(f"contact {contact_id} cannot be emailed: {reason}")
        self.contact_id = contact_id
        self.reason = reason


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    kind: str | None = None


@dataclass(frozen=True)
class Send:
    provider_email_id: str
    campaign_id: str
    contact_id: str
    email: str
    sent_at: datetime


def upsert_campaign(db: Database, organization_id: str, campaign: Campaign, clock: Clock) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO campaigns (organization_id, id, name, kind, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name, kind = excluded.kind",
            (organization_id, campaign.id, campaign.name, campaign.kind, clock.now()),
        )


def refusal_reason(contact: dict | None) -> str | None:
    """Why a contact row must not be emailed, or None when it may be."""
    if contact is None:
        return "unknown_contact"
    if contact.get("deleted_at"):
        return "deleted"
    if not contact.get("email"):
        return "no_email"
    if not contact.get("email_opt_in"):
        return "no_opt_in"
    if contact.get("email_status") in SUPPRESSED_STATUSES:
        return str(contact["email_status"])
    return None


def record_send(
    db: Database, organization_id: str, campaign_id: str, contact_id: str, provider_email_id: str,
    clock: Clock, *, sent_at: datetime | None = None,
) -> Send:
    """Record one send, or raise `SendRefused` (nothing is written then)."""
    sends, refused = record_sends(db, organization_id, campaign_id, [(contact_id, provider_email_id)], clock, sent_at=sent_at)
    if refused:
        raise SendRefused(contact_id, refused[contact_id])
    return sends[0]


def record_sends(
    db: Database, organization_id: str, campaign_id: str, recipients: Sequence[tuple[str, str]],
    clock: Clock, *, sent_at: datetime | None = None,
) -> tuple[list[Send], dict[str, str]]:
    """Record a campaign's sends in one transaction; returns (recorded, {contact_id: refusal reason}).

    Re-recording a provider email id is a no-op, so a retried send job does not double count.
    """
    sent_at = sent_at or clock.now()
    with db.transaction() as tx:
        if tx.fetchone("SELECT 1 AS x FROM campaigns WHERE organization_id = ? AND id = ?", (organization_id, campaign_id)) is None:
            raise UnknownCampaign(f"campaign {campaign_id!r} does not exist in organization {organization_id!r}")
        contacts = _contacts(tx, organization_id, [contact_id for contact_id, _ in recipients])
        sends: list[Send] = []
        refused: dict[str, str] = {}
        for contact_id, email_id in recipients:
            reason = refusal_reason(contacts.get(contact_id))
            if reason:
                refused[contact_id] = reason
                continue
            sends.append(Send(email_id, campaign_id, contact_id, contacts[contact_id]["email"], sent_at))
        tx.executemany(
            "INSERT INTO sends (organization_id, provider_email_id, campaign_id, contact_id, email, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, provider_email_id) DO NOTHING",
            [(organization_id, s.provider_email_id, s.campaign_id, s.contact_id, s.email, s.sent_at) for s in sends],
        )
    return sends, refused


def sendable(db: Database, organization_id: str, contact_ids: Iterable[str]) -> dict[str, str | None]:
    """{contact_id: refusal reason or None} — what a campaign tool shows before sending."""
    ids = list(contact_ids)
    with db.transaction(readonly=True) as tx:
        contacts = _contacts(tx, organization_id, ids)
    return {contact_id: refusal_reason(contacts.get(contact_id)) for contact_id in ids}


def find_send(tx: Tx, provider_email_id: str, organization_id: str | None = None) -> dict | None:
    """The send (with its campaign's name and kind) a provider email id belongs to."""
    sql = (
        "SELECT s.organization_id, s.provider_email_id, s.campaign_id, s.contact_id, s.sent_at,"
        " c.name AS campaign_name, c.kind AS campaign_kind FROM sends s"
        " LEFT JOIN campaigns c ON c.organization_id = s.organization_id AND c.id = s.campaign_id"
        " WHERE s.provider_email_id = ?"
    )
    if organization_id is None:
        return tx.fetchone(sql + " LIMIT 1", (provider_email_id,))
    return tx.fetchone(sql + " AND s.organization_id = ?", (provider_email_id, organization_id))


def find_sends(tx: Tx, provider_email_ids: Iterable[str], organization_id: str | None = None) -> dict[str, dict]:
    """`find_send` for many emails at once (one query per 500): {provider email id: send}."""
    found: dict[str, dict] = {}
    where = "" if organization_id is None else " AND s.organization_id = ?"
    extra = () if organization_id is None else (organization_id,)
    for marks, chunk in in_lists(sorted(set(provider_email_ids))):
        for row in tx.fetchall(
            "SELECT s.organization_id, s.provider_email_id, s.campaign_id, s.contact_id, s.sent_at,"
            " c.name AS campaign_name, c.kind AS campaign_kind FROM sends s"
            " LEFT JOIN campaigns c ON c.organization_id = s.organization_id AND c.id = s.campaign_id"
            f" WHERE s.provider_email_id IN ({marks}){where}", (*chunk, *extra),
        ):
            found.setdefault(row["provider_email_id"], row)
    return found


def _contacts(tx: Tx, organization_id: str, ids: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    unique = list(dict.fromkeys(ids))
    for marks, chunk in in_lists(unique):
        for row in tx.fetchall(
            "SELECT id, email, email_opt_in, email_status, deleted_at FROM contacts"
            f" WHERE organization_id = ? AND id IN ({marks})",
            (organization_id, *chunk),
        ):
            found[row["id"]] = row
    return found
