"""Broadcast's side of the integration. See docs/ARCHITECTURE.md.

`create_app` is imported lazily so `import integration.db` (CLI, sync, tests) does not pay for
Flask and the engagement pipeline.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from integration.web import create_app

        return create_app
    raise AttributeError(f"module 'integration' has no attribute {name!r}")
