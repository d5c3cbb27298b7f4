"""`ab-harness docs`: the contract as self-contained HTML a partner reads offline.

Redocly's `build-docs` renders the contract (every operation, schema, example, code sample, webhook) into one
HTML file with Redoc inlined (`--inlineBundle`): no CDN. Before rendering, two sections are added from files
that stay the single source of what they say: the partner build list and sequence diagram
(`openapi/README.md`) and the error catalogue (the contract's `Errors` tag). After rendering, the one image Redoc
still fetches (its "API docs by Redocly" logo) is inlined, a Content-Security-Policy forbids any network
access, and Mermaid (shipped beside the page from the npm package) draws the diagram in the browser.
`errors.html` lists the catalogue on its own, so each `Problem.type`
(`https://agentbuddy.example/docs/errors.html#<code>`) resolves against the published folder.
"""
from __future__ import annotations

import copy
import html
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

from contract import load_spec, spec_path
from harness.contract import node_tools

README = node_tools.ROOT / "openapi" / "README.md"
GUIDE_TAG = "For AgentBuddy: what to build"
ERRORS_TAG = "Errors"
LOGO = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='60' height='14'>"
        "<text x='0' y='11' font-family='sans-serif' font-size='11'>Redocly</text></svg>")
CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:; connect-src 'none'; worker-src blob:")
# Redoc renders fenced ```mermaid blocks as highlighted code; this swaps each for Mermaid's drawing.
MERMAID_BOOT = """<script src="assets/mermaid.min.js"></script>
<script>
(function () {
  mermaid.initialize({startOnLoad: false, securityLevel: "strict", theme: "neutral"});
  var drawn = 0;
  function draw() {
    document.querySelectorAll("pre[data-language='mermaid'], pre code.language-mermaid")
      .forEach(function (node) {
        var pre = node.closest("pre") || node, code = pre;
        if (pre.dataset.mermaidDone) { return; }
        pre.dataset.mermaidDone = "1";
        var holder = document.createElement("div");
        holder.className = "mermaid-diagram";
        holder.setAttribute("data-diagram", "sequence");
        pre.replaceWith(holder);
        mermaid.render("mermaid-" + (drawn++), code.textContent).then(function (out) { holder.innerHTML = out.svg; });
      });
  }
  new MutationObserver(draw).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", draw);
})();
</script>"""


@dataclass(frozen=True)
class ErrorEntry:
    code: str
    status: str
    meaning: str
    retry: str


def error_catalogue(spec: dict) -> list[ErrorEntry]:
    """The rows of the `Errors` tag's table: the catalogue's one source."""
    tag = next(t for t in spec["tags"] if t["name"] == ERRORS_TAG)
    entries = []
    for line in tag["description"].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.search(r"`([a-z_]+)`", cells[0]) if len(cells) == 4 else None
        if match and cells[1][:1].isdigit():
            entries.append(ErrorEntry(match.group(1), cells[1], cells[2], cells[3]))
    return entries


def partner_spec(spec: dict) -> dict:
    """The contract plus the build list and sequence diagram of `openapi/README.md`, shown first."""
    out = copy.deepcopy(spec)
    guide = README.read_text(encoding="utf-8").split("\n", 1)[1].strip()  # its H1 is the tag's own title
    out["tags"] = [{"name": GUIDE_TAG, "x-traitTag": True, "description": guide}, *out["tags"]]
    out["info"]["description"] += ("\nThe contract itself, the single source of this page: "
                                   "[agentbuddy.yaml](agentbuddy.yaml) (OpenAPI 3.1, beside this page).\n")
    return out


def errors_page(spec: dict) -> str:
    rows = "\n".join(
        f'<tr id="{html.escape(e.code)}"><td><code>{html.escape(e.code)}</code></td><td>{html.escape(e.status)}</td>'
        f"<td>{_inline(e.meaning)}</td><td>{_inline(e.retry)}</td></tr>" for e in error_catalogue(spec))
    title = html.escape(spec["info"]["title"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Error catalogue · {title}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.4rem .6rem;vertical-align:top;text-align:left}}
tr:target{{background:#fff6d5}}code{{font-size:.92em}}</style></head>
<body><h1>Error catalogue</h1>
<p>Every error of the <a href="index.html">{title}</a> ({html.escape(spec["info"]["version"])}) is an RFC 9457
<code>application/problem+json</code> body whose <code>type</code> is this page with the code as fragment.</p>
<table><thead><tr><th>code</th><th>status</th><th>meaning</th><th>retry?</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def _offline(page: str) -> str:
    for logo in ("https://cdn.redoc.ly/redoc/logo-mini-full.svg", "https://cdn.redoc.ly/redoc/logo-mini.svg"):
        page = page.replace(logo, LOGO)
    head = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    page = page.replace("<head>", "<head>\n" + head, 1)
    end = page.rindex("</body>")  # the last one: the inlined bundle has "</body>" inside its strings
    return page[:end] + MERMAID_BOOT + "\n" + page[end:]


def build(output: Path) -> list[Path]:
    """Write the documentation folder; returns the files written. Raises NodeToolsUnavailable."""
    node_tools.ensure()
    spec = load_spec()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "agentbuddy.json"
        source.write_text(json.dumps(partner_spec(spec)), encoding="utf-8")
        done = node_tools.run("redocly", "build-docs", str(source), "--inlineBundle", "--lint-config", "off",
                              "--title", spec["info"]["title"], "-o", str(Path(scratch) / "index.html"))
        if done.returncode != 0:
            raise node_tools.NodeToolsUnavailable(f"redocly build-docs failed: {done.stderr.strip()[-500:]}")
        page = (Path(scratch) / "index.html").read_text(encoding="utf-8")
    (output / "assets").mkdir(exist_ok=True)
    written = {
        output / "index.html": _offline(page),
        output / "errors.html": errors_page(spec),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    shutil.copyfile(node_tools.MERMAID_JS, output / "assets" / "mermaid.min.js")
    shutil.copyfile(spec_path(), output / "agentbuddy.yaml")
    return [*written, output / "assets" / "mermaid.min.js", output / "agentbuddy.yaml"]


@click.command()
@click.option("--output", "output", type=click.Path(file_okay=False, path_type=Path), default=Path("build/docs"),
              show_default=True, help="Folder to write index.html, errors.html, agentbuddy.yaml and assets/ into.")
def docs(output: Path) -> None:
    """Build the contract's documentation as self-contained HTML (no network needed to read it)."""
    try:
        files = build(output)
    except node_tools.NodeToolsUnavailable as exc:
        click.echo(f"docs: {exc}", err=True)
        sys.exit(1)
    for path in files:
        click.echo(f"{path} ({path.stat().st_size // 1024} KiB)")
    click.echo(f"open file://{(output / 'index.html').resolve()}")
