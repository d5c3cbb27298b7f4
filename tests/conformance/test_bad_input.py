"""Bad input to the kit ends with one sentence and exit status 2, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.serving import free_port



def one_sentence(run) -> str:
    lines = run.stderr.strip().splitlines()
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    return lines[0]


def test_an_unreachable_server(kit):
    port = free_port()

    line = one_sentence(kit("verify", "agentbuddy", "--url", f"http://127.0.0.1:{port}"))

    assert line.startswith(f"Error: Cannot reach http://127.0.0.1:{port}: ConnectionError")


def test_a_wrong_client_secret(serve_fake, kit):
    fake = serve_fake()

    line = one_sentence(kit("verify", "agentbuddy", "--url", fake.url, "--no-admin", "--client-id", "broadcast-local",
                            "--client-secret", "not-the-secret", "--login-hint", fake.agent(0)))

    assert "The token endpoint refused the kit's client" in line and "invalid_client" in line


def test_a_login_hint_the_server_does_not_approve(serve_fake, kit):
    fake = serve_fake()

    line = one_sentence(kit("verify", "agentbuddy", "--url", fake.url, "--no-admin", "--client-id", "broadcast-local",
                            "--client-secret", "broadcast-local-secret", "--login-hint", "nobody@nowhere.example"))

    assert "The authorization endpoint gave no code" in line and "--interactive" in line


def test_a_token_the_server_refuses(serve_fake, kit):
    fake = serve_fake()

    line = one_sentence(kit("verify", "agentbuddy", "--url", fake.url, "--no-admin", "--token", "not-a-token"))

    assert line == "Error: The server refused the kit's access token: GET /v1/connection answered 401 invalid_token."


def test_no_credentials_at_all(serve_fake, kit):
    fake = serve_fake()

    line = one_sentence(kit("verify", "agentbuddy", "--url", fake.url, "--no-admin"))

    assert "no way to get a token" in line


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist"),
    ("just: yaml\n", "is not an OpenAPI 3 document with paths"),
    ("{not: [yaml", "is not readable YAML"),
])
def test_an_invalid_contract(kit, tmp_path, content, expected):
    path = tmp_path / "contract.yaml"
    if content is not None:
        path.write_text(content)

    line = one_sentence(kit("verify", "agentbuddy", "--url", "http://127.0.0.1:1", "--contract", str(path)))

    assert expected in line and str(path) in line


def test_a_hook_program_that_does_not_exist(serve_fake, kit):
    fake = serve_fake()

    line = one_sentence(kit("verify", "agentbuddy", "--url", fake.url, "--state-hook", "/nonexistent/hook",
                            "--only", "sync.incremental"))

    assert line == "Error: The state hook program '/nonexistent/hook' was not found."


def test_usage_errors_name_the_option(kit):
    run = kit("verify", "agentbuddy")
    assert run.exit_code == 2 and "--url" in run.stderr and "Traceback" not in run.stderr
    run = kit("verify", "agentbuddy", "--list", "--only", "nonsense")
    assert run.exit_code == 2 and "names no area or check" in run.stderr


def test_the_real_command_line_prints_no_traceback():
    command = [str(Path(sys.executable).with_name("ab-harness")), "verify", "agentbuddy",
               "--url", f"http://127.0.0.1:{free_port()}"]

    done = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith("Error: Cannot reach")
