"""The planner, worksite and analyst notebooks run top to bottom on a small demo city; git holds no outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} >= {"planner", "worksite", "analyst"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_carry_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{path.name} has outputs: strip them (jupyter nbconvert --clear-output --inplace {path.name})")


@pytest.fixture(scope="module")
def notebook_city(tmp_path_factory):
    from tests.analysis.conftest import build_planning_demo

    path = tmp_path_factory.mktemp("nb") / "city.duckdb"
    build_planning_demo(path, scale=400).close()
    return path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_errors(path, notebook_city, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("CIM_NOTEBOOK_CITY", str(notebook_city))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, "CIM_NOTEBOOK_CITY": str(notebook_city)})
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    last = nb.cells[-1].outputs
    assert any("text/html" in o.get("data", {}) and "createDeck" in o["data"]["text/html"] for o in last)
