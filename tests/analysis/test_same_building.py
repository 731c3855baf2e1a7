"""The spacing rule and the same building held by two layers (a footprint layer and a 3D model)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cim.cli import app


def _layer(path, boxes: dict[str, tuple[float, float, float, float]]):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}
    features = [{"type": "Feature", "properties": {"bid": bid, "height": 10.0},
                 "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
                for bid, (x0, y0, x1, y1) in boxes.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": features}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """Layer ``survey`` holds A and B (touching, 20 × 20 m each); layer ``model`` holds A again,
    0.2 m off — the same building — and C, 30 m from everything."""
    folder = tmp_path_factory.mktemp("same")
    x, y = 489000.0, 3969700.0
    survey = _layer(folder / "survey.geojson", {"A": (x, y, x + 20, y + 20), "B": (x + 20, y, x + 40, y + 20)})
    model = _layer(folder / "model.geojson", {"A": (x + 0.2, y, x + 20.2, y + 20), "C": (x, y + 50, x + 20, y + 70)})
    path = folder / "city.duckdb"
    runner = CliRunner()
    for args in (["init", str(path)],
                 ["ingest", str(path), str(survey), "--class", "Building", "--id-field", "bid"],
                 ["ingest", str(path), str(model), "--class", "Building", "--id-field", "bid"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return path


def test_a_building_is_no_neighbour_of_its_own_copy_in_another_layer(city):
    import cim
    from cim.analysis import check_compliance

    with cim.open(city, read_only=True) as c:
        rows = check_compliance(c, only=["spacing"], output="pandas").set_index("subject")
    copy = rows.loc["model.A"]
    assert copy["status"] == "fail" and copy["value"] == pytest.approx(0.0, abs=1e-6)  # it still touches B …
    assert "survey.B" in copy["reason_en"] and "survey.A is the same building" in copy["reason_en"]  # … not A
    assert rows.loc["survey.B", "status"] == "fail"  # touching A (in both layers) is a real 0 m gap
    assert rows.loc["model.C", "status"] == "pass" and "same building" not in rows.loc["model.C", "reason_en"]


def test_cim_check_counts_the_buildings_it_found_held_by_two_layers(city):
    result = CliRunner().invoke(app, ["check", str(city), "--only", "spacing"], env={"COLUMNS": "200"})
    assert "2 buildings have a copy in another layer" in result.output, result.output


def test_delft_footprints_and_the_delft_cityjson_model_are_one_set_of_buildings_for_spacing(tmp_path):
    """delft_bgt_pand's gml_id is the id of the same building in delft.json: no pand may fail spacing
    against its own model, and each is named as the same building."""
    import cim
    from cim.analysis import check_compliance
    from tests.conftest import sample

    pand, model = sample("vector/delft_bgt_pand.sqlite"), sample("cityjson/delft.json")
    with cim.create(tmp_path / "delft.duckdb", crs="EPSG:28992", timezone="Europe/Amsterdam") as c:
        c.ingest(model)
        c.ingest(pand)
        twins = dict(c.store.rows("SELECT id, json_extract_string(properties, '$.gml_id') FROM features "
                                  "WHERE layer = 'delft_bgt_pand' AND valid_to IS NULL"))
        rows = check_compliance(c, only=["spacing"], output="pandas").set_index("subject")
    assert twins
    for pid, twin in twins.items():
        reason = rows.loc[pid, "reason_en"]
        assert f"{twin} is the same building" in reason
        assert not reason.startswith(f"0.0 m from {twin},")
