"""Webhooks that arrive together share one transaction, and lose none of their guarantees.

A burst of Resend webhooks is committed in groups (group_commit.py): every webhook still gets
its own answer, a 2xx still means its event is stored and queued for AgentBuddy, a webhook
delivered twice inside one group still counts once, and one webhook that breaks its group's
transaction fails only itself.
"""
from __future__ import annotations

import threading
from datetime import timedelta

from integration.engagement.pipeline.group_commit import GroupCommit, committer_for


def _together(count: int, action) -> list:
    """Run `action(i)` from `count` threads released at once; their results in order."""
    results: list = [None] * count
    gate = threading.Barrier(count)

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = action(i)
        except Exception as error:  # noqa: BLE001 - the test reads it
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_burst_of_webhooks_is_stored_once_each_and_queued_for_agentbuddy(broadcast, resend):
    emails = [broadcast.send("ab_contact_maria") for _ in range(6)]
    later = broadcast.clock.now() + timedelta(minutes=20)  # a person reading it, not a proxy at delivery
    payloads = [p for email in emails for p in (resend.payload("email.delivered", email),
                                                resend.payload("email.opened", email, at=later))]
    signed = [resend.signed(p) for p in payloads]
    signed.append(resend.signed(payloads[0], message_id="msg_again"))  # the same event under a new message id
    from integration.engagement.pipeline import ingest

    results = _together(len(signed), lambda i: ingest.ingest_provider_webhook(
        broadcast.db, broadcast.org, signed[i][0], signed[i][1], broadcast.clock, secret=resend.secret))

    statuses = [r.status for r in results]
    assert statuses.count("accepted") == len(payloads) and statuses.count("duplicate") == 1, statuses
    stored = broadcast.stored_events()
    assert len(stored) == len(payloads)
    assert len(broadcast.outbox_rows("event")) == len(payloads)
    with broadcast.db.transaction(readonly=True) as tx:
        opens = tx.fetchval("SELECT total_opens FROM contact_metrics WHERE organization_id = ? AND contact_id = ?",
                            (broadcast.org, "ab_contact_maria"))
    assert opens == 6


def test_one_failing_webhook_fails_alone(database):
    committer = GroupCommit(database)
    with database.transaction() as tx:
        tx.execute("CREATE TABLE gc_probe (n INTEGER PRIMARY KEY)")
    release = threading.Event()
    leader_started = threading.Event()

    sizes: list[int] = []

    def batch(tx, pending):
        sizes.append(len(pending))
        for item in pending:
            if item.work == "hold":
                leader_started.set()
                release.wait(10)  # keep the first transaction open so the others queue behind it
            elif item.work == 3:
                raise ValueError("a webhook the pipeline cannot take")
            else:
                tx.execute("INSERT INTO gc_probe (n) VALUES (?)", (item.work,))
            item.outcome = f"stored {item.work}"
        return None

    holder = threading.Thread(target=committer.run, args=("hold", batch))
    holder.start()
    leader_started.wait(10)
    results: list = [None] * 5

    def submit(i: int) -> None:
        try:
            results[i] = committer.run(i, batch)
        except ValueError as error:
            results[i] = error

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    while len(committer._queue) < 5:  # all five wait behind the open transaction
        threading.Event().wait(0.01)
    release.set()
    for thread in threads + [holder]:
        thread.join(30)

    assert [r if isinstance(r, str) else "failed" for r in results] == [
        "stored 0", "stored 1", "stored 2", "failed", "stored 4"]
    with database.transaction(readonly=True) as tx:
        assert sorted(r["n"] for r in tx.fetchall("SELECT n FROM gc_probe")) == [0, 1, 2, 4]
    assert max(sizes) == 5  # the five did share a transaction before one broke it


def test_each_database_has_one_committer(database):
    assert committer_for(database) is committer_for(database)


def test_inside_an_open_transaction_the_webhook_joins_it(database):
    committer = GroupCommit(database)

    def batch(inner, pending):
        for item in pending:
            item.outcome = inner
        return None

    with database.transaction() as tx:
        assert committer.run("one", batch) is tx
