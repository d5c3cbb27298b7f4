"""The simulator's own doors, beyond the house rules every room keeps (tests/house): its rooms
import one way, nothing in it reads Broadcast's tables or secrets, and only the server set-up
starts the fake."""
from __future__ import annotations

import ast

from tests.house.test_layout import ROOT, imports, sources

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


def room(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "scenarios"


def test_rooms_import_one_way_and_each_says_what_it_owns():
    wrong = sorted(f"{i.module} imports {i.target}" for i in imports()
                   if i.module.startswith("scenarios.") and i.target.startswith("scenarios.")
                   and room(i.target) != room(i.module) and room(i.target) not in ALLOWED[room(i.module)])
    assert not wrong
    for package in ("story", "people", "verdicts", "views", "engine"):
        doc = ast.get_docstring(ast.parse((ROOT / "scenarios" / package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc and "Owns" in doc, package


def test_no_tables_no_secrets_and_only_the_set_up_starts_the_fake():
    for source in sources():
        if not source.module.startswith("scenarios"):
            continue
        for word in ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", ".execute(", "Fernet", "SecretBox"):
            assert word not in source.text, f"{source.module} touches Broadcast's tables or secrets ({word.strip()})"
    fake = sorted({i.module for i in imports() if i.module.startswith("scenarios")
                   and i.target.startswith("mock_agentbuddy") and not i.target.startswith("mock_agentbuddy.admin.client")})
    assert fake in ([], ["scenarios.engine.stack"]), f"only scenarios/engine/stack.py may start the fake: {fake}"
