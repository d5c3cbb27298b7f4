"""Helpers for the fake's tests (a module of its own: `conftest` names clash across rooms)."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlparse

import contract
from contract import reader
from mock_agentbuddy import MockConfig

REDIRECT_URI = "http://127.0.0.1/callback"


class SleepRecorder:
    """Stands in for time.sleep: records what the fake wanted to wait, returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def small_config(**overrides) -> MockConfig:
    values = dict(auto_approve=True, strict=True, contacts_per_account=60, agents_per_account=5,
                  offices_per_account=3, rate_limit="100000/min")
    values.update(overrides)
    return MockConfig(**values)


def first_active_agent(world: dict, account_index: int = 0) -> dict:
    return next(a for a in world["accounts"][account_index]["agents"] if a["is_active"])


def obtain_token(client, email: str, scopes: str, client_id: str = "broadcast-local",
                 client_secret: str | None = "broadcast-local-secret") -> dict:
    """Authorization code + PKCE through the real OAuth endpoints, with auto-approve."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    answer = client.get("/oauth/authorize", query_string={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": scopes,
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256", "login_hint": email})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier, "client_id": client_id}
    auth = (client_id, client_secret) if client_secret else None
    token = client.post("/oauth/token", data=form, auth=auth)
    assert token.status_code == 200, token.get_data(as_text=True)
    return token.get_json()


class Api:
    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path, headers=None, **kwargs):
        return self.client.get(path, headers=self._headers(headers), **kwargs)

    def post(self, path, headers=None, **kwargs):
        return self.client.post(path, headers=self._headers(headers), **kwargs)

    def patch(self, path, headers=None, **kwargs):
        return self.client.patch(path, headers=self._headers(headers), **kwargs)

    def delete(self, path, headers=None, **kwargs):
        return self.client.delete(path, headers=self._headers(headers), **kwargs)


def sweep(api, path: str, mutate_between=None, **params) -> list[dict]:
    """Follow next_cursor to the end; `mutate_between(page_number)` runs between pages."""
    seen, cursor, page = [], None, 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = api.get(path, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen.extend(body["data"])
        cursor = body["pagination"]["next_cursor"]
        page += 1
        if not cursor:
            return seen
        if mutate_between:
            mutate_between(page)


def json_request_bodies() -> list[tuple[str, str, dict]]:
    """(path template, method, `application/json` media object) for every operation of the
    contract that takes a JSON body, as written in the contract file."""
    found = []
    for op in reader.operations(contract.load_spec()):
        media = ((op.node.get("requestBody") or {}).get("content") or {}).get("application/json")
        if op.section == "paths" and media:
            found.append((op.key, op.method, media))
    return found
