"""A small scenario the scenario tests share: Pat, one owner, a fortnightly newsletter."""
from __future__ import annotations

PAT = """
name: wishful
days: {days}
world:
  contacts:
    - {{id: pat, name: Pat Doe, type: owner, ownership_years: 2}}
campaigns:
  - id: news
    name: Newsletter
    kind: newsletter
    links: [{{url: "https://broadcast.example/events", category: other}}]
    schedule: {{start_day: 0, every_days: 7, count: {count}}}
"""


def pat(days: int, count: int, rest: str) -> str:
    """Pat's scenario over `days` with `count` newsletters, followed by `rest` (behaviours, expect)."""
    return PAT.format(days=days, count=count) + rest.lstrip("\n")
