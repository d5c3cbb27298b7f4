"""The fake AgentBuddy as a story drives it, through its admin API only: its clock kept with
Broadcast's, the story's offices and people put into the connected account, the edits an
agent makes, and the story's outages as fault windows on the fake's own clock."""
from __future__ import annotations

from typing import Any

from mock_agentbuddy.admin.client import AdminClient
from scenarios.story import model as m

from .log import iso
from .stack import SettableClock

FAULT_WORDS = {"agentbuddy_down": "outage (503 on every call)", "rate_limit_storm": "429 storm"}


class AgentBuddySide:
    def __init__(self, admin: AdminClient, clock: SettableClock) -> None:
        self.admin = admin
        self.clock = clock
        self.stepped_to = None        # the instant the fake's clock was last set to
        self.account_id: str | None = None
        self.faults_installed = False

    def in_step(self) -> None:
        """Bring the fake's clock to ours before anything talks to it (signatures, tokens, stamps)."""
        self.step_to(self.clock.now())

    def step_to(self, at) -> None:
        if self.stepped_to != at:
            self.admin.set_clock(at)
            self.stepped_to = at

    def account(self, account_id: str | None = None) -> dict:
        """The account the story plays in: the connected one, or the fake's first."""
        accounts = self.admin.world()["accounts"]
        account = next((a for a in accounts if a["id"] == account_id), None) if account_id else accounts[0]
        if account is None:
            raise LookupError(f"the fake AgentBuddy has no account {account_id!r} (the connection's account)")
        self.account_id = account["id"]
        return account

    def populate(self, scenario: m.Scenario, account: dict) -> dict[str, str]:
        """The scenario's offices and people, created in the account; scenario id -> AgentBuddy id."""
        offices: dict[str, str] = {}
        head = account["offices"][0]["id"] if account["offices"] else None
        for office in scenario.world.offices:
            parent = offices.get(office.parent, head) if office.parent else None
            created = self.admin.mutate("office", "create", changes={"name": office.name, "parent_office_id": parent},
                                        account_id=self.account_id)
            offices[office.id] = created["record"]["id"]
        ab_ids: dict[str, str] = {}
        for contact in scenario.all_contacts():
            custom: dict[str, Any] = {"scenario_id": contact.id}
            if contact.ownership_years is not None:
                custom["ownership_years"] = contact.ownership_years
            changes = {"first_name": contact.first_name, "last_name": contact.last_name or "-",
                       "email": contact.email, "contact_type": contact.type, "email_opt_in": contact.email_opt_in,
                       "tags": list(contact.tags), "custom_fields": custom, "status": "active"}
            if contact.office:
                changes["office_id"] = offices[contact.office]
            created = self.admin.mutate("contact", "create", changes=changes, account_id=self.account_id)
            ab_ids[contact.id] = created["record"]["id"]
        return ab_ids

    def change(self, change: m.AgentBuddyChange, ab_id: str) -> str:
        """An agent edits or deletes a contact in AgentBuddy; the words for the log."""
        self.in_step()
        if change.op == "delete":
            self.admin.mutate("contact", "delete", record_id=ab_id, account_id=self.account_id)
            return "deleted in AgentBuddy"
        changes = dict(change.changes)
        self.admin.mutate("contact", "update", record_id=ab_id, changes=changes, account_id=self.account_id)
        return f"edited in AgentBuddy: {', '.join(sorted(changes))}"

    def install_faults(self, scenario: m.Scenario) -> None:
        """Outages and 429 storms become windows on the fake's own clock, installed once."""
        specs = []
        for fault in scenario.faults:
            start, end = scenario.at(fault.day, fault.hour), scenario.at(fault.day, fault.hour + fault.hours)
            window = {"start": iso(start), "end": iso(end), "operations": ["*"]}
            if fault.kind == "agentbuddy_down":
                specs.append({"kind": "error", "status": 503, "retry_after": 300, **window})
            elif fault.kind == "rate_limit_storm":
                specs.append({"kind": "rate_limit", "retry_after": 120, **window})
        if specs:
            self.admin.set_faults(specs, seed=scenario.seed)
            self.faults_installed = True

    def remove_faults(self) -> None:
        if self.faults_installed:
            self.admin.set_faults([])
            self.faults_installed = False
