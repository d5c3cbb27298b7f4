"""The client's side of change notifications: the fake signs them correctly (Standard Webhooks,
the connection's secret), so a receiver that refuses one, or never takes it, is the client's bug
— most often a signature check over re-serialised JSON instead of the bytes received."""
from __future__ import annotations

from .model import Finding, Records, finding, rule


@rule("notifications.receiver.accepts", "Accepts correctly signed change notifications (2xx), at the latest "
      "when they are retried", "openapi/agentbuddy.yaml webhooks.changeNotification; DECISIONS Q6, Q11")
def receiver_accepts(records: Records) -> list[Finding] | None:
    if not records.notifications:
        return None
    refused = [e for e in records.notifications if e.get("status") is not None and 400 <= e["status"] < 500]
    lost = [e for e in records.notifications if e.get("outcome") == "gave_up"]
    findings = []
    if refused:
        findings.append(finding(f"the receiver refused {len(refused)} signed notification attempt(s) with a 4xx",
                                refused, note=lambda e: f"{e.get('webhook_id')} to {e.get('path')}"))
    if lost:
        findings.append(finding(f"{len(lost)} notification(s) were never accepted, after every retry", lost,
                                note=lambda e: e.get("error") or f"{e.get('webhook_id')} answered {e.get('status')}"))
    return findings


RULES = [receiver_accepts]
