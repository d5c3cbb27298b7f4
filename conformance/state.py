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
also gives the kit a second account (tenant isolation) and the clock (token expiry). The kit
speaks to it with the fake's own `AdminClient` (the one client of that API in the project; it
loads nothing of the fake but itself).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Protocol

import requests

from mock_agentbuddy.admin.client import AdminClient, AdminError

from .model import KitError

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


class AdminChanger:
    """Changes through the fake's admin API, by its one client (`AdminClient`), into the account
    of the kit's token."""

    description = "the fake's admin API"

    def __init__(self, admin: AdminClient, account_id: str | None = None) -> None:
        self.admin = admin
        self.account_id = account_id

    def create_contact(self) -> str:
        with admin_refusals():
            return self.admin.mutate("contact", "create", account_id=self.account_id)["record"]["id"]

    def update_contact(self, contact_id: str) -> str:
        with admin_refusals():
            return self.admin.mutate("contact", "update", contact_id, changes={})["record"]["id"]

    def delete_contact(self, contact_id: str) -> str:
        with admin_refusals():
            return self.admin.mutate("contact", "delete", contact_id)["record"]["id"]


def detect_admin(url: str, timeout: float) -> tuple[AdminClient, dict[str, Any]] | None:
    """The fake's admin client and world summary when the server is the fake with its admin API
    open; None for any other server (or a fake whose admin API is blocked)."""
    admin = AdminClient(url, timeout=timeout)
    try:
        world = admin.world()
    except (AdminError, requests.RequestException, ValueError):
        return None
    return (admin, world) if isinstance(world, dict) and isinstance(world.get("accounts"), list) else None


@contextmanager
def admin_refusals() -> Iterator[None]:
    """An admin call that fails stops the run: it is the kit's fixture, not the server, that broke."""
    try:
        yield
    except AdminError as error:
        raise KitError(f"The fake's admin API refused {error.method} /__admin/{error.path} ({error.status}).") from None
    except requests.RequestException as error:
        raise KitError(f"The fake's admin API did not answer ({type(error).__name__}).") from None


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
