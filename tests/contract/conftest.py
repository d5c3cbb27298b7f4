"""Fixtures for the contract tests: the parsed contract and the draft spec's JSON samples."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract import spec_path
from harness.contract.lint import load_spec

SPEC_MARKDOWN = Path(__file__).resolve().parents[2].parent / "shared/spec/broadcast-agentbuddy-integration-spec.md"
_FENCE = re.compile(r"```json\n(.*?)```", re.S)
_HEADING = re.compile(r"^#{1,6} +(.+)$", re.M)
_REQUEST_LINE = re.compile(r"^\s*(GET|POST|PUT|PATCH|DELETE) +(\S+)\s*$")


@dataclass(frozen=True)
class Sample:
    """One ```json block of the draft spec, labelled so a test can say which one failed."""

    label: str  # the block's `// ...` comment, else the nearest heading above it
    request_line: str | None  # e.g. "POST https://api.agentbuddy.com/webhooks/broadcast/events"
    value: Any


def extract_samples(markdown: str) -> list[Sample]:
    samples = []
    for match in _FENCE.finditer(markdown):
        comments, request_line, kept = [], None, []
        for line in match.group(1).splitlines():
            stripped = line.strip()
            if stripped.startswith("//"):
                comments.append(stripped.lstrip("/ ").strip())
            elif _REQUEST_LINE.match(line):
                request_line = stripped
            else:
                kept.append(line)
        headings = _HEADING.findall(markdown, 0, match.start())
        label = comments[0] if comments else (headings[-1].strip() if headings else "(no heading)")
        samples.append(Sample(label, request_line, json.loads("\n".join(kept))))
    return samples


@pytest.fixture(scope="session")
def pristine_contract() -> dict[str, Any]:
    return load_spec(spec_path())


@pytest.fixture
def contract(pristine_contract: dict[str, Any]) -> dict[str, Any]:
    """A private copy: tests may break it to prove the lint notices."""
    return copy.deepcopy(pristine_contract)


@pytest.fixture(scope="session")
def spec_samples() -> list[Sample]:
    if not SPEC_MARKDOWN.is_file():
        pytest.skip(f"the draft spec is not at {SPEC_MARKDOWN} (the shared spec checkout is missing)")
    return extract_samples(SPEC_MARKDOWN.read_text(encoding="utf-8"))
