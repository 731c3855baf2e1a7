"""Proposals: evaluated with the city (indicators, compliance, neighbours' sunlight), never written into it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import cim
from cim.analysis.proposals import add_proposal, compare
from cim.errors import ValidationError
from cim.model.proposals import ProposalExists, ProposalNotFound, drop_proposal, list_proposals
from tests.compare.helpers import X0, Y0, box, write
from tests.tiles.conftest import KEYS, headers


def parcels() -> list[dict]:
    """P1 (south, empty) and P2 (north, with a home), 100 × 100 m, 30 m height limit, FAR 2."""
    return [{"id": pid, "far_limit": 2.0, "height_limit": 30.0, "density_limit": 0.5, "green_min": 0.0,
             "setback": 0.0, "land_use": "R2", "geometry": box(X0, Y0 + 100 * i, 100, 100)}
            for i, pid in enumerate(("P1", "P2"))]


def homes() -> list[dict]:
    """One 6-storey home on P2, facing south towards P1."""
    return [{"id": "h1", "use": "住宅", "floors": 6, "height": 18.0, "geometry": box(X0 + 30, Y0 + 130, 40, 12)}]


@pytest.fixture
def planned_at(city_location, tmp_path):
    location = city_location()
    with cim.create(location) as city:
        city.ingest(write(tmp_path / "parcels.geojson", parcels()), layer="parcels", feature_class="Parcel")
        city.ingest(write(tmp_path / "homes.geojson", homes()), layer="buildings", feature_class="Building")
    write(tmp_path / "tower.geojson", [{"id": "t1", "height": 60.0, "use": "办公",
                                        "geometry": box(X0 + 35, Y0 + 40, 30, 20)}])
    write(tmp_path / "low.geojson", [{"id": "l1", "height": 9.0, "geometry": box(X0 + 35, Y0 + 40, 30, 20)}])
    return str(location)


def snapshot(city) -> dict:
    """What proposals must never change: versions, catalogue, feature rows, history."""
    return {t: city.sql(f"SELECT * FROM {t} ORDER BY 1, 2").to_pylist()
            for t in ("layer_versions", "layers", "history")} | {
        "features": city.sql("SELECT id, version, valid_from, valid_to FROM features ORDER BY id, version").to_pylist()}


def test_two_proposals_and_the_current_city_compared_in_one_table(planned_at, tmp_path):
    with cim.open(planned_at) as city:
        before = snapshot(city)
        tower = add_proposal(city, "tower", tmp_path / "tower.geojson")
        low = add_proposal(city, "low", tmp_path / "low.geojson", use="住宅")
        assert (tower["parcel"], tower["buildings"], low["parcel"]) == ("parcels.P1", 1, "parcels.P1")
        result = compare(city, ["tower", "low"])
        assert snapshot(city) == before
    assert result.columns == ["current", "tower", "low"]
    assert result.parcels == ["parcels.P1"]
    far = {c: result.value("far", c, "parcels.P1") for c in result.columns}
    assert far["current"] in (0, 0.0, None)
    assert far["tower"] == pytest.approx(600 * 20 / 10_000)   # 30 × 20 m, 60 m ÷ 3 m = 20 floors
    assert far["low"] == pytest.approx(600 * 3 / 10_000)
    violations = result.value("violations", "tower")
    assert violations >= 1 and any(v["rule"] == "height" for v in result.violations["tower"])
    assert result.value("violations", "low") == 0 and result.value("violations", "current") == 0
    sun = {c: result.value("neighbour_sunlight_h", c) for c in result.columns}
    assert sun["tower"] < sun["current"]                      # the tower shades the home north of it
    assert sun["tower"] <= sun["low"] <= sun["current"]
    (effect,) = result.neighbours["tower"]
    assert effect["id"] == "buildings.h1" and effect["delta_h"] == pytest.approx(sun["tower"] - sun["current"])


def test_proposals_never_change_the_city_and_names_are_checked(planned_at, tmp_path):
    with cim.open(planned_at) as city:
        before = snapshot(city)
        add_proposal(city, "tower", tmp_path / "tower.geojson", note="scheme A")
        with pytest.raises(ProposalExists):
            add_proposal(city, "tower", tmp_path / "tower.geojson")
        add_proposal(city, "tower", tmp_path / "low.geojson", height=12.0, replace=True)
        assert [(p["name"], p["note"]) for p in list_proposals(city)] == [("tower", None)]
        with pytest.raises(ValidationError, match="outside parcel"):
            add_proposal(city, "wrong", tmp_path / "tower.geojson", parcel="P2")
        with pytest.raises(ValidationError, match="bad proposal name"):
            add_proposal(city, "a b", tmp_path / "tower.geojson")
        with pytest.raises(ValidationError, match="no height"):
            write(tmp_path / "flat.geojson", [{"id": "f", "geometry": box(X0 + 10, Y0 + 10)}])
            add_proposal(city, "flat", tmp_path / "flat.geojson")
        with pytest.raises(ProposalNotFound, match="tower"):
            compare(city, ["nope"])
        drop_proposal(city, "tower")
        assert list_proposals(city) == []
        assert snapshot(city) == before


def test_cli_proposal_add_check_list_drop(planned_at, tmp_path):
    run = [sys.executable, "-m", "cim", "proposal"]
    ok = {"capture_output": True, "text": True, "check": True}
    subprocess.run([*run, "add", planned_at, "tower", str(tmp_path / "tower.geojson"), "--parcel", "P1"], **ok)
    subprocess.run([*run, "add", planned_at, "low", str(tmp_path / "low.geojson"), "--use", "住宅"], **ok)
    listed = json.loads(subprocess.run([*run, "list", planned_at, "--json"], **ok).stdout)
    assert [p["name"] for p in listed] == ["low", "tower"]
    doc = json.loads(subprocess.run([*run, "check", planned_at, "tower", "low", "--json"], **ok).stdout)
    assert doc["columns"] == ["current", "tower", "low"]
    assert {r["indicator"] for r in doc["rows"]} >= {"far", "violations", "neighbour_sunlight_h"}
    subprocess.run([*run, "drop", planned_at, "low"], **ok)
    gone = subprocess.run([*run, "check", planned_at, "low"], capture_output=True, text=True)
    assert gone.returncode == 1 and "no proposal 'low'" in gone.stderr


def test_proposals_over_http_by_role(planned_at, tmp_path):
    from fastapi.testclient import TestClient

    from tiles import Settings, create_app

    with cim.open(planned_at) as city:
        add_proposal(city, "tower", tmp_path / "tower.geojson")
    settings = Settings(city=planned_at, api_keys=json.dumps(KEYS), prepare_tiles=False,
                        viewer_dist=tmp_path / "no-viewer" / "dist")
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/proposals").status_code == 403
        listed = client.get("/api/proposals", headers=headers("viewer")).json()["proposals"]
        assert [p["name"] for p in listed] == ["tower"]
        geo = client.get("/api/proposals/tower/features", headers=headers("viewer")).json()
        assert geo["features"][0]["properties"]["height"] == 60.0
        assert client.get("/api/proposals/compare?names=tower", headers=headers("viewer")).status_code == 403
        doc = client.get("/api/proposals/compare?names=tower", headers=headers("planner")).json()
        assert doc["columns"] == ["current", "tower"]
        far = next(r for r in doc["rows"] if r["indicator"] == "far")
        assert far["values"]["tower"] == pytest.approx(1.2)
        assert client.get("/api/proposals/nope/features", headers=headers("viewer")).status_code == 404


def test_an_ifc_model_is_a_proposal_on_the_parcel_it_stands_on(planned_at, tmp_path):
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    ifc = write_demo_building(tmp_path / "scheme.ifc", storeys=10, width=20, depth=12,
                              anchor=Anchor(X0 + 50, Y0 + 50, 0.0, crs="EPSG:4549"))
    with cim.open(planned_at) as city:
        before = snapshot(city)
        row = add_proposal(city, "bim-scheme", ifc)
        result = compare(city, ["bim-scheme"], sunlight=False)
        assert snapshot(city) == before
    assert (row["kind"], row["parcel"], row["buildings"]) == ("bim", "parcels.P1", 1)
    assert result.value("far", "bim-scheme", "parcels.P1") == pytest.approx(20 * 12 * 10 / 10_000, rel=0.02)
    assert result.value("buildings", "bim-scheme", "parcels.P1") == 1
    assert any(v["rule"] == "height" for v in result.violations["bim-scheme"])   # 10 × 3.2 m > 30 m


def test_an_ifc_model_placed_in_another_country_is_refused_and_nothing_is_kept(planned_at):
    """Karlsruhe's FZK-Haus, georeferenced by its site's latitude and longitude, as a scheme of a
    city in eastern China's Gauss-Krüger zone: refused saying where it lies and how to place it."""
    from tests.conftest import sample

    with cim.open(planned_at) as city:
        with pytest.raises(cim.CRSError, match=r"lon 8\.4365, lat 49\.1004.*--anchor"):
            add_proposal(city, "far-away", sample("ifc/AC20-FZK-Haus.ifc"))
        assert list_proposals(city) == []


def test_a_massing_lying_in_another_country_is_refused_saying_so(planned_at, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box as lonlat_box

    far = tmp_path / "karlsruhe.geojson"
    gpd.GeoDataFrame({"height": [20.0]}, geometry=[lonlat_box(8.43, 49.10, 8.4305, 49.1003)],
                     crs="EPSG:4326").to_file(far, driver="GeoJSON")
    with cim.open(planned_at) as city:
        with pytest.raises(cim.CRSError, match=r"karlsruhe\.geojson lies wholly outside the area the city CRS "
                                               r"EPSG:4549 is defined for.*--anchor"):
            add_proposal(city, "far-massing", far)
        assert list_proposals(city) == []
