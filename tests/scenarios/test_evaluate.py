"""Evaluation figures over a small seeded population, through the integration's own scoring."""
from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import main
from scenarios import evaluate as ev


def test_figures_are_computed_and_planted_intent_stands_out():
    result = ev.run(240, seed=3, days=90)
    figures = result.to_json()
    assert figures["contacts"] == 240 and figures["events"] > 10_000
    arch = figures["by_archetype"]
    assert set(arch) >= {"surging_seller", "active_buyer", "dormant", "privacy_proxy_opener", "bot_clicker"}
    for row in arch.values():
        assert row["min"] <= row["p25"] <= row["median"] <= row["p75"] <= row["max"]
        assert sum(row["categories"].values()) == row["n"]
    assert arch["surging_seller"]["median"] > arch["steady"]["median"] > arch["dormant"]["median"]
    assert figures["machine_hot"] == 0, "pixel prefetches and link scanners must never make anyone hot"
    sep = figures["separation"]
    assert sep["planted"] == arch["surging_seller"]["n"] + arch["active_buyer"]["n"]
    assert 0 <= sep["true_positives"] <= min(sep["hot"], sep["planted"])
    if sep["hot"]:
        assert sep["precision"] == round(sep["true_positives"] / sep["hot"], 4)


def test_same_seed_same_figures_and_json_output():
    assert ev.run(60, seed=4, days=60).to_json() == ev.run(60, seed=4, days=60).to_json()
    answer = CliRunner().invoke(main, ["evaluate", "--contacts", "60", "--seed", "4", "--days", "60", "--json"])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["contacts"] == 60
