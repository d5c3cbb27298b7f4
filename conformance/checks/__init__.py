"""The provider suite, by area, in the order it runs.

Each module declares its checks with `@check(...)`; the suite is every `Check` a module defines,
in the order it is written. Areas run in the order below (OAuth first: everything else needs
tokens), and a check marked `last` runs after all the others.
"""
from __future__ import annotations

from ..model import Check
from . import api, notifications, oauth, push, sync, webhooks

AREAS = {
    "oauth": (oauth, "OAuth 2.0: authorization code + PKCE, refresh rotation, revocation"),
    "api": (api, "Resource API: authentication, scopes, tenants, contract shape, errors, rate limits, paging"),
    "sync": (sync, "Sync semantics: sweeps, ordering, updated_since, tombstones, filters, cursors"),
    "webhooks": (webhooks, "Inbound Option A: Standard Webhooks signed POSTs from Broadcast"),
    "push": (push, "Inbound Option B: the bearer-authenticated push API"),
    "notifications": (notifications, "Change notifications to Broadcast: subscriptions, signing, retries"),
}


def all_checks() -> list[Check]:
    ordered = [value for module, _ in AREAS.values() for value in vars(module).values() if isinstance(value, Check)]
    return [c for c in ordered if not c.last] + [c for c in ordered if c.last]


def select(only: tuple[str, ...] = ()) -> list[Check]:
    """Checks whose area or id is named in `only` (an id prefix ending in '.' names a group)."""
    checks = all_checks()
    if not only:
        return checks
    return [c for c in checks if any(c.area == o or c.id == o or c.id.startswith(o.rstrip(".") + ".") for o in only)]
