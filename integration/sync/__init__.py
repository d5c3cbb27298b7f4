"""Sync: AgentBuddy's offices, agents, contacts and properties into Broadcast's tables.

Owns, along the data:
* `streams` — the four streams declared as data (path, key, scope, mapping, conflict rules);
* `declarations`, `checks`, `mapping`, `conflicts` — which field goes to which column, what the
  contract's JSON Schema says is valid, how a record becomes a row, and who wins when both
  sides changed a contact (spec section 8);
* `engine` — the one loop; `pages` — one page into a table; `prefetch` — the next page while
  this one is written;
* `checkpoints` — where the cursor and high-water marks are kept, so a killed run resumes;
  `leases` — one run per organization; `runlog` — what each run did; `quarantine` — records
  that failed validation;
* `pass_requests` — a change notification asking a running sync for another pass;
  `notifications` — AgentBuddy's change notifications in; `scheduler` — incremental syncs on a
  clock;
* `contacts` — Broadcast's own edits to synced contacts (archive, tags, email status) and the
  read of its copy.

May import: `integration.agentbuddy`, `integration.storage`, `integration.config`, `contract`,
`common`. Imported by the engagement pipeline (contacts), `web` and the simulator.
"""
from __future__ import annotations

from .engine import sync
from .leases import SyncBusy
from .pass_requests import request_pass
from .summary import EntitySummary, SyncSummary

__all__ = ["EntitySummary", "SyncBusy", "SyncSummary", "request_pass", "sync"]
