"""The kit given only a URL, credentials and a state hook: the fake's admin API is blocked (as a
real sandbox has none), changes come from the hook, and nothing needed `/__admin`."""
from __future__ import annotations

import sys
from pathlib import Path

from werkzeug.wrappers import Response

HOOK = f"{sys.executable} {Path(__file__).with_name('state_hook.py')}"


def block_admin(app):
    def wrapped(environ, start_response):
        if environ["PATH_INFO"].startswith("/__admin"):
            return Response("no admin API here", 404)(environ, start_response)
        return app(environ, start_response)
    return wrapped


def test_with_admin_blocked_the_hook_drives_every_change(serve_fake, kit, monkeypatch):
    fake = serve_fake(middleware=block_admin)
    monkeypatch.setenv("AB_TEST_ADMIN_URL", fake.admin_url)  # only the hook knows where the admin API is

    run = kit("verify", "agentbuddy", "--url", fake.url, "--client-id", "broadcast-local",
              "--client-secret", "broadcast-local-secret", "--login-hint", fake.agent(0),
              "--other-login-hint", fake.agent(1), "--state-hook", HOOK, "--json")

    assert run.exit_code == 0, [(c["id"], c["detail"]) for c in run.report["checks"] if c["status"] == "fail"]
    assert run.ids("fail") == set()
    skipped = {c["id"]: c["detail"] for c in run.report["checks"] if c["status"] == "skip"}
    assert list(skipped) == ["oauth.token.expired"]  # no clock to move, and tokens live an hour
    assert "3600 seconds" in skipped["oauth.token.expired"]
    assert {"sync.sweep.concurrent_changes", "sync.tombstones.listed", "notifications.retry"} <= run.ids("pass")
    admin = [status for path, status in fake.hits if path.startswith("/__admin")]
    assert admin and set(admin) == {404}


def test_a_failing_hook_stops_the_run_with_one_sentence(serve_fake, kit):
    fake = serve_fake()
    hook = f"{sys.executable} -c \"import sys; print('no sandbox credentials', file=sys.stderr); sys.exit(3)\""

    run = kit("verify", "agentbuddy", "--url", fake.url, "--state-hook", hook, "--only", "sync.tombstones.get")

    assert run.exit_code == 2
    assert run.stderr.strip().splitlines() == [
        f"Error: The state hook `{sys.executable} -c 'import sys; print('\"'\"'no sandbox credentials'\"'\"', "
        "file=sys.stderr); sys.exit(3)' create contact` failed with exit status 3: no sandbox credentials"]


def test_a_hook_that_prints_no_id_stops_the_run(serve_fake, kit):
    fake = serve_fake()

    run = kit("verify", "agentbuddy", "--url", fake.url, "--state-hook", f"{sys.executable} -c \"print('done')\"",
              "--only", "sync.tombstones.get")

    assert run.exit_code == 2
    assert "did not print a JSON object with the record's \"id\"" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
