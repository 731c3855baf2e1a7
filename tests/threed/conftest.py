"""Cities for the 3D Tiles tests: a small generated one (holes, multipolygons, a sloping DEM) and
the demo city."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from tests.conftest import ROOT, samples_dir

X0, Y0 = 530000.0, 3990000.0  # EPSG:4549, near Qingdao
VALIDATOR = Path(__file__).parent / "validator"


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def buildings_frame(n_side: int = 14, seed: int = 7) -> gpd.GeoDataFrame:
    """A grid of box buildings plus a courtyard block, an L-shape and a two-part building."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(n_side), np.arange(n_side))
    x, y = X0 + i.ravel() * 60.0, Y0 + j.ravel() * 60.0
    w, h = rng.uniform(10, 40, x.size), rng.uniform(10, 40, x.size)
    geoms = list(shapely.box(x, y, x + w, y + h))
    heights = list(np.round(rng.uniform(3, 120, x.size), 1))
    courtyard = shapely.Polygon([(X0 - 200, Y0), (X0 - 100, Y0), (X0 - 100, Y0 + 100), (X0 - 200, Y0 + 100)],
                                [[(X0 - 170, Y0 + 30), (X0 - 130, Y0 + 30), (X0 - 130, Y0 + 70), (X0 - 170, Y0 + 70)]])
    ell = shapely.Polygon([(X0 - 300, Y0), (X0 - 240, Y0), (X0 - 240, Y0 + 20), (X0 - 280, Y0 + 20),
                           (X0 - 280, Y0 + 80), (X0 - 300, Y0 + 80)])
    pair = shapely.MultiPolygon([shapely.box(X0 - 400, Y0, X0 - 380, Y0 + 20),
                                 shapely.box(X0 - 360, Y0, X0 - 340, Y0 + 20)])
    flat = shapely.box(X0 - 500, Y0, X0 - 480, Y0 + 20)  # no height: not drawn
    geoms += [courtyard, ell, pair, flat]
    heights += [24.0, 9.0, 15.0, np.nan]
    names = [f"楼{k}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"bid": [f"B{k:04d}" for k in range(len(geoms))], "name": names,
                             "height": heights}, geometry=geoms, crs="EPSG:4549")


def write_dem(path: Path) -> Path:
    """A DEM sloping 0.1 m per metre eastwards, 10 m pixels, covering the small city."""
    import rasterio
    from affine import Affine

    west, north, size = X0 - 1000, Y0 + 2000, 300
    cols = np.arange(size) * 10.0 + 5.0
    grid = np.tile(20.0 + 0.1 * cols, (size, 1)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                       crs="EPSG:4549", transform=Affine(10.0, 0.0, west, 0.0, -10.0, north), nodata=-9999.0) as ds:
        ds.write(grid, 1)
    return path


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory):
    """A city with the generated buildings and a sloping DEM (read-only use: do not change it)."""
    import cim

    folder = tmp_path_factory.mktemp("threed")
    c = cim.create(folder / "city.duckdb")
    src = folder / "buildings.parquet"
    buildings_frame().to_parquet(src)
    c.ingest(src, layer="buildings", feature_class="Building", id_field="bid")
    c.ingest(write_dem(folder / "dem.tif"), layer="dem", role="dem")
    yield c
    c.close()


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory: pytest.TempPathFactory):
    """The demo city's buildings (≈3 000), roads and DEM, without the slower subsystem steps."""
    import cim
    from cim.demo import generate_frames, ingest_frame
    from cim.demo.recipe import load_recipe
    from cim.demo.terrain import write_dem as demo_dem

    folder = tmp_path_factory.mktemp("demo")
    spec = load_recipe(None)
    rng = np.random.default_rng(spec["seed"])
    frames = generate_frames(spec, rng, buildings=spec["buildings"], crs="EPSG:4549")
    c = cim.create(folder / "city.duckdb")
    for name in ("buildings", "roads"):
        ingest_frame(c, name, frames[name], folder)
    dem = demo_dem(folder / "dem.tif", tuple(frames["blocks"].total_bounds), spec, "EPSG:4549", rng)
    c.ingest(dem, layer="dem", role="dem")
    yield c
    c.close()


@pytest.fixture(scope="session")
def tileset_validator():
    """A jsonschema validator of the 3D Tiles 1.1 tileset schema (all $refs inside the folder)."""
    import json

    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    root = samples_dir().parent / "specs" / "3d-tiles-1.1-schema"
    if not (root / "tileset.schema.json").is_file():
        _missing(f"3D Tiles 1.1 schemas missing at {root}")
    registry = Registry()
    for path in root.rglob("*.schema.json"):
        doc = json.loads(path.read_text())
        resource = Resource.from_contents(doc)
        registry = registry.with_resource(path.relative_to(root).as_posix(), resource)
        registry = registry.with_resource(doc.get("$id", path.name), resource)
    schema = json.loads((root / "tileset.schema.json").read_text())
    return Draft202012Validator(schema, registry=registry), registry


@pytest.fixture(scope="session")
def gltf_validator():
    """A function running the Khronos glTF validator (node) over glb files → its reports."""
    import json

    node = shutil.which("node")
    if node is None or not (VALIDATOR / "node_modules" / "gltf-validator").is_dir():
        _missing(f"gltf-validator not installed: run `npm ci --prefix {VALIDATOR.relative_to(ROOT)}`")

    def run(paths: list[Path]) -> list[dict]:
        out = subprocess.run([node, str(VALIDATOR / "validate.js"), *map(str, paths)], capture_output=True,
                             text=True, timeout=300, check=True)
        return json.loads(out.stdout)

    return run
