"""BIM review (报建审查): an IFC building checked against its parcel before ingest; HTML and JSON reports."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("ifcopenshell")

from typer.testing import CliRunner

from cim.cli import app
from cim.errors import FeatureNotFound, ValidationError


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
