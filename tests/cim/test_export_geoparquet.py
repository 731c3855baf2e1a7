"""``cim export geoparquet``: every vector layer as GeoParquet 1.1 that other engines read back whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import CRS

import cim
from cim.errors import LayerNotFound, ValidationError
from cim.export_geoparquet import export_geoparquet
from tests.cim.helpers import parcels_geojson
from tests.conftest import sample

X0, Y0 = 515000.0, 3979000.0


@pytest.fixture
def city(new_city):
    """An empty city in EPSG:4549 on each store backend (a DuckDB file, a PostGIS database)."""
    return new_city()


def scattered_layer(city, tmp_path: Path, n: int = 400, *, name: str = "buildings", seed: int = 7) -> None:
    """``n`` 8 m squares at random places in a 1 km square, so id order says nothing about position."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n, 2))
    frame = gpd.GeoDataFrame(
        {"bid": [f"b{i:04d}" for i in range(n)], "floors": rng.integers(1, 30, n), "use": ["住宅"] * n},
        geometry=[shapely.box(X0 + x, Y0 + y, X0 + x + 8, Y0 + y + 8) for x, y in xy],
        crs="EPSG:4549",
    )
    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    city.ingest(path, layer=name, feature_class="Building", id_field="bid")


def geo_of(path: Path) -> dict:
    return json.loads(pq.read_metadata(path).metadata[b"geo"])


def by_id(frame):
    return frame.set_index("id").sort_index()


def test_a_layer_round_trips_with_its_ids_geometries_typed_properties_and_crs(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 5), layer="parcels")
    report = export_geoparquet(city, tmp_path / "out")
    [written] = report.layers
    assert written.path == tmp_path / "out" / "parcels.parquet" and written.files == 1
    assert written.rows_read == written.rows_written == 5 and written.bytes == written.path.stat().st_size
    got, want = by_id(gpd.read_parquet(written.path)), by_id(city.features("parcels"))
    assert list(got.index) == list(want.index)
    assert got.crs == CRS(city.crs)
    assert all(shapely.equals_exact(got.geometry.values, want.geometry.values, tolerance=0))
    for column in ("名称", "land_use", "far_limit", "class", "version", "height", "valid_from"):
        assert got[column].tolist() == want[column].tolist(), column
    assert got["far_limit"].dtype == np.float64
    assert json.loads(got["properties"].iloc[0])["名称"] == got["名称"].iloc[0]


def test_the_geo_metadata_is_geoparquet_1_1_with_a_bbox_covering_that_matches_the_geometries(city, tmp_path):
    scattered_layer(city, tmp_path)
    path = export_geoparquet(city, tmp_path / "out").layers[0].path
    geo = geo_of(path)
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["Polygon"]
    assert CRS.from_json_dict(column["crs"]) == CRS("EPSG:4549") and column["crs"]["id"]["code"] == 4549
    assert column["covering"] == {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}
    table = pq.read_table(path)
    assert str(table.schema.field("bbox").type) == "struct<xmin: double, ymin: double, xmax: double, ymax: double>"
    bounds = shapely.bounds(shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False)))
    box = np.array([table["bbox"].combine_chunks().field(k).to_numpy() for k in ("xmin", "ymin", "xmax", "ymax")]).T
    np.testing.assert_array_equal(box, bounds)
    np.testing.assert_array_equal(column["bbox"], [*bounds[:, :2].min(axis=0), *bounds[:, 2:].max(axis=0)])


def _mean_step(frame) -> float:
    centres = np.column_stack([frame.geometry.centroid.x, frame.geometry.centroid.y])
    return float(np.linalg.norm(np.diff(centres, axis=0), axis=1).mean())


def test_rows_are_in_hilbert_order_so_neighbouring_rows_lie_close(city, tmp_path):
    scattered_layer(city, tmp_path)
    path = export_geoparquet(city, tmp_path / "out").layers[0].path
    exported, in_id_order = gpd.read_parquet(path), city.features("buildings")
    assert sorted(exported["id"]) == list(in_id_order["id"])
    # 400 points in 1 km²: about 520 m between random neighbours, a few tens of metres along a Hilbert curve
    assert _mean_step(in_id_order) > 400
    assert _mean_step(exported) < 0.15 * _mean_step(in_id_order)


