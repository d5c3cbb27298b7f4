"""A person watches a story play on the apps they connected by clicking (`ab-harness serve`):
Maria's score climbs on Broadcast's contact page and her record fills in on AgentBuddy's, the
expectations come out as the replay's; an outage story shows its retried backlog drained."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from harness.serve import start_stack

from .conftest import SCREENSHOTS
from .test_connect import connect_by_clicking

expect = pytest.importorskip("playwright.sync_api").expect

STORY_TIMEOUT = 180_000                   # ms: a bound for a whole story at full speed, not a measurement


@dataclass
class Served:
    """`start_stack`'s apps, as the click-through helper reads them."""

    stack: object

    @property
    def fake_url(self) -> str:
        return self.stack.fake.url

    @property
    def broadcast_url(self) -> str:
        return self.stack.web.url

    @property
    def settings_url(self) -> str:
        return self.broadcast_url + "/settings/integrations/agentbuddy"

    @property
    def agent_email(self) -> str:
        return self.stack.login_email

    @property
    def password(self) -> str:
        return self.stack.password


@pytest.fixture
def served():
    stack = start_stack(contacts=40, token_key=Fernet.generate_key().decode())
    try:
        yield Served(stack)
    finally:
        stack.stop()


def play(page, story: str, speed: str) -> None:
    page.select_option("#story-choice", story)
    page.select_option("#speed-choice", speed)
    page.click("#play-story")
    expect(page.locator("#story-name")).to_have_text(story)


def test_maria_plays_on_the_connected_apps_and_both_sides_show_it(person, served):
    page = person.page
    page.goto(served.settings_url)
    expect(page.locator("#play-needs-connection")).to_contain_text("Connect AgentBuddy first")
    connect_by_clicking(person, served)
    expect(page.locator("[data-status]")).to_have_text("Connected")
    expect(page.locator("#play-needs-connection")).to_have_count(0)

    play(page, "maria", "20")
    expect(page.locator("#story-bar .sim-date")).to_contain_text("2025-")
    # watch her contact page: it is not reloaded, yet the chart grows and the badge turns hot
    page.locator("#story-people a", has_text="contact page").click()
    expect(page.locator("#contact-live h1")).to_contain_text("Maria Lopez")
    page.wait_for_function("document.querySelectorAll('#score-chart svg circle').length >= 3",
                           timeout=STORY_TIMEOUT)
    person.shot("live-broadcast-maria-playing")
    page.evaluate("window.__same_page = true")
    record = page.context.new_page()  # and her record on AgentBuddy's side, open beside it
    record.goto(f"{served.fake_url}/ui/contacts/{page.url.rsplit('/', 1)[-1]}")
    record.evaluate("window.__same_page = true")
    expect(page.locator("#contact-live h1 [data-category]")).to_have_attribute("data-category", "hot",
                                                                               timeout=STORY_TIMEOUT)
    expect(record.locator("#record-live h1 [data-category]")).to_have_attribute("data-category", "hot",
                                                                                timeout=STORY_TIMEOUT)
    expect(record.locator("#propensity .recommended-action")).to_have_text("Call this week - high seller intent")
    assert record.evaluate("window.__same_page === true")
    record.close()
    expect(page.locator("#story-bar [data-state]")).to_have_attribute("data-state", "finished", timeout=STORY_TIMEOUT)
    assert page.evaluate("window.__same_page === true")  # it all arrived by polling, not by reloading
    score = int(page.locator("#propensity .propensity-score").inner_text())
    assert 84 <= score <= 90  # the replay's 87±3
    expect(page.locator("#propensity .recommended-action")).to_have_text("Call this week - high seller intent")
    assert page.locator("#score-chart svg circle").count() > 10
    expect(page.locator("#timeline")).to_contain_text("clicked")
    person.shot("live-broadcast-maria")

    page.goto(served.settings_url)
    expect(page.locator("#story-verdict")).to_have_text("PASS")
    rows = page.locator("#expectations tr")
    expect(rows).to_have_count(5)
    expect(page.locator("#expectations tr[data-passed='0']")).to_have_count(0)
    expect(page.locator("#expectations")).to_contain_text("propensity_score: expected 87±3, got")
    person.shot("live-broadcast-expectations")

    maria_id = page.locator("#story-people code").first.inner_text()
    page.goto(f"{served.fake_url}/ui/contacts/{maria_id}")
    expect(page.locator("h1 [data-category]")).to_have_attribute("data-category", "hot")
    expect(page.locator("#propensity .recommended-action")).to_have_text("Call this week - high seller intent")
    assert 84 <= int(page.locator("#propensity .propensity-score").inner_text()) <= 90
    expect(page.locator("#propensity")).to_contain_text("2 valuation link clicks in 30 days")
    assert page.locator("#score-chart svg circle").count() > 10
    expect(page.locator("#agentbuddy-clock")).to_contain_text("2026")
    person.shot("live-agentbuddy-maria")

    page.goto(f"{served.fake_url}/ui/inbound")
    expect(page.locator("#inbound tbody tr").first).to_be_visible()
    expect(page.locator("#inbound")).not_to_contain_text("invalid")
    person.shot("live-agentbuddy-inbound")
    person.assert_clean()


