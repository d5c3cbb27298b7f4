"""A person connects Broadcast to AgentBuddy by clicking, sees contacts, and disconnects."""
from __future__ import annotations

import pytest
import requests

expect = pytest.importorskip("playwright.sync_api").expect


def connect_by_clicking(person, stack) -> None:
    page = person.page
    page.goto(stack.settings_url)
    page.click("#connect")
    # AgentBuddy's own pages: sign in, then allow
    page.wait_for_url(stack.fake_url + "/**")
    page.fill("#email", stack.agent_email)
    page.fill("#password", stack.password)
    person.shot("agentbuddy-login")
    page.click("button[type=submit]")
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    person.shot("agentbuddy-consent")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(stack.settings_url)


def test_empty_broadcast_says_what_to_do(person, stack):
    page = person.page
    page.goto(stack.settings_url)
    expect(page.locator("[data-status]")).to_have_text("Not connected")
    expect(page.locator("#sync")).to_contain_text("No sync has run yet")
    expect(page.locator("#delivery")).to_contain_text("Nothing sent to AgentBuddy yet")
    person.shot("broadcast-settings-not-connected")
    page.goto(stack.broadcast_url + "/contacts")
    expect(page.locator("#no-contacts")).to_contain_text("Connect AgentBuddy")
    person.shot("broadcast-contacts-empty")
    page.goto(stack.fake_url + "/ui/inbound")
    expect(page.locator("main")).to_contain_text("Nothing received yet")
    person.shot("agentbuddy-inbound-empty")
    page.goto(stack.fake_url + "/ui/contacts")
    expect(page.locator("#contacts tbody tr")).to_have_count(40)
    expect(page.locator("#contacts")).to_contain_text("no score yet")
    person.assert_clean()
    page.goto(stack.broadcast_url + "/contacts/ab_contact_99999")
    expect(page.locator("h1")).to_have_text("Not found")
    page.goto(stack.fake_url + "/ui/contacts/ab_contact_99999")
    expect(page.locator("h1")).to_have_text("Not found")
    assert len(person.problems) == 2 and all("404" in p for p in person.problems)  # the pages' own status


def test_connect_sync_and_disconnect(person, stack):
    page = person.page
    connect_by_clicking(person, stack)

    expect(page.locator("[data-status]")).to_have_text("Connected")
    expect(page.locator(".flash.ok").first).to_contain_text("Connected to AgentBuddy account")
    expect(page.locator(".flash.ok").nth(1)).to_contain_text("Initial sync finished")
    expect(page.locator("#scopes")).to_contain_text("write:engagement")
    expect(page.locator("#connection")).to_contain_text(stack.agent_email)  # who connected, by name
    expect(page.locator("#sync-summary")).to_contain_text("contacts")
    expect(page.locator(".sync-status")).to_have_text("succeeded")
    person.shot("broadcast-settings-connected")

    page.click("a:has-text('Contacts')")
    live = sum(1 for c in stack.fake_state.world.collection(
        next(iter(stack.fake_state.world.accounts)), "contacts").records.values() if c["deleted_at"] is None)
    expect(page.locator(".pager")).to_contain_text(f"{live} contacts")
    first = page.locator("#contacts tbody tr").first
    expect(first).to_be_visible()
    person.shot("broadcast-contacts-synced")
    page.click("a[data-sort=name]")
    expect(page.locator("a.sorted[data-sort=name]")).to_be_visible()
    first.locator("a").first.click()
    expect(page.locator("#propensity")).to_contain_text("Not scored yet")
    expect(page.locator("#timeline")).to_contain_text("No email events")
    page.goto(stack.settings_url)

    page.click("#sync-now")
    expect(page.locator(".flash.ok")).to_contain_text("Sync finished")

    page.click("#disconnect")
    expect(page.locator("[data-status]")).to_have_text("Disconnected")
    expect(page.locator(".flash.ok")).to_contain_text("AgentBuddy revoked Broadcast's access")
    expect(page.locator("#connect")).to_have_text("Connect again")
    person.shot("broadcast-settings-disconnected")
    revocations = requests.get(stack.fake_url + "/__admin/journal", params={"path": "/oauth/revoke"}, timeout=10).json()
    assert [e["status"] for e in revocations["entries"]] == [200, 200]
    page.goto(stack.broadcast_url + "/contacts")
    expect(page.locator("#contacts tbody tr").first).to_be_visible()  # synced data is kept
    person.assert_clean()
