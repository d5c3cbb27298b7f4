"""Scenario files in, `Scenario` values out — or a `ScenarioError` listing every problem.

A scenario author fixes files from our messages alone, so each message names the path into
the file (`campaigns[2].links[0].category`) and, when we know it, the line and column.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError

from . import model as m
from .semantics import Path_, semantic_problems


class ScenarioError(Exception):
    """Everything wrong with one scenario file, as messages a person can act on."""

    def __init__(self, source: str, messages: list[str]) -> None:
        self.source = source
        self.messages = messages
        super().__init__(f"{source}: invalid scenario\n" + "\n".join(f"  {line}" for line in messages))


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("scenarios.story").joinpath("schema.json").read_text(encoding="utf-8"))


def library_dir() -> Path:
    return Path(str(resources.files("scenarios").joinpath("library")))


def library_paths() -> list[Path]:
    return sorted(library_dir().glob("*.yaml"))


def load(path: str | Path) -> m.Scenario:
    path = Path(path)
    if not path.exists() and not path.suffix:
        candidate = library_dir() / f"{path.name}.yaml"
        if candidate.exists():
            path = candidate
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from None
    return loads(text, source=str(path))


def loads(text: str, source: str = "<scenario>") -> m.Scenario:
    data, marks = _parse_yaml(text, source)
    _validate_schema(data, marks, source)
    scenario = _build(data, source)
    problems = list(semantic_problems(scenario, data))
    if problems:
        raise ScenarioError(source, [_located(path, msg, marks) for path, msg in problems])
    return scenario


# ---- YAML with positions -------------------------------------------------------------------

def _parse_yaml(text: str, source: str) -> tuple[Any, dict[Path_, tuple[int, int]]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(source, ["file is empty: a scenario needs name, days, world, campaigns and expect"])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ScenarioError(source, [f"YAML syntax error at {where}{problem}".rstrip()]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"YAML error: {exc}"]) from None
    finally:
        loader.dispose()
    marks: dict[Path_, tuple[int, int]] = {}
    _collect_marks(node, (), marks)
    return _plain(data), marks


def _collect_marks(node: yaml.Node, path: Path_, marks: dict[Path_, tuple[int, int]]) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            _collect_marks(value_node, path + (key,), marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_marks(item, path + (index,), marks)


def _plain(value: Any) -> Any:
    """YAML turns `2026-01-05` into a date; the schema speaks JSON, so dates become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _located(path: Path_, message: str, marks: dict[Path_, tuple[int, int]]) -> str:
    probe = tuple(path)
    while probe not in marks and probe:
        probe = probe[:-1]
    where = f" (line {marks[probe][0]}, column {marks[probe][1]})" if probe in marks else ""
    return f"{format_path(path)}: {message}{where}"


# ---- JSON Schema ---------------------------------------------------------------------------

def _validate_schema(data: Any, marks: dict[Path_, tuple[int, int]], source: str) -> None:
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return
    messages: list[str] = []
    for error in errors:
        specific = _most_specific(error)
        line = _located(tuple(specific.absolute_path), specific.message, marks)
        if line not in messages:
            messages.append(line)
    raise ScenarioError(source, messages)


def _most_specific(error: ValidationError) -> ValidationError:
    """oneOf failures say 'not valid under any'; the deepest branch error says what to fix."""
    if not error.context:
        return error
    shallow = ("type", "const", "oneOf", "anyOf")
    deepest = sorted(error.context, key=lambda e: (-len(e.absolute_path), e.validator in shallow))[0]
    if len(deepest.absolute_path) > len(error.absolute_path) or deepest.validator not in shallow:
        return _most_specific(deepest)
    return error


# ---- building the model --------------------------------------------------------------------

_RANGE_TEXT = re.compile(r"^\s*(\d{1,3})\s*(?:±|\+-|\+/-)\s*(\d{1,3})\s*$")


def parse_range(value: Any) -> m.Range:
    if isinstance(value, int):
        return m.Range(value, value)
    if isinstance(value, list):
        return m.Range(min(value), max(value))
    if isinstance(value, dict):
        return m.Range(value.get("min", 0), value.get("max", 100))
    match = _RANGE_TEXT.match(value)
    centre, tolerance = int(match.group(1)), int(match.group(2))
    return m.Range(max(0, centre - tolerance), min(100, centre + tolerance))


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _contact(raw: dict[str, Any]) -> m.Contact:
    first, _, last = raw["name"].strip().partition(" ")
    email = raw.get("email") or f"{raw['id'].lower().replace('_', '.')}@example.com"
    return m.Contact(
        id=raw["id"], first_name=first, last_name=last.strip(), email=email,
        type=raw.get("type", "lead"), ownership_years=raw.get("ownership_years"),
        email_opt_in=raw.get("email_opt_in", True), tags=tuple(raw.get("tags", ())),
        office=raw.get("office"), archetype=raw.get("archetype"),
    )


def _world(raw: dict[str, Any], seed: int) -> m.World:
    generated = None
    if "generated" in raw:
        g = raw["generated"]
        mix = g.get("archetypes") or {"steady": 1.0}
        generated = m.GeneratedWorld(seed=g.get("seed", seed), size=g["size"],
                                     archetypes=tuple(sorted(mix.items())))
    return m.World(
        offices=tuple(m.Office(o["id"], o["name"], o.get("parent")) for o in raw.get("offices", ())),
        contacts=tuple(_contact(c) for c in raw.get("contacts", ())),
        generated=generated,
    )


