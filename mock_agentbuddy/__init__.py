"""The fake AgentBuddy: a seeded CRM world behind the contract in `openapi/agentbuddy.yaml`.

`create_app(config)` builds one isolated instance (state lives on the app, never in module
globals). The package follows a request's flow:

    config.py       how one fake is shaped (world size, seed, clients, limits, faults)
    state.py        everything one running fake knows; `current_state()` for views
    responses.py    JSON and problem+json, the one shape of every answer
    world/          the seeded world as plain data: records, connections, mutations, churn
    oauth/          the authorization server (Authlib), its pages, the API's scope guard
    api/            the read API and the hooks around every /v1 request (contract checks,
                    rate limit, faults, journal)
    inbound/        webhooks and pushes from Broadcast, landing on the contact
    notifications.py change notifications to Broadcast
    admin/          the `/__admin/` back door and `AdminClient`, its one Python client
    pages/          `/ui/`, what an AgentBuddy user sees
    defects.py      bugs planted on purpose (`--defect`), to prove a conformance kit catches them
    verdict/        the fake judging its client from its own logs (`/__admin/verdict`)
    cli.py          `ab-harness mock` / `python -m mock_agentbuddy`

Dependencies point one way: `defects` is a leaf, `config` and `responses` import only it;
`world` ← `state` ← `api` ← `inbound`, `admin`, `pages`; `verdict` reads only the logs it is
handed (`admin` serves it); `oauth` needs only `config`, `defects` and `responses` (the state it
serves is handed to `init_oauth`), and `api` and `inbound` import its guard. Nothing imports the
app factory but the servers and tests that build an app. Neither this package
nor the integration imports the other; see docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .config import ClientSpec, MockConfig, RetryPolicy

if TYPE_CHECKING:
    from flask import Flask

    from common.clock import Clock

    from .state import MockState

__all__ = ["create_app", "MockConfig", "ClientSpec", "RetryPolicy", "state_of", "stop_background"]

CHURN = "mock_churn"  # app.extensions key of the background churn runner


def create_app(config: MockConfig | None = None, *, clock: "Clock | None" = None, sleeper=time.sleep) -> "Flask":
    """Build a fake. `clock` and `sleeper` are injectable so tests control time and never wait."""
    # Imported here, not at the top: `mock_agentbuddy.config` and `mock_agentbuddy.admin.client`
    # must load without Flask, Authlib and openapi-core (a client process pays for none of the app).
    from flask import Flask

    from . import notifications, responses
    from .admin import views as admin
    from .api import faults, journal, ratelimit, resources, subscriptions, validation
    from .inbound import push, webhooks
    from .oauth import init_oauth
    from .pages import docs
    from .pages import views as pages
    from .state import EXTENSION, MockState
    from .world.churn import ChurnRunner

    config = config or MockConfig()
    app = Flask(__name__, template_folder=None)  # each blueprint carries its own templates
    app.json.sort_keys = False
    state = MockState(config, clock=clock, sleeper=sleeper)
    app.extensions[EXTENSION] = state
    notifications.init_notifications(state)
    if config.churn > 0:
        app.extensions[CHURN] = ChurnRunner(state, config.churn)

    # before_request hooks run in this order, after_request hooks in reverse: the journal sees
    # the final response, the strict check sees every header; the operation is identified (and a
    # request missing required headers set aside as malformed) before the rate limit counts.
    responses.init_errors(app, config.defects)
    journal.init_journal(app)
    validation.init_strict_responses(app, config)
    validation.init_validation(app, config)  # identifies the operation (and missing headers) first
    ratelimit.init_ratelimit(app, state)
    faults.init_faults(app, state)
    init_oauth(app, state)
    for blueprint in (resources.bp, subscriptions.bp, webhooks.bp, push.bp, admin.bp, pages.bp, docs.bp):
        app.register_blueprint(blueprint)
    return app


def state_of(app: "Flask") -> "MockState":
    """The state of a built app (outside a request; views use `state.current_state()`)."""
    return app.extensions["mock_state"]  # state.EXTENSION, spelled out: this module loads without Flask


def stop_background(app: "Flask") -> None:
    """Stop the notifier and churn threads (servers and tests call this when done)."""
    churn = app.extensions.pop(CHURN, None)
    if churn is not None:
        churn.stop()
    state_of(app).notifier.stop()
