"""`ab-harness serve` wiring: both apps up on loopback, the login it prints works, stop ends all."""
from __future__ import annotations

import requests
from click.testing import CliRunner
from cryptography.fernet import Fernet

from harness.cli import main
from harness.serve import start_stack


def test_stack_serves_both_sides_and_prints_a_working_login():
    stack = start_stack(contacts=5, token_key=Fernet.generate_key().decode())
    try:
        settings = requests.get(stack.web.url + "/settings/integrations/agentbuddy", timeout=10)
        assert settings.status_code == 200 and "Connect AgentBuddy" in settings.text
        assert requests.get(stack.fake.url + "/ui/contacts", timeout=10).text.count("data-contact-id=") == 5
        world = requests.get(stack.fake.url + "/__admin/world", timeout=10).json()
        agents = {a["email"]: a for account in world["accounts"] for a in account["agents"]}
        assert agents[stack.login_email]["is_active"] and stack.password == world["agent_password"]
        metadata = requests.get(stack.fake.url + "/.well-known/oauth-authorization-server", timeout=10).json()
        assert metadata["issuer"] == stack.fake.url  # what Broadcast was pointed at
    finally:
        stack.stop()
    assert not stack.service.running


def test_serve_is_a_registered_command():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--free-ports" in result.output and "--mock-port" in result.output
