"""The contract, as data: where `openapi/agentbuddy.yaml` lives and a cached parsed copy.

Both servers depend on this package and on nothing of each other; the YAML file is the
single source of truth. In a source checkout it is read from `openapi/`; an installed wheel
carries a copy beside this module. `reader` follows `$ref`s through it; `categories` holds the
score bands both sides share.

May import: `common` and third-party packages only. Every room but `common` may import it.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (_HERE.parent / "openapi" / "agentbuddy.yaml", _HERE / "agentbuddy.yaml")


def spec_path() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi/agentbuddy.yaml not found next to the contract package")


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """The parsed contract. Callers must not mutate it (it is shared)."""
    with spec_path().open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)
