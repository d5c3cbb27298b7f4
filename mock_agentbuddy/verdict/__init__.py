"""The fake judging its client: `ab-harness verify broadcast` and `GET /__admin/verdict`.

Broadcast's production client is not our reference integration. Pointed at the fake, it leaves
a record of everything it did — the journal (every /v1 and OAuth request with what the fake
decided about it, and every notification sent back) and the inbound log (every webhook and
push) — and this package reads that record against the contract's rules for a client, one
module per family of findings:

    contract       requests that break the contract: which operation, field and rule
    oauth          PKCE, state, codes and refresh tokens used twice, the token endpoint hammered,
                   expired tokens sent, calls outside the token's scopes
    paging         per_page bounds, next_cursor ignored, cursors not issued, full re-sweeps
    ratelimit      Retry-After ignored, the quota overrun, bursts above the published policy
    webhooks       headers, signatures, timestamps, one id for two payloads, one event twice
    notifications  the client's receiver refusing correctly signed notifications

Each rule (`model.rule`) has an id, a severity and the clause it enforces; each finding carries
the log entries that show it. Thresholds are named constants in their family's module, each
with the reason for its value.
"""
from __future__ import annotations

from typing import Any

from .model import ERROR, EVIDENCE_KEPT, Finding, Records, Rule
from . import contract, notifications, oauth, paging, ratelimit, webhooks

FAMILIES = (contract, oauth, paging, ratelimit, webhooks, notifications)
MAX_FINDINGS_PER_RULE = 20  # a client broken everywhere gets the first twenty, and a count of the rest
PASS, FAIL, SKIP = "pass", "fail", "skip"


def verdict_of(state) -> dict[str, Any]:
    """The verdict on everything the fake (`MockState`) has recorded of its client so far."""
    journal, inbound = state.journal.since(0), state.inbound.since(0)
    records = Records(requests=[e for e in journal if e.get("direction") != "outbound"],
                      notifications=[e for e in journal if e.get("direction") == "outbound"],
                      inbound=inbound, quota=(state.ratelimiter.quota.limit, state.ratelimiter.quota.window))
    logs = {"journal_rolled_off": state.journal.dropped, "inbound_rolled_off": state.inbound.dropped,
            "log_size": state.config.journal_size}
    return judge(records, logs)


def rules() -> list[Rule]:
    return [item for family in FAMILIES for item in family.RULES]


def judge(records: Records, logs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verdict document: every rule with its status, every finding with its evidence."""
    judged, findings = [], []
    for item in rules():
        found = item.judge(records)
        status = SKIP if found is None else FAIL if found else PASS
        shown = _capped(found or [])
        judged.append({"id": item.id, "family": item.family, "title": item.title, "clause": item.clause,
                       "severity": item.severity, "status": status,
                       "detail": "no traffic of this kind to judge" if found is None else
                       f"{sum(f.count for f in found)} occurrence(s) in {len(found)} finding(s)" if found else ""})
        findings += [{"id": item.id, "severity": item.severity, "rule": f"{item.title} ({item.clause})",
                      "message": f.message, "count": f.count, "evidence": f.evidence} for f in shown]
    errors = sum(1 for f in findings if f["severity"] == ERROR)
    return {
        "verdict": "clean" if not findings else "findings",
        "summary": {"rules": len(judged), PASS: sum(r["status"] == PASS for r in judged),
                    FAIL: sum(r["status"] == FAIL for r in judged), SKIP: sum(r["status"] == SKIP for r in judged),
                    "findings": len(findings), "errors": errors, "warnings": len(findings) - errors},
        "judged": {"requests": len(records.requests), "inbound": len(records.inbound),
                   "notifications": len(records.notifications), **(logs or {})},
        "thresholds": thresholds(),
        "rules": judged,
        "findings": findings,
    }


def thresholds() -> dict[str, Any]:
    return {"evidence_kept_per_finding": EVIDENCE_KEPT, "max_findings_per_rule": MAX_FINDINGS_PER_RULE,
            "token_requests_per_hour": oauth.TOKEN_REQUESTS_PER_HOUR,
            "full_sweep_min_interval_seconds": paging.FULL_SWEEP_MIN_INTERVAL_SECONDS}


def _capped(found: list[Finding]) -> list[Finding]:
    if len(found) <= MAX_FINDINGS_PER_RULE:
        return found
    rest = found[MAX_FINDINGS_PER_RULE:]
    return found[:MAX_FINDINGS_PER_RULE] + [Finding(f"... and {len(rest)} more finding(s) of this rule", [],
                                                    sum(f.count for f in rest))]
