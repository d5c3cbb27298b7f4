"""OAuth misuse: authorization requests without PKCE or `state`, codes and refresh tokens
presented twice, a token endpoint asked far more often than tokens expire, access tokens sent
after their expiry, and calls outside the token's scopes.

Authorization requests are read from the journal's query strings (one request per distinct query:
the login and consent forms post the same query back). What the token endpoint learnt — the
family, the account, a replay — is in the journal's `token_request` (see `oauth.server`).
"""
from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qs

from .model import WARNING, Finding, Records, densest, finding, rule, times

#: Access tokens live an hour (DECISIONS Q2), so a connection needs about one token request an
#: hour; this many within one hour is a client refreshing per call or looping, not on expiry.
TOKEN_REQUESTS_PER_HOUR = 10
TOKEN_WINDOW_SECONDS = 3600


def _authorizations(records: Records) -> list[tuple[dict, dict[str, list[str]]]]:
    seen, found = set(), []
    for entry in records.requests:
        if entry["path"] == "/oauth/authorize" and entry["query"] not in seen:
            seen.add(entry["query"])
            found.append((entry, parse_qs(entry["query"])))
    return found


def _token_requests(records: Records) -> list[dict]:
    return [e for e in records.requests if e["path"] == "/oauth/token"]


@rule("oauth.pkce.s256", "Every authorization request carries a code_challenge with method S256",
      "DECISIONS Q2 (S256 required, plain refused); RFC 7636 §4.2-4.3; RFC 9700 §2.1.1")
def pkce_s256(records: Records) -> list[Finding] | None:
    requests = _authorizations(records)
    if not requests:
        return None
    missing = [e for e, q in requests if not q.get("code_challenge")]
    plain = [e for e, q in requests if q.get("code_challenge") and q.get("code_challenge_method") != ["S256"]]
    return ([finding(f"{len(missing)} authorization request(s) without code_challenge", missing)] if missing else []) \
        + ([finding(f"{len(plain)} authorization request(s) with code_challenge_method other than S256", plain)]
           if plain else [])


@rule("oauth.state.sent", "Every authorization request carries a state the client checks on return",
      "RFC 6749 §4.1.1, §10.12; RFC 9700 §2.1", WARNING)
def state_sent(records: Records) -> list[Finding] | None:
    requests = _authorizations(records)
    if not requests:
        return None
    missing = [e for e, q in requests if not q.get("state")]
    return [finding(f"{len(missing)} authorization request(s) without state", missing)] if missing else []


@rule("oauth.code.single_use", "An authorization code is exchanged once",
      "RFC 6749 §4.1.2, §10.5; DECISIONS Q2 (codes are single-use; a replay revokes what it issued)")
def code_single_use(records: Records) -> list[Finding] | None:
    return _replays(records, "authorization_code", "an authorization code presented again")


@rule("oauth.refresh.single_use", "A refresh token is used once; the rotated one from the answer is kept",
      "DECISIONS Q2 (rotation on every use; a spent token revokes the whole family); RFC 9700 §4.14.2")
def refresh_single_use(records: Records) -> list[Finding] | None:
    return _replays(records, "refresh_token", "a spent refresh token presented again (its family was revoked)")


def _replays(records: Records, grant_type: str, what: str) -> list[Finding] | None:
    requests = [e for e in _token_requests(records) if (e.get("token_request") or {}).get("grant_type") == grant_type]
    if not requests:
        return None
    replays = [e for e in requests if e["token_request"].get("reused")]
    return [finding(f"{what} ({times(len(replays))})", replays,
                    note=lambda e: f"family {e['token_request'].get('family')}")] if replays else []


@rule("oauth.token.paced", f"Asks the token endpoint about once per token lifetime (at most "
      f"{TOKEN_REQUESTS_PER_HOUR} times an hour per connection)", "DECISIONS Q2 (access tokens live 1 hour)")
def token_paced(records: Records) -> list[Finding] | None:
    requests = _token_requests(records)
    if not requests:
        return None
    by_connection: dict[tuple, list[dict]] = defaultdict(list)
    for entry in requests:
        asked = entry.get("token_request") or {}
        by_connection[(asked.get("client_id"), asked.get("account_id"))].append(entry)
    findings = []
    for (client_id, account_id), entries in by_connection.items():
        burst = densest(entries, TOKEN_WINDOW_SECONDS)
        if len(burst) > TOKEN_REQUESTS_PER_HOUR:
            who = f"client {client_id}" + (f" for {account_id}" if account_id else "")
            findings.append(finding(f"{who} asked the token endpoint {len(burst)} times within an hour "
                                    f"(from {burst[0]['time']})", burst))
    return findings


@rule("oauth.token.sent", "Sends an access token it was issued on every API call (Authorization: Bearer)",
      "DECISIONS Q2; RFC 6750 §2.1; openapi/agentbuddy.yaml security (oauth2, bearerAuth)")
def token_sent(records: Records) -> list[Finding] | None:
    guarded = [e for e in records.requests if e["path"].startswith("/v1/") and (e.get("refused") or e.get("account_id"))]
    if not guarded:
        return None
    findings = []
    for reason, what in (("missing", "without an access token"), ("unknown", "with a token the server never issued")):
        refused = [e for e in guarded if (e.get("refused") or {}).get("reason") == reason]
        if refused:
            findings.append(finding(f"called the API {what} ({times(len(refused))})", refused))
    return findings


@rule("oauth.token.fresh", "Refreshes before the access token expires, never sending an expired one",
      "RFC 6749 §5.1 (expires_in); RFC 6750 §3.1; DECISIONS Q2", WARNING)
def token_fresh(records: Records) -> list[Finding] | None:
    bearer = [e for e in records.requests if e["path"].startswith("/v1/") and (e.get("caller") or "").startswith("token:")]
    if not bearer:
        return None
    expired = [e for e in bearer if (e.get("refused") or {}).get("reason") == "expired"]
    return [finding(f"sent an expired access token ({times(len(expired))})", expired,
                    note=lambda e: f"expired at {e['refused'].get('expires_at')}")] if expired else []


@rule("oauth.scope.granted", "Calls only operations its token's scopes allow",
      "openapi/agentbuddy.yaml x-required-scope; DECISIONS Q2; RFC 6750 §3.1 (insufficient_scope)")
def scope_granted(records: Records) -> list[Finding] | None:
    bearer = [e for e in records.requests if e["path"].startswith("/v1/") and (e.get("caller") or "").startswith("token:")]
    if not bearer:
        return None
    lacking: dict[str, list[dict]] = defaultdict(list)
    for entry in bearer:
        refused = entry.get("refused") or {}
        if refused.get("reason") == "insufficient_scope":
            lacking[refused.get("scope")].append(entry)
    return [finding(f"called operations needing {scope} with a token without it ({times(len(entries))})", entries)
            for scope, entries in lacking.items()]


RULES = [pkce_s256, state_sent, code_single_use, refresh_single_use, token_paced, token_sent, token_fresh,
         scope_granted]
