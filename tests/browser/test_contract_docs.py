"""The rendered contract, read the way a partner would: from a file:// URL, and from the fake's `/docs/`,
with the network off.

Every request that is not file:// (or data:, or to the fake on the loopback) is aborted and recorded; the test
fails if any was attempted, if the page logged an error, if an operation cannot be found, if the sequence
diagram is not drawn, if a Problem.type URI does not land on its row of the error catalogue, or if the raw
YAML the page links is not the contract.
"""
from __future__ import annotations

from urllib.parse import urljoin

import pytest
import requests

from common.serving import serve
from contract import load_spec, spec_path
from mock_agentbuddy import MockConfig, create_app, stop_background
from harness.contract import docs, node_tools
from harness.contract.lint import iter_operations

pytestmark = pytest.mark.skipif(node_tools.why_unavailable() is not None,
                                reason=f"docs need the Node tools: {node_tools.why_unavailable()}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    docs.build(out)
    return out


@pytest.fixture(scope="module")
def fake_with_docs(built):
    """The fake, serving the folder `make docs` would have built, on a loopback port."""
    app = create_app(MockConfig(accounts=1, contacts_per_account=5, agents_per_account=2, offices_per_account=1,
                                docs_dir=str(built)))
    served = serve(app, name="fake-docs")
    try:
        yield served.url
    finally:
        served.stop()
        stop_background(app)


LOCAL = ("file:", "data:", "blob:", "http://127.0.0.1:")


@pytest.fixture
def offline(browser):
    """A browser context in which nothing but file://, data: and the loopback loads; attempts are kept."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    attempted: list[str] = []

    def route(r):
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:
            attempted.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield page, attempted, problems
    context.close()


def _nav_sections(spec) -> list[str]:
    from harness.contract.docs import GUIDE_TAG

    return [GUIDE_TAG, *[t["name"] for t in spec["tags"]]]


def _every_operation_is_on(page, url: str, attempted, problems) -> None:
    spec = load_spec()
    page.goto(url)
    page.wait_for_selector("text=AgentBuddy API for Broadcast")
    seen = page.inner_text("body")
    for section in _nav_sections(spec):
        page.get_by_text(section, exact=True).first.click()
        page.wait_for_timeout(400)
        seen += page.inner_text("body")
    missing = [op.node["summary"] for op in iter_operations(spec) if op.node["summary"] not in seen]
    assert missing == []
    assert "curl -sS --fail-with-body" in seen  # the code samples are rendered
    assert attempted == [] and problems == []


def test_every_operation_is_in_the_offline_docs(built, offline):
    page, attempted, problems = offline
    _every_operation_is_on(page, (built / "index.html").as_uri(), attempted, problems)


def test_the_fake_serves_the_docs_with_every_operation(fake_with_docs, offline):
    page, attempted, problems = offline
    _every_operation_is_on(page, f"{fake_with_docs}/docs", attempted, problems)
    assert page.url.startswith(f"{fake_with_docs}/docs/")


def test_the_docs_link_the_raw_yaml(fake_with_docs, offline):
    page, attempted, problems = offline
    page.goto(f"{fake_with_docs}/docs")
    link = page.wait_for_selector("a[href='agentbuddy.yaml']")
    target = urljoin(page.url, link.get_attribute("href"))
    assert target == f"{fake_with_docs}/docs/agentbuddy.yaml"
    answer = requests.get(target, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/yaml")
    assert answer.content == spec_path().read_bytes()
    assert requests.get(f"{fake_with_docs}/openapi.yaml", timeout=10).content == spec_path().read_bytes()
    assert attempted == [] and problems == []


def test_the_sequence_diagram_is_drawn_offline(built, offline):
    page, attempted, problems = offline
    page.goto((built / "index.html").as_uri())
    page.get_by_text(docs.GUIDE_TAG, exact=True).first.click()
    page.get_by_text("A connection, from start to steady state").first.click()
    svg = page.wait_for_selector(".mermaid-diagram svg")
    assert "changeNotification" in svg.text_content() and "/oauth/token" in svg.text_content()
    assert attempted == [] and problems == []


def test_problem_type_uris_resolve_to_the_error_catalogue(built, offline):
    page, attempted, problems = offline
    spec = load_spec()
    codes = spec["components"]["schemas"]["ProblemCode"]["enum"]
    for code in codes:
        uri = f"https://agentbuddy.example/docs/errors.html#{code}"  # what the Problem.type field says
        local = urljoin((built / "index.html").as_uri(), uri.split("/docs/", 1)[1])
        page.goto(local)
        row = page.locator(f"tr[id='{code}']")
        assert row.count() == 1, code
        status, meaning, retry = (row.locator("td").nth(i).inner_text() for i in (1, 2, 3))
        assert status[:1] == "4" or status[:1] == "5", code
        assert meaning and retry, code
    assert attempted == [] and problems == []
