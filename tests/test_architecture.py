"""The rooms keep to their rules: what each may import, and the one owner of the schema's SQL.

docs/architecture.md states these rules; this test is how they stay true.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules(room: str) -> list[Path]:
    return sorted(p for p in (ROOT / room).rglob("*.py") if "node_modules" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Top-level package names a module imports (at any depth of the file)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


FORBIDDEN = {
    "gis": {"cim", "bim", "serving", "tiles", "fastapi"},
    "bim": {"cim", "serving", "tiles", "fastapi"},  # bim reads CRSs through gis
    "cim": {"tiles", "fastapi", "starlette"},
    "serving": {"tiles", "fastapi", "starlette"},
}


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_each_room_imports_only_what_it_may(room):
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN[room]) for p in _modules(room)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_model_never_imports_the_serving_room_except_the_command_line_edge():
    offenders = [str(p.relative_to(ROOT)) for p in _modules("cim")
                 if "serving" in _imports(p) and "cli" not in p.relative_to(ROOT).parts]
    assert offenders == []


SCHEMA_SQL = re.compile(
    r"valid_to IS NULL|\bFROM features\b|\bJOIN features\b|json_extract(_string)?\(\s*\w*\.?properties", re.IGNORECASE)


def test_only_the_model_layer_writes_the_schemas_sql():
    """Validity, the features table and JSON-property casts are spelled in cim/model (and the store
    and migrations under it) and nowhere else in the code."""
    owners = (ROOT / "cim" / "model", ROOT / "cim" / "store", ROOT / "cim" / "migrations")
    offenders = []
    for room in ("cim", "serving", "tiles", "gis", "bim"):
        for path in _modules(room):
            if any(owner in path.parents for owner in owners):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SCHEMA_SQL.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
