"""Seeded crowds: `size` people drawn from an archetype mix, the same people for the same seed.

A scenario's `world.generated` and the population generator both draw their people here.
"""
from __future__ import annotations

import random
from typing import Iterator

from faker import Faker

from .world import Contact, GeneratedWorld, Office

DEFAULT_MIX: dict[str, float] = {
    "dormant": 0.25, "steady": 0.30, "surging_seller": 0.05, "active_buyer": 0.05, "unsubscriber": 0.08,
    "bouncer": 0.03, "complainer": 0.02, "privacy_proxy_opener": 0.15, "bot_clicker": 0.07,
}


def _pick(rng, mix: dict[str, float]) -> str:
    names = sorted(mix)
    return rng.choices(names, weights=[mix[n] for n in names])[0]


def _type_for(archetype: str, rng) -> str:
    if archetype == "surging_seller":
        return "owner"
    if archetype == "active_buyer":
        return "buyer"
    return rng.choice(("owner", "owner", "buyer", "lead", "seller"))


def iter_contacts(size: int, seed: int, mix: dict[str, float] | None = None,
                  offices: tuple[Office, ...] = (), prefix: str = "gen") -> Iterator[Contact]:
    """`size` seeded people, one at a time; ids are `<prefix>_000001`, …"""
    mix = mix or DEFAULT_MIX
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    width = max(4, len(str(size)))
    for i in range(1, size + 1):
        archetype = _pick(rng, mix)
        first, last = fake.first_name(), fake.last_name()
        kind = _type_for(archetype, rng)
        yield Contact(
            id=f"{prefix}_{i:0{width}d}", first_name=first, last_name=last,
            email=f"{first}.{last}.{i}@example.com".lower().replace(" ", "").replace("'", ""),
            type=kind, ownership_years=round(rng.uniform(1, 25), 1) if kind in ("owner", "seller") else None,
            email_opt_in=True, tags=(), office=offices[(i - 1) % len(offices)].id if offices else None,
            archetype=archetype,
        )


def generated_contacts(world: GeneratedWorld, offices: tuple[Office, ...] = ()) -> list[Contact]:
    return list(iter_contacts(world.size, world.seed, dict(world.archetypes), offices))
