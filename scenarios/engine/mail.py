"""Broadcast's email platform as the story plays it: campaigns sent through
`integration.engagement.pipeline.campaigns`, Resend's signed webhooks posted to Broadcast's real
HTTP endpoint, and Broadcast's own unsubscribe link through the ingest pipeline."""
from __future__ import annotations

from datetime import datetime

from integration.engagement.pipeline import campaigns as bc_campaigns
from integration.engagement.pipeline import ingest
from mock_agentbuddy.admin.client import session_for
from scenarios.people import resend
from scenarios.people.timeline import SimEvent, email_id, send_plan
from scenarios.story import model as m

from .log import iso
from .stack import Stack

HUMAN_WORDS = {"unsubscribed": "unsubscribed", "complained": "marked the email as spam", "bounced": "hard bounce"}


class Mail:
    def __init__(self, scenario: m.Scenario, stack: Stack) -> None:
        self.scenario = scenario
        self.stack = stack
        self.http = session_for(stack.broadcast_url)
        self.webhook_url = f"{stack.broadcast_url.rstrip('/')}/providers/resend/webhook"
        self.emitted: list[dict] = []  # every provider event, with how the integration answered
        self.sends: list[dict] = []    # what Broadcast recorded as sent (and what it refused)
        self.played_before = False     # this story's mail is in Broadcast already (see `check_repeat`)

    def check_repeat(self, ab_ids: dict[str, str]) -> None:
        """A story played again on the same stack must send new mail, or Broadcast rightly takes
        every event for a repeat of the first play's. Email ids are keyed by the scenario's
        contact (the same in every replay); after an earlier play, by the new AgentBuddy contact."""
        plan = send_plan(self.scenario)
        for _at, campaign, number in plan[:1]:
            cid = next((c.id for c in self.scenario.all_contacts() if campaign.audience.includes(c)), None)
            if cid is None:
                return
            with self.stack.db.transaction(readonly=True) as tx:
                first = bc_campaigns.find_send(tx, email_id(self.scenario.seed, campaign.id, number, cid),
                                               self.stack.organization_id)
            self.played_before = first is not None and first["contact_id"] != ab_ids.get(cid)

    def create_campaigns(self) -> None:
        for campaign in self.scenario.campaigns:
            bc_campaigns.upsert_campaign(self.stack.db, self.stack.organization_id,
                                         bc_campaigns.Campaign(campaign.id, campaign.name, campaign.kind),
                                         self.stack.clock)

    def send(self, campaign: m.Campaign, number: int, audience: dict[str, str], now: datetime
             ) -> tuple[list[tuple[str, str]], str]:
        """Send issue `number` to `audience` (scenario id -> AgentBuddy id); returns who received it
        (scenario id, provider email id) and the words for the log."""
        recipients = [(ab_id, email_id(self.scenario.seed, campaign.id, number, ab_id if self.played_before else cid))
                      for cid, ab_id in audience.items()]
        sent, refused = bc_campaigns.record_sends(self.stack.db, self.stack.organization_id, campaign.id, recipients,
                                                  self.stack.clock, sent_at=now)
        by_ab = {ab_id: cid for cid, ab_id in audience.items()}
        delivered = []
        for send in sent:
            cid = by_ab[send.contact_id]
            self.sends.append({"at": iso(now), "contact": cid, "campaign": campaign.id, "number": number,
                               "email_id": send.provider_email_id, "outcome": "sent"})
            delivered.append((cid, send.provider_email_id))
        for ab_id, reason in sorted(refused.items()):
            self.sends.append({"at": iso(now), "contact": by_ab[ab_id], "campaign": campaign.id, "number": number,
                               "outcome": f"refused: {reason}"})
        words = f"sent '{campaign.name}' #{number} to {len(sent)}" + (
            f", refused {len(refused)} ({', '.join(sorted(set(refused.values())))})" if refused else "")
        return delivered, words

    def event(self, event: SimEvent, contact: m.Contact, ab_id: str, now: datetime) -> str | None:
        """What the provider saw, told to Broadcast; the words for the log when a person acted."""
        campaign = next(c for c in self.scenario.campaigns if c.id == event.campaign_id)
        record = {**event.to_json()}
        if event.type == "unsubscribed":
            summary = ingest.record_unsubscribe(self.stack.db, self.stack.organization_id, ab_id, self.stack.clock,
                                                email_id=event.email_id, campaign_id=campaign.id)
            record["status"] = "ingested" if summary.stored else "duplicate"
        else:
            body = resend.payload(event, contact.email, campaign.name,
                                  {"contact_id": ab_id, "campaign_id": campaign.id, "campaign_kind": campaign.kind})
            raw, headers = resend.signed_request(self.stack.config.resend_webhook_secret,
                                                 resend.message_id(self.scenario.seed, event), now, body)
            response = self.http.post(self.webhook_url, data=raw, headers=headers, timeout=30)
            record["status"] = response.status_code
            if response.status_code >= 300:
                record["problem"] = response.text[:300]
        self.emitted.append(record)
        if event.machine or event.type not in ("clicked", *HUMAN_WORDS):
            return None
        what = f"clicked {event.link_url}" if event.type == "clicked" else HUMAN_WORDS[event.type]
        return f"{contact.name} {what}"
