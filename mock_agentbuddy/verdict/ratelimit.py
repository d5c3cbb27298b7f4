"""Rate-limit misuse: requests sent before a `Retry-After` ran out, requests past the quota the
`RateLimit` header had just said was spent, and bursts above the published policy.

Everything is judged per caller as the fake's rate limiter counts them (`caller` in the journal:
a hash of the Authorization header, or the client's IP for unsigned-in requests such as
webhooks) and on the fake's clock, which a replay moves in step with the client's.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from .model import WARNING, Finding, Records, at, densest, finding, rule, times


def _by_caller(records: Records) -> dict[str, list[dict]]:
    callers: dict[str, list[dict]] = defaultdict(list)
    for entry in records.requests:
        if entry.get("caller"):
            callers[entry["caller"]].append(entry)
    return callers


@rule("ratelimit.retry_after.honoured", "Waits as long as Retry-After says before the next request",
      "DECISIONS Q4, Part 2 #28 (retry 429 after Retry-After); RFC 9110 §10.2.3")
def retry_after_honoured(records: Records) -> list[Finding] | None:
    told = False
    findings = []
    for caller, entries in _by_caller(records).items():
        early, until = [], None
        for entry in entries:
            if until is not None and at(entry) < until:
                early.append(entry)
            if str(entry.get("retry_after") or "").isdigit():
                told = True
                until = max(until or at(entry), at(entry) + timedelta(seconds=int(entry["retry_after"])))
        if early:
            findings.append(finding(f"{_who(caller)} sent {len(early)} request(s) before a Retry-After had run out",
                                    early))
    return findings if told else None


@rule("ratelimit.quota.respected", "Paces itself from RateLimit (r, t) and never runs past the quota",
      "DECISIONS Q4; openapi/agentbuddy.yaml components.headers.RateLimit, responses.TooManyRequests")
def quota_respected(records: Records) -> list[Finding] | None:
    callers = _by_caller(records)
    if not callers:
        return None
    findings = []
    for caller, entries in callers.items():
        refused = [e for e in entries if e["status"] == 429 and not e.get("fault")]  # the limiter's, not a fault's
        if refused:
            findings.append(finding(f"{_who(caller)} ran past the quota of {records.quota[0]} requests per "
                                    f"{records.quota[1]} s ({times(len(refused))} answered 429)", refused))
    return findings


@rule("ratelimit.burst", "Stays within the published policy over any window, not only the server's fixed ones",
      "DECISIONS Q4 (RateLimit-Policy q per w seconds); draft-ietf-httpapi-ratelimit-headers", WARNING)
def burst(records: Records) -> list[Finding] | None:
    callers = _by_caller(records)
    if not callers:
        return None
    limit, window = records.quota
    findings = []
    for caller, entries in callers.items():
        served = [e for e in entries if e["status"] != 429 or e.get("fault")]  # the quota rule has the refused
        burst_entries = densest(served, window)
        if len(burst_entries) > limit:
            findings.append(finding(f"{_who(caller)} sent {len(burst_entries)} requests within {window} s "
                                    f"(the policy: {limit}), from {burst_entries[0]['time']}", burst_entries))
    return findings


def _who(caller: str) -> str:
    kind, _, key = caller.partition(":")
    return f"token #{key[:8]}" if kind == "token" else f"client {key} (no token)"


RULES = [retry_after_honoured, quota_respected, burst]
