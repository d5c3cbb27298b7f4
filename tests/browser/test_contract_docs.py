"""The rendered contract, read the way a partner would: from a file:// URL with the network off.

Every request that is not file:// (or data:) is aborted and recorded; the test fails if any was attempted,
if the page logged an error, if an operation cannot be found, if the sequence diagram is not drawn, or if
a Problem.type URI does not land on its row of the error catalogue.
"""
from __future__ import annotations

from urllib.parse import urljoin

import pytest

from contract import load_spec
from harness.contract import docs, node_tools
from harness.contract.lint import iter_operations

pytestmark = pytest.mark.skipif(node_tools.why_unavailable() is not None,
                                reason=f"docs need the Node tools: {node_tools.why_unavailable()}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    docs.build(out)
    return out


@pytest.fixture
def offline(browser):
    """A browser context in which nothing but file:// and data: loads; attempts are kept."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    attempted: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:")):
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


def test_every_operation_is_in_the_offline_docs(built, offline):
    page, attempted, problems = offline
    spec = load_spec()
    page.goto((built / "index.html").as_uri())
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
