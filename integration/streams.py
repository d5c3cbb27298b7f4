"""The four AgentBuddy streams, declared as data (Singer style).

A stream says where its records live, what identifies them, which field orders them for
incremental sync, how they map to Broadcast's table and where it sits in referential order
(offices before the agents who work in them, before the contacts they own, before the
properties those contacts own). `sync.py` runs one generic loop over these declarations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import mapping
from .mapping import EntityMapping


def _replace(existing: dict[str, Any] | None, incoming: dict[str, Any]) -> dict[str, Any]:
    """AgentBuddy owns every column of offices, agents and properties."""
    return incoming


@dataclass(frozen=True)
class Stream:
    name: str  # also the table name and the sync_state entity
    path: str  # under the API base (/v1)
    mapping: EntityMapping
    order: int
    event_entity: str  # the `<entity>` of change notification types (contact.updated)
    scope: str
    merge: Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any]] = _replace
    primary_key: str = "id"
    replication_key: str = "updated_at"
    # Columns the upsert must not overwrite on an existing row (owned by Broadcast).
    protected_columns: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.name

    @property
    def columns(self) -> tuple[str, ...]:
        extra = mapping.MERGED + mapping.BROADCAST_OWNED if self.merge is not _replace else ()
        return self.mapping.columns + extra


STREAMS: tuple[Stream, ...] = (
    Stream("offices", "/offices", mapping.OFFICES, 1, "office", "read:offices"),
    Stream("agents", "/agents", mapping.AGENTS, 2, "agent", "read:agents"),
    Stream("contacts", "/contacts", mapping.CONTACTS, 3, "contact", "read:contacts",
           merge=mapping.merge_contact, protected_columns=mapping.BROADCAST_OWNED),
    Stream("properties", "/properties", mapping.PROPERTIES, 4, "property", "read:properties"),
)
BY_NAME = {s.name: s for s in STREAMS}
BY_EVENT_ENTITY = {s.event_entity: s for s in STREAMS}


def stream(name: str) -> Stream:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown stream {name!r}; choose from {', '.join(BY_NAME)}") from None


def select(names: list[str] | tuple[str, ...] | None) -> tuple[Stream, ...]:
    """The requested streams in referential order (all when none are named)."""
    chosen = STREAMS if not names else tuple(stream(n) for n in dict.fromkeys(names))
    return tuple(sorted(chosen, key=lambda s: s.order))
