"""What a scenario must mean beyond its schema: ids that exist, days inside the story, links that
Broadcast's own content rules classify as the author says.

Each problem is `(path into the file, message)`; the loader adds the line and column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from integration.engagement.content import categorise_link

from . import model as m

Path_ = tuple[str | int, ...]


@dataclass
class _Known:
    contacts: set[str]
    offices: set[str]
    campaigns: set[str]
    archetypes: set[str]


def _duplicates(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({i for i in ids if i in seen or seen.add(i)})


def semantic_problems(s: m.Scenario, data: dict[str, Any]) -> Iterable[tuple[Path_, str]]:
    end = s.days
    contacts = s.all_contacts()
    known = _Known({c.id for c in contacts}, {o.id for o in s.world.offices}, {c.id for c in s.campaigns},
                   {c.archetype for c in contacts if c.archetype})

    for kind, ids in (("contact", [c.id for c in contacts]), ("office", [o.id for o in s.world.offices]),
                      ("campaign", [c.id for c in s.campaigns])):
        for dup in _duplicates(ids):
            section = {"contact": ("world", "contacts"), "office": ("world", "offices"), "campaign": ("campaigns",)}[kind]
            yield section, f"{kind} id {dup!r} is used more than once"
    if not contacts:
        yield ("world",), "the world has no contacts: add world.contacts or world.generated"

    for i, c in enumerate(s.world.contacts):
        if c.office and c.office not in known.offices:
            yield ("world", "contacts", i, "office"), _unknown("office", c.office, known.offices)
    for i, o in enumerate(s.world.offices):
        if o.parent and o.parent not in known.offices:
            yield ("world", "offices", i, "parent"), _unknown("office", o.parent, known.offices)

    for i, c in enumerate(s.campaigns):
        last = c.schedule.days()[-1]
        if last > end:
            yield ("campaigns", i, "schedule"), f"send number {c.schedule.count} falls on day {last}, after the last day ({end})"
        for j, link in enumerate(c.links):
            seen_as = _broadcast_category(link.url, c.kind)
            if seen_as != link.category:
                yield ("campaigns", i, "links", j, "url"), (
                    f"Broadcast's content rules classify this link as {seen_as!r}, not {link.category!r}: "
                    "change the URL or the category so the story means what it says")
        for contact in c.audience.contacts:
            if contact not in known.contacts:
                yield ("campaigns", i, "audience"), _unknown("contact", contact, known.contacts)
        for office in c.audience.offices:
            if office not in known.offices:
                yield ("campaigns", i, "audience", "offices"), _unknown("office", office, known.offices)

    for i, b in enumerate(s.behaviours):
        if b.contact is not None and b.contact not in known.contacts:
            yield ("behaviours", i, "who"), _unknown("contact", b.contact, known.contacts)
        if b.archetype is not None and b.archetype not in known.archetypes:
            yield ("behaviours", i, "who", "archetype"), f"no contact has archetype {b.archetype!r}"
        for j, o in enumerate(b.opens):
            if o.to_day is not None and o.to_day < o.from_day:
                yield _rule_path(data, i, "opens", j), f"to_day {o.to_day} is before from_day {o.from_day}"
            for key, day in (("from_day", o.from_day), ("to_day", o.to_day)):
                if day is not None and day > end:
                    yield _rule_path(data, i, "opens", j) + (key,), _after_end(day, end)
        for j, c in enumerate(b.clicks):
            for k, day in enumerate(c.days):
                if day > end:
                    yield _rule_path(data, i, "clicks", j) + ("days", k), _after_end(day, end)
                if c.email_day is not None and day < c.email_day:
                    yield _rule_path(data, i, "clicks", j) + ("days", k), \
                        f"a click on day {day} cannot be in the email of day {c.email_day} (not sent yet)"
            if c.email_day is not None and not any(
                    c.email_day in camp.schedule.days() and any(l.category == c.link_category for l in camp.links)
                    for camp in s.campaigns):
                yield _rule_path(data, i, "clicks", j) + ("email_day",), \
                    f"no email with a {c.link_category!r} link is sent on day {c.email_day}"
            if not any(l.category == c.link_category for camp in s.campaigns for l in camp.links):
                yield _rule_path(data, i, "clicks", j) + ("link_category",), \
                    f"no campaign has a {c.link_category!r} link to click"
        for key in ("unsubscribe_on_day", "complaint_on_day"):
            day = getattr(b, key)
            if day is not None and day > end:
                yield ("behaviours", i, key), _after_end(day, end)

    for i, c in enumerate(s.agentbuddy_changes):
        if c.contact not in known.contacts:
            yield ("agentbuddy_changes", i, "contact"), _unknown("contact", c.contact, known.contacts)
        if c.day > end:
            yield ("agentbuddy_changes", i, "day"), _after_end(c.day, end)
        if c.op == "edit" and not c.changes:
            yield ("agentbuddy_changes", i), "an edit needs `changes`"
    for i, f in enumerate(s.faults):
        if f.day > end:
            yield ("faults", i, "day"), _after_end(f.day, end)

    for e in s.expectations:
        base: Path_ = ("expect", e.index)
        if e.contact not in known.contacts:
            yield base + ("contact",), _unknown("contact", e.contact, known.contacts)
        if e.day > end:
            yield base + ("day",), _after_end(e.day, end)
        for key in ("no_email_after_day", "nothing_pushed_after_day", "until_day"):
            day = getattr(e, key)
            if day is not None and day > end:
                yield base + (key,), _after_end(day, end)
        if e.until_day is not None and e.until_day < e.day:
            yield base + ("until_day",), f"until_day {e.until_day} is before day {e.day}"
        for j, r in enumerate(e.received):
            if r.campaign is not None and r.campaign not in known.campaigns:
                yield base + ("received", j, "campaign"), _unknown("campaign", r.campaign, known.campaigns)


def _broadcast_category(url: str, kind: str) -> str:
    """What the integration will make of a click on `url` (its own content rules decide)."""
    return categorise_link(url.replace("{date}", "2026-01-01"), kind)


def _rule_path(data: dict[str, Any], behaviour: int, key: str, index: int) -> Path_:
    """Single rules may be written without a list; point at what the author wrote."""
    written = data["behaviours"][behaviour].get(key)
    return ("behaviours", behaviour, key) + ((index,) if isinstance(written, list) else ())


def _after_end(day: int, end: int) -> str:
    return f"day {day} is after the last day of the scenario ({end})"


def _unknown(kind: str, value: str, known: set[str]) -> str:
    choices = ", ".join(repr(k) for k in sorted(known)[:12]) + (", …" if len(known) > 12 else "")
    return f"unknown {kind} {value!r} (known: {choices or 'none'})"
