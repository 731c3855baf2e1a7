"""Buildings whose height and storeys are unknown: the reasons name what is missing, FAR does not pass
silently, and ``cim check --json`` writes strict JSON (null, never NaN) for what could not be measured."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cim.cli import app

#: 层数 as a bureau's table holds it: numbers as text, a blank, a basement notation, zero, a fraction
STOREYS = {"A": "3", "B": "12", "C": None, "D": "B1+5", "E": "0", "F": "2.5"}


def _box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _collection(features: list[dict]) -> str:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}
    return json.dumps({"type": "FeatureCollection", "crs": crs, "features": features}, ensure_ascii=False)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """Six 20 × 20 m buildings (storeys from 层数, height = 层数 × 3 m) on one parcel with 限高 20, 容积率 2."""
    folder = tmp_path_factory.mktemp("storeys")
    buildings, parcel = folder / "jianzhu.geojson", folder / "kongui.geojson"
    x = 489000.0
    features = []
    for i, (bid, storeys) in enumerate(STOREYS.items()):
        features.append({"type": "Feature", "properties": {"bid": bid, "层数": storeys},
                         "geometry": _box(x + 30 * i, 3969700, x + 30 * i + 20, 3969720)})
    buildings.write_text(_collection(features), encoding="utf-8")
    parcel.write_text(_collection([{"type": "Feature", "properties": {"地块编号": "QD-01", "限高": 20, "容积率": 2.0},
                                    "geometry": _box(488990, 3969690, 489190, 3969730)}]), encoding="utf-8")
    path = folder / "qd.duckdb"
    runner = CliRunner()
    for args in (["init", str(path)], ["ingest", str(path), str(buildings), "--class", "Building", "--id-field", "bid"],
                 ["layers", "set", str(path), "jianzhu", "--height", "层数:floors", "--floors", "层数"],
                 ["ingest", str(path), str(parcel), "--class", "Parcel", "--id-field", "地块编号"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return path


def _strict(text: str):
    def refuse(token: str):
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_cim_check_json_is_strict_json_with_null_for_values_that_could_not_be_measured(city, tmp_path):
    out = tmp_path / "check.json"
    result = CliRunner().invoke(app, ["check", str(city), "--only", "height", "--json", str(out)])
    assert result.exit_code == 2, result.output  # B is 36 m on a 20 m limit
    rows = _strict(out.read_text(encoding="utf-8"))
    unmeasured = [r for r in rows if r["status"] == "no_data"]
    assert unmeasured and all(r["value"] is None for r in unmeasured)


def test_a_review_report_writes_strict_json_when_a_number_is_not_finite(tmp_path):
    from cim.analysis import ReviewReport

    check = {"rule": "far", "rule_name": "容积率上限", "rule_name_en": "FAR", "subject": "p", "status": "pass",
             "value": 0.5, "limit": 2.0, "unit": "", "reason_zh": "", "reason_en": "", "extra": {"x": float("nan")}}
    report = ReviewReport(model={"height": float("nan")}, parcel={"id": "p", "far_limit": float("inf")},
                          checks=[check], footprint_wkt="", parcel_wkt="")
    data = _strict(report.write_json(tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["model"]["height"] is None and data["parcel"]["far_limit"] is None
    assert data["checks"][0]["extra"]["x"] is None and report.to_dict()["model"]["height"] is None


def _unknown(storeys: dict[str, str | None]) -> list[str]:
    """The buildings whose 层数 is no number (their height, 层数 × 3 m, is unknown too)."""
    def number(text):
        try:
            return float(text)
        except (TypeError, ValueError):
            return None

    return sorted(f"jianzhu.{bid}" for bid, text in storeys.items() if number(text) is None)


def test_the_height_rule_says_the_building_has_no_height_when_the_parcel_has_a_limit(city):
    import cim
    from cim.analysis import check_compliance

    with cim.open(city, read_only=True) as c:
        rows = check_compliance(c, only=["height"], output="pandas")
    missing = rows[rows["status"] == "no_data"]
    assert sorted(missing["subject"]) == _unknown(STOREYS)
    assert missing["limit"].notna().all()  # the parcel has its limit …
    assert all("building has no height" in r and "parcel" not in r for r in missing["reason_en"])
    assert all("建筑高度未知" in r for r in missing["reason_zh"])


def test_far_is_not_a_plain_pass_when_buildings_on_the_parcel_have_unknown_storeys(city):
    import cim
    from cim.analysis import check_compliance

    with cim.open(city, read_only=True) as c:
        row = check_compliance(c, only=["far"], output="pandas").iloc[0]
    assert row["status"] == "no_data" and row["value"] < row["limit"]
    unknown = _unknown(STOREYS)
    assert all(bid in row["reason_en"] and bid in row["reason_zh"] for bid in unknown)
    assert f"{len(unknown)} buildings of unknown storeys" in row["reason_en"]


def test_far_over_its_limit_fails_even_with_buildings_of_unknown_storeys(city):
    """Counting them as one storey gives the least FAR the parcel can have: over the limit is over."""
    import cim
    from cim.analysis import check_compliance

    strict = {"rules": {"far": {"field": "no_such_field", "default": 0.1}}}  # every parcel held to FAR 0.1
    with cim.open(city, read_only=True) as c:
        row = check_compliance(c, only=["far"], rules=strict, output="pandas").iloc[0]
    assert row["limit"] == 0.1 and row["value"] > row["limit"]
    assert row["status"] == "fail" and "exceeds" in row["reason_en"]
