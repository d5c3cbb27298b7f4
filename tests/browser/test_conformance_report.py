"""The conformance kit's HTML report opens offline: one file, nothing fetched, evidence readable."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from conformance.model import FAIL, PASS, SKIP, Check, Exchange, Outcome
from conformance.reports import write_html
from conformance.runner import Report

expect = pytest.importorskip("playwright.sync_api").expect


def _check(check_id: str, title: str, clause: str) -> Check:
    return Check(check_id, check_id.split(".", 1)[0], title, clause, run=lambda ctx: None)


def sample_report() -> Report:
    evidence = Exchange("GET", "https://sandbox.example/v1/connection", {"Authorization": "Bearer abcdef…"}, None,
                        200, {"Content-Type": "application/json"}, '{"id": "ab_conn_001"}')
    return Report("https://sandbox.example", "1.0.0", datetime(2026, 1, 15, tzinfo=timezone.utc), [
        Outcome(_check("oauth.metadata.document", "The metadata names the endpoints", "RFC 8414 §2"), PASS),
        Outcome(_check("oauth.revoke.access_token", "A revoked token is refused", "RFC 7009 §2.1"), FAIL,
                "a revoked access token: answered 200, expected 401 (invalid_token)", [evidence]),
        Outcome(_check("api.tenant.isolation", "Other accounts are not found", "DECISIONS Part 2 #28"), SKIP,
                "needs a second account: give --other-login-hint EMAIL or --other-token TOKEN"),
    ], seconds=1.5)


def test_the_report_opens_offline_and_shows_the_evidence(person, tmp_path):
    path = tmp_path / "kit.html"
    write_html(sample_report(), path)
    page = person.page
    requested: list[str] = []
    page.route("**/*", lambda route: (requested.append(route.request.url),
                                      route.continue_() if route.request.url.startswith("file:") else route.abort()))

    page.goto(path.as_uri())

    expect(page.locator("h1")).to_have_text("agentbuddy-provider 1.0.0")
    expect(page.locator(".verdict")).to_contain_text("1 passed, 1 failed, 1 skipped")
    expect(page.locator("#oauth\\.revoke\\.access_token .status")).to_have_text("FAIL")
    page.locator("#oauth\\.revoke\\.access_token summary").click()
    expect(page.locator("#oauth\\.revoke\\.access_token pre")).to_contain_text("GET https://sandbox.example/v1/connection")
    expect(page.locator("#api\\.tenant\\.isolation")).to_contain_text("--other-login-hint")
    person.shot("conformance-report")
    assert requested == [path.as_uri()]
    person.assert_clean()
