"""The fake AgentBuddy: a seeded CRM world behind the contract in `openapi/agentbuddy.yaml`.

`create_app(config)` builds one isolated instance (state lives on the app, never in module
globals); see docs/ARCHITECTURE.md for how the rooms of the project meet it.
"""
from __future__ import annotations

import time

from flask import Flask

from .clock import Clock
from .config import ClientSpec, MockConfig, RetryPolicy
from .state import MockState

__all__ = ["create_app", "MockConfig", "ClientSpec", "RetryPolicy", "state_of", "stop_background"]


def create_app(config: MockConfig | None = None, *, clock: Clock | None = None, sleeper=time.sleep) -> Flask:
    """Build a fake. `clock` and `sleeper` are injectable so tests control time and never wait."""
    from . import admin, errors, faults, inbound, notifications, observe, ratelimit, resources, ui, validation
    from .churn import ChurnRunner
    from .oauth import init_oauth, require_scope  # imported here: written by another room

    config = config or MockConfig()
    app = Flask(__name__)
    app.json.sort_keys = False
    state = MockState(config, clock=clock, sleeper=sleeper)
    app.extensions["mock_state"] = state
    notifications.init_notifications(state)
    if config.churn > 0:
        app.extensions["mock_churn"] = ChurnRunner(state, config.churn)

    # before_request hooks run in this order, after_request hooks in reverse: the journal sees
    # the final response, the strict check sees every header; the operation is identified (and a
    # request missing required headers set aside as malformed) before the rate limit counts.
    errors.init_errors(app)
    observe.init_observe(app, state)
    validation.init_strict_responses(app, state)
    validation.init_validation(app, state)  # identifies the operation (and missing headers) first
    ratelimit.init_ratelimit(app, state)
    faults.init_faults(app, state)
    init_oauth(app, state)
    app.register_blueprint(resources.build_blueprint(state, require_scope))
    app.register_blueprint(inbound.build_blueprint(state, require_scope))
    app.register_blueprint(admin.build_blueprint(state))
    app.register_blueprint(ui.build_blueprint(state))
    return app


def state_of(app: Flask) -> MockState:
    return app.extensions["mock_state"]


def stop_background(app: Flask) -> None:
    """Stop the notifier and churn threads (servers and tests call this when done)."""
    churn = app.extensions.pop("mock_churn", None)
    if churn is not None:
        churn.stop()
    state_of(app).notifier.stop()
