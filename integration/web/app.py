"""Broadcast's web app: provider webhooks and AgentBuddy notifications in, pages for a person.

`create_app(config, db=None, clock=None, doorbell=None, player=None)` builds an isolated app (no
module-level state); the database, clock and delivery doorbell travel in
`app.extensions["integration"]` (`runtime`), the story player (`player.StoryPlayer`, handed in by
whoever composes the apps with the simulator) in `app.extensions["story_player"]`. Every API error is RFC 9457 problem+json with a stable `code`; forms on the pages
carry a CSRF token (Flask-WTF's `CSRFProtect`), the signed webhooks do not need one.
"""
from __future__ import annotations

import secrets

from flask import Flask, Response, current_app
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from common.clock import Clock, SystemClock
from integration.config import IntegrationConfig
from integration.outbox import Doorbell
from integration.storage import Database

from . import live, pages, webhooks
from .player import StoryPlayer
from .runtime import CODES, TITLES, Runtime, problem

MAX_BODY_BYTES = 1024 * 1024  # a Resend event is a few KiB; anything near this is not one


def create_app(
    config: IntegrationConfig, db: Database | None = None, clock: Clock | None = None,
    doorbell: Doorbell | None = None, player: StoryPlayer | None = None,
) -> Flask:
    """An app over `db` (opened from `config.database_url` and migrated when not given)."""
    if db is None:
        db = Database.from_url(config.database_url)
        db.migrate()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME="broadcast_session",  # the fake on the same loopback host keeps its own
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_FIELD_NAME="csrf",
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session, as a page left open must still submit
    )
    app.extensions["integration"] = Runtime(config, db, clock or SystemClock(), doorbell or Doorbell())
    csrf = CSRFProtect(app)
    for blueprint in (webhooks.providers, webhooks.notifications, webhooks.health):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    if player is not None:
        app.extensions["story_player"] = player
    app.register_blueprint(pages.bp)
    app.register_blueprint(live.bp)
    app.register_error_handler(CSRFError, form_expired)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    return app


def form_expired(error: CSRFError) -> Response:
    """A POST without a valid CSRF token: problem+json for a script, the page saying so for a person."""
    if live.wants_json():
        return problem(400, "invalid_request", f"the CSRF token is missing or invalid ({error.description}); "
                       "reload the page and try again")
    return pages.form_expired(error)


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return problem(status, CODES.get(status, "invalid_request"), exc.description or TITLES.get(status, "Error"))


def unexpected_error(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error")
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")
