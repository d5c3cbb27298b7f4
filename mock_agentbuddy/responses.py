"""JSON responses without Flask's key sorting: pages of 500 records are serialised often."""
from __future__ import annotations

import json
from typing import Any

from flask import Response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
