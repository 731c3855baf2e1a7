"""Roles found by what the layers hold: a missing role's reason names what is there instead."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cim.cli import app


def test_roads_held_as_polygons_are_named_in_the_reason_the_road_role_is_missing(tmp_path):
    from cim import open as open_city
    from cim.analysis.inputs import find_inputs

    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}
    square = [[[489000, 3969700], [489020, 3969700], [489020, 3969720], [489000, 3969720], [489000, 3969700]]]
    source = tmp_path / "wegdeel.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": [
        {"type": "Feature", "properties": {"fid": "w1"}, "geometry": {"type": "Polygon", "coordinates": square}}]}))
    city = tmp_path / "city.duckdb"
    for args in (["init", str(city)], ["ingest", str(city), str(source), "--class", "Road", "--id-field", "fid"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    with open_city(city, read_only=True) as c:
        roads = find_inputs(c)["roads"]
    assert not roads.present
    assert "class Road as lines (wegdeel holds them only in other shapes" in roads.missing_reason()
