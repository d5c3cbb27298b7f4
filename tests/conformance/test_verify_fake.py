"""The kit against the clean fake: every check passes, none is skipped, and the reports are
what CI systems and people read (JUnit parsed by junitparser, HTML with nothing to fetch)."""
from __future__ import annotations

import re

from junitparser import Failure, JUnitXml, Skipped

from conformance import SUITE_NAME, SUITE_VERSION
from conformance.checks import all_checks


def test_every_check_passes_against_the_fake(serve_fake, kit, tmp_path):
    fake = serve_fake()
    junit, html = tmp_path / "kit.xml", tmp_path / "kit.html"

    run = kit("verify", "agentbuddy", "--url", fake.url, "--json", "--junit", str(junit), "--html", str(html))

    failed = [(c["id"], c["detail"]) for c in run.report["checks"] if c["status"] != "pass"]
    assert run.exit_code == 0, failed
    assert failed == []
    assert {c["id"] for c in run.report["checks"]} == {c.id for c in all_checks()}
    assert (run.report["suite"], run.report["version"]) == (SUITE_NAME, SUITE_VERSION)
    assert f"{SUITE_NAME} {SUITE_VERSION}" in run.stderr and "0 failed, 0 skipped" in run.stderr

    xml = JUnitXml.fromfile(str(junit))
    cases = {case.name: case for suite in xml for case in suite}
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (len(all_checks()), 0, 0, 0)
    assert set(cases) == {c.id for c in all_checks()} and all(case.is_passed for case in cases.values())
    suite = next(iter(xml))
    assert dict((p.name, p.value) for p in suite.properties())["suite.version"] == SUITE_VERSION

    page = html.read_text(encoding="utf-8")
    assert f"{SUITE_NAME} {SUITE_VERSION}" in page and all(c.id in page for c in all_checks())
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=", page, re.IGNORECASE)


def test_a_failing_check_is_a_junit_failure_with_its_clause_and_evidence(serve_fake, kit, tmp_path):
    def no_revocation(app):  # a server whose revocation endpoint ignores every request
        def wrapped(environ, start_response):
            if environ["PATH_INFO"] == "/oauth/revoke":
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
                return [b"{}"]
            return app(environ, start_response)
        return wrapped

    fake = serve_fake(middleware=no_revocation)
    junit = tmp_path / "kit.xml"

    run = kit("verify", "agentbuddy", "--url", fake.url, "--only", "oauth.revoke", "--json", "--junit", str(junit))

    assert run.exit_code == 1
    assert run.ids("fail") == {"oauth.revoke.refresh_token", "oauth.revoke.access_token"}
    cases = {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    failure = cases["oauth.revoke.access_token"].result[0]
    assert isinstance(failure, Failure) and "401" in failure.message
    assert "RFC 7009" in failure.text and "GET http://127.0.0.1" in failure.text
    assert cases["oauth.revoke.unknown_token"].is_passed


def test_list_names_every_check_with_its_clause(kit):
    run = kit("verify", "agentbuddy", "--list")

    assert run.exit_code == 0
    for item in all_checks():
        assert item.id in run.stdout
    assert "RFC 7636" in run.stdout and f"{SUITE_NAME} {SUITE_VERSION}" in run.stdout


def test_only_runs_the_named_area(serve_fake, kit):
    fake = serve_fake()

    run = kit("verify", "agentbuddy", "--url", fake.url, "--only", "sync", "--only", "oauth.metadata", "--json")

    assert run.exit_code == 0
    ids = {c["id"] for c in run.report["checks"]}
    assert ids == {c.id for c in all_checks() if c.area == "sync"} | {"oauth.metadata.document"}


def test_a_skipped_check_says_why_and_is_a_junit_skip(serve_fake, kit, tmp_path):
    fake = serve_fake()
    junit = tmp_path / "kit.xml"

    run = kit("verify", "agentbuddy", "--url", fake.url, "--no-admin", "--client-id", "broadcast-local",
              "--client-secret", "broadcast-local-secret", "--login-hint", fake.agent(0),
              "--only", "api.tenant", "--only", "sync.tombstones", "--json", "--junit", str(junit))

    assert run.exit_code == 0
    reasons = {c["id"]: c["detail"] for c in run.report["checks"]}
    assert "--other-login-hint" in reasons["api.tenant.isolation"]
    assert "--state-hook" in reasons["sync.tombstones.listed"]
    cases = [case for suite in JUnitXml.fromfile(str(junit)) for case in suite]
    assert all(isinstance(case.result[0], Skipped) for case in cases)
