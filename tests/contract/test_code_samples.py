"""Every operation's `x-codeSamples` run, as a partner would paste them, against the fake AgentBuddy.

The samples name the production base URL and the contract's example ids; the test swaps in the fake's URL
and ids from its seeded world, and provides a real token and webhook secret through the environment
variables the samples read. curl and Python samples run; the Node ones run too where Node.js is installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import requests

from contract import load_spec
from harness.contract.lint import iter_operations
from tests.fake_agentbuddy import start_fake

PRODUCTION = "https://api.agentbuddy.com/v1"
LANGUAGES = {"Shell": ["bash", "-c"], "Python": [sys.executable, "-c"], "JavaScript": ["node", "-e"]}


@pytest.fixture(scope="module")
def fake():
    fake, stop = start_fake(None, seed=3, accounts=1, contacts_per_account=20, agents_per_account=3,
                            offices_per_account=2, auto_approve=True)
    try:
        yield fake
    finally:
        stop()


@pytest.fixture(scope="module")
def environment(fake):
    token = fake.token()
    headers = {"Authorization": f"Bearer {token}"}
    first = lambda path: fake.records(path, include_deleted=False)[0]["id"]  # noqa: E731
    connection = requests.get(f"{fake.url}/v1/connection", headers=headers, timeout=10).json()
    ids = {"ab_contact_12345": first("contacts"), "ab_office_001": first("offices"), "ab_agent_042": first("agents"),
           "ab_prop_789": first("properties")}
    env = {**os.environ, "AGENTBUDDY_TOKEN": token, "AGENTBUDDY_WEBHOOK_SECRET": connection["webhook_signing_secret"],
           "AGENTBUDDY_CONNECTION_ID": connection["id"]}
    return env, ids, headers


def _cases():
    spec = load_spec()
    for op in iter_operations(spec):
        if op.section != "paths":
            continue  # the changeNotification samples run at AgentBuddy and Broadcast, not against the API
        for sample in op.node.get("x-codeSamples", []):
            yield pytest.param(op.node["operationId"], sample, id=f"{op.node['operationId']}-{sample['lang']}")


def test_every_operation_has_curl_and_python_samples():
    for op in iter_operations(load_spec()):
        langs = {s["lang"] for s in op.node.get("x-codeSamples", [])}
        assert {"Shell", "Python"} <= langs or op.section == "webhooks", op.label
        if "webhookSignature" in str(op.node.get("security")):
            assert "JavaScript" in langs, f"{op.label}: a signed webhook needs the Node signing sample"


@pytest.mark.parametrize("operation_id,sample", list(_cases()))
def test_code_sample_runs_against_the_fake(fake, environment, operation_id, sample):
    env, ids, headers = environment
    if sample["lang"] == "JavaScript" and shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    source = sample["source"].replace(PRODUCTION, f"{fake.url}/v1")
    if operation_id == "deleteSubscription":
        created = requests.post(f"{fake.url}/v1/subscriptions", headers=headers, timeout=10,
                                json={"url": "http://127.0.0.1:9/notifications"}).json()
        source = source.replace("ab_sub_001", created["id"])
    # never let the fake notify a host outside this machine
    source = source.replace("https://app.broadcast.example/", "http://127.0.0.1:9/")
    for example_id, real_id in ids.items():
        source = source.replace(example_id, real_id)
    done = subprocess.run([*LANGUAGES[sample["lang"]], source], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{sample['label']} failed:\n{done.stdout}\n{done.stderr}"
