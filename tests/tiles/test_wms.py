"""WMS 1.3.0 over the city: capabilities per role with boxes in each CRS's axis order, GetMap drawn from
the tiles in any offered CRS, backgrounds, and service exceptions."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from tests.tiles.conftest import headers

NS = {"w": "http://www.opengis.net/wms"}


def rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def box(client, layer: str = "buildings") -> tuple[float, float, float, float]:
    return tuple(client.get(f"/collections/{layer}").json()["extent"]["spatial"]["bbox"][0])


def get_map(client, crs: str, bbox: str, layers: str = "buildings", size=(300, 200), role="anonymous", **extra):
    query = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": layers, "STYLES": "", "CRS": crs,
             "BBOX": bbox, "WIDTH": str(size[0]), "HEIGHT": str(size[1]), "FORMAT": "image/png", "TRANSPARENT": "TRUE",
             **extra}
    return client.get("/wms", params=query, headers=headers(role))


def report(resp) -> tuple[str, str]:
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
    item = ET.fromstring(resp.content).find("{http://www.opengis.net/ogc}ServiceException")
    return item.get("code"), item.text


def test_capabilities_list_the_roles_layers_with_boxes_in_each_crs_axis_order(client, served_city):
    root = ET.fromstring(client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities").content)
    names = {el.text for el in root.findall(".//w:Layer/w:Name", NS)}
    assert {"buildings", "dem"} <= names and "pipes" not in names
    as_operator = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities", headers=headers("operator"))
    operator = ET.fromstring(as_operator.content)
    assert "pipes" in {el.text for el in operator.findall(".//w:Layer/w:Name", NS)}
    layer = next(el for el in root.findall(".//w:Layer", NS) if el.findtext("w:Name", namespaces=NS) == "buildings")
    boxes = {b.get("CRS"): b for b in layer.findall("w:BoundingBox", NS)}
    assert set(boxes) >= {"EPSG:3857", "EPSG:4326", "EPSG:4490", "CRS:84", served_city.crs}
    w, s, e, n = box(client)
    assert float(boxes["EPSG:4326"].get("minx")) == pytest.approx(s, abs=1e-6)  # latitude first
    assert float(boxes["CRS:84"].get("minx")) == pytest.approx(w, abs=1e-6)
    assert float(boxes[served_city.crs].get("minx")) > 3e6  # EPSG:4549: northing first


def test_a_map_in_epsg_4326_lat_lon_is_the_map_in_crs84_lon_lat(client):
    w, s, e, n = box(client)
    lat_lon = get_map(client, "EPSG:4326", f"{s},{w},{n},{e}")
    lon_lat = get_map(client, "CRS:84", f"{w},{s},{e},{n}")
    assert lat_lon.status_code == lon_lat.status_code == 200
    assert np.array_equal(rgba(lat_lon.content), rgba(lon_lat.content))
    assert 0.02 < (rgba(lat_lon.content)[..., 3] > 0).mean() < 0.9


def test_a_map_in_the_citys_own_crs_and_in_web_mercator_shows_the_buildings(client, served_city):
    from gis.crs import transformer

    w, s, e, n = box(client)
    x0, y0, x1, y1 = transformer("EPSG:4326", served_city.crs).transform_bounds(w, s, e, n)
    own = rgba(get_map(client, served_city.crs, f"{y0},{x0},{y1},{x1}").content)
    m0, n0, m1, n1 = transformer("EPSG:4326", "EPSG:3857").transform_bounds(w, s, e, n)
    merc = rgba(get_map(client, "EPSG:3857", f"{m0},{n0},{m1},{n1}").content)
    for picture in (own, merc):
        assert 0.02 < (picture[..., 3] > 0).mean() < 0.9


def test_an_opaque_map_has_the_background_colour_where_nothing_is_drawn(client):
    w, s, e, n = box(client)
    far = f"{s - 1},{w - 1},{s - 0.9},{w - 0.9}"
    picture = rgba(get_map(client, "EPSG:4326", far, TRANSPARENT="FALSE", BGCOLOR="0x336699").content)
    assert (picture == [0x33, 0x66, 0x99, 255]).all()
    clear = rgba(get_map(client, "EPSG:4326", far, TRANSPARENT="TRUE").content)
    assert clear[..., 3].max() == 0


def test_layers_are_drawn_in_order_over_each_other(client):
    w, s, e, n = box(client)
    bbox = f"{s},{w},{n},{e}"
    dem, buildings = (rgba(get_map(client, "EPSG:4326", bbox, layers=name).content) for name in ("dem", "buildings"))
    over = rgba(get_map(client, "EPSG:4326", bbox, layers="dem,buildings").content)
    under = rgba(get_map(client, "EPSG:4326", bbox, layers="buildings,dem").content)
    opaque = dem[..., 3] == 255
    drawn, bare = opaque & (buildings[..., 3] > 0), opaque & (buildings[..., 3] == 0)
    assert drawn.any() and bare.any()
    assert np.array_equal(over[bare], dem[bare])
    assert (over[drawn] != dem[drawn]).any(axis=-1).mean() > 0.9, "the buildings show over the DEM"
    assert np.array_equal(under[opaque], dem[opaque]), "an opaque DEM on top hides them"


def test_the_operator_maps_the_pipes_and_the_public_is_told_the_layer_is_not_defined(client):
    w, s, e, n = box(client)
    code, text = report(get_map(client, "EPSG:4326", f"{s},{w},{n},{e}", layers="pipes"))
    assert code == "LayerNotDefined" and "pipes" in text
    seen = get_map(client, "EPSG:4326", f"{s},{w},{n},{e}", layers="pipes", role="operator")
    assert seen.headers["content-type"] == "image/png" and rgba(seen.content)[..., 3].max() > 0


@pytest.mark.parametrize(("change", "code"), [
    ({"CRS": "EPSG:2000"}, "InvalidCRS"),
    ({"FORMAT": "image/gif"}, "InvalidFormat"),
    ({"STYLES": "blue"}, "StyleNotDefined"),
    ({"WIDTH": "99999"}, "InvalidParameterValue"),
    ({"BBOX": "1,2,3"}, "InvalidParameterValue"),
    ({"BBOX": "36,120,35,121"}, "InvalidParameterValue"),
    ({"REQUEST": "GetFeatureInfo"}, "OperationNotSupported"),
])
def test_bad_requests_get_a_service_exception_naming_the_problem(client, change, code):
    query = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "dem", "STYLES": "",
             "CRS": "EPSG:4326", "BBOX": "35.9,120.1,36.0,120.2", "WIDTH": "64", "HEIGHT": "64",
             "FORMAT": "image/png", **change}
    got, _ = report(client.get("/wms", params=query))
    assert got == code
