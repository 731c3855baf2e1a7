"""engine="dask": the same indicators and compliance results from a dask.distributed LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cim.analysis import check_compliance, indicators

pytest.importorskip("dask_geopandas")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def _assert_same(a, b):
    assert a.schema.names == b.schema.names and a.num_rows == b.num_rows
    for name in a.schema.names:
        x, y = a[name].to_pylist(), b[name].to_pylist()
        if name == "geom":
            assert all(shapely.from_wkb(p).equals(shapely.from_wkb(q)) for p, q in zip(x, y, strict=True))
        elif a.schema.field(name).type in ("double", "float"):
            np.testing.assert_allclose(np.array(x, dtype=float), np.array(y, dtype=float), rtol=1e-9, atol=1e-9)
        else:
            assert x == y, name


@pytest.mark.parametrize("by", ["parcel", "district"])
def test_dask_indicators_equal_the_duckdb_indicators(demo, client, by):
    duck = indicators(demo, by=by, output="arrow")
    dask = indicators(demo, by=by, engine="dask", client=client, output="arrow")
    assert duck.schema.equals(dask.schema, check_metadata=False)
    _assert_same(duck, dask)


def test_dask_compliance_equals_the_duckdb_compliance(demo, client):
    rules = ["far", "density", "green", "height"]
    duck = check_compliance(demo, only=rules, output="arrow")
    dask = check_compliance(demo, only=rules, engine="dask", client=client, output="arrow")
    _assert_same(duck, dask)


@pytest.mark.parametrize("partition_rows", [1_000_000, 150], ids=["one-file-per-layer", "hilbert-cells"])
def test_dask_indicators_read_from_a_geoparquet_export_equal_the_duckdb_indicators(
    demo, client, tmp_path, partition_rows
):
    from cim.export_geoparquet import export_geoparquet

    source = tmp_path / "parquet"
    report = export_geoparquet(
        demo, source, layers=["parcels", "buildings", "green_space"], partition_rows=partition_rows
    )
    assert {w.layer for w in report.layers} == {"parcels", "buildings", "green_space"}
    for by in ("parcel", "district"):
        duck = indicators(demo, by=by, output="arrow")
        dask = indicators(demo, by=by, engine="dask", client=client, source=source, output="arrow")
        assert duck.schema.equals(dask.schema, check_metadata=False)
        _assert_same(duck, dask)


def test_dask_from_geoparquet_derives_floors_and_heights_like_the_sql(city, client, tmp_path):
    """Heights only as text (one unreadable), floors missing on some: the fallbacks of ``buildings_sql``."""
    import geopandas as gpd

    from cim.export_geoparquet import export_geoparquet
    from tests.analysis.conftest import ingest_frame

    x0, y0 = 515000.0, 3979500.0
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B"], "far_limit": [1.0, 2.0]},
        geometry=[shapely.box(x0, y0, x0 + 100, y0 + 100), shapely.box(x0 + 100, y0, x0 + 200, y0 + 100)],
        crs="EPSG:4549",
    )
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ["a1", "a2", "b1", "b2"],
            "height": ["7.5", "n/a", "31", "4.4"],
            "floors": [None, 4.0, None, None],
        },
        geometry=[
            shapely.box(x0 + 10 * i + 100 * (i > 1), y0 + 10, x0 + 10 * i + 8 + 100 * (i > 1), y0 + 18)
            for i in range(4)
        ],
        crs="EPSG:4549",
    )
    ingest_frame(city, parcels, "parcels", "Parcel", "parcel_id", tmp_path)
    ingest_frame(city, buildings, "buildings", "Building", "building_id", tmp_path)
    assert city.features("buildings", output="pandas")["height"].isna().all()  # text heights stay properties
    export_geoparquet(city, tmp_path / "parquet")
    duck = indicators(city, output="arrow")
    dask = indicators(city, engine="dask", client=client, source=tmp_path / "parquet", output="arrow")
    _assert_same(duck, dask)
    assert duck["floor_area"].to_pylist() == [64 * 3 + 64 * 4, 64 * 10 + 64 * 1]  # round(7.5/3)=3, 31/3→10


def test_a_geoparquet_source_without_the_buildings_layer_says_how_to_export_it(demo, client, tmp_path):
    from cim.errors import LayerNotFound
    from cim.export_geoparquet import export_geoparquet

    export_geoparquet(demo, tmp_path / "parquet", layers=["parcels"])
    with pytest.raises(LayerNotFound, match="no layer 'buildings' in the GeoParquet folder .*--layer buildings"):
        indicators(demo, engine="dask", client=client, source=tmp_path / "parquet")


def test_the_duckdb_engine_refuses_a_geoparquet_source(demo, tmp_path):
    from cim.errors import ValidationError

    with pytest.raises(ValidationError, match="engine='dask'"):
        indicators(demo, source=tmp_path)
