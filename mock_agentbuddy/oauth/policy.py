"""The fake authorization server's policy: what a client may ask for and where it may be sent.

Authlib does the protocol; these are our rules, in one place, so the Broadcast integration is
tested against the hardest realistic server:

- Redirect URIs match exactly, except that loopback hosts may use any port (RFC 8252 §7.3).
- Scope = requested ∩ the client's allowed scopes; no scope asked means all of them.
- Every client authenticates at the token endpoint as registered: a secret for confidential
  clients (Basic or POST), `none` for public ones (PKCE stands in).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list

REALM = "agentbuddy"
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
GRANT_TYPES = ("authorization_code", "refresh_token")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

#: What the consent page tells the agent each scope lets the client do.
SCOPE_EXPLANATIONS = {
    "read:offices": "See your offices: names, addresses and phone numbers.",
    "read:agents": "See the agents in your account: names, emails and which office they work in.",
    "read:contacts": "See your contacts: names, email addresses, phone numbers, addresses, tags and status.",
    "read:properties": "See the properties linked to your contacts.",
    "write:engagement": "Add email engagement, campaign history and seller/buyer propensity scores to your contacts.",
}


def explain_scope(scope: str) -> str:
    return SCOPE_EXPLANATIONS.get(scope, f"Use the AgentBuddy API with the '{scope}' permission.")


def redirect_uri_allowed(requested: str, registered: tuple[str, ...] | list[str]) -> bool:
    """Exact match, or a loopback URI that differs from a registered one only in its port."""
    if requested in registered:
        return True
    try:
        asked = urlsplit(requested)
        asked.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    if asked.hostname not in LOOPBACK_HOSTS or asked.scheme != "http" or asked.username or asked.fragment:
        return False
    for uri in registered:
        known = urlsplit(uri)
        if (known.scheme, known.hostname, known.path, known.query) == (
            asked.scheme, asked.hostname, asked.path, asked.query
        ):
            return True
    return False


def allowed_scope(requested: str | None, client_scopes: tuple[str, ...]) -> str | None:
    """Requested ∩ allowed (all allowed when none requested); None when nothing remains."""
    if not requested:
        return list_to_scope(list(client_scopes)) or None
    granted = [s for s in dict.fromkeys(scope_to_list(requested)) if s in client_scopes]
    return list_to_scope(granted) or None
