"""Fixtures for the bim tests: sample files, small generated IFC files, and geometry run once.

Sample files come from ``$CIM_SAMPLES`` or ``<repo>/../shared/datasets``; a missing file skips its
test, except under ``CI=true``, where it fails. Geometry is the slow part (PERF-NOTES), so each
sample is meshed at most once per session (`meshed`), ISSUE_021 included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import sample, samples_dir

REPO = Path(__file__).resolve().parents[2]

# name -> (declared schema, IfcProduct count, storeys, expected georeferencing method or None)
IFC_SAMPLES: dict[str, tuple[str, int, int, str | None]] = {
    "AC20-FZK-Haus.ifc": ("IFC4", 127, 2, "IfcSite RefLatitude/RefLongitude"),
    "Building-Architecture.ifc": ("IFC4", 22, 1, "IfcMapConversion"),
    "ISSUE_021_Mini_Project.ifc": ("IFC2X3", 3697, 1, None),
    "IfcOpenHouse_IFC4.ifc": ("IFC4", 47, 1, None),
    "duplex.ifc": ("IFC2X3", 295, 4, "IfcSite RefLatitude/RefLongitude"),
    "example_ifc2x3_revit.ifc": ("IFC2X3", 120, 2, "IfcSite RefLatitude/RefLongitude"),
    "geographic-referencing.ifc": ("IFC4", 4, 1, "IfcMapConversion"),
    "polygonal-face-tessellation.ifc": ("IFC4X3_ADD2", 2, 0, None),
    "tested_sample_project.ifc": ("IFC2X3", 108, 2, "IfcSite RefLatitude/RefLongitude"),
}
CITYJSON_SAMPLES = ["3dbag_b2.city.json", "3dbag_b2.city.jsonl", "delft.json", "multi_lod.json", "rotterdam_one.json"]


def samples_root() -> Path:
    return samples_dir()


def require_sample(relative: str) -> Path:
    """Path of a sample file, or skip (fail under CI=true) when it is absent."""
    return sample(relative)


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shared datasets folder (skip when absent, fail under CI)."""
    root = samples_root()
    if not root.is_dir():
        require_sample(".")
    return root


@pytest.fixture(scope="session")
def ifc_sample() -> Callable[[str], Path]:
    """``ifc_sample("duplex.ifc")`` -> path of that IFC sample."""
    return lambda name: require_sample(f"ifc/{name}")


class _Meshed:
    """One geometry run of a model: the BimModel after streaming, and its meshes."""

    def __init__(self, model, meshes) -> None:
        self.model, self.meshes = model, meshes


@pytest.fixture(scope="session")
def meshed() -> Callable[..., _Meshed]:
    """``meshed(path, anchor=None)`` -> cached geometry run (each file meshed once per session), by two
    worker processes as ``cim ingest`` does by default."""
    from bim import Anchor, read_model

    cache: dict[str, _Meshed] = {}

    def run(path: Path, anchor: Anchor | None = None) -> _Meshed:
        key = f"{path}|{anchor}"
        if key not in cache:
            model = read_model(path, anchor=anchor, threads=1, workers=2)
            cache[key] = _Meshed(model, list(model.iter_meshes()))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def demo_anchor():
    from bim import Anchor

    return Anchor(527000.0, 4010000.0, 5.0, rotation_deg=15.0, crs="EPSG:4549")


@pytest.fixture(scope="session")
def demo_ifc(tmp_path_factory: pytest.TempPathFactory, demo_anchor) -> Path:
    """The demo building (6 storeys, IFC4), generated once per session."""
    from bim import write_demo_building

    return write_demo_building(tmp_path_factory.mktemp("demo") / "demo.ifc", anchor=demo_anchor)
