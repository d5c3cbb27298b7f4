"""The kit fails the check about a defect, and nothing else: three realistic bugs planted in
front of the clean fake by WSGI middleware (the fake's own defect switches are issue 9 part 2)."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from conformance.checks.support import parse_time

pytestmark = pytest.mark.slow


def rewrite(app, change):
    """Run `app`, then `change(status, headers, body) -> (status, headers, body)` on every answer."""
    def wrapped(environ, start_response):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(app(environ, capture))
        status, headers, body = change(captured["status"], list(captured["headers"]), body)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]
    return wrapped


def no_rate_limit_headers(app):
    return rewrite(app, lambda status, headers, body: (
        status, [(k, v) for k, v in headers if k.lower() not in ("ratelimit", "ratelimit-policy")], body))


def errors_as_html(app):
    def change(status, headers, body):
        if any(k.lower() == "content-type" and v.startswith("application/problem+json") for k, v in headers):
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            return status, headers + [("Content-Type", "text/html; charset=utf-8")], \
                b"<html><body><h1>" + status.encode() + b"</h1></body></html>"
        return status, headers, body
    return rewrite(app, change)


def exclusive_updated_since(app):
    """`updated_since` read as `updated_at > T`: the boundary record is lost (1 ms later)."""
    def wrapped(environ, start_response):
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if environ["PATH_INFO"].startswith("/v1/") and any(k == "updated_since" for k, _ in query):
            query = [(k, (parse_time(v) + timedelta(milliseconds=1)).isoformat() if k == "updated_since" else v)
                     for k, v in query]
            environ = {**environ, "QUERY_STRING": urlencode(query)}
        return app(environ, start_response)
    return wrapped


@pytest.mark.parametrize("defect, trips", [
    (no_rate_limit_headers, {"api.ratelimit.headers"}),
    (errors_as_html, {"api.errors.problem_json"}),
    (exclusive_updated_since, {"sync.updated_since.inclusive"}),
])
def test_a_planted_defect_fails_its_check_and_no_other(serve_fake, kit, defect, trips):
    fake = serve_fake(middleware=defect)

    run = kit("verify", "agentbuddy", "--url", fake.url, "--json")

    assert run.exit_code == 1
    assert run.ids("fail") == trips, {c["id"]: c["detail"] for c in run.report["checks"] if c["status"] == "fail"}
    assert run.ids("skip") == set()
