"""BIM review (报建审查): an IFC building checked against its parcel before ingest; HTML and JSON reports."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("ifcopenshell")

from typer.testing import CliRunner

from cim.cli import app
from cim.errors import FeatureNotFound, ValidationError
from tests.conftest import sample


@pytest.fixture(scope="module")
def site(demo_path):
    """The demo worksite parcel (empty, 商业用地 B1): its id, centre and height limit."""
    import cim

    with cim.open(demo_path, read_only=True) as c:
        row = c.features("parcels", where="worksite", output="geopandas").iloc[0]
    centre = row.geometry.centroid
    return {"id": row["id"], "short": row["parcel_id"], "x": centre.x, "y": centre.y, "limit": row["height_limit"]}


def _building(tmp_path, site, name: str, storey_height: float, dx: float = 0.0):
    from bim import Anchor, write_demo_building

    return write_demo_building(tmp_path / name, storeys=6, width=30.0, depth=18.0, storey_height=storey_height,
                               anchor=Anchor(site["x"] + dx, site["y"], 0.0, crs="EPSG:4549"))


def test_a_compliant_building_passes_every_check_and_the_city_is_left_unchanged(demo_path, site, tmp_path):
    import cim
    from cim.analysis import review_ifc

    ifc = _building(tmp_path, site, "ok.ifc", 3.2)
    with cim.open(demo_path, read_only=True) as c:
        before = c.history().shape[0], c.layers["feature_count"].sum()
        report = review_ifc(c, ifc, parcel=site["short"])
        assert (c.history().shape[0], c.layers["feature_count"].sum()) == before
    assert report.passed, report.failures
    rules = {ch["rule"] for ch in report.checks}
    assert {"height", "setback", "road_red_line", "spacing", "far", "density"} <= rules
    height = next(ch for ch in report.checks if ch["rule"] == "height")
    assert height["value"] == pytest.approx(6 * 3.2 + 0.3, abs=0.05) and height["limit"] == site["limit"]
    far = next(ch for ch in report.checks if ch["rule"] == "far")
    assert far["value"] == pytest.approx(report.model["floor_area"] / report.parcel["area"], rel=0.01)


def test_a_too_tall_building_fails_the_height_limit_with_its_numbers(demo_path, site, tmp_path):
    import cim
    from cim.analysis import review_ifc

    ifc = _building(tmp_path, site, "tall.ifc", 30.0)
    with cim.open(demo_path, read_only=True) as c:
        report = review_ifc(c, ifc, parcel=site["id"])
    assert not report.passed
    height = next(ch for ch in report.failures if ch["rule"] == "height")
    assert height["value"] > site["limit"] and "超过限高" in height["reason_zh"]
    assert f"{height['value']:.1f}" in height["reason_en"]


def test_cim_check_writes_html_and_json_reports_and_exits_2_on_failure(demo_path, site, tmp_path):
    tall = _building(tmp_path, site, "tall.ifc", 30.0)
    html, js = tmp_path / "review.html", tmp_path / "review.json"
    result = CliRunner().invoke(app, ["check", str(demo_path), str(tall), "--parcel", site["short"],
                                      "--html", str(html), "--json", str(js)])
    assert result.exit_code == 2, result.output
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["passed"] is False and any(c["rule"] == "height" and c["status"] == "fail" for c in data["checks"])
    page = html.read_text(encoding="utf-8")
    assert "不合规 NON-COMPLIANT" in page and "限高" in page and "<svg" in page
    assert not re.search(r"(src|href)=[\"']?https?://", page)  # nothing to fetch: it opens offline

    ok = _building(tmp_path, site, "ok.ifc", 3.2)
    result = CliRunner().invoke(app, ["check", str(demo_path), str(ok), "--parcel", site["short"]])
    assert result.exit_code == 0, result.output
    assert "COMPLIANT" in result.output


def test_a_model_placed_off_its_parcel_is_refused_with_the_fix(demo, site, tmp_path):
    from cim.analysis import review_ifc

    ifc = _building(tmp_path, site, "off.ifc", 3.2, dx=500.0)
    with pytest.raises(ValidationError, match="outside parcel .*--anchor"):
        review_ifc(demo, ifc, parcel=site["short"])


def test_a_model_georeferenced_in_another_country_is_refused_naming_where_before_any_meshing(demo, site):
    """Karlsruhe's FZK-Haus (RefLatitude/RefLongitude) reviewed on a parcel of a city in eastern
    China's Gauss-Krüger zone: the error says where the file puts it and how to place it, not that
    it stands off the parcel by some 9 000 km."""
    import cim
    from cim.analysis import review_ifc
    from tests.conftest import sample

    with pytest.raises(cim.CRSError, match=r"lon 8\.4365, lat 49\.1004.*--anchor"):
        review_ifc(demo, sample("ifc/AC20-FZK-Haus.ifc"), parcel=site["short"])
    report = review_ifc(demo, sample("ifc/AC20-FZK-Haus.ifc"), parcel=site["short"],
                        anchor=f"{site['x']},{site['y']}")
    assert report.model["buildings"] >= 1


def test_an_unknown_parcel_is_named_in_the_error(demo, site, tmp_path):
    from cim.analysis import review_ifc

    ifc = _building(tmp_path, site, "ok.ifc", 3.2)
    with pytest.raises(FeatureNotFound, match="no parcel 'P999'"):
        review_ifc(demo, ifc, parcel="P999")


def test_cim_check_without_a_model_checks_the_whole_city(demo_path, tmp_path):
    out = tmp_path / "all.json"
    result = CliRunner().invoke(app, ["check", str(demo_path), "--only", "height", "--only", "setback",
                                      "--json", str(out)])
    assert result.exit_code == 2, result.output  # the demo city has planted violations
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert {r["rule"] for r in rows} == {"height", "setback"}
    assert "failures in" in result.output


def test_the_check_ifc_process_reviews_an_uploaded_model_like_review_ifc(demo_path, site, tmp_path):
    """The same review over OGC API – Processes: the model arrives base64-encoded, as a job."""
    import base64
    import time

    import cim
    from cim.analysis import review_ifc
    from serving.processes import PROCESSES, JobService

    ifc = _building(tmp_path, site, "tall.ifc", 30.0)
    inputs = {"ifc": {"value": base64.b64encode(ifc.read_bytes()).decode(), "encoding": "base64"},
              "parcel": site["short"]}
    with cim.open(demo_path, read_only=True) as c:
        expected = review_ifc(c, ifc, parcel=site["short"]).to_dict()
        jobs = JobService(c).open()
        try:
            job = jobs.submit(PROCESSES["check-ifc"], inputs)
            for _ in range(600):
                if jobs.get(job.id).status in ("successful", "failed"):
                    break
                time.sleep(0.1)
        finally:
            jobs.close()
    assert job.status == "successful", job.message
    report = job.results["report"]
    assert report["passed"] is False and report["passed"] == expected["passed"]
    verdicts = [(c["rule"], c["status"]) for c in report["checks"]]
    assert verdicts == [(c["rule"], c["status"]) for c in expected["checks"]]
    with pytest.raises(ValidationError, match="base64"):
        PROCESSES["check-ifc"].run(None, {"ifc": {"value": "not base64!"}, "parcel": site["short"]})


def _parcels_geojson(path, crs: str, parcels: list[tuple[str, tuple[float, float, float, float], dict]]):
    """A GeoJSON file of box parcels: (id, (minx, miny, maxx, maxy), properties)."""
    features = [{"type": "Feature", "properties": {"fsk": pid, **props},
                 "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
                for pid, (x0, y0, x1, y1), props in parcels]
    named = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:{crs.replace(':', '::')}"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, "crs": named}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def parcels_only_city(tmp_path_factory):
    """A city of two parcels and no building layer; the FZK-Haus sample stands on parcel FS-001 (limit 5 m)."""
    folder = tmp_path_factory.mktemp("parcels-only")
    city = folder / "ka.duckdb"
    source = _parcels_geojson(folder / "flurstuecke.geojson", "EPSG:25832", [
        ("FS-001", (458845, 5438755, 458895, 5438805), {"max_hoehe": 5.0, "gfz": 0.4}),
        ("FS-002", (458895, 5438755, 458945, 5438830), {"max_hoehe": 12.0, "gfz": 1.2})])
    runner = CliRunner()
    for args in (["init", str(city), "--crs", "EPSG:25832", "--timezone", "Europe/Berlin"],
                 ["ingest", str(city), str(source), "--class", "Parcel", "--id-field", "fsk",
                  "--map", "max_hoehe=height_limit", "--map", "gfz=far_limit"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return city


def test_a_model_is_checked_against_its_parcel_in_a_city_without_any_building_layer(parcels_only_city, tmp_path):
    from tests.conftest import sample

    ifc = sample("ifc/AC20-FZK-Haus.ifc")
    js = tmp_path / "review.json"
    result = CliRunner().invoke(app, ["check", str(parcels_only_city), str(ifc), "--parcel", "FS-001",
                                      "--json", str(js)])
    assert result.exit_code == 2, result.output
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["passed"] is False and report["verdict"] == "non_compliant"
    height = next(c for c in report["checks"] if c["rule"] == "height")
    assert height["status"] == "fail" and height["value"] > height["limit"] == 5.0
    far = next(c for c in report["checks"] if c["rule"] == "far")
    assert far["status"] == "pass" and far["value"] > 0  # the model's own floor area counts
    assert "NON-COMPLIANT" in result.output


def test_a_review_in_which_no_check_could_be_judged_is_not_compliant_and_says_why():
    from cim.analysis import ReviewReport

    no_data = {"rule": "height", "rule_name": "限高", "rule_name_en": "height limit", "subject": None,
               "status": "no_data", "value": None, "limit": None, "unit": "m",
               "reason_zh": "地块无限高指标", "reason_en": "the parcel has no height limit"}
    model = {"file": "m.ifc", "schema": "IFC4", "georeference": "IfcMapConversion", "crs": "EPSG:25832",
             "height": 6.0, "floors": 2.0, "footprint_area": 100.0, "floor_area": 200.0}
    shapes = {"footprint_wkt": "POLYGON ((2 2, 12 2, 12 12, 2 12, 2 2))",
              "parcel_wkt": "POLYGON ((0 0, 20 0, 20 20, 0 20, 0 0))"}
    for checks in ([], [no_data]):
        report = ReviewReport(model=model, parcel={"id": "p"}, checks=checks, **shapes)
        assert not report.passed and report.verdict == "not_checked" and report.to_dict()["passed"] is False
        assert report.unchecked_reasons and "NOT CHECKED" in report.to_html()
    assert "the parcel has no height limit" in report.unchecked_reasons[0]


def test_cim_check_of_a_city_where_no_rule_has_its_inputs_exits_non_zero_with_the_reasons(parcels_only_city, tmp_path):
    result = CliRunner().invoke(app, ["check", str(parcels_only_city), "--json", str(tmp_path / "r.json")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 3, result.output
    assert "nothing could be checked" in result.output and "COMPLIANT" not in result.output
    assert "no layer holds features of class Building" in result.output  # the reason is on screen


@pytest.fixture(scope="module")
def city_with_bim(parcels_only_city, tmp_path_factory):
    """The parcels-only city with the FZK-Haus IFC ingested (a BIM layer holding its IfcBuilding)."""
    import shutil

    from tests.conftest import sample

    city = tmp_path_factory.mktemp("with-bim") / "ka.duckdb"
    shutil.copy(parcels_only_city, city)
    result = CliRunner().invoke(app, ["ingest", str(city), str(sample("ifc/AC20-FZK-Haus.ifc"))])
    assert result.exit_code == 0, result.output
    return city


def test_a_city_whose_only_buildings_are_in_bim_layers_says_so_and_checks_them_once_named(city_with_bim):
    """The plan KPIs count the model's IfcBuilding; the rules say why they do not read it by default
    (a BIM model is a design) and check it when the rules file names its layer."""
    import cim
    from cim.analysis import check_compliance
    from cim.analysis.kpis import kpis

    with cim.open(city_with_bim, read_only=True) as c:
        bim = [name for name, kind in zip(c.layers["name"], c.layers["kind"], strict=True) if kind == "bim"]
        unnamed = check_compliance(c, only=["height"], output="pandas")
        named = check_compliance(c, only=["height"], rules={"layers": {"buildings": bim}}, output="pandas")
        counted = {k["key"]: k["value"] for k in kpis(c, "plan", role="admin")}
        features = c.features(bim[0], output="pandas")
    reason = unnamed["reason_en"].iloc[0]
    assert len(unnamed) == 1 and unnamed["status"].iloc[0] == "no_data"
    assert f"BIM layer {bim[0]}" in reason and f"layers: {{buildings: [{bim[0]}]}}" in reason
    building_ids = set(features.loc[features["class"] == "Building", "id"])
    assert set(named["subject"]) == building_ids and counted["buildings"] == len(building_ids)
    assert (named["status"] == "fail").all() and (named["limit"] == 5.0).all()  # 6.5 m on the 5 m parcel


def test_the_check_ifc_process_refuses_a_model_placed_far_away_naming_the_upload_and_the_anchor_input(demo_path,
                                                                                                      site):
    """Karlsruhe's FZK-Haus uploaded for review in the demo city (eastern China): refused with where
    the file puts it and how to place it, naming the upload, not a temporary file on the server."""
    import base64

    import cim
    from serving.processes import PROCESSES

    data = sample("ifc/AC20-FZK-Haus.ifc").read_bytes()
    inputs = {"ifc": {"value": base64.b64encode(data).decode(), "encoding": "base64"}, "parcel": site["short"]}
    with cim.open(demo_path, read_only=True) as c, pytest.raises(cim.CRSError) as refused:
        PROCESSES["check-ifc"].run(c, inputs)
    said = str(refused.value)
    assert said.startswith("uploaded.ifc is placed by IfcSite RefLatitude/RefLongitude")
    assert "lon 8.4365, lat 49.1004" in said and "a process's anchor input" in said
    assert "/tmp" not in said and "tmp" not in said.split(" is placed")[0]
    inputs["anchor"] = f"{site['x']},{site['y']}"  # placed by the anchor input, the same upload is reviewed
    with cim.open(demo_path, read_only=True) as c:
        assert PROCESSES["check-ifc"].run(c, inputs)["report"]["checks"]
