"""Resource API checks: who may call what (RFC 6750, the contract's scopes, tenants), what the
answers look like (the contract, RFC 9457), rate limits (IETF RateLimit headers) and paging."""
from __future__ import annotations

import re
import secrets

from ..model import Fail, Skip, check
from ..paging import sweep
from ..schema import Operation
from .support import expect_challenge, expect_status

ENTITIES = ("offices", "agents", "contacts", "properties")
NOT_A_TOKEN = "kit-not-a-token-"
RATE_LIMIT_BUDGET = 2000  # never send more than this to provoke a 429
RATE_LIMIT_FALLBACK = 600  # the contract's documented quota, when no RateLimit header says otherwise
FIELD = re.compile(r'^"(?P<name>[A-Za-z0-9_-]+)";(?P<a>[qr])=(?P<x>\d+);(?P<b>[wt])=(?P<y>\d+)$')


def _bearer_operations(ctx) -> list[Operation]:
    return [op for op in ctx.contract.operations() if not op.signed]


def _sample_ids(ctx) -> dict[str, str]:
    """One real id per entity (from the run's token), so scope checks never hinge on a 404."""
    token = ctx.creds.main.access_token
    ids = {}
    for entity in ENTITIES:
        reply = ctx.probe.get(f"/v1/{entity}", token=token, params={"per_page": 1})
        data = (reply.json or {}).get("data") if isinstance(reply.json, dict) else None
        ids[entity] = data[0]["id"] if reply.status == 200 and data else f"kit_{entity}_probe"
    return ids


def _call(ctx, op: Operation, token: str | None, ids: dict[str, str]):
    entity = op.path.strip("/").split("/", 1)[0]
    path = "/v1" + op.path.replace("{id}", ids.get(entity, "kit_subscription_probe"))
    body = op.example if op.method in ("POST", "PATCH", "PUT") else None
    return ctx.probe.request(op.method, path, token=token, json=body)


@check("api.auth.missing_token", "Every API operation refuses a call without a token: 401 with a Bearer challenge",
       "RFC 6750 §3; contract components.responses.Unauthorized")
def missing_token(ctx):
    ids = _sample_ids(ctx)
    operations = _bearer_operations(ctx)
    for op in operations:
        reply = _call(ctx, op, None, ids)
        expect_status(reply, 401, "invalid_token", what=f"{op.method} {op.path} without a token")
        expect_challenge(reply, what=f"{op.method} {op.path} without a token")
    return f"{len(operations)} operations"


@check("api.auth.invalid_token", "Every API operation refuses a token it never issued: 401 invalid_token",
       "RFC 6750 §3.1; contract components.responses.Unauthorized")
def invalid_token(ctx):
    ids = _sample_ids(ctx)
    bogus = NOT_A_TOKEN + secrets.token_urlsafe(24)
    operations = _bearer_operations(ctx)
    for op in operations:
        reply = _call(ctx, op, bogus, ids)
        expect_status(reply, 401, "invalid_token", what=f"{op.method} {op.path} with an unknown token")
        expect_challenge(reply, "invalid_token", what=f"{op.method} {op.path} with an unknown token")
    return f"{len(operations)} operations"


def _scope_check(scope: str):
    @check(f"api.scope.{scope.replace(':', '_')}", f"Operations needing {scope} refuse a token without it: 403",
           "contract x-required-scope; RFC 6750 §3.1; DECISIONS Q2")
    def run(ctx):
        ctx.need_authorize()
        others = [s for s in ctx.contract.scopes() if s != scope]
        tokens = ctx.creds.authorize_tokens(scope=" ".join(others), purpose=f"a token without {scope}")
        if scope in tokens.scope:
            raise Skip(f"the server granted {scope} although it was not asked for (RFC 6749 §3.3 allows it)")
        ids = _sample_ids(ctx)
        guarded = [op for op in _bearer_operations(ctx) if op.scope == scope]
        for op in guarded:
            reply = _call(ctx, op, tokens.access_token, ids)
            expect_status(reply, 403, "insufficient_scope", what=f"{op.method} {op.path} without {scope}")
            expect_challenge(reply, "insufficient_scope", what=f"{op.method} {op.path} without {scope}")
        expect_status(ctx.probe.get("/v1/connection", token=tokens.access_token), 200,
                      what=f"GET /connection (no scope needed) with a token lacking only {scope}")
        return f"{len(guarded)} operations"

    return run


scope_read_offices = _scope_check("read:offices")
scope_read_contacts = _scope_check("read:contacts")
scope_read_agents = _scope_check("read:agents")
scope_read_properties = _scope_check("read:properties")
scope_write_engagement = _scope_check("write:engagement")


