"""The four AgentBuddy streams, declared as data (Singer style).

A stream says where its records live, what identifies them, which field orders them for
incremental sync, how they map to Broadcast's table and where it sits in referential order
(offices before the agents who work in them, before the contacts they own, before the
properties those contacts own). `engine` runs one generic loop over these declarations.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any, Callable

from . import conflicts, declarations
from .declarations import EntityMapping


@dataclass(frozen=True)
class Stream:
    name: str  # also the table name and the sync_state entity
    path: str  # under the API base (/v1)
    mapping: EntityMapping
    order: int
    event_entity: str  # the `<entity>` of change notification types (contact.updated)
    scope: str
    merge: Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any]] = conflicts.replace
    primary_key: str = "id"
    replication_key: str = "updated_at"
    # Columns the upsert must not overwrite on an existing row (owned by Broadcast).
    protected_columns: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.name

    @cached_property  # read for every record of a page
    def columns(self) -> tuple[str, ...]:
        extra = conflicts.MERGED + conflicts.BROADCAST_OWNED if self.merge is not conflicts.replace else ()
        return self.mapping.columns + extra

    @cached_property
    def values(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """A row's values in `columns` order, as one tuple (compared and written per record)."""
        getter = itemgetter(*self.columns)
        return getter if len(self.columns) > 1 else lambda row: (getter(row),)


STREAMS: tuple[Stream, ...] = (
    Stream("offices", "/offices", declarations.OFFICES, 1, "office", "read:offices"),
    Stream("agents", "/agents", declarations.AGENTS, 2, "agent", "read:agents"),
    Stream("contacts", "/contacts", declarations.CONTACTS, 3, "contact", "read:contacts",
           merge=conflicts.merge_contact, protected_columns=conflicts.BROADCAST_OWNED),
    Stream("properties", "/properties", declarations.PROPERTIES, 4, "property", "read:properties"),
)
declarations.check_all_mappings()  # a declaration the contract forbids fails at import, not mid-sync
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
