"""The house rules a newcomer relies on, checked over the source tree (issue 8).

Each rule is a promise the README and docs/ARCHITECTURE.md make: dependencies go one way, there
is no import cycle, an import inside a function says why it is there, a module or class long
enough to need a second sitting says why it must stay whole, and every package says what it owns
and what it may import. The checks read the source with `ast`; nothing is imported or run.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("common", "contract", "mock_agentbuddy", "integration", "scenarios", "conformance", "bench", "harness")

# Which rooms each room may import (docs/ARCHITECTURE.md, "Dependencies"). harness composes all.
MAY_IMPORT = {
    "common": set(),
    "contract": {"common"},
    "mock_agentbuddy": {"common", "contract"},
    "integration": {"common", "contract"},
    "scenarios": {"common", "contract", "integration", "mock_agentbuddy"},
    "conformance": {"common", "contract", "mock_agentbuddy"},
    "bench": {"common", "contract", "integration", "mock_agentbuddy", "scenarios"},
    "harness": {"common", "contract", "integration", "mock_agentbuddy", "scenarios", "conformance", "bench"},
}

MODULE_LINES = 400
CLASS_LINES = 150
KEPT_WHOLE = "Kept whole"


@dataclass(frozen=True)
class Import:
    module: str        # the importing module, dotted
    target: str        # the imported module, dotted (a submodule when `from pkg import submodule`)
    line: int
    in_function: bool
    type_only: bool    # under `if TYPE_CHECKING:`: never executed


@dataclass(frozen=True)
class Source:
    path: Path
    module: str
    text: str
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@cache
def sources() -> tuple[Source, ...]:
    found = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            text = path.read_text(encoding="utf-8")
            found.append(Source(path, module, text, ast.parse(text, filename=str(path))))
    return tuple(found)


@cache
def module_names() -> frozenset[str]:
    return frozenset(source.module for source in sources())


def _absolute(source: Source, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source.module if source.is_package else source.module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _targets(source: Source, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = _absolute(source, node)
    known = module_names()
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def _imports_of(source: Source) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.extend(Import(source.module, target, child.lineno, in_function, type_only)
                             for target in _targets(source, child))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True, type_only)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, in_function, True)
            else:
                visit(child, in_function, type_only)

    visit(source.tree, False, False)
    return found


@cache
def imports() -> tuple[Import, ...]:
    return tuple(i for source in sources() for i in _imports_of(source))


def _room(module: str) -> str:
    return module.split(".")[0]


def _project_module(target: str) -> str | None:
    """The project module `target` names (or the nearest package that exists), else None."""
    known = module_names()
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = iter(range(10**9))

    def connect(node: str) -> None:
        index[node] = low[node] = next(counter)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def import_graph() -> dict[str, set[str]]:
    """Who imports whom at run time, inside functions too (a deferred import still closes a loop).

    A module importing its own parent package is not an edge: Python has already run the parent's
    `__init__` by then, so it cannot loop.
    """
    edges: dict[str, set[str]] = defaultdict(set)
    for item in imports():
        target = _project_module(item.target)
        if item.type_only or target is None or target == item.module:
            continue
        if item.module.startswith(f"{target}."):
            continue
        edges[item.module].add(target)
    return edges


# ---- the rules -----------------------------------------------------------------------------------

def test_the_import_graph_has_no_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles (each list imports itself round the loop):\n" + "\n".join(map(str, found))


def test_rooms_import_only_what_architecture_allows():
    wrong = sorted({f"{i.module} imports {i.target} (line {i.line})" for i in imports()
                    if _room(i.target) in MAY_IMPORT and _room(i.target) != _room(i.module)
                    and _room(i.target) not in MAY_IMPORT[_room(i.module)]})
    assert not wrong, "imports against docs/ARCHITECTURE.md's direction:\n" + "\n".join(wrong)


def _line(source: Source, number: int) -> str:
    return source.text.splitlines()[number - 1]


def _reason(line: str) -> str:
    """The words of a trailing comment after any `noqa: CODE` marker."""
    if "#" not in line:
        return ""
    comment = line.split("#", 1)[1]
    if "noqa" in comment:
        comment = comment.split("noqa", 1)[1].lstrip(": ").split(" ", 1)[1] if " " in comment.split("noqa", 1)[1].lstrip(": ") else ""
    return comment.strip(" -—:")


def _explained(source: Source, number: int) -> bool:
    """A reason on the import's line, or in the comment just above its group of imports."""
    if len(_reason(_line(source, number)).split()) >= 2:
        return True
    lines = source.text.splitlines()[:number - 1]
    while lines and lines[-1].strip().startswith(("from ", "import ", ")")) or (lines and not lines[-1].strip()):
        lines.pop()
    return bool(lines) and lines[-1].strip().startswith("#") and len(lines[-1].strip("# ").split()) >= 2


def test_imports_inside_functions_say_why():
    by_module = {source.module: source for source in sources()}
    silent = sorted({f"{by_module[i.module].path.relative_to(ROOT)}:{i.line}" for i in imports()
                     if i.in_function and not _explained(by_module[i.module], i.line)})
    assert not silent, ("imports inside functions need a one-line reason on the import "
                        "(`# noqa: PLC0415 - defers Flask for the CLI`):\n" + "\n".join(silent))


def test_long_modules_and_classes_say_why_they_stay_whole():
    too_long = []
    for source in sources():
        module_doc = ast.get_docstring(source.tree) or ""
        lines = source.text.count("\n")
        where = source.path.relative_to(ROOT)
        if lines > MODULE_LINES and KEPT_WHOLE not in module_doc:
            too_long.append(f"{where}: {lines} lines")
        for node in ast.walk(source.tree):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                doc = (ast.get_docstring(node) or "") + module_doc
                if size > CLASS_LINES and KEPT_WHOLE not in doc:
                    too_long.append(f"{where}: class {node.name} {size} lines")
    assert not too_long, (f"split these, or say in the docstring why it must stay whole "
                          f"('{KEPT_WHOLE}: ...'):\n" + "\n".join(too_long))


def test_every_package_says_what_it_owns():
    silent = [str(s.path.relative_to(ROOT)) for s in sources()
              if s.is_package and len((ast.get_docstring(s.tree) or "").split()) < 5]
    assert not silent, "packages without a docstring saying what they own:\n" + "\n".join(silent)


@pytest.mark.parametrize("room", [r for r in ROOMS if r != "bench"])
def test_each_room_says_what_it_may_import(room):
    doc = ast.get_docstring(ast.parse((ROOT / room / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert "import" in doc.lower(), f"{room}/__init__.py: say what this room may import"


# ---- the checkers catch what they claim ----------------------------------------------------------

def test_cycle_finder_finds_a_three_module_loop_and_ignores_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []


def test_reason_reader_wants_words_after_the_marker():
    assert _reason("    import x  # noqa: PLC0415") == ""
    assert _reason("    import x  # noqa: PLC0415 - defers Flask") == "defers Flask"
    assert _reason("    import x  # defers numpy for the CLI") == "defers numpy for the CLI"
    assert _reason("    import x") == ""
