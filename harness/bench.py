"""`ab-harness bench`: runs every benchmark and writes the figures to one JSON file.

Targets live here, next to the figures, never as timed assertions in tests: a benchmark that
misses its target still reports, and says so.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import click

# (module, target description, predicate over the module's figures)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "fake": ("bench.fake", "the fake serving GET /v1/contacts, 4 keep-alive connections: per_page=100 >= 1,500 req/s"
                           " with p99 <= 15 ms; per_page=500 >= 400 req/s"),
    "sync": ("bench.sync", "initial sync of 100,000 contacts <= 5 s on SQLite, <= 6 s on PostgreSQL"),
    "rescore": ("bench.rescore", "stored re-score of 100,000 contacts / 5,000,000 events <= 10 s, first run and next day"),
    "burst": ("bench.burst", "campaign burst to 100,000 recipients (90 s of it): ingest >= 5,000 events/s,"
                             " ingest-to-AgentBuddy p99 <= 60 s, nothing lost or doubled"),
    "delivery": ("bench.delivery", ">= 5,000 events/s delivered, p99 ingest-to-received <= 1 s"),
    "conformance": ("bench.conformance", "the provider conformance kit against the fake, every check, <= 60 s"),
    "live_pages": ("bench.live_pages", "no page request over 1 s while a story plays on `ab-harness serve`"),
}


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def run_one(name: str, postgres_url: str | None) -> dict[str, Any]:
    module_name, target = BENCHMARKS[name]
    module = importlib.import_module(module_name)
    started = time.perf_counter()
    kwargs = {"postgres_url": postgres_url} if "postgres_url" in module.run.__code__.co_varnames else {}
    figures = module.run(**kwargs)
    return {"target": target, "figures": figures, "wall_seconds": round(time.perf_counter() - started, 2)}


@click.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench/results.json"),
              show_default=True, help="Where to write the figures as JSON.")
@click.option("--only", type=click.Choice(sorted(BENCHMARKS)), multiple=True,
              help="Run only these benchmarks (repeatable). Default: all.")
@click.option("--postgres-url", envvar="AB_BENCH_POSTGRES_URL", default=None,
              help="Also measure PostgreSQL where a benchmark supports it (env AB_BENCH_POSTGRES_URL).")
def bench(output: Path, only: tuple[str, ...], postgres_url: str | None) -> None:
    """Measure sync, re-score and delivery speed on this machine; print and save the figures."""
    results: dict[str, Any] = {"machine": machine(), "benchmarks": {}}
    for name in only or sorted(BENCHMARKS):
        click.echo(f"== {name}: {BENCHMARKS[name][1]}")
        results["benchmarks"][name] = run_one(name, postgres_url or None)
        click.echo(json.dumps(results["benchmarks"][name]["figures"], indent=2, default=str))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    click.echo(f"figures written to {output}")
