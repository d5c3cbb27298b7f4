"""What a sync run reports: per stream, how many records were created, updated, deleted, kept,
quarantined; per run, its kind and timing. `to_dict()` is the `ab-harness sync --json` document
and what the run log stores."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COUNTS = ("created", "updated", "deleted", "unchanged", "quarantined", "released", "pages", "records", "seconds")


@dataclass
class EntitySummary:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0
    released: int = 0  # left quarantine because they validate now
    pages: int = 0
    records: int = 0
    seconds: float = 0.0
    resumed: bool = False
    skipped: str | None = None  # why the stream was not synced (e.g. scope not granted)


@dataclass
class SyncSummary:
    organization_id: str
    run_id: str
    kind: str  # "initial" (nothing synced before), "full" (asked for) or "incremental"
    started_at: str
    finished_at: str | None = None
    seconds: float = 0.0
    entities: dict[str, EntitySummary] = field(default_factory=dict)

    @property
    def totals(self) -> EntitySummary:
        total = EntitySummary()
        for summary in self.entities.values():
            for name in COUNTS:
                setattr(total, name, getattr(total, name) + getattr(summary, name))
        return total

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals"] = asdict(self.totals)
        del data["totals"]["resumed"], data["totals"]["skipped"]
        data["records_per_second"] = round(self.totals.records / self.seconds, 1) if self.seconds else None
        return data