def test_the_inbound_log_shows_each_webhook_as_it_lands(person, served):
    page = person.page
    connect_by_clicking(person, served)
    page.goto(served.fake_url + "/ui/inbound")
    expect(page.locator("main")).to_contain_text("Nothing received yet")
    watcher = page.context.new_page()
    watcher.goto(served.settings_url)
    play(watcher, "agentbuddy_down_during_delivery", "2")
    # the log page was opened before anything arrived and is never reloaded
    first = page.locator("#inbound tbody tr").first
    expect(first).to_be_visible(timeout=STORY_TIMEOUT)
    seq = first.get_attribute("data-seq")
    page.locator(f"#inbound tr[data-seq='{seq}'] details summary").click()  # a payload opened while newer rows arrive ...
    page.wait_for_function(f"document.querySelector('#inbound tbody tr').dataset.seq !== '{seq}'",
                           timeout=STORY_TIMEOUT)
    expect(page.locator(f"#inbound tr[data-seq='{seq}'] pre")).to_be_visible()  # ... stays open
    expect(page.locator("#inbound")).to_contain_text("valid")
    expect(watcher.locator("#story-verdict")).to_have_text("PASS", timeout=STORY_TIMEOUT)
    person.shot("live-agentbuddy-inbound-arriving")

    # the outage: Broadcast kept the events, retried, and drained the backlog once AgentBuddy was back
    watcher.goto(served.settings_url)
    delivery = watcher.locator("#delivery")
    expect(delivery.locator("#queued")).to_have_text("0")
    expect(delivery.locator("#retrying")).to_have_text("0")
    expect(delivery.locator("#dead")).to_have_text("0")
    assert int(delivery.locator("#delivered").inner_text()) > 0
    assert int(delivery.locator("#backlog-peak").inner_text()) > 0     # the outage's backlog ...
    expect(delivery.locator("#backlog-now")).to_have_text("0")          # ... drained
    assert delivery.locator("#backlog svg rect").count() > 1
    retried = delivery.locator("#retried tbody tr")
    expect(retried.first).to_be_visible()
    assert all(status == "delivered" for status in retried.evaluate_all("rows => rows.map(r => r.dataset.status)"))
    tries = [int(t) for t in delivery.locator("#retried td.num").all_inner_texts()]
    assert tries and min(tries) > 1
    watcher.screenshot(path=str(SCREENSHOTS / "live-broadcast-outage-drained.png"), full_page=True)
    watcher.close()
    person.assert_clean()


def test_a_broken_scenario_file_is_answered_on_the_page(person, served, tmp_path):
    page = person.page
    connect_by_clicking(person, served)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ndays: 10\nworld:\n  contacts:\n    - {id: ann, name: Ann Lee, type: landlord}\n"
                      "campaigns: []\nbehaviours: []\n", encoding="utf-8")
    page.set_input_files("#scenario-file", str(broken))
    page.click("#play-story")
    problem = page.locator("#play-problem")
    expect(problem).to_contain_text("broken.yaml is not a valid scenario")
    expect(problem.locator("li", has_text="world.contacts[0].type")).to_contain_text(re.compile(r"landlord.*\(line 5, column"))
    expect(page.locator("#story-name")).to_have_count(0)
    person.shot("live-broadcast-bad-upload")
    # the browser logs the refused request (422) itself; nothing else went wrong on the page
    assert all("422" in p for p in person.problems), person.problems
