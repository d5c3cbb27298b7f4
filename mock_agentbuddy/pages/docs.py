"""`/docs/`: the contract's rendered documentation, and `/openapi.yaml`: the contract itself.

A partner pointed at the fake expects its documentation beside it. The HTML is what `make docs`
(`ab-harness docs --output build/docs`) renders with Redocly: one self-contained page that reads
nothing from the network. The fake does not render it: Redocly is a Node tool the harness installs,
and the fake must start without it. So it serves the folder named by `MockConfig.docs_dir`
(`--docs-dir`; default `build/docs`, where `make docs` writes, relative to where the fake runs), and
when that folder holds no `index.html` it answers a page saying how to build it, with the raw YAML
still linked. The YAML is always the contract the fake itself serves (`contract.spec_path()`), so
`/openapi.yaml` and `/docs/agentbuddy.yaml` work with or without the HTML.
"""
from __future__ import annotations

import html
from pathlib import Path

from flask import Blueprint, Response, redirect, send_file, send_from_directory

from contract import spec_path

from ..state import current_state

bp = Blueprint("docs", __name__)

YAML_TYPE = "application/yaml"
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contract documentation not built</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:48rem;padding:0 1rem}}</style></head>
<body><h1>The contract's documentation is not built yet</h1>
<p>This fake serves the HTML that <code>make docs</code> renders, from <code>{folder}</code>, and found no
<code>index.html</code> there.</p>
<p>Build it at the repository root (needs Node.js and npm; the tools install into <code>node_modules/</code>):</p>
<pre>make docs        # or: ab-harness docs --output build/docs</pre>
<p>then reload this page, or start the fake with <code>--docs-dir</code> naming a folder you built elsewhere.</p>
<p>The contract itself is here meanwhile: <a href="agentbuddy.yaml">agentbuddy.yaml</a>
(OpenAPI {openapi}, also at <a href="/openapi.yaml">/openapi.yaml</a>).</p>
</body></html>
"""


def docs_folder() -> Path | None:
    folder = current_state().config.docs_dir
    return Path(folder).resolve() if folder else None


@bp.get("/docs")
def docs_root():
    return redirect("/docs/", code=308)  # the page links errors.html and assets/ relative to the folder


@bp.get("/docs/")
def docs_index():
    folder = docs_folder()
    if folder is not None and (folder / "index.html").is_file():
        return send_from_directory(folder, "index.html", max_age=0)
    shown = html.escape(str(folder)) if folder else "(no folder configured: --docs-dir)"
    return Response(NOT_BUILT.format(folder=shown, openapi="3.1"), status=404, mimetype="text/html")


@bp.get("/docs/agentbuddy.yaml")
@bp.get("/openapi.yaml")
def contract_yaml():
    return send_file(spec_path(), mimetype=YAML_TYPE, max_age=0)


@bp.get("/docs/<path:name>")
def docs_file(name: str):
    folder = docs_folder()
    if folder is None:
        return Response("The contract's documentation is not built: see /docs/.", status=404, mimetype="text/plain")
    return send_from_directory(folder, name, max_age=0)  # safe_join inside: no path escapes the folder
