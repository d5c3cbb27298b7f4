"""Maria's story (spec 6, scenario 1) replayed by the simulator, then looked at by a person:
hot with "Call this week" in Broadcast and in AgentBuddy's contact record."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios" / "library"


@dataclass
class Replayed:
    fake_url: str
    broadcast_url: str
    maria_id: str
    result: dict


@pytest.fixture(scope="module")
def maria():
    from scenarios.engine import Story, local_stack
    from scenarios.story.loader import load

    scenario = load(LIBRARY / "maria.yaml")
    with local_stack(scenario) as stack:
        story = Story(scenario, stack)
        try:
            result = story.finish()
            yield Replayed(stack.agentbuddy.url, stack.broadcast_url, story.ab_ids["maria"], result)
        finally:
            story.close()


def test_broadcast_shows_maria_hot(person, maria):
    page = person.page
    page.goto(maria.broadcast_url + "/contacts")
    page.click("a[data-filter=hot]")
    row = page.locator(f"tr[data-contact-id='{maria.maria_id}']")
    expect(row).to_contain_text("Maria Lopez")
    expect(row.locator("[data-category]")).to_have_attribute("data-category", "hot")
    expect(row.locator(".recommended-action")).to_contain_text("Call this week")
    person.shot("broadcast-contacts-hot-filter")
    page.click("a[data-filter=cold]")
    expect(page.locator(f"tr[data-contact-id='{maria.maria_id}']")).to_have_count(0)

    page.goto(maria.broadcast_url + "/contacts")
    page.get_by_role("link", name="Maria Lopez").click()
    expect(page.locator("#propensity .recommended-action")).to_contain_text("Call this week")
    expect(page.locator("#score-chart svg circle")).not_to_have_count(0)
    assert page.locator("#score-chart svg circle").count() > 1  # the score moved over the weeks
    expect(page.locator("#timeline")).to_contain_text("clicked")
    expect(page.locator("#timeline")).to_contain_text("Market Update")
    expect(page.locator("#deliveries")).to_contain_text("delivered")
    person.shot("broadcast-contact-maria")

    page.click("a:has-text('Settings')")
    expect(page.locator("[data-status]")).to_have_text("Connected")
    assert int(page.locator("#delivered").inner_text()) > 0
    expect(page.locator("#dead")).to_have_text("0")
    expect(page.locator(".sync-status")).to_have_text("succeeded")
    person.shot("broadcast-settings-after-maria")
    person.assert_clean()


def test_agentbuddy_record_shows_what_broadcast_sent(person, maria):
    page = person.page
    page.goto(maria.fake_url + "/ui/contacts?category=hot")
    row = page.locator(f"tr[data-contact-id='{maria.maria_id}']")
    expect(row.locator(".recommended-action")).to_contain_text("Call this week")
    person.shot("agentbuddy-contacts-hot")

    row.locator("a").first.click()
    expect(page.locator("h1 [data-category]")).to_have_attribute("data-category", "hot")
    expect(page.locator("#propensity .recommended-action")).to_contain_text("Call this week")
    expect(page.locator("#propensity")).to_contain_text("valuation")  # a contributing factor
    expect(page.locator("#engagement")).to_contain_text("increasing")
    assert page.locator("#score-chart svg circle").count() > 1
    expect(page.locator("#arrivals")).to_contain_text("valid")
    person.shot("agentbuddy-contact-maria")

    page.click("a:has-text('Inbound log')")
    expect(page.locator("#inbound tbody tr").first).to_be_visible()
    expect(page.locator("#inbound")).not_to_contain_text("invalid")
    page.locator("#inbound details summary").first.click()
    expect(page.locator("#inbound pre").first).to_contain_text("contact_id")
    person.shot("agentbuddy-inbound-log")
    person.assert_clean()


def test_scenario_report_renders_offline(person, maria, tmp_path):
    from scenarios.views.report import render_html

    report = tmp_path / "report.html"
    report.write_text(render_html([maria.result]), encoding="utf-8")
    page = person.page
    fetched: list[str] = []
    page.route("**/*", lambda route: (fetched.append(route.request.url), route.abort())
               if not route.request.url.startswith("file:") else route.continue_())
    page.goto(report.as_uri())
    expect(page.locator("body")).to_contain_text("maria")
    assert page.locator("svg").count() >= 1
    person.shot("scenario-report-maria")
    assert fetched == [], f"the report reached for the network: {fetched}"
    person.assert_clean()
