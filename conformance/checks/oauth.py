"""OAuth 2.0 checks: the authorization server a partner ships (RFC 6749, 7636, 8414, 7009, 9700).

Every check that spends, replays or revokes something runs its own authorization, so a family
it revokes is never one another check relies on.
"""
from __future__ import annotations

import base64
import secrets
import time

from .. import oauth_flow
from ..model import Fail, Skip, check
from ..oauth_flow import Attempt, Tokens
from .support import expect_challenge, expect_status, token_error

SERVER_SIDE_EXPIRY_WAIT = 60  # wait out tokens that live this long or less when the clock cannot move


def _start(ctx, **kwargs) -> Attempt:
    ctx.need_authorize()
    creds = ctx.creds
    return oauth_flow.start(ctx.probe, creds.authorizer, creds.endpoint("authorization_endpoint"), creds.client,
                            **kwargs)


def _code(ctx, **kwargs) -> Attempt:
    attempt = _start(ctx, **kwargs)
    if attempt.code is None:
        raise Fail(f"the authorization endpoint gave no code for a valid request "
                   f"({attempt.params.get('error') or (attempt.reply.status if attempt.reply else 'no redirect')})",
                   attempt.reply.exchange if attempt.reply else None)
    return attempt


def _exchange(ctx, attempt: Attempt, **kwargs):
    creds = ctx.creds
    return oauth_flow.exchange_code(ctx.probe, creds.endpoint("token_endpoint"), creds.client, attempt, **kwargs)


def _tokens(ctx) -> Tokens:
    reply = _exchange(ctx, _code(ctx))
    if reply.status != 200 or not isinstance(reply.json, dict) or "access_token" not in reply.json:
        raise Fail(f"a valid code exchange answered {reply.status}", reply.exchange)
    return Tokens.from_reply(reply, ctx.creds.client.scope)


def _refresh(ctx, refresh_token: str):
    creds = ctx.creds
    return oauth_flow.refresh(ctx.probe, creds.endpoint("token_endpoint"), creds.client, refresh_token)


def _revoke(ctx, token: str, hint: str):
    creds = ctx.creds
    return oauth_flow.revoke(ctx.probe, creds.endpoint("revocation_endpoint"), creds.client, token, hint)


def _whoami(ctx, access_token: str):
    return ctx.probe.get("/v1/connection", token=access_token)


def _refused_at_authorization(attempt: Attempt, what: str) -> str:
    """Pass when no code was issued and the refusal is `invalid_request` (RFC 7636 §4.4.1)."""
    if attempt.code is not None:
        raise Fail(f"the authorization endpoint issued a code for a request {what}",
                   attempt.reply.exchange if attempt.reply else None)
    if attempt.callback:
        error = attempt.params.get("error")
        if error != "invalid_request":
            raise Fail(f"a request {what} was refused with error={error!r}, expected invalid_request",
                       attempt.reply.exchange if attempt.reply else None)
        return "refused with a redirect carrying error=invalid_request"
    reply = attempt.reply
    if reply is not None and 400 <= reply.status < 500:
        return f"refused with {reply.status} and no redirect"
    raise Skip(f"the authorization endpoint answered {reply.status if reply else 'nothing'} (a page, not a decision); "
               "this needs a server that decides at once (--login-hint with auto-approve)")


@check("oauth.metadata.document", "The RFC 8414 metadata document names the endpoints, S256 and the scopes",
       "RFC 8414 §2, §3; DECISIONS Q2")
def metadata_document(ctx):
    reply = ctx.probe.get("/.well-known/oauth-authorization-server")
    expect_status(reply, 200, what="GET /.well-known/oauth-authorization-server")
    body = reply.json
    if reply.content_type != "application/json" or not isinstance(body, dict):
        raise Fail(f"the metadata is {reply.content_type or 'untyped'}, not a JSON object (RFC 8414 §3.2)",
                   reply.exchange)
    problems = []
    if str(body.get("issuer", "")).rstrip("/") != ctx.probe.base_url:
        problems.append(f"issuer {body.get('issuer')!r} is not the server's origin {ctx.probe.base_url} (§3.3)")
    for name in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        if not isinstance(body.get(name), str):
            problems.append(f"no {name}")
    if "code" not in (body.get("response_types_supported") or []):
        problems.append("response_types_supported lacks code")
    methods = body.get("code_challenge_methods_supported") or []
    if "S256" not in methods or "plain" in methods:
        problems.append(f"code_challenge_methods_supported is {methods}, expected S256 and not plain")
    grants = body.get("grant_types_supported") or []
    if not {"authorization_code", "refresh_token"} <= set(grants):
        problems.append(f"grant_types_supported is {grants}, expected authorization_code and refresh_token")
    missing = set(ctx.contract.scopes()) - set(body.get("scopes_supported") or ctx.contract.scopes())
    if missing:
        problems.append(f"scopes_supported lacks {', '.join(sorted(missing))}")
    if problems:
        raise Fail("; ".join(problems), reply.exchange)


@check("oauth.pkce.challenge_required", "An authorization request without code_challenge gets no code",
       "RFC 7636 §4.4.1; RFC 9700 §2.1.1; DECISIONS Q2")
