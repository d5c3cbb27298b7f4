"""Who is in a story's world: offices and contacts, written out or generated from a seed.

Apart from `model` so that generating people (`crowd`) needs only these types, and the model
can ask the crowd for its generated contacts without either importing the other.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    parent: str | None = None


@dataclass(frozen=True)
class Contact:
    id: str
    first_name: str
    last_name: str
    email: str
    type: str = "lead"
    ownership_years: float | None = None
    email_opt_in: bool = True
    tags: tuple[str, ...] = ()
    office: str | None = None
    archetype: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class GeneratedWorld:
    seed: int
    size: int
    archetypes: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class World:
    offices: tuple[Office, ...]
    contacts: tuple[Contact, ...]
    generated: GeneratedWorld | None = None
