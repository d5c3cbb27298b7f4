"""The simulator's rooms keep to their doors: imports run one way, no cycle, nothing reads
Broadcast's tables, and only the server set-up starts the fake."""
from __future__ import annotations

import ast
from pathlib import Path

import scenarios

ROOT = Path(scenarios.__file__).parent
# Each room may import the rooms listed (and itself); `processes` imports nothing of scenarios.
ALLOWED = {
    "story": set(),
    "people": {"story"},
    "processes": set(),
    "verdicts": {"story", "people", "processes"},
    "views": {"story", "verdicts"},
    "engine": {"story", "people", "verdicts", "views", "processes"},
    "cli": {"story", "people", "verdicts", "views", "engine"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, ast.AST]]:
    """Every module `name` imports, resolved, with the node (to tell top level from nested)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            out.append((base, node))
            out += [(f"{base}.{alias.name}", node) for alias in node.names]
    return out


def room(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "scenarios"


def test_rooms_import_one_way_and_each_says_what_it_owns():
    found = modules()
    wrong = []
    for name, path in found.items():
        if name == "scenarios":
            continue
        for target, _node in imports(name, path):
            if target.startswith("scenarios.") and target in found and room(target) != room(name):
                if room(target) not in ALLOWED[room(name)]:
                    wrong.append(f"{name} imports {target}")
    assert not wrong
    for package in ("story", "people", "verdicts", "views", "engine"):
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc and "Owns" in doc, package


def test_no_import_cycle_between_modules():
    found = modules()
    graph = {name: {t for t, _ in imports(name, path) if t in found and t != name} for name, path in found.items()}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            assert state.get(nxt) != "open", " -> ".join(trail + [node, nxt])
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_small_rooms_no_hidden_imports_no_tables():
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400 or "Kept whole:" in text, name
        tree = ast.parse(text)
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    line = text.splitlines()[node.lineno - 1]
                    assert "noqa: PLC0415 -" in line, f"{name}:{node.lineno} imports inside a function"
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            assert cls.end_lineno - cls.lineno < 150, f"{name}.{cls.name}"
        for word in ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", ".execute(", "Fernet", "SecretBox"):
            assert word not in text, f"{name} touches Broadcast's tables or secrets ({word.strip()})"
        fake_app = [t for t, _ in imports(name, path) if t.startswith("mock_agentbuddy")
                    and not t.startswith("mock_agentbuddy.admin.client")]
        assert not fake_app or name == "scenarios.engine.stack", f"{name} imports the fake itself: {fake_app}"
