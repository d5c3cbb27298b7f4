"""Broadcast's face: the web app (webhooks in, pages for a person), the command line, and the
background service that keeps delivery, re-scoring and the sync schedule running.

Owns: the app factory and error handling (`app`, `runtime`), the webhook endpoints
(`webhooks`), the pages and their templates (`pages`, `templates/`), the "Play a story" control
(`live`) and the protocol of the player behind it (`player`; the player itself is handed in by
whoever composes the apps with the simulator), the CLI commands (`cli`, `pipeline_cli`) and the
service (`service`).

May import every other package of `integration`; nothing in `integration` imports it (it is
the top of the house). `integration.create_app` is this package's `create_app`.
"""
from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
