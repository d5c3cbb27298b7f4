"""The AgentBuddy client against a scripted server: typed problems, garbled bodies, paging."""
from __future__ import annotations

import json
from typing import Iterator

import pytest
import requests
from werkzeug.wrappers import Request, Response

from common.serving import serve
from integration.agentbuddy.client import AgentBuddyClient
from integration.agentbuddy.errors import NotFound, RequestRejected, Unavailable
from integration.agentbuddy.session import retrying_session
from integration.config import IntegrationConfig


@pytest.fixture
def scripted() -> Iterator[tuple[str, list]]:
    """A server answering from a list of (status, body, content_type) in order, then 500s."""
    script: list = []
    seen: list[str] = []

    @Request.application
    def app(request: Request) -> Response:
        seen.append(request.full_path)
        if not script:
            return Response("{}", status=500, content_type="application/json")
        status, body, content_type = script.pop(0)
        return Response(body, status=status, content_type=content_type)

    with serve(app, name="scripted") as served:
        yield served.url, script, seen


def _client(url: str, retries: int = 2) -> AgentBuddyClient:
    config = IntegrationConfig(agentbuddy_url=url, http_max_retries=retries, http_backoff_factor=0.0)
    return AgentBuddyClient(config, retrying_session(config, sleep=lambda _s: None))


PROBLEM = "application/problem+json"


def test_4xx_problems_become_typed_errors_with_code_and_detail(scripted):
    url, script, _seen = scripted
    script.append((404, json.dumps({"type": "about:blank", "title": "Not found", "status": 404,
                                    "detail": "No contact 'x'.", "code": "not_found"}), PROBLEM))
    script.append((422, json.dumps({"title": "Invalid", "status": 422, "detail": "bad", "code": "validation_failed",
                                    "errors": [{"field": "per_page", "message": "too big"}]}), PROBLEM))
    client = _client(url)
    with pytest.raises(NotFound) as missing:
        client.get("/contacts/x")
    assert (missing.value.status, missing.value.code, missing.value.detail) == (404, "not_found", "No contact 'x'.")
    with pytest.raises(RequestRejected) as rejected:
        client.get("/contacts", {"per_page": 9999})
    assert rejected.value.errors == [{"field": "per_page", "message": "too big"}]
    assert not rejected.value.retryable


def test_a_garbled_body_is_fetched_again(scripted):
    url, script, seen = scripted
    script.append((200, '{"data": [', "application/json"))
    script.append((200, '{"data": [], "pagination": {"next_cursor": null}}', "application/json"))
    client = _client(url)
    assert client.get("/offices") == {"data": [], "pagination": {"next_cursor": None}}
    assert len(seen) == 2 and client.stats.body_retries == 1


def test_persistent_5xx_ends_as_unavailable_after_the_retries(scripted):
    url, _script, seen = scripted
    with pytest.raises(Unavailable) as failure:
        _client(url, retries=2).get("/offices")
    assert failure.value.status == 500 and failure.value.retryable
    assert len(seen) == 3  # the first try and two retries


def test_pages_follow_next_cursor_and_refuse_a_stuck_one(scripted):
    url, script, seen = scripted
    page = lambda ids, cursor: (200, json.dumps({"data": [{"id": i} for i in ids],  # noqa: E731
                                                 "pagination": {"total": 3, "next_cursor": cursor}}), "application/json")
    script.extend([page(["a", "b"], "c1"), page(["c"], None)])
    client = _client(url)
    assert [p.data for p in client.pages("/contacts", {"per_page": 2})] == [[{"id": "a"}, {"id": "b"}], [{"id": "c"}]]
    assert seen[1].endswith("cursor=c1")
    script.extend([page(["a"], "same"), page(["a"], "same")])
    with pytest.raises(Unavailable, match="cursor"):
        list(client.pages("/contacts"))


def test_unreachable_server_is_reported_without_multiplying_retries():
    config = IntegrationConfig(agentbuddy_url="http://127.0.0.1:9", http_max_retries=1, http_backoff_factor=0.0)
    client = AgentBuddyClient(config, retrying_session(config, sleep=lambda _s: None))
    with pytest.raises(Unavailable) as failure:
        client.get("/offices")
    assert failure.value.code == "unreachable" and failure.value.status is None
    assert isinstance(failure.value.__cause__, requests.ConnectionError)
