"""When AgentBuddy takes access back or goes down, the pages say so and offer the way out."""
from __future__ import annotations

import pytest
import requests

from .test_connect import connect_by_clicking

expect = pytest.importorskip("playwright.sync_api").expect


def test_revoked_access_asks_to_reconnect_and_reconnecting_works(person, stack):
    page = person.page
    connect_by_clicking(person, stack)
    expect(page.locator("[data-status]")).to_have_text("Connected")
    # AgentBuddy forgets every grant (as if an admin revoked Broadcast's access there)
    requests.post(stack.fake_url + "/__admin/reset", json={}, timeout=10).raise_for_status()

    page.click("#sync-now")
    expect(page.locator(".flash.error")).to_contain_text("Reconnect to continue")
    expect(page.locator("[data-status]")).to_have_text("Needs reconnecting")
    expect(page.locator("#needs-reauth")).to_be_visible()
    expect(page.locator("#connect")).to_have_text("Reconnect")
    person.shot("broadcast-settings-needs-reauth")

    page.click("#connect")
    page.wait_for_url(stack.fake_url + "/**")
    page.wait_for_load_state()
    if page.locator("#email").count():  # AgentBuddy may still remember who signed in
        page.fill("#email", stack.agent_email)
        page.fill("#password", stack.password)
        page.click("button[type=submit]")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(stack.settings_url)
    expect(page.locator("[data-status]")).to_have_text("Connected")
    person.assert_clean()


def test_agentbuddy_down_is_a_message_not_a_stack_trace(person, stack):
    page = person.page
    connect_by_clicking(person, stack)
    stack.fake_server.stop()

    page.click("#sync-now")
    expect(page.locator(".flash.error")).to_contain_text("AgentBuddy is not reachable")
    expect(page.locator("[data-status]")).to_have_text("Connected")  # a outage is not a revocation
    expect(page.locator(".sync-status")).to_have_text("failed")
    person.shot("broadcast-settings-agentbuddy-down")

    page.click("#disconnect")  # revoking needs AgentBuddy: refused, nothing half-done
    expect(page.locator(".flash.error")).to_contain_text("Disconnecting failed: AgentBuddy is not reachable")
    expect(page.locator("[data-status]")).to_have_text("Connected")
    page.goto(stack.broadcast_url + "/contacts")
    expect(page.locator("#contacts tbody tr").first).to_be_visible()  # what was synced stays readable
    assert "Traceback" not in page.content()
    person.assert_clean()


def test_connect_while_agentbuddy_is_down(person, stack):
    page = person.page
    stack.fake_server.stop()
    page.goto(stack.settings_url)
    page.click("#connect")
    expect(page.locator(".flash.error")).to_contain_text("AgentBuddy is not reachable")
    expect(page.locator("[data-status]")).to_have_text("Not connected")
    person.shot("broadcast-settings-connect-while-down")
    person.assert_clean()


def test_denying_at_agentbuddy_connects_nothing(person, stack):
    page = person.page
    page.goto(stack.settings_url)
    page.click("#connect")
    page.wait_for_url(stack.fake_url + "/**")
    page.fill("#email", stack.agent_email)
    page.fill("#password", stack.password)
    page.click("button[type=submit]")
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(stack.settings_url)
    expect(page.locator(".flash.error")).to_contain_text("You did not allow Broadcast")
    expect(page.locator("[data-status]")).to_have_text("Not connected")
    person.assert_clean()
