"""`ab-harness contract diff`: pairs of small contracts, and the real contract against its last release."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from contract import load_spec, spec_path
from harness.contract.diff import contract as contract_cli
from harness.contract.diff import diff

RELEASES = spec_path().parent / "releases"
CHANGELOG = spec_path().parent / "CHANGELOG.md"

SMALL = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1.0.0"},
    "paths": {"/things": {"get": {
        "parameters": [{"name": "per_page", "in": "query", "required": False, "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Thing"}}}}}},
        "post": {"requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": ["a", "b", "c"]}}}}}},
            "responses": {"201": {"description": "created"}}}}},
    "webhooks": {"thingChanged": {"post": {"requestBody": {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"id": {"type": "string"}}}}}}, "responses": {"200": {"description": "ok"}}}}},
    "components": {"schemas": {"Thing": {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}}}}},
}


def changed(edit) -> dict:
    new = copy.deepcopy(SMALL)
    edit(new)
    return new


def test_identical_contracts_have_no_changes():
    assert diff(SMALL, copy.deepcopy(SMALL)) == []


@pytest.mark.parametrize("name,edit,client,server", [
    ("removed response field", lambda s: s["components"]["schemas"]["Thing"]["properties"].pop("name"), True, False),
    ("narrowed request enum",
     lambda s: s["paths"]["/things"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
     ["kind"]["enum"].remove("c"), True, False),
    ("new required parameter", lambda s: s["paths"]["/things"]["get"]["parameters"].append(
        {"name": "office_id", "in": "query", "required": True, "schema": {"type": "string"}}), True, False),
    ("removed webhook", lambda s: s["webhooks"].pop("thingChanged"), True, True),
    ("removed response status", lambda s: s["paths"]["/things"]["post"]["responses"].update(
        {"202": s["paths"]["/things"]["post"]["responses"].pop("201")}), True, True),
])
def test_breaking_changes_are_flagged(name, edit, client, server):
    changes = diff(SMALL, changed(edit))
    assert changes, name
    assert any(c.breaks_client for c in changes) == client, (name, [str(c) for c in changes])
    assert any(c.breaks_server for c in changes) == server, (name, [str(c) for c in changes])


def test_an_added_optional_response_field_breaks_nobody():
    new = changed(lambda s: s["components"]["schemas"]["Thing"]["properties"].update({"colour": {"type": "string"}}))
    changes = diff(SMALL, new)
    assert [c.what for c in changes] == ["optional field 'colour' added"]
    assert not changes[0].breaking


def test_a_widened_request_enum_breaks_the_server_only():
    new = changed(lambda s: s["paths"]["/things"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                  ["properties"]["kind"]["enum"].append("d"))
    [change] = diff(SMALL, new)
    assert (change.breaks_client, change.breaks_server) == (False, True)


def _write(tmp_path: Path, name: str, spec: dict) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return str(path)


def test_the_command_exits_1_on_a_break_unless_the_major_version_changed(tmp_path):
    old = _write(tmp_path, "old.yaml", SMALL)
    broken = changed(lambda s: s["webhooks"].pop("thingChanged"))
    result = CliRunner().invoke(contract_cli, ["diff", old, _write(tmp_path, "new.yaml", broken)])
    assert result.exit_code == 1 and "webhook thingChanged: operation removed" in result.output
    broken["info"]["version"] = "2.0.0"
    assert CliRunner().invoke(contract_cli, ["diff", old, _write(tmp_path, "v2.yaml", broken)]).exit_code == 0
    additive = changed(lambda s: s["components"]["schemas"]["Thing"]["properties"].update({"x": {"type": "string"}}))
    assert CliRunner().invoke(contract_cli, ["diff", old, _write(tmp_path, "ok.yaml", additive)]).exit_code == 0


def test_a_missing_file_is_one_sentence_not_a_traceback():
    result = CliRunner().invoke(contract_cli, ["diff", "no/such.yaml"])
    assert result.exit_code == 2 and "neither a file nor a git revision" in result.output


# ------------------------------------------------------------------ the real contract
def _last_release() -> Path:
    releases = sorted(RELEASES.glob("*.yaml"), key=lambda p: tuple(int(x) for x in p.stem.split(".")))
    assert releases, "record the contract's releases in openapi/releases/<version>.yaml"
    return releases[-1]


def test_the_contract_does_not_break_its_last_release():
    """CI's guard: an accidental break of what partners build on fails `make test`."""
    result = CliRunner().invoke(contract_cli, ["diff", str(_last_release()), str(spec_path())])
    assert result.exit_code == 0, result.output


def test_every_contract_version_has_a_dated_changelog_entry():
    version = load_spec()["info"]["version"]
    headings = re.findall(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})$", CHANGELOG.read_text(encoding="utf-8"), re.M)
    assert version in {v for v, _ in headings}, f"info.version {version} has no '## {version} — YYYY-MM-DD' entry"
    for release in RELEASES.glob("*.yaml"):
        assert release.stem in {v for v, _ in headings}, f"release {release.stem} has no CHANGELOG entry"
