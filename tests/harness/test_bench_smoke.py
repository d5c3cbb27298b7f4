"""The benchmark tools still work, at a size a test can afford (their figures are `make bench`'s,
never asserted here): the load generator reads keep-alive answers, and a small campaign burst
reaches AgentBuddy with nothing lost or doubled."""
from __future__ import annotations

from flask import Flask

from bench import burst
from bench.loadgen import load
from common.serving import serve
from integration.storage import Database


def test_the_load_generator_reads_every_answer_on_keep_alive_connections():
    app = Flask("loadgen-smoke")
    app.add_url_rule("/hello", "hello", lambda: {"hello": "world"})
    with serve(app, name="loadgen-smoke") as served:
        figures = load(served.url, "/hello", connections=2, seconds=0.5, warmup=0.1)
    assert figures["requests"] > 0
    assert figures["statuses"] == {"200": figures["requests"]}
    assert figures["connections"] == 2 and "keep-alive" in figures["tool"]


def test_a_small_campaign_burst_reaches_agentbuddy_once_each(tmp_path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'burst.sqlite3'}")
    db.migrate()
    try:
        figures = burst._one_database(db, recipients=60, senders=2, processes=1, max_seconds=60.0)
    finally:
        db.close()
    assert figures["refused"] == 0
    assert figures["acknowledged"] == figures["webhooks_planned"] >= 120  # sent + delivered each, and more
    assert figures["lost"] == 0 and figures["doubled"] == 0
    assert figures["received"] == figures["events_for_agentbuddy"]
