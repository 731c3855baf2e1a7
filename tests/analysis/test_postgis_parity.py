"""Planning analysis on a PostGIS city gives what it gives on the same city in a DuckDB file.

The demo city is built twice from the same seed, once in a file and once in a PostgreSQL + PostGIS
database; every analysis runs on both and the answers must agree: the same rows, the same text,
numbers equal to 1e-9 (relative), geometry covering the same ground.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely

from cim.analysis import buffer_impact, flood, pipe_failure

RTOL = 1e-9


@pytest.fixture
def twin(demo_postgis, monkeypatch):
    """The PostGIS demo city, open read-only (its DEM found under its own CIM_DATA_DIR)."""
    import cim

    url, data_dir = demo_postgis
    monkeypatch.setenv("CIM_DATA_DIR", str(data_dir))
    c = cim.open(url, read_only=True)
    yield c
    c.close()


def assert_same_rows(ours: pd.DataFrame, theirs: pd.DataFrame, key: list[str]) -> None:
    """Same columns and dtypes, same rows by ``key``; numbers to RTOL, text exact, geometry the same ground."""
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs) > 0
    ours = ours.sort_values(key).reset_index(drop=True)
    theirs = theirs.sort_values(key).reset_index(drop=True)
    for col in ours.columns:
        a, b = ours[col], theirs[col]
        if col in ("geom", "geometry"):
            ga, gb = _shapes(a), _shapes(b)
            scale = np.maximum(shapely.area(ga), 1.0)
            assert (shapely.area(shapely.symmetric_difference(ga, gb)) <= 1e-6 * scale).all(), col
        elif col == "properties":
            assert [json.loads(v) for v in a] == [json.loads(v) for v in b]
        elif pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            assert a.dtype == b.dtype, col
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=RTOL, atol=1e-9, err_msg=col)
        else:
            assert a.where(a.notna(), None).tolist() == b.where(b.notna(), None).tolist(), col


def _shapes(values: pd.Series) -> np.ndarray:
    if hasattr(values, "geom_type"):
        return np.asarray(values.values, dtype=object)
    return shapely.from_wkb(values.to_numpy())


@pytest.mark.parametrize("by", ["parcel", "block", "district"])
def test_indicators_on_postgis_equal_the_duckdb_indicators(demo, twin, by):
    assert_same_rows(demo.indicators(by=by, output="pandas"), twin.indicators(by=by, output="pandas"), [by])


def test_indicators_where_keeps_the_same_parcels_on_postgis(demo, twin):
    ours = demo.indicators(where="far > far_limit", output="pandas")
    assert sorted(ours["parcel"]) == sorted(twin.indicators(where="far > far_limit", output="pandas")["parcel"])


def test_every_compliance_finding_is_the_same_on_postgis(demo, twin):
    ours, theirs = demo.check(output="pandas"), twin.check(output="pandas")
    assert set(ours["rule"]) == {"height", "far", "density", "green", "setback", "road_red_line", "spacing",
                                 "sunlight"}
    assert_same_rows(ours, theirs, ["rule", "subject"])  # ids, rules, status, values, reasons in both languages
    assert (ours["status"] == "fail").sum() > 0


def test_a_bim_review_on_postgis_gives_the_same_report(demo, twin, tmp_path):
    pytest.importorskip("ifcopenshell")
    from bim import Anchor, write_demo_building
    from cim.analysis import review_ifc

    site = demo.features("parcels", where="worksite").iloc[0]
    centre = site.geometry.centroid
    ifc = write_demo_building(tmp_path / "tall.ifc", storeys=2, width=30.0, depth=18.0, storey_height=90.0,
                              anchor=Anchor(centre.x, centre.y, 0.0, crs="EPSG:4549"))
    ours, theirs = (review_ifc(c, ifc, parcel=site["parcel_id"]).to_dict() for c in (demo, twin))
    for report in (ours, theirs):
        report.pop("created_at")
    assert not ours["passed"] and {c["rule"] for c in ours["checks"]} >= {"height", "far", "spacing"}
    assert_same_rows(pd.DataFrame(ours.pop("checks")), pd.DataFrame(theirs.pop("checks")), ["rule", "subject"])
    assert ours == theirs  # verdict, model, parcel (its fields and outline), footprint


def test_flood_base_elevations_and_networks_are_the_same_on_postgis(demo, twin):
    ours, theirs = flood(demo, level=40.0), flood(twin, level=40.0)
    assert ours.area_m2 == theirs.area_m2 and (ours.mask == theirs.mask).all()
    columns = ["layer", "id", "class", "name", "z_min", "z_max", "ground", "depth"]
    assert_same_rows(pd.DataFrame(ours.features[columns]), pd.DataFrame(theirs.features[columns]), ["layer", "id"])
    assert_same_rows(demo.base_elevations("buildings"), twin.base_elevations("buildings"), ["id"])

    pipes = sorted(demo.features("pipes", output="pandas")["id"])
    pipe = pipes[len(pipes) // 2]
    assert pipe_failure(demo, pipe) == pipe_failure(twin, pipe)
    assert_same_rows(buffer_impact(demo, pipe, 40.0, output="pandas"), buffer_impact(twin, pipe, 40.0, output="pandas"),
                     ["layer", "id"])


def test_a_map_of_a_postgis_city_draws_the_same_features(demo, twin):
    failures = [c.check(only=["height"], only_failures=True) for c in (demo, twin)]
    ours, theirs = (c.map(["parcels", "buildings"], highlight=f).deck.to_json() for c, f in zip((demo, twin),
                                                                                                 failures, strict=True))
    assert json.loads(ours) == json.loads(theirs)
