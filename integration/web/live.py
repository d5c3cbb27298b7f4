"""`/live/`: the "Play a story" control's endpoints and the fragments the pages poll while it plays.

The control itself is `StoryPlayer`'s (see `player`); this module turns form posts into its
calls and its answers into pages a person can act on. Each POST answers the way it was asked:
a `fetch` that accepts JSON gets the new status, or RFC 9457 problem+json on bad input (an
invalid scenario file's every message in `errors`); a plain form post gets a redirect back with
the outcome flashed. Every POST carries the pages' CSRF token (Flask-WTF), as a form field or
the `X-CSRFToken` header.

Watching is plain polling: an element with `data-live="URL"` is re-fetched by base.html's few
lines of inline script and swapped when its HTML changed, so the pages and their live copies
are the same templates (no front-end build, nothing fetched from elsewhere).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request
from werkzeug.datastructures import FileStorage

from integration import outbox
from integration.agentbuddy import connections

from .player import FULL_SPEED, MAX_SPEED, MIN_SPEED, NoPlayer, PlayerError, PlayerStatus, StoryPlayer
from .runtime import problem, runtime

MAX_SCENARIO_BYTES = 256 * 1024  # the library's longest story is ~4 KiB; a bigger upload is not a scenario
SETTINGS = "/settings/integrations/agentbuddy"
SPEEDS = (("0.5", "½ day a second"), ("1", "1 day a second"), ("2", "2 days a second"), ("5", "5 days a second"),
          ("20", "20 days a second"), ("full", "full speed"))

bp = Blueprint("live", __name__, url_prefix="/live")


def player() -> StoryPlayer:
    return current_app.extensions.get("story_player") or NoPlayer()


def connected() -> bool:
    rt = runtime()
    connection = connections.get_connection(rt.db, rt.config.default_organization_id)
    return connection is not None and connection.status == connections.ACTIVE


@bp.app_context_processor
def _player_globals() -> dict[str, Any]:
    """The status bar on every page and the story card read these; each costs an in-memory call."""
    return {"story_status": player().status, "story_list": player().stories, "speeds": SPEEDS,
            "no_player_reason": NoPlayer.REASON, "agentbuddy_ui": _agentbuddy_root()}


def _agentbuddy_root() -> str:
    """Where a person sees AgentBuddy's side (the fake's /ui pages live at its root, not under /v1)."""
    url = runtime().config.agentbuddy_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.headers.get("X-Requested-With") == "fetch"


def _answer(status: PlayerStatus, message: str) -> Response:
    if wants_json():
        return jsonify(_status_json(status))
    flash(message, "ok")
    return redirect(_back())


def _refuse(status: int, code: str, detail: str, errors: list[str] | None = None) -> Response:
    if wants_json():
        return problem(status, code, detail, [{"field": "scenario", "message": e} for e in errors or []] or None)
    flash(detail + ("\n" + "\n".join(errors) if errors else ""), "error")
    return redirect(_back())


def _back() -> str:
    """Back to the page the form was on (only a path of this app, never another host)."""
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else SETTINGS


def _status_json(status: PlayerStatus) -> dict[str, Any]:
    data = status.to_json()
    data["connected"] = connected()
    return data


def _calling(action: Callable[[], PlayerStatus], done: str) -> Response:
    try:
        status = action()
    except PlayerError as error:
        return _refuse(error.status, error.code, error.detail, error.errors)
    return _answer(status, done)


# ----------------------------------------------------------------------------- reading

@bp.get("/status")
def status():
    data = _status_json(player().status())
    data["delivery"] = outbox.counts(runtime().db, runtime().config.default_organization_id)
    return jsonify(data)


@bp.get("/stories")
def stories():
    return jsonify({"stories": [s.__dict__ for s in player().stories()]})


@bp.get("/bar")
def bar():
    """The status bar's own HTML (polled by every page)."""
    return render_template("_story_bar.html")


@bp.get("/panel")
def panel():
    """The story card's changing part: state, buttons, log, people, expectations."""
    return render_template("_story_panel.html", connected=connected())


# ----------------------------------------------------------------------------- commands

@bp.post("/play")
def play():
    speed, problems = _speed(request.form.get("speed", "1"))
    name = (request.form.get("story") or "").strip()
    upload: FileStorage | None = request.files.get("scenario")
    text = None
    if upload is not None and upload.filename:
        raw = upload.read(MAX_SCENARIO_BYTES + 1)
        if len(raw) > MAX_SCENARIO_BYTES:
            problems.append(f"scenario: the file is larger than {MAX_SCENARIO_BYTES // 1024} KiB; a scenario is a few KiB of YAML")
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append("scenario: the file is not UTF-8 text; a scenario is a YAML file")
    if name and text is not None:
        problems.append("story: choose a story from the library or upload a file, not both")
    elif not name and text is None and not any(p.startswith("scenario:") for p in problems):
        problems.append("story: choose a story from the library or upload a scenario file")
    if problems:
        return _bad_request(problems)
    source = upload.filename if text is not None and upload is not None else "upload"
    what = name or f"the uploaded scenario {source}"
    return _calling(lambda: player().play(name or None, text=text, source=source, speed=speed), f"Playing {what}.")


@bp.post("/pause")
def pause():
    return _calling(player().pause, "Paused.")


@bp.post("/resume")
def resume():
    return _calling(player().resume, "Playing again.")


@bp.post("/step")
def step():
    return _calling(player().step, "Playing one day, then pausing.")


@bp.post("/stop")
def stop():
    return _calling(player().stop, "Stopping after the day being played.")


@bp.post("/speed")
def speed():
    value, problems = _speed(request.form.get("speed", ""))
    if problems:
        return _bad_request(problems)
    return _calling(lambda: player().set_speed(value), "Speed changed.")


def _speed(raw: str) -> tuple[float | None, list[str]]:
    raw = (raw or "").strip().lower()
    if raw == "full":
        return FULL_SPEED, []
    try:
        value = float(raw)
    except ValueError:
        return None, [f"speed: {raw!r} is neither a number of simulated days per second nor 'full'"]
    if not MIN_SPEED <= value <= MAX_SPEED:
        return None, [f"speed: {value:g} days per second is outside {MIN_SPEED:g}–{MAX_SPEED:g} (or 'full')"]
    return value, []


def _bad_request(problems: list[str]) -> Response:
    if wants_json():
        errors = [{"field": p.split(":", 1)[0], "message": p.split(":", 1)[1].strip()} for p in problems]
        return problem(400, "invalid_request", "; ".join(problems), errors)
    flash("; ".join(problems), "error")
    return redirect(_back())