def pkce_challenge_required(ctx):
    return _refused_at_authorization(_start(ctx, send_challenge=False), "without code_challenge")


@check("oauth.pkce.plain_refused", "code_challenge_method=plain is refused", "RFC 7636 §4.2, §4.4.1; DECISIONS Q2")
def pkce_plain_refused(ctx):
    return _refused_at_authorization(_start(ctx, challenge_method="plain"), "with code_challenge_method=plain")


@check("oauth.pkce.verifier_required", "A code issued for an S256 challenge is not exchanged without code_verifier",
       "RFC 7636 §4.5, §4.6; DECISIONS Q2")
def pkce_verifier_required(ctx):
    token_error(_exchange(ctx, _code(ctx), verifier=None), ("invalid_request", "invalid_grant"),
                what="a code exchange without code_verifier")


@check("oauth.pkce.verifier_checked", "A wrong code_verifier is refused with invalid_grant", "RFC 7636 §4.6")
def pkce_verifier_checked(ctx):
    token_error(_exchange(ctx, _code(ctx), verifier=oauth_flow.pkce_pair()[0]), ("invalid_grant",),
                what="a code exchange with the wrong code_verifier")


@check("oauth.code.single_use", "An authorization code is exchanged once only", "RFC 6749 §4.1.2, §10.5; DECISIONS Q2")
def code_single_use(ctx):
    attempt = _code(ctx)
    expect_status(_exchange(ctx, attempt), 200, what="the first exchange of a code")
    token_error(_exchange(ctx, attempt), ("invalid_grant",), what="the second exchange of the same code")


@check("oauth.code.replay_revokes", "Replaying a code revokes the tokens it issued", "RFC 6749 §4.1.2, §10.5")
def code_replay_revokes(ctx):
    attempt = _code(ctx)
    first = _exchange(ctx, attempt)
    expect_status(first, 200, what="the first exchange of a code")
    tokens = Tokens.from_reply(first, ctx.creds.client.scope)
    expect_status(_whoami(ctx, tokens.access_token), 200, what="the new access token")
    if _exchange(ctx, attempt).status == 200:
        raise Skip("the replayed code was accepted (see oauth.code.single_use); nothing to revoke")
    after = _whoami(ctx, tokens.access_token)
    expect_status(after, 401, "invalid_token", what="the access token issued for a replayed code")
    if tokens.refresh_token:
        token_error(_refresh(ctx, tokens.refresh_token), ("invalid_grant",),
                    what="the refresh token issued for a replayed code")


@check("oauth.redirect_uri.unregistered_refused", "Never a redirect to an unregistered redirect_uri",
       "RFC 6749 §3.1.2.4, §4.1.2.1; RFC 9700 §4.1.3")
def redirect_uri_unregistered(ctx):
    ctx.need_authorize()
    creds = ctx.creds
    registered = creds.authorizer.redirect_uri(creds.client)
    parts = registered.split("?", 1)[0]
    foreign = "https://attacker.invalid/" + parts.split("://", 1)[1].split("/", 1)[-1]
    for bad in (foreign, parts.rstrip("/") + "-kit"):
        url = oauth_flow.authorization_url(creds.endpoint("authorization_endpoint"), creds.client, state="kit",
                                           challenge=oauth_flow.pkce_pair()[1], redirect_uri=bad,
                                           login_hint=getattr(creds.authorizer, "login_hint", None))
        reply = ctx.probe.get(url)
        if reply.headers.get("Location", "").startswith(bad):
            raise Fail(f"the authorization endpoint redirected to the unregistered {bad}", reply.exchange)


@check("oauth.redirect_uri.token_must_match", "The token request must repeat the authorization's redirect_uri",
       "RFC 6749 §4.1.3")
def redirect_uri_token_must_match(ctx):
    attempt = _code(ctx)
    other = attempt.redirect_uri.split("?", 1)[0].rstrip("/") + "/other"
    token_error(_exchange(ctx, attempt, redirect_uri=other), ("invalid_grant",),
                what="a code exchange naming another redirect_uri")


@check("oauth.state.round_trip", "state comes back unchanged", "RFC 6749 §4.1.2, §4.1.2.1")
def state_round_trip(ctx):
    attempt = _code(ctx)
    if attempt.params.get("state") != attempt.state:
        raise Fail(f"the redirect carried state={attempt.params.get('state')!r}, not the {attempt.state!r} sent",
                   attempt.reply.exchange if attempt.reply else None)


def _refreshed_once(ctx) -> tuple[Tokens, Tokens | None, object]:
    """A new family, refreshed once: (its first tokens, the refreshed ones or None when no refresh
    token was issued, the refresh answer)."""
    tokens = _tokens(ctx)
    if not tokens.refresh_token:
        return tokens, None, None
    reply = _refresh(ctx, tokens.refresh_token)
    expect_status(reply, 200, what="a refresh")
    return tokens, Tokens.from_reply(reply, ctx.creds.client.scope), reply


@check("oauth.refresh.rotation", "Each refresh hands out a new refresh token",
       "DECISIONS Q2; RFC 9700 §2.2.2, §4.14.2; RFC 6749 §6")