@check("api.tenant.isolation", "Another account's records are not found (404), never shown",
       "DECISIONS Part 2 #28; contract components.responses.NotFound")
def tenant_isolation(ctx):
    other = ctx.need_other_account()
    _, connection = ctx.get_json("/v1/connection", other)
    if (connection.get("account") or {}).get("id") == ctx.target.account_id:
        raise Skip("the second credentials speak for the same account")
    token = ctx.token()
    tried = 0
    for entity in ENTITIES:
        _, page = ctx.get_json(f"/v1/{entity}", other, per_page=1)
        for record in page.get("data") or []:
            reply = ctx.probe.get(f"/v1/{entity}/{record['id']}", token=token)
            expect_status(reply, 404, "not_found", what=f"GET /{entity}/{{id}} of another account's record")
            tried += 1
    if not tried:
        raise Skip("the second account lists no record")
    return f"{tried} records of account {(connection.get('account') or {}).get('id')}"


@check("api.schema.read_responses", "Read answers match the contract (bodies, media types, headers)",
       "openapi/agentbuddy.yaml: every read operation's 200 response")
def read_responses(ctx):
    token = ctx.token()
    replies = [ctx.probe.get("/v1/connection", token=token), ctx.probe.get("/v1/subscriptions", token=token)]
    for entity in ENTITIES:
        page = ctx.probe.get(f"/v1/{entity}", token=token, params={"per_page": 5})
        replies.append(page)
        replies.append(ctx.probe.get(f"/v1/{entity}", token=token, params={"per_page": 5, "include_deleted": "true"}))
        for record in ((page.json or {}).get("data") or [])[:1] if isinstance(page.json, dict) else []:
            replies.append(ctx.probe.get(f"/v1/{entity}/{record['id']}", token=token))
    for reply in replies:
        expect_status(reply, 200, what=f"GET {reply.exchange.url}")
        errors = ctx.contract.response_errors(ctx.target.api_url, reply)
        if errors:
            raise Fail(f"{reply.exchange.method} {reply.exchange.url} breaks the contract: " + "; ".join(errors[:5]),
                       reply.exchange)
    return f"{len(replies)} answers"


