"""How the kit changes the server's world: the partner's state hook, or the fake's admin API.

Sync and notification checks need records to change while they watch (in the spirit of Pact's
provider states). A partner gives `--state-hook CMD`; the kit runs

    CMD create contact        -> creates a live contact in the account of the kit's token
    CMD update contact ID     -> changes any CRM field of contact ID, so its updated_at moves on
    CMD delete contact ID     -> deletes contact ID (the API then serves it as a tombstone)

each printing one JSON object naming the record (`{"id": "..."}`) on stdout and exiting 0. The
hook gets AB_KIT_URL (the server) and AB_KIT_ACCOUNT_ID (the token's account) in its
environment. A hook that exits non-zero, prints no id or hangs stops the run with one sentence:
a broken fixture must never look like a broken server.

Against the fake, with no hook, the same changes go through `/__admin/mutate`; the admin API
also gives the kit a second account (tenant isolation) and the clock (token expiry).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from .model import KitError
from .probe import Probe, Unreachable

HOOK_TIMEOUT = 60


class Changer(Protocol):
    description: str

    def create_contact(self) -> str: ...
    def update_contact(self, contact_id: str) -> str: ...
    def delete_contact(self, contact_id: str) -> str: ...


@dataclass
class StateHook:
    command: str
    env: dict[str, str]
    description: str = "the state hook"

    def create_contact(self) -> str:
        return self._run("create", "contact")

    def update_contact(self, contact_id: str) -> str:
        return self._run("update", "contact", contact_id)

    def delete_contact(self, contact_id: str) -> str:
        return self._run("delete", "contact", contact_id)

    def _run(self, *args: str) -> str:
        try:
            argv = shlex.split(self.command) + list(args)
        except ValueError as error:
            raise KitError(f"The state hook command cannot be parsed ({error}).") from None
        shown = " ".join(shlex.quote(a) for a in argv)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=HOOK_TIMEOUT,
                                  env={**os.environ, **self.env})
        except FileNotFoundError:
            raise KitError(f"The state hook program {argv[0]!r} was not found.") from None
        except PermissionError:
            raise KitError(f"The state hook program {argv[0]!r} is not executable.") from None
        except subprocess.TimeoutExpired:
            raise KitError(f"The state hook `{shown}` did not finish within {HOOK_TIMEOUT} seconds.") from None
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no message"])[-1]
            raise KitError(f"The state hook `{shown}` failed with exit status {done.returncode}: {said}")
        try:
            record = json.loads(done.stdout)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            raise KitError(f"The state hook `{shown}` did not print a JSON object with the record's \"id\" on stdout.")
        return record["id"]


class FakeAdmin:
    """The fake AgentBuddy's `/__admin/` API over HTTP (only when the server has one)."""

    description = "the fake's admin API"

    def __init__(self, probe: Probe, account_id: str | None = None) -> None:
        self.probe = probe
        self.account_id = account_id  # where created records go: the kit's token's account

    @staticmethod
    def detect(probe: Probe) -> dict[str, Any] | None:
        """The world summary when the server is the fake with its admin API open, else None."""
        try:
            reply = probe.get("/__admin/world")
        except Unreachable:
            return None
        body = reply.json
        if reply.status == 200 and isinstance(body, dict) and isinstance(body.get("accounts"), list):
            return body
        return None

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        reply = self.probe.request(method, f"/__admin/{path}", json=body)
        if reply.status >= 300 or not isinstance(reply.json, dict):
            raise KitError(f"The fake's admin API refused {method} /__admin/{path} ({reply.status}).")
        return reply.json

    def create_contact(self) -> str:
        body = {"entity": "contact", "op": "create"}
        if self.account_id:
            body["account_id"] = self.account_id
        return self._call("POST", "mutate", body)["record"]["id"]

    def update_contact(self, contact_id: str) -> str:
        return self._call("POST", "mutate", {"entity": "contact", "op": "update", "id": contact_id,
                                             "changes": {}})["record"]["id"]

    def delete_contact(self, contact_id: str) -> str:
        return self._call("POST", "mutate", {"entity": "contact", "op": "delete", "id": contact_id})["record"]["id"]

    def now(self) -> datetime:
        text = self._call("GET", "clock")["now"]
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)

    def advance_clock(self, seconds: float) -> None:
        self._call("POST", "clock", {"advance_seconds": seconds})


def first_login(world: dict[str, Any], skip_account: str | None = None) -> tuple[str, str] | None:
    """(account id, an active agent's email) from the fake's world summary."""
    for account in world.get("accounts", []):
        if account.get("id") == skip_account:
            continue
        for agent in account.get("agents", []):
            if agent.get("is_active") and not agent.get("deleted_at"):
                return account["id"], agent["email"]
    return None


def confidential_client(world: dict[str, Any]) -> tuple[str, str | None] | None:
    for client in world.get("clients", []):
        if client.get("confidential"):
            return client["client_id"], client["client_secret"]
    return None