def _audience(raw: Any) -> m.Audience:
    if raw is None or raw == "all":
        return m.Audience()
    if isinstance(raw, list):
        return m.Audience(contacts=tuple(raw))
    return m.Audience(tags=tuple(raw.get("tags", ())), offices=tuple(raw.get("offices", ())),
                      types=tuple(raw.get("types", ())))


def _campaign(raw: dict[str, Any]) -> m.Campaign:
    s = raw["schedule"]
    return m.Campaign(
        id=raw["id"], name=raw["name"], kind=raw["kind"],
        links=tuple(m.Link(l["url"], l["category"], l.get("label")) for l in raw.get("links", ())),
        schedule=m.Schedule(s["start_day"], s.get("every_days", 7), s.get("count", 1), s.get("hour", 9.0),
                            tuple(s.get("skip_days", ()))),
        audience=_audience(raw.get("audience")),
    )


def _machine(raw: dict[str, Any] | None, default_seconds: float) -> m.MachineRule | None:
    if raw is None:
        return None
    return m.MachineRule(raw.get("seconds_after_delivery", default_seconds), raw.get("from_day", 0))


def _behaviour(raw: dict[str, Any]) -> m.Behaviour:
    who = raw["who"]
    contact = who if isinstance(who, str) and who != "all" else None
    archetype = who.get("archetype") if isinstance(who, dict) else None
    bounce = raw.get("hard_bounce")
    bounce_day = None if not bounce else (0 if bounce is True else bounce.get("from_day", 0))
    return m.Behaviour(
        contact=contact, archetype=archetype,
        opens=tuple(m.OpenRule(tuple(o.get("campaigns", ())), o.get("from_day", 0), o.get("to_day"),
                               o.get("probability", 1.0), o.get("delay_minutes", 90.0), o.get("jitter_minutes", 0.0))
                    for o in _listify(raw.get("opens"))),
        clicks=tuple(m.ClickRule(c["link_category"], tuple(c["days"]), c.get("hour"), c.get("email_day"))
                     for c in _listify(raw.get("clicks"))),
        unsubscribe_on_day=raw.get("unsubscribe_on_day"),
        hard_bounce_from_day=bounce_day,
        complaint_on_day=raw.get("complaint_on_day"),
        machine_opens=_machine(raw.get("machine_opens"), 2.0),
        bot_clicks=_machine(raw.get("bot_clicks"), 5.0),
        open_user_agent=raw.get("user_agents", {}).get("opens"),
        click_user_agent=raw.get("user_agents", {}).get("clicks"),
    )


def _expectation(raw: dict[str, Any], index: int, last_day: int) -> m.Expectation:
    def rng(key: str) -> m.Range | None:
        return parse_range(raw[key]) if key in raw else None

    return m.Expectation(
        contact=raw["contact"], day=raw.get("day", last_day), index=index, note=raw.get("note"),
        until_day=raw.get("until_day"), weekly_moves_at_most=raw.get("weekly_moves_at_most"),
        propensity_score=rng("propensity_score"), category=raw.get("category"),
        category_not=tuple(raw.get("category_not", ())),
        seller_likelihood=rng("seller_likelihood"), buyer_activity_score=rng("buyer_activity_score"),
        recommended_action=raw.get("recommended_action"),
        factors_contain=tuple(raw.get("factors_contain", ())),
        engagement_trend=raw.get("engagement_trend"),
        received=tuple(m.ReceivedCheck(r["event"], r.get("campaign"), r.get("count"), r.get("min_count"))
                       for r in raw.get("received", ())),
        every_event_exactly_once=raw.get("every_event_exactly_once", False),
        no_email_after_unsubscribe=raw.get("no_email_after_unsubscribe", False),
        no_email_after_day=raw.get("no_email_after_day"),
        nothing_pushed_after_day=raw.get("nothing_pushed_after_day"),
        agentbuddy_contact=tuple(sorted(raw.get("agentbuddy_contact", {}).items())),
        broadcast_contact=tuple(sorted(raw.get("broadcast_contact", {}).items())),
    )


def _build(data: dict[str, Any], source: str) -> m.Scenario:
    seed = data.get("seed", 0)
    days = data["days"]
    return m.Scenario(
        name=data["name"], description=data.get("description", "").strip(),
        start=date.fromisoformat(data["start"]) if "start" in data else m.DEFAULT_START,
        days=days, seed=seed, world=_world(data["world"], seed),
        campaigns=tuple(_campaign(c) for c in data["campaigns"]),
        behaviours=tuple(_behaviour(b) for b in data.get("behaviours", ())),
        agentbuddy_changes=tuple(
            m.AgentBuddyChange(c["day"], c.get("hour", 12.0), c["contact"], c["op"],
                               tuple(sorted(c.get("changes", {}).items())))
            for c in data.get("agentbuddy_changes", ())),
        faults=tuple(m.Fault(f["kind"], f["day"], f.get("hour", 0.0), f.get("hours", 1.0))
                     for f in data.get("faults", ())),
        expectations=tuple(_expectation(e, i, days) for i, e in enumerate(data["expect"])),
        source=source,
        rescore_hour=data.get("rescore_hour", 23.75),
    )
