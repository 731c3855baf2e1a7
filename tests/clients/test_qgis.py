"""QGIS (Debian's qgis + python3-qgis, headless) opens the city with the docs' console recipe: an OGC API
Features layer with every building, an XYZ vector tile layer whose tiles hold, as QGIS decodes them,
the features the server's tiles hold, and the DEM through WMTS."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest

from cim.testing import need
from tests.clients.conftest import ROOT, recipe

QGIS_PYTHON = "/usr/bin/python3"
PROBE = ROOT / "tests" / "clients" / "qgis_probe.py"


def _qgis_available() -> bool:
    if not Path(QGIS_PYTHON).is_file():
        return False
    done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=120)
    return done.returncode == 0


@pytest.fixture(scope="module")
def qgis_result(server: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What QGIS made of the docs' recipe against the module's server."""
    need(_qgis_available(), "QGIS is not installed (Debian packages qgis and python3-qgis: "
                            "scripts/install-system.sh installs them)")
    folder = tmp_path_factory.mktemp("qgis")
    script, out = folder / "recipe.py", folder / "result.json"
    script.write_text(recipe("qgis", base=server), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([QGIS_PYTHON, str(PROBE), str(script), str(out)], cwd=folder, capture_output=True,
                          text=True, timeout=600,
                          env={**env, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(folder)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "buildings;" in done.stdout, "the recipe printed what it loaded"
    return json.loads(out.read_text(encoding="utf-8"))


def test_qgis_loads_every_building_through_ogc_api_features(server, qgis_result):
    assert qgis_result["valid"]["buildings"]
    served = httpx.get(f"{server}/collections/buildings/items?limit=10000").json()
    ids = sorted(f["id"] for f in served["features"])
    assert qgis_result["oapif_ids"] == ids
    assert qgis_result["oapif_feature_count"] == served["numberMatched"]


def test_qgis_decodes_the_same_features_per_vector_tile_as_the_server_sends(server, qgis_result):
    assert qgis_result["valid"]["roads"] and qgis_result["roads_errors"] == []
    counts = qgis_result["tile_counts"]
    assert counts, "QGIS drew no vector tile"
    for key, layers in counts.items():
        z, x, y = key.split("/")
        data = httpx.get(f"{server}/tiles/roads/{z}/{x}/{y}.mvt").content
        features = mapbox_vector_tile.decode(data).get("roads", {}).get("features", []) if data else []
        assert layers.get("roads", 0) == len(features), f"tile {key}"
    assert sum(layers.get("roads", 0) for layers in counts.values()) > 0
    assert qgis_result["roads_drawn"] > 0, "the roads are on QGIS's map"


def test_qgis_draws_the_dem_from_wmts(qgis_result):
    assert qgis_result["valid"]["dem"] and qgis_result["dem_errors"] == []
    assert qgis_result["dem_crs"] == "EPSG:3857"
    assert qgis_result["dem_drawn"] > 0.3, "the DEM covers most of the city's box on QGIS's map"