def _error_cases(ctx, token: str, contact_id: str) -> list[tuple[str, object, int, str]]:
    probe = ctx.probe
    cases = [
        ("an unknown id", probe.get(f"/v1/contacts/kit_missing_{secrets.token_hex(4)}", token=token), 404, "not_found"),
        ("per_page=0", probe.get("/v1/contacts", token=token, params={"per_page": 0}), 400, "invalid_request"),
        ("no token", probe.get("/v1/connection"), 401, "invalid_token"),
        ("DELETE on a list", probe.request("DELETE", "/v1/contacts", token=token), 405, "method_not_allowed"),
    ]
    if "write:engagement" in (ctx.target.connection.get("scopes") or []):
        cases += [
            ("a propensity_score of 101", probe.post(f"/v1/contacts/{contact_id}/propensity", token=token,
                                                     json={"propensity_score": 101, "propensity_category": "hot"}),
             422, "validation_failed"),
            ("a text/plain body", probe.post(f"/v1/contacts/{contact_id}/propensity", token=token, data="score=1",
                                             headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
        ]
    return cases


@check("api.errors.problem_json", "Errors are RFC 9457 problem+json with the documented status and code",
       "RFC 9457 §3, §3.1; DECISIONS Part 2 #28; contract components.schemas.Problem")
def problem_json(ctx):
    token = ctx.token()
    cases = _error_cases(ctx, token, ctx.target.shared_contact(token))
    for what, reply, status, code in cases:
        if reply.status != status:
            raise Fail(f"{what} answered {reply.status}, expected {status}", reply.exchange)
        if reply.content_type != "application/problem+json":
            raise Fail(f"{what} answered {reply.content_type or 'no Content-Type'}, not application/problem+json",
                       reply.exchange)
        body = reply.json
        errors = ctx.contract.schema_errors("Problem", body)
        if errors:
            raise Fail(f"{what}: the problem body breaks the contract: " + "; ".join(errors[:5]), reply.exchange)
        if body.get("status") != status or body.get("code") != code:
            raise Fail(f"{what}: status {body.get('status')!r} and code {body.get('code')!r}, "
                       f"expected {status} and {code!r}", reply.exchange)
    return f"{len(cases)} kinds of error"


def _fields(reply, name: str) -> dict[str, tuple[int, int]] | None:
    """RateLimit / RateLimit-Policy as {policy: (q or r, w or t)}; None when absent or malformed."""
    header = reply.headers.get(name)
    if not header:
        return None
    parsed = {}
    for item in header.split(","):
        match = FIELD.match(item.strip())
        if match is None:
            return None
        parsed[match["name"]] = (int(match["x"]), int(match["y"]))
    return parsed


@check("api.ratelimit.headers", "Every /v1 answer carries RateLimit-Policy and RateLimit, and r counts down",
       "draft-ietf-httpapi-ratelimit-headers; DECISIONS Q4; contract components.headers.RateLimit")
def ratelimit_headers(ctx):
    token = ctx.token()
    first = ctx.probe.get("/v1/connection", token=token)
    second = ctx.probe.get("/v1/connection", token=token)
    others = [ctx.probe.get(f"/v1/contacts/kit_missing_{secrets.token_hex(4)}", token=token),
              ctx.probe.get("/v1/connection")]
    for reply in (first, second, *others):
        policy, limit = _fields(reply, "RateLimit-Policy"), _fields(reply, "RateLimit")
        if policy is None or limit is None:
            raise Fail(f"a {reply.status} answer lacks a well-formed RateLimit-Policy or RateLimit header "
                       f"({reply.headers.get('RateLimit-Policy')!r}, {reply.headers.get('RateLimit')!r})",
                       reply.exchange)
        for name, (remaining, reset) in limit.items():
            quota, window = policy.get(name, (None, None))
            if quota is None or remaining > quota or reset > window:
                raise Fail(f"RateLimit {name} r={remaining};t={reset} does not fit the policy q={quota};w={window}",
                           reply.exchange)
    before, after = _fields(first, "RateLimit"), _fields(second, "RateLimit")
    for name, (remaining, reset) in after.items():
        old = before.get(name)
        if old is not None and remaining >= old[0] and reset <= old[1]:
            raise Fail(f"RateLimit r stayed at {remaining} across two requests within one window", second.exchange)


@check("api.ratelimit.exhausted", "Past the quota: 429 rate_limited with Retry-After", "DECISIONS Q4; "
       "contract components.responses.TooManyRequests; RFC 9110 §10.2.3", last=True)
def ratelimit_exhausted(ctx):
    token = ctx.token()
    sent, budget = 0, 2 * RATE_LIMIT_FALLBACK + 10  # without RateLimit headers: room for a window that resets
    while sent < budget:
        reply = ctx.probe.get("/v1/connection", token=token, patient=False)
        sent += 1
        if reply.status == 429:
            retry = reply.headers.get("Retry-After", "")
            if not retry.isdigit() or int(retry) > 86400:
                raise Fail(f"the 429 carries Retry-After {retry!r}, not delay-seconds", reply.exchange)
            expect_status(reply, 429, "rate_limited", what="the request over the quota")
            return f"429 after {sent} requests, Retry-After {retry}"
        expect_status(reply, 200, what="GET /v1/connection while spending the quota")
        limit = _fields(reply, "RateLimit")
        if limit:  # send just enough: what is left in this window, and a few more
            budget = min(RATE_LIMIT_BUDGET, sent + min(r for r, _ in limit.values()) + 5)
    raise Fail(f"no 429 after {sent} requests, although the quota should be spent", reply.exchange)


@check("api.paging.per_page_bounds", "per_page is 1–500 (default 100); outside that, 400",
       "contract components.parameters.PerPage; DECISIONS Part 2 #23")
def per_page_bounds(ctx):
    token = ctx.token()
    for bad in ("0", "501", "many"):
        expect_status(ctx.probe.get("/v1/contacts", token=token, params={"per_page": bad}), 400,
                      ("invalid_request", "validation_failed"), what=f"per_page={bad}")
    for asked, expected in ((None, 100), ("1", 1), ("500", 500)):
        reply = ctx.probe.get("/v1/contacts", token=token, params={"per_page": asked} if asked else None)
        expect_status(reply, 200, what=f"per_page={asked or '(default)'}")
        body = reply.json or {}
        shown = (body.get("pagination") or {}).get("per_page")
        if shown != expected or len(body.get("data") or []) > expected:
            raise Fail(f"per_page={asked or '(default)'} gave pagination.per_page={shown!r} and "
                       f"{len(body.get('data') or [])} records, expected {expected} at most", reply.exchange)


@check("api.paging.total", "pagination.total equals the number of records a sweep returns",
       "DECISIONS Part 2 #12; contract components.schemas.Pagination")
def paging_total(ctx):
    token = ctx.token()
    counted = []
    for entity in ENTITIES:
        for params in ({}, {"include_deleted": "true"}):
            result = sweep(ctx.probe, f"/v1/{entity}", token, 500, params)
            if result.total != len(result.records):
                raise Fail(f"GET /{entity} {params or ''} says total={result.total} but the sweep returned "
                           f"{len(result.records)} records", result.pages[0].exchange)
            counted.append(len(result.records))
    return f"{sum(counted)} records in {len(counted)} sweeps"
