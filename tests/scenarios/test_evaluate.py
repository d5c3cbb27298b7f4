"""Evaluation figures over a small seeded population, through the integration's own scoring."""
from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import main
from scenarios.verdicts import evaluate as ev


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


HEADLINE = ("hot_precision", "hot_recall", "hot_recall_sellers", "hot_recall_buyers", "auc_seller", "auc_buyer",
            "weekly_category_change_rate", "steady_cold_share")


def test_the_headline_figures_are_top_level_keys_and_do_not_depend_on_the_number_of_processes():
    alone = ev.run(120, seed=5, days=60, jobs=1).to_json()
    shared = ev.run(120, seed=5, days=60, jobs=2).to_json()
    assert alone == shared
    for key in HEADLINE:
        assert key in alone and (alone[key] is None or 0 <= alone[key] <= 1), key
    assert alone["auc_seller"] >= 0.9 and alone["steady_cold_share"] == 0


def test_measures_are_what_their_names_say():
    from scenarios.verdicts.measures import Scored, auc, headline, weekly_change_rate

    assert auc([3, 4], [1, 2]) == 1.0 and auc([1, 2], [3, 4]) == 0.0 and auc([2], [2]) == 0.5
    row = lambda archetype, category, weekly=(), kind="owner", seller=0, buyer=0, open_rate=0.0: Scored(  # noqa: E731
        "c", archetype, kind, max(seller, buyer), category, seller, buyer, open_rate, weekly)
    assert weekly_change_rate([row("steady", "cool", ("cool", "warm", "warm", "cool")),
                               row("surging_seller", "hot", ("cool", "hot"))]) == round(2 / 3, 4)
    figures = headline([row("surging_seller", "hot", seller=90), row("steady", "hot", seller=85, open_rate=60.0),
                        row("steady", "cold", open_rate=55.0), row("active_buyer", "warm", kind="buyer", buyer=70)])
    assert (figures["hot_precision"], figures["hot_recall_sellers"], figures["hot_recall_buyers"]) == (0.5, 1.0, 0.0)
    assert figures["steady_cold_share"] == 0.5 and figures["auc_seller"] == 1.0
