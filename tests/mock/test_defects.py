"""Defect switches are off unless the fake is built with them, are named and checked when it is,
and show in `/__admin/world`; no request can switch one on. (What each one breaks, and that the
kit catches exactly that, is `tests/conformance/test_defect_matrix.py`.)"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from mock_agentbuddy import MockConfig, create_app, stop_background
from mock_agentbuddy.cli import mock
from mock_agentbuddy.defects import DEFECTS

from .mock_helpers import small_config


def test_a_fake_has_no_defect_unless_built_with_one(client):
    assert client.get("/__admin/world").get_json()["defects"] == []


def test_the_world_lists_the_defects_planted():
    app = create_app(small_config(defects=["tenant-leak", "errors-as-html"]))
    try:
        assert app.test_client().get("/__admin/world").get_json()["defects"] == ["errors-as-html", "tenant-leak"]
    finally:
        stop_background(app)


def test_an_unknown_defect_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError) as refused:
        MockConfig(defects={"no-such-bug"})

    assert "no-such-bug" in str(refused.value) and "tenant-leak" in str(refused.value)


def test_the_command_line_refuses_an_unknown_defect_in_one_sentence():
    result = CliRunner().invoke(mock, ["--defect", "no-such-bug"])

    assert result.exit_code == 2
    assert "Invalid value for '--defect'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("path, body", [
    ("/__admin/defects", {"defects": ["tenant-leak"]}),
    ("/__admin/faults", {"profile": "tenant-leak"}),
    ("/__admin/reset", {"defects": ["tenant-leak"]}),
])
def test_no_request_can_switch_a_defect_on(client, path, body):
    client.post(path, json=body)

    assert client.get("/__admin/world").get_json()["defects"] == []


def test_every_defect_says_what_it_breaks_and_which_checks_catch_it():
    for defect in DEFECTS.values():
        assert defect.description and defect.trips, defect.name
