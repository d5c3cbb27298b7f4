"""The engagement pipeline: the pure core (`integration.engagement`) wired to storage and the outbox.

Owns, along the data:
* `campaigns` — campaigns and sends: the record that lets a provider webhook find its contact,
  and the consent gate every email passes;
* `ingest` — provider webhooks (and the simulator's events) in: verify, store, fold into the
  contact's activity, re-score, queue for AgentBuddy — all in one transaction;
* `store` — reading and writing derived engagement (activity, 5.2 metrics, 5.3 scores, baselines);
* `rescore` — the daily batch re-score of every contact.

May import: the pure core, `integration.outbox` (to queue messages), `integration.sync`
(contacts and their email statuses), `integration.storage`, `common`. The pure core never imports
this package. Imported by `web` (endpoints, service, CLI) and the simulator.
"""
