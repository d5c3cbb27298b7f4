"""Requests that break the contract: which operation, which field, which rule of the schema.

The fake checks every /v1 request against `openapi/agentbuddy.yaml` as it arrives and writes
the verdict (the failing fields and messages) into the journal; these rules gather it. One
finding per (operation, field, message), however often the client repeated the mistake.
`per_page` out of bounds is paging's (`paging.per_page.bounds`), not counted twice here.
"""
from __future__ import annotations

from collections import defaultdict

from .model import Finding, Records, finding, rule, times

PAGING_FIELDS = frozenset({"query.per_page"})


def _api(records: Records) -> list[dict]:
    return [e for e in records.requests if e["path"].startswith("/v1/")]


@rule("contract.request.valid", "Every request conforms to the contract: parameters, headers and body",
      "openapi/agentbuddy.yaml (each operation's parameters and requestBody); DECISIONS Part 2 #28")
def request_valid(records: Records) -> list[Finding] | None:
    requests = _api(records)
    if not requests:
        return None
    broken: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for entry in requests:
        if (entry.get("validation") or {}).get("request") != "failed":
            continue
        for error in entry["validation"].get("errors") or []:
            if error.get("field") not in PAGING_FIELDS:
                broken[(entry.get("operation_id") or entry["path"], error.get("field") or "request",
                        error.get("message") or "")].append(entry)
    return [finding(f"{operation}: {field}: {message} ({times(len(entries))})", entries)
            for (operation, field, message), entries in broken.items()]


@rule("contract.operation.known", "Calls only the contract's operations (path and method)",
      "openapi/agentbuddy.yaml paths; DECISIONS Q3")
def operation_known(records: Records) -> list[Finding] | None:
    requests = _api(records)
    if not requests:
        return None
    unknown: dict[str, list[dict]] = defaultdict(list)
    for entry in requests:
        if entry.get("operation_id") is None and entry.get("status") in (404, 405):
            unknown[f"{entry['method']} {entry['path']}"].append(entry)
    return [finding(f"{call} is not an operation of the contract ({times(len(entries))})", entries)
            for call, entries in unknown.items()]


RULES = [request_valid, operation_known]
