"""Defect switches: realistic bugs a partner could ship, planted in the fake on purpose.

A conformance kit that passes everything proves nothing until it is shown to fail. Each switch
below turns the fake into an AgentBuddy with one bug, and names the provider-kit checks
(`ab-harness verify agentbuddy`) that must fail because of it — and no others (the defect
matrix in tests/conformance proves it for every switch).

Switches are off by default and reachable only when the fake is built: `--defect NAME`
(repeatable) on the command line, or `MockConfig(defects=...)`. No request can turn one on;
`/__admin/world` shows which are on. Every hook is a small branch, named after its switch, at
the place where the real behaviour lives (`if TENANT_LEAK in config.defects: ...`), so the
fake's normal code reads as before and behaves exactly as before with every switch off.

This module is a leaf (no Flask): `config` validates names against it, and
`python -m mock_agentbuddy.defects` prints the README's table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

PKCE_NOT_ENFORCED = "pkce-not-enforced"
CODES_REUSABLE = "codes-reusable"
REFRESH_NOT_ROTATED = "refresh-not-rotated"
REVOCATION_IGNORED = "revocation-ignored"
SCOPE_NOT_ENFORCED = "scope-not-enforced"
TENANT_LEAK = "tenant-leak"
ERRORS_AS_HTML = "errors-as-html"
RATELIMIT_HEADERS_ABSENT = "ratelimit-headers-absent"
OFFSET_CURSOR = "offset-cursor"
UPDATED_SINCE_EXCLUSIVE = "updated-since-exclusive"
TOMBSTONES_MISSING = "tombstones-missing"
WEBHOOK_SIGNATURE_UNCHECKED = "webhook-signature-unchecked"
WEBHOOK_TIMESTAMP_UNCHECKED = "webhook-timestamp-unchecked"
WEBHOOK_DUPLICATES_APPLIED = "webhook-duplicates-applied"
NOTIFICATIONS_UNSIGNED = "notifications-unsigned"

#: The scope `SCOPE_NOT_ENFORCED` forgets to check (the one guarding writes).
UNENFORCED_SCOPE = "write:engagement"


@dataclass(frozen=True)
class Defect:
    name: str
    description: str  # one line: the bug as a partner would ship it
    trips: tuple[str, ...]  # the provider-kit check ids that must fail with it, and only these


DEFECTS: dict[str, Defect] = {d.name: d for d in (
    Defect(PKCE_NOT_ENFORCED, "PKCE is optional: a code is issued without code_challenge, or for method plain",
           ("oauth.pkce.challenge_required", "oauth.pkce.plain_refused")),
    Defect(CODES_REUSABLE, "An authorization code can be exchanged again, and the replay revokes nothing",
           ("oauth.code.single_use", "oauth.code.replay_revokes")),
    Defect(REFRESH_NOT_ROTATED, "A refresh answers with the same refresh token, which stays usable for ever",
           ("oauth.refresh.rotation", "oauth.refresh.reuse_revokes_family")),
    Defect(REVOCATION_IGNORED, "The revocation endpoint answers 200 and revokes nothing",
           ("oauth.revoke.refresh_token", "oauth.revoke.access_token")),
    Defect(SCOPE_NOT_ENFORCED, f"Any live token may call the operations that need {UNENFORCED_SCOPE}",
           ("api.scope.write_engagement",)),
    Defect(TENANT_LEAK, "GET /{resource}/{id} finds a record in any account, not only the token's",
           ("api.tenant.isolation",)),
    Defect(ERRORS_AS_HTML, "Every problem+json error is answered as a text/html page instead",
           ("api.errors.problem_json",)),
    Defect(RATELIMIT_HEADERS_ABSENT, "No RateLimit-Policy or RateLimit header on /v1 answers (429s still come)",
           ("api.ratelimit.headers",)),
    Defect(OFFSET_CURSOR, "The cursor is an offset: a record that changes mid-sweep shifts the rest, and one "
           "is skipped at every page boundary", ("sync.sweep.concurrent_changes",)),
    Defect(UPDATED_SINCE_EXCLUSIVE, "updated_since is read as updated_at > T: the record at T is lost",
           ("sync.updated_since.inclusive",)),
    Defect(TOMBSTONES_MISSING, "Deleted records vanish: no tombstones in lists, 404 on GET",
           ("sync.tombstones.listed", "sync.tombstones.get")),
    Defect(WEBHOOK_SIGNATURE_UNCHECKED, "A webhook whose signature does not verify is trusted anyway (the "
           "connection is taken from the path, or on a deprecated route from the contact it names)",
           ("webhooks.signature.invalid", "webhooks.routing.other_connection")),
    Defect(WEBHOOK_TIMESTAMP_UNCHECKED, "webhook-timestamp is not checked: a signature of any age is accepted",
           ("webhooks.timestamp.stale", "webhooks.timestamp.future")),
    Defect(WEBHOOK_DUPLICATES_APPLIED, "A repeated webhook-id is applied again instead of acknowledged as a "
           "duplicate", ("webhooks.dedup.webhook_id",)),
    Defect(NOTIFICATIONS_UNSIGNED, "Change notifications go out without a webhook-signature header",
           ("notifications.signature", "notifications.retry")),
)}


def parse(names: Iterable[str]) -> frozenset[str]:
    """The switches named, checked: an unknown name is a ValueError that lists the known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - DEFECTS.keys())
    if unknown:
        raise ValueError(f"unknown defect {', '.join(unknown)}; one of: {', '.join(DEFECTS)}")
    return chosen


def markdown() -> str:
    """The README's table of switches (a test keeps the README equal to this)."""
    rows = ["| `--defect` | the bug | the kit fails |", "|---|---|---|"]
    for defect in DEFECTS.values():
        trips = ", ".join(f"`{check}`" for check in defect.trips)
        rows.append(f"| `{defect.name}` | {defect.description} | {trips} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())
