"""Every error the framework raises (unknown route, wrong method, body too large, a crash)
leaves as problem+json with a stable code, like the errors our own views return."""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from .problems import problem

log = logging.getLogger("mock_agentbuddy")

CODES = {400: "invalid_request", 401: "invalid_token", 403: "insufficient_scope", 404: "not_found",
         405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
         429: "rate_limited", 503: "service_unavailable"}


def init_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        code = CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
        detail = error.description or error.name
        if status == 404:
            detail = f"No route {request.method} {request.path}."
        elif status == 405:
            detail = f"{request.method} is not allowed on {request.path}."
        response = problem(status, code, error.name, detail)
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def crash(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal_error", "Internal server error",
                       f"The fake crashed handling this request ({type(error).__name__}); see its log.")
