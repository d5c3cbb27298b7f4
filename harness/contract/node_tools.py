"""The contract's Node tools (Redocly, Spectral, Mermaid), installed by the project itself.

`package.json` and `package-lock.json` at the repository root pin them; `npm ci` puts them in the ignored
`node_modules/`, never globally. Commands and tests that need them call `ensure()` (install if missing) or
`why_unavailable()` (skip with a reason where npm is not on the machine).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
MERMAID_JS = NODE_MODULES / "mermaid" / "dist" / "mermaid.min.js"


class NodeToolsUnavailable(RuntimeError):
    """npm is missing, or `npm ci` failed: the message says which, in one sentence."""


def binary(name: str) -> Path:
    return NODE_MODULES / ".bin" / name


def why_unavailable() -> str | None:
    if not (ROOT / "package-lock.json").is_file():
        return "the Node tools are declared in package.json/package-lock.json at the repository root, not found here"
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "Spectral, Redocly and the docs build need Node.js and npm (apt-get install nodejs npm)"
    return None


def installed() -> bool:
    return all(binary(name).exists() for name in ("redocly", "spectral")) and MERMAID_JS.is_file()


def ensure() -> None:
    """Install the pinned tools with `npm ci` unless they are already there."""
    if installed():
        return
    reason = why_unavailable()
    if reason:
        raise NodeToolsUnavailable(reason)
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0 or not installed():
        raise NodeToolsUnavailable(f"npm ci failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    """Run one installed tool from the repository root; output captured as text."""
    ensure()
    return subprocess.run([str(binary(tool)), *args], cwd=ROOT, capture_output=True, text=True,
                          env=_quiet_env())


def _quiet_env() -> dict[str, str]:
    # Redocly asks to send usage data and prints a Node.js end-of-life banner; neither belongs in our output.
    return {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
            "NO_UPDATE_NOTIFIER": "1", "SCARF_ANALYTICS": "false"}