def refresh_rotation(ctx):
    tokens, fresh, reply = _refreshed_once(ctx)
    if fresh is None:
        raise Fail("the code exchange issued no refresh_token (the contract: refresh tokens live 30 days)")
    if not fresh.refresh_token or fresh.refresh_token == tokens.refresh_token:
        raise Fail("the refresh answered without a new refresh_token (rotation on every use)", reply.exchange)
    expect_status(_whoami(ctx, fresh.access_token), 200, what="the refreshed access token")


@check("oauth.refresh.reuse_revokes_family", "A spent refresh token is refused and revokes its whole family",
       "DECISIONS Q2; RFC 9700 §2.2.2, §4.14.2")
def refresh_reuse(ctx):
    tokens, fresh, _ = _refreshed_once(ctx)
    if fresh is None or not fresh.refresh_token or fresh.refresh_token == tokens.refresh_token:
        raise Skip("no refresh token was issued or rotated (see oauth.refresh.rotation); nothing is spent")
    token_error(_refresh(ctx, tokens.refresh_token), ("invalid_grant",), what="the spent refresh token")
    token_error(_refresh(ctx, fresh.refresh_token), ("invalid_grant",),
                what="the newest refresh token of a family whose spent token was replayed")
    expect_status(_whoami(ctx, fresh.access_token), 401, "invalid_token",
                  what="an access token of a family whose spent refresh token was replayed")


@check("oauth.revoke.refresh_token", "Revoking a refresh token ends it and its access tokens", "RFC 7009 §2.1, §2.2")
def revoke_refresh_token(ctx):
    tokens = _tokens(ctx)
    if not tokens.refresh_token:
        raise Skip("no refresh_token was issued")
    expect_status(_revoke(ctx, tokens.refresh_token, "refresh_token"), 200, what="the revocation request")
    token_error(_refresh(ctx, tokens.refresh_token), ("invalid_grant",), what="a revoked refresh token")
    expect_status(_whoami(ctx, tokens.access_token), 401, "invalid_token",
                  what="an access token whose refresh token was revoked")


@check("oauth.revoke.access_token", "A revoked access token is refused: 401 with a Bearer challenge",
       "RFC 7009 §2.1; RFC 6750 §3.1")
def revoke_access_token(ctx):
    tokens = _tokens(ctx)
    expect_status(_revoke(ctx, tokens.access_token, "access_token"), 200, what="the revocation request")
    reply = _whoami(ctx, tokens.access_token)
    expect_status(reply, 401, "invalid_token", what="a revoked access token")
    expect_challenge(reply, "invalid_token", what="a revoked access token")


@check("oauth.revoke.unknown_token", "Revoking a token the server does not know answers 200", "RFC 7009 §2.2")
def revoke_unknown_token(ctx):
    ctx.need_authorize()
    reply = _revoke(ctx, "kit-unknown-" + secrets.token_urlsafe(24), "refresh_token")
    expect_status(reply, 200, what="revoking an unknown token")


@check("oauth.token.expired", "An expired access token is refused: 401 with a Bearer challenge",
       "RFC 6750 §3.1; contract components.responses.Unauthorized; DECISIONS Q2")
def token_expired(ctx):
    target = ctx.target
    if not ctx.creds.can_authorize:
        raise Skip("needs a token of its own with a known lifetime: give --login-hint or --interactive")
    tokens = ctx.creds.authorize_tokens(purpose="the expiry check")
    lifetime = tokens.expires_in
    if target.admin is not None:
        seconds = (lifetime or 3600) + 5
        target.admin.advance_clock(seconds)
        try:
            reply = _whoami(ctx, tokens.access_token)
        finally:
            target.admin.advance_clock(-seconds)
    elif lifetime is not None and lifetime <= SERVER_SIDE_EXPIRY_WAIT:
        time.sleep(lifetime + 1)
        reply = _whoami(ctx, tokens.access_token)
    else:
        raise Skip(f"access tokens live {lifetime or 'an unknown number of'} seconds; start the sandbox with tokens "
                   f"that live {SERVER_SIDE_EXPIRY_WAIT} s or less, or run against the fake's admin clock")
    expect_status(reply, 401, "invalid_token", what="an expired access token")
    expect_challenge(reply, "invalid_token", what="an expired access token")


@check("oauth.client.wrong_secret", "A wrong client secret is refused with invalid_client", "RFC 6749 §2.3.1, §5.2")
def client_wrong_secret(ctx):
    creds = ctx.creds
    if creds.client is None or creds.client.client_secret is None:
        raise Skip("needs a confidential client (--client-id and --client-secret)")
    attempt = _code(ctx)
    liar = oauth_flow.Client(creds.client.client_id, base64.b64encode(secrets.token_bytes(18)).decode(),
                             creds.client.redirect_uri, creds.client.scope)
    reply = oauth_flow.exchange_code(ctx.probe, creds.endpoint("token_endpoint"), liar, attempt)
    token_error(reply, ("invalid_client",), status=(401,), what="a code exchange with a wrong client secret")
