"""Fixtures for the analysis tests: one small demo city per session, and tiny hand-made cities."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

#: buildings in the shared demo city: small enough to build in seconds, large enough to hold
#: every land use and a dozen planted violations of each kind
DEMO_SCALE = 700


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo city built once per test session (read it; copy it before changing it)."""
    from cim.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "city.duckdb"
    build_demo(path, scale=DEMO_SCALE).close()
    return path


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
