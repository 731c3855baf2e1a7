"""Fixtures for the analysis tests: one small demo city per session, and tiny hand-made cities."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

#: buildings in the shared demo city: small enough to build in seconds, large enough to hold
#: every land use and a dozen planted violations of each kind
DEMO_SCALE = 700


def build_planning_demo(path: Path, scale: int = DEMO_SCALE):
    """The demo city's GIS layers and DEM (the BIM and IoT steps are left to their own tests)."""
    import cim
    from cim.demo import generate_frames, ingest_frame
    from cim.demo.recipe import load_recipe
    from cim.demo.terrain import write_dem

    spec = load_recipe()
    rng = np.random.default_rng(spec["seed"])
    frames = generate_frames(spec, rng, buildings=scale, crs=spec.raw.get("crs", "EPSG:4549"))
    city = cim.create(path, crs=spec.raw.get("crs", "EPSG:4549"))
    source = city.data_dir / "demo-src"
    source.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        ingest_frame(city, name, frame, source)
    dem = write_dem(source / "dem.tif", tuple(frames["blocks"].total_bounds), spec, city.crs, rng)
    city.ingest(dem, layer="dem", role="dem")
    return city


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo city built once per test session (read it; copy it before changing it)."""
    path = tmp_path_factory.mktemp("demo") / "city.duckdb"
    build_planning_demo(path).close()
    return path


@pytest.fixture(scope="session")
def demo_postgis(postgis_server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The same demo city (same seed) in a PostGIS database, built once per session: its URL and the
    ``CIM_DATA_DIR`` that holds its side files (the DEM); read it, never change it."""
    data_dir = tmp_path_factory.mktemp("demo-postgis")
    url = postgis_server.database()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIM_DATA_DIR", str(data_dir))
        build_planning_demo(url).close()
    return url, data_dir


@pytest.fixture
def demo(demo_path: Path):
    """The shared demo city, open read-only."""
    import cim

    c = cim.open(demo_path, read_only=True)
    yield c
    c.close()


def ingest_frame(city, frame: gpd.GeoDataFrame, layer: str, cls: str, id_field: str, tmp: Path) -> None:
    """Put a GeoDataFrame into ``city`` as ``layer`` the way a user's file would go in."""
    target = tmp / f"{layer}.parquet"
    frame.to_parquet(target, index=False)
    city.ingest(target, layer=layer, feature_class=cls, id_field=id_field)
