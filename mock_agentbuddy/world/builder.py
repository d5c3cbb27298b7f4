"""The seeded relational world: agencies (accounts) with an office hierarchy, agents,
contacts and the properties they own.

Same seed and sizes give the same world byte for byte: all randomness comes from one
`random.Random(seed)` and a Faker instance seeded once to fill small pools of names and
streets. Per-record work is only cheap draws from those pools, so 100,000 contacts take
seconds, not minutes.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime

from faker import Faker

from common.timestamps import format_us, to_us

from . import vocabulary as vocab
from .collection import Collection

ENTITIES = ("offices", "agents", "contacts", "properties")
THREE_YEARS_US = 3 * 365 * 86_400 * 1_000_000


@dataclass
class Account:
    id: str
    name: str
    domain: str
    state: str
    created_at: str
    collections: dict[str, Collection] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"id": self.id, "name": self.name, "created_at": self.created_at}


@dataclass(frozen=True)
class AgentRef:
    """What the OAuth server needs to know about a login."""

    id: str
    email: str
    account_id: str
    first_name: str
    last_name: str
    is_active: bool


@dataclass
class World:
    seed: int
    epoch_us: int
    accounts: dict[str, Account]
    counters: dict[str, int]  # last number used per id prefix, so new records get fresh ids
    builder: "_Builder | None" = None  # draws new records (churn, admin create) from the same pools
    markets: dict[str, tuple] = field(default_factory=dict)

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def collection(self, account_id: str, entity: str) -> Collection:
        return self.accounts[account_id].collections[entity]

    def find_agent_by_email(self, email: str) -> AgentRef | None:
        wanted = (email or "").strip().lower()
        for account in self.accounts.values():
            for agent in account.collections["agents"].records.values():
                if agent["email"].lower() == wanted and agent.get("deleted_at") is None:
                    return AgentRef(agent["id"], agent["email"], account.id, agent["first_name"],
                                    agent["last_name"], bool(agent["is_active"]))
        return None

    def to_jsonable(self) -> dict:
        return {
            "seed": self.seed,
            "accounts": [
                {**account.summary(), "domain": account.domain,
                 **{entity: [account.collections[entity].records[key[1]]
                             for key in account.collections[entity].keys]
                    for entity in ENTITIES}}
                for account in self.accounts.values()
            ],
        }


ID_FORMATS = {"accounts": ("ab_account_", 3), "offices": ("ab_office_", 3),
              "agents": ("ab_agent_", 3), "contacts": ("ab_contact_", 5),
              "properties": ("ab_prop_", 5)}


class _Pools:
    """Small Faker-made pools; every per-record draw picks from these with the seeded Random."""

    def __init__(self, seed: int) -> None:
        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.first_names = sorted({fake.first_name() for _ in range(600)})
        self.last_names = sorted({fake.last_name() for _ in range(600)})
        self.streets = sorted({fake.street_name().rsplit(" ", 1)[0] for _ in range(500)})


def _weighted(pairs: list[tuple[str, int]]) -> list[str]:
    return [value for value, weight in pairs for _ in range(weight)]


class _Builder:
    """Draws every record of the world from one seeded Random.

    Kept whole (about 170 lines): the order of draws *is* the world, so the entity builders
    share one Random and one id counter, and splitting them would spread that order over
    several objects that must still be called in lock-step.
    """

    def __init__(self, seed: int, epoch: datetime) -> None:
        self.rng = random.Random(seed)
        self.pools = _Pools(seed)
        self.epoch_us = to_us(epoch)
        self.counters = {entity: 0 for entity in ID_FORMATS}
        self.logins: set[str] = set()
        self.contact_types = _weighted(vocab.CONTACT_TYPES)
        self.property_types = _weighted(vocab.PROPERTY_TYPES)
        self.listing_statuses = _weighted(vocab.LISTING_STATUSES)

    # -- small draws ---------------------------------------------------------------------
    def pick(self, items: list):
        return items[int(self.rng.random() * len(items))]

    def between(self, low: int, high: int) -> int:
        """Like randint, inclusive, at a fraction of its cost (it is called millions of times)."""
        return low + int(self.rng.random() * (high - low + 1))

    def next_id(self, entity: str) -> str:
        prefix, width = ID_FORMATS[entity]
        self.counters[entity] += 1
        return f"{prefix}{self.counters[entity]:0{width}d}"

    def stamps(self) -> tuple[int, int]:
        """created_at, updated_at (whole seconds) in the three years before the epoch."""
        rng = self.rng
        created = self.epoch_us - int(rng.random() * THREE_YEARS_US) // 1_000_000 * 1_000_000
        updated = created + int(rng.random() * (self.epoch_us - created)) // 1_000_000 * 1_000_000
        return created, min(updated, self.epoch_us - 1_000_000)

    def phone(self, area: str) -> str:
        rng = self.rng
        return f"+1-{area}-{self.between(200, 999)}-{self.between(0, 9999):04d}"

    def address(self, market) -> dict:
        city, zip_prefix = self.pick(market[3])
        return {"street": f"{self.between(100, 9899)} {self.pick(self.pools.streets)} "
                          f"{self.pick(vocab.STREET_SUFFIXES)}",
                "city": city, "state": market[0], "zip": f"{zip_prefix}{self.between(0, 99):02d}"}

    # -- entities ------------------------------------------------------------------------
    def account(self, number: int) -> tuple[Account, tuple]:
        market = vocab.MARKETS[(number - 1 + self.rng.randrange(len(vocab.MARKETS))) % len(vocab.MARKETS)]
        founder = self.pick(self.pools.last_names)
        name = f"{founder} {self.pick(vocab.AGENCY_SUFFIXES)}"
        slug = re.sub(r"[^a-z0-9]+", "", founder.lower())
        created, _ = self.stamps()
        account = Account(self.next_id("accounts"), name, f"{slug}{number}.example", market[0], format_us(created))
        return account, market

    def offices(self, account: Account, market, count: int) -> list[tuple[int, dict]]:
        rows: list[tuple[int, dict]] = []
        cities = market[3]
        for index in range(count):
            if index == 0:
                parent, label = None, "Headquarters"
            else:
                # branches hang off the head office; a fourth and later office off a branch
                parent = rows[0][1]["id"] if index < 3 else rows[1 + (index - 3) % 2][1]["id"]
                city = cities[index % len(cities)][0]
                label = city if index < len(cities) else f"{city} {index}"
            rows.append(self.office(account, market, index, parent, label))
        return rows

    def office(self, account: Account, market, index: int, parent: str | None, label: str) -> tuple[int, dict]:
        created, updated = self.stamps()
        city, zip_prefix = market[3][index % len(market[3])]
        address = {"street": f"{self.between(100, 999)} {self.pick(self.pools.streets)} "
                             f"{self.pick(vocab.STREET_SUFFIXES)}",
                   "city": city, "state": market[0], "zip": f"{zip_prefix}{self.between(0, 99):02d}"}
        return updated, {
            "id": self.next_id("offices"), "name": f"{account.name} - {label}", "address": address,
            "phone": self.phone(market[1]),
            "email": f"{re.sub(r'[^a-z0-9]+', '', label.lower())}@{account.domain}",
            "parent_office_id": parent, "created_at": format_us(created), "updated_at": format_us(updated),
            "deleted_at": None,
        }

    def agents(self, account: Account, market, offices: list[dict], count: int) -> list[tuple[int, dict]]:
        rows = []
        for index in range(count):
            role = "broker" if index == 0 else "admin" if index == 1 else "agent"
            rows.append(self.agent(account, market, offices[index % len(offices)]["id"], role))
        if count >= 4 and all(row[1]["is_active"] for row in rows):
            rows[-1][1]["is_active"] = False  # every agency of some size has a deactivated login
        return rows

    def agent(self, account: Account, market, office_id: str, role: str) -> tuple[int, dict]:
        created, updated = self.stamps()
        first, last = self.pick(self.pools.first_names), self.pick(self.pools.last_names)
        local = re.sub(r"[^a-z0-9.]+", "", f"{first}.{last}".lower())
        email, n = f"{local}@{account.domain}", 1
        while email in self.logins:
            n += 1
            email = f"{local}{n}@{account.domain}"
        self.logins.add(email)
        agent_id = self.next_id("agents")
        return updated, {
            "id": agent_id, "email": email, "first_name": first, "last_name": last,
            "office_id": office_id, "role": role, "phone": self.phone(market[1]),
            "avatar_url": f"https://avatars.agentbuddy.example/{agent_id}.png",
            # the broker and the admin are always active; about one agent in eight is not
            "is_active": role != "agent" or self.rng.random() > 0.125,
            "created_at": format_us(created), "updated_at": format_us(updated), "deleted_at": None,
        }

    def contact(self, market, agents: list[dict]) -> tuple[int, dict]:
        rng, pick = self.rng, self.pick
        created, updated = self.stamps()
        first, last = pick(self.pools.first_names), pick(self.pools.last_names)
        contact_id = self.next_id("contacts")
        contact_type = pick(self.contact_types)
        agent = pick(agents)
        custom: dict = {"lead_source": pick(vocab.LEAD_SOURCES)}
        if contact_type == "buyer":
            custom["price_range_max"] = int((200_000 + rng.random() * 1_300_000) * market[2] / 25_000) * 25_000
            custom["pre_approved"] = rng.random() < 0.4
        elif contact_type in ("owner", "seller"):
            custom["ownership_years"] = self.between(1, 30)
        if rng.random() < 0.3:
            custom["preferred_contact_method"] = pick(vocab.CONTACT_METHODS)
        tags = sorted({pick(vocab.TAGS) for _ in range(int(rng.random() * 4))})
        notes = None
        if rng.random() < 0.35:
            notes = pick(vocab.PRIVATE_NOTES).format(
                n4=self.between(1000, 9999), n2=self.between(2, 18), rate=round(2.5 + rng.random() * 4, 2))
        deleted = rng.random() < 0.01
        number = self.counters["contacts"]
        return updated, {
            "id": contact_id,
            "email": f"{first}.{last}{number}@{pick(vocab.EMAIL_DOMAINS)}".lower().replace(" ", "").replace("'", ""),
            "first_name": first, "last_name": last, "phone": self.phone(market[1]),
            "contact_type": contact_type, "office_id": agent["office_id"], "agent_id": agent["id"],
            "address": self.address(market), "properties": [], "tags": tags, "custom_fields": custom,
            "status": "archived" if rng.random() < 0.08 else "active",
            "email_opt_in": rng.random() < 0.88, "notes": notes,
            "created_at": format_us(created), "updated_at": format_us(updated),
            "deleted_at": format_us(updated) if deleted else None,
            "engagement": None, "propensity": None, "campaigns": [],
        }

    def property(self, market, owner: dict) -> tuple[int, dict]:
        rng = self.rng
        created, updated = self.stamps()
        kind = self.pick(self.property_types)
        bedrooms = None if kind in ("land", "commercial") else self.between(1, 6)
        bathrooms = None if bedrooms is None else min(bedrooms + 1.5, 1 + self.between(0, 7) * 0.5)
        square_feet = None if kind == "land" else int(600 + rng.random() * 4000) // 10 * 10
        value = int((180_000 + rng.random() * 1_400_000) * market[2] / 1000) * 1000
        years_owned = owner["custom_fields"].get("ownership_years")
        if years_owned is None:
            years_owned = rng.random() * 20
        # bought when the owner's CRM record says: "owned her home for 8 years" matches the sale date
        sale_us = max(0, self.epoch_us - int((years_owned + rng.random()) * 365 * 86_400) * 1_000_000)
        years = (self.epoch_us - sale_us) / (365 * 86_400 * 1_000_000)
        return updated, {
            "id": self.next_id("properties"), "address": self.address(market),
            "property_type": kind, "bedrooms": bedrooms, "bathrooms": bathrooms,
            "square_feet": square_feet, "estimated_value": value, "owner_contact_id": owner["id"],
            "listing_status": self.pick(self.listing_statuses),
            "last_sale_date": format_us(sale_us)[:10],
            "last_sale_price": int(value / (1.045 ** years) / 1000) * 1000,
            "created_at": format_us(created), "updated_at": format_us(updated), "deleted_at": None,
        }


def build_world(seed: int, epoch: datetime, accounts: int, offices_per_account: int,
                agents_per_account: int, contacts_per_account: int,
                properties_per_contact: float) -> World:
    builder = _Builder(seed, epoch)
    result: dict[str, Account] = {}
    markets: dict[str, tuple] = {}
    for number in range(1, accounts + 1):
        account, market = builder.account(number)
        offices = builder.offices(account, market, max(1, offices_per_account))
        agents = builder.agents(account, market, [row[1] for row in offices], max(1, agents_per_account))
        agent_records = [row[1] for row in agents]
        contacts = [builder.contact(market, agent_records) for _ in range(contacts_per_account)]
        owners = [row[1] for row in contacts
                  if row[1]["contact_type"] in ("owner", "seller") and row[1]["deleted_at"] is None]
        owners = owners or [row[1] for row in contacts]
        properties = []
        for _ in range(int(round(contacts_per_account * properties_per_contact)) if owners else 0):
            owner = builder.pick(owners)
            row = builder.property(market, owner)
            owner["properties"].append(row[1]["id"])
            properties.append(row)
        account.collections = {
            "offices": Collection.build("offices", offices),
            "agents": Collection.build("agents", agents),
            "contacts": Collection.build("contacts", contacts),
            "properties": Collection.build("properties", properties),
        }
        result[account.id] = account
        markets[account.id] = market
    world = World(seed, builder.epoch_us, result, builder.counters, builder, markets)
    return world