def test_a_large_layer_is_hive_partitioned_by_hilbert_cell_and_duckdb_reads_it_back(city, tmp_path):
    scattered_layer(city, tmp_path)
    written = export_geoparquet(city, tmp_path / "out", partition_rows=100).layers[0]
    files = sorted((tmp_path / "out" / "buildings").glob("cell=*/part-0.parquet"))
    assert written.path == tmp_path / "out" / "buildings" and written.level is not None
    assert written.files == len(files) > 1 and written.rows_written == 400
    assert all(pq.read_metadata(f).num_rows <= 100 for f in files)
    assert written.bytes == sum(f.stat().st_size for f in files)
    con = cim.store.connect()
    try:
        rows = con.execute(
            "SELECT id, cell, ST_AsWKB(geometry) AS wkb, floors FROM "
            f"read_parquet('{tmp_path / 'out' / 'buildings'}/*/*.parquet', hive_partitioning = true) ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    city_rows = city.features("buildings")
    assert [r[0] for r in rows] == list(city_rows["id"])
    assert all(shapely.from_wkb(bytes(r[2])).equals(g) for r, g in zip(rows, city_rows.geometry, strict=True))
    assert [r[3] for r in rows] == list(city_rows["floors"])
    # a cell is a region: the bbox centres of different cells fall in rectangles that do not overlap
    centres: dict[int, list] = {}
    for _, cell, wkb, _ in rows:
        centres.setdefault(int(cell), []).append(shapely.centroid(shapely.from_wkb(bytes(wkb))))
    boxes = [shapely.box(*shapely.MultiPoint(p).bounds) for p in centres.values()]
    assert all(a.intersection(b).area < 1e-6 for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_a_filter_on_the_bbox_covering_finds_what_the_city_bbox_query_finds(city, tmp_path):
    scattered_layer(city, tmp_path)
    export_geoparquet(city, tmp_path / "out", partition_rows=100)
    window = (X0 + 200, Y0 + 300, X0 + 450, Y0 + 500)
    con = cim.store.connect()
    try:
        found = con.execute(
            f"SELECT id FROM read_parquet('{tmp_path / 'out' / 'buildings'}/*/*.parquet') "
            "WHERE bbox.xmax >= ? AND bbox.xmin <= ? AND bbox.ymax >= ? AND bbox.ymin <= ? "
            "AND ST_Intersects(geometry, ST_MakeEnvelope(?, ?, ?, ?)) ORDER BY id",
            [window[0], window[2], window[1], window[3], *window],
        ).fetchall()
    finally:
        con.close()
    expected = list(city.features("buildings", bbox=window)["id"])
    assert len(expected) > 5 and [r[0] for r in found] == expected


def test_dask_geopandas_reads_a_partitioned_layer_with_one_partition_per_cell(city, tmp_path):
    dask_geopandas = pytest.importorskip("dask_geopandas")
    scattered_layer(city, tmp_path)
    written = export_geoparquet(city, tmp_path / "out", partition_rows=100).layers[0]
    frame = dask_geopandas.read_parquet(str(written.path))
    assert frame.npartitions == written.files and frame.crs == CRS("EPSG:4549")
    got, want = by_id(frame.compute()), by_id(city.features("buildings"))
    assert list(got.index) == list(want.index)
    assert all(shapely.equals_exact(got.geometry.values, want.geometry.values, tolerance=0))


def test_features_without_geometry_are_kept_in_the_last_cell(city, tmp_path):
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    ifc = write_demo_building(
        tmp_path / "t.ifc", storeys=2, width=10, depth=10, anchor=Anchor(515200.0, 3980300.0, 0.0, crs="EPSG:4549")
    )
    city.ingest(ifc, layer="tower")
    written = export_geoparquet(city, tmp_path / "out", partition_rows=10).layers[0]
    frame = gpd.read_parquet(written.path)
    assert sorted(frame["id"]) == list(city.features("tower")["id"])
    missing = frame[frame.geometry.isna()]
    assert len(missing) > 0 and set(missing["cell"]) == {4**written.level}
    last = pq.read_table(written.path / f"cell={4**written.level}" / "part-0.parquet")
    assert last["bbox"].null_count == last.num_rows == len(missing)


def test_as_of_exports_the_layer_as_it_was(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    before = city.features("parcels")["valid_from"].max()
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 4), layer="parcels")
    then = export_geoparquet(city, tmp_path / "then", as_of=before.isoformat()).layers[0]
    now = export_geoparquet(city, tmp_path / "now").layers[0]
    assert then.rows_written == 2 and now.rows_written == 4
    assert set(gpd.read_parquet(then.path)["version"]) == {1}


def test_an_existing_folder_is_refused_unless_overwrite_and_then_replaced(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValidationError, match="out exists and is not empty: .*--overwrite"):
        export_geoparquet(city, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    export_geoparquet(city, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["parcels.parquet"]


def test_an_empty_existing_folder_is_used(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    (tmp_path / "out").mkdir()
    assert export_geoparquet(city, tmp_path / "out").rows == 2


def test_an_unknown_layer_is_refused_with_the_layers_there_are(city, tmp_path):
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    with pytest.raises(LayerNotFound, match="no layer 'roads'.*layers are: parcels"):
        export_geoparquet(city, tmp_path / "out", layers=["roads"])
    assert not (tmp_path / "out").exists()


def test_a_raster_layer_is_skipped_and_said_so(city, tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    dem = tmp_path / "dem.tif"
    profile = {
        "driver": "GTiff",
        "width": 16,
        "height": 16,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4549",
        "transform": from_origin(X0, Y0 + 160, 10, 10),
    }
    with rasterio.open(dem, "w", **profile) as ds:
        ds.write(np.arange(256, dtype="float32").reshape(1, 16, 16))
    city.ingest(dem, layer="dem")
    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    report = export_geoparquet(city, tmp_path / "out")
    assert [w.layer for w in report.layers] == ["parcels"] and "raster" in report.skipped["dem"]
    assert "dem: skipped, raster layer" in "\n".join(report.lines())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["parcels.parquet"]
    with pytest.raises(ValidationError, match="nothing to export.*dem: raster layer"):
        export_geoparquet(city, tmp_path / "only-dem", layers=["dem"])
    assert not (tmp_path / "only-dem").exists()


def test_a_failure_midway_leaves_no_folder_and_no_temporary_files(city, tmp_path, monkeypatch):
    import cim.export_geoparquet as module

    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    scattered_layer(city, tmp_path, 50)
    real, calls = module._write_file, []

    def fail_after_the_first_layer(*args, **kwargs):
        if calls:
            raise OSError("disk full")
        calls.append(args[1])
        real(*args, **kwargs)

    monkeypatch.setattr(module, "_write_file", fail_after_the_first_layer)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(OSError, match="disk full"):
        export_geoparquet(city, tmp_path / "out")
    assert calls and calls[0].exists() is False  # the first layer was written, then thrown away
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_failed_overwrite_keeps_the_previous_export(city, tmp_path, monkeypatch):
    import cim.export_geoparquet as module

    city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 2), layer="parcels")
    export_geoparquet(city, tmp_path / "out")
    monkeypatch.setattr(module, "_write_file", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        export_geoparquet(city, tmp_path / "out", overwrite=True)
    assert gpd.read_parquet(tmp_path / "out" / "parcels.parquet").shape[0] == 2


def test_real_district_boundaries_round_trip(city, tmp_path):
    path = sample("vector/qingdao_districts_gcj02.geojson")
    [ingested] = city.ingest(path, layer="districts")
    written = export_geoparquet(city, tmp_path / "out").layers[0]
    want = by_id(city.features("districts"))
    got = by_id(gpd.read_parquet(written.path))
    assert written.rows_written == ingested.stored == len(got) == 10
    assert list(got.index) == list(want.index) and got["name"].tolist() == want["name"].tolist()
    assert all(shapely.equals_exact(got.geometry.values, want.geometry.values, tolerance=0))
    assert set(geo_of(written.path)["columns"]["geometry"]["geometry_types"]) <= {"Polygon", "MultiPolygon"}


def test_real_road_lines_partition_and_duckdb_counts_them_all(new_city, tmp_path):
    path = sample("vector/nyc_tiger_roads.geojson")
    city = new_city(crs="EPSG:32618")
    [ingested] = city.ingest(path, layer="roads")
    written = export_geoparquet(city, tmp_path / "out", partition_rows=2000).layers[0]
    lengths = city.sql("SELECT sum(ST_Length(geom)) AS n FROM features WHERE layer = 'roads'").to_pylist()[0]
    assert written.files > 1 and written.rows_read == written.rows_written == ingested.stored
    con = cim.store.connect()
    try:
        n, length = con.execute(
            f"SELECT count(*), sum(ST_Length(geometry)) FROM read_parquet('{written.path}/*/*.parquet')"
        ).fetchone()
    finally:
        con.close()
    assert n == ingested.stored and length == pytest.approx(next(iter(lengths.values())), rel=1e-12)


def test_the_command_line_writes_the_folder_and_refuses_to_overwrite_it(city_location, tmp_path):
    location = city_location()
    with cim.create(location) as city:
        city.ingest(parcels_geojson(tmp_path / "parcels.geojson", 3), layer="parcels")
    args = [sys.executable, "-m", "cim", "export", "geoparquet", str(location), str(tmp_path / "out")]
    done = subprocess.run([*args, "--layer", "parcels"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "parcels: read 3, wrote 3 rows in 1 file" in done.stdout
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert "exists and is not empty" in again.stderr and len(again.stderr.strip().splitlines()) == 1
