"""WMTS 1.0.0 over the city: capabilities per role, KVP and RESTful tiles, both tile matrix sets, MVT,
OWS exceptions, ETags."""

from __future__ import annotations

import gzip
import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from serving.wmts import CGCS2000
from tests.tiles.conftest import headers
from tests.tiles.test_vector_tiles import busiest_tile

NS = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


def rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def caps(client, role: str = "anonymous") -> ET.Element:
    resp = client.get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", headers=headers(role))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    return ET.fromstring(resp.content)


def layer_names(root: ET.Element) -> set[str]:
    return {el.text for el in root.findall("w:Contents/w:Layer/ows:Identifier", NS)}


def exception(resp) -> tuple[str, str | None]:
    root = ET.fromstring(resp.content)
    item = root.find("ows:Exception", NS)
    return item.get("exceptionCode"), item.get("locator")


def test_capabilities_list_the_layers_each_role_may_see_in_both_tile_matrix_sets(client):
    anonymous, operator = layer_names(caps(client)), layer_names(caps(client, "operator"))
    assert {"buildings", "roads", "dem"} <= anonymous
    assert not anonymous & {"pipes", "inspections"}
    assert {"pipes", "inspections"} <= operator
    root = caps(client)
    sets = {el.text for el in root.findall("w:Contents/w:TileMatrixSet/ows:Identifier", NS)}
    assert sets == {"WebMercatorQuad", "CGCS2000Quad"}
    assert client.get("/wmts/1.0.0/WMTSCapabilities.xml").content == client.get(
        "/wmts?service=wmts&request=getcapabilities").content


def test_a_layers_tile_limits_cover_its_extent_at_each_level(client, served_city):
    root = caps(client)
    layer = next(el for el in root.findall("w:Contents/w:Layer", NS)
                 if el.find("ows:Identifier", NS).text == "buildings")
    limits = {lim.find("w:TileMatrix", NS).text: lim for lim in
              layer.findall("w:TileMatrixSetLink[w:TileMatrixSet='WebMercatorQuad']/w:TileMatrixSetLimits/"
                            "w:TileMatrixLimits", NS)}
    x, y = busiest_tile(served_city, "buildings", 15)
    lim = limits["15"]
    assert int(lim.find("w:MinTileCol", NS).text) <= x <= int(lim.find("w:MaxTileCol", NS).text)
    assert int(lim.find("w:MinTileRow", NS).text) <= y <= int(lim.find("w:MaxTileRow", NS).text)
    templates = {r.get("format"): r.get("template") for r in layer.findall("w:ResourceURL", NS)}
    assert set(templates) == {"image/png", "application/vnd.mapbox-vector-tile"}
    assert templates["image/png"].endswith("/wmts/1.0.0/buildings/{Style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/"
                                           "{TileCol}.png")


def test_kvp_and_restful_tiles_are_the_same_picture_and_it_shows_the_buildings(client, served_city):
    x, y = busiest_tile(served_city, "buildings", 16)
    rest = client.get(f"/wmts/1.0.0/buildings/default/WebMercatorQuad/16/{y}/{x}.png")
    kvp = client.get(f"/wmts?Service=WMTS&Request=GetTile&Version=1.0.0&Layer=buildings&Style=default&"
                     f"Format=image/png&TileMatrixSet=WebMercatorQuad&TileMatrix=16&TileRow={y}&TileCol={x}")
    assert rest.status_code == kvp.status_code == 200 and rest.content == kvp.content
    alpha = rgba(rest.content)[..., 3]
    assert 0.01 < (alpha > 0).mean() < 0.95, "buildings drawn, with streets between them"


def test_mvt_through_wmts_is_the_tile_the_tiles_api_sends(client, served_city):
    x, y = busiest_tile(served_city, "buildings", 15)
    via_wmts = client.get(f"/wmts/1.0.0/buildings/default/WebMercatorQuad/15/{y}/{x}.mvt")
    direct = client.get(f"/tiles/buildings/15/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
    assert via_wmts.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    body = via_wmts.content
    assert (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body) == direct.content


def test_a_cgcs2000_tile_over_the_dem_is_drawn_and_one_far_away_is_transparent(client, served_city):
    info = client.get("/collections/dem").json()
    w, s, e, n = info["extent"]["spatial"]["bbox"][0]
    level = 16
    span = CGCS2000.tile_span(level)
    col, row = int(((w + e) / 2 + 180) // span), int((90 - (s + n) / 2) // span)
    tile = rgba(client.get(f"/wmts/1.0.0/dem/default/CGCS2000Quad/{level}/{row}/{col}.png").content)
    assert tile.shape == (256, 256, 4) and (tile[..., 3] > 0).mean() > 0.5 and tile[..., :3].std() > 0
    far = rgba(client.get(f"/wmts/1.0.0/dem/default/CGCS2000Quad/{level}/{row + 40}/{col}.png").content)
    assert far[..., 3].max() == 0


def test_the_operator_gets_the_desensitised_pipes_and_the_public_no_pipes(client, served_city):
    x, y = busiest_tile(served_city, "pipes", 15)
    url = f"/wmts/1.0.0/pipes/default/WebMercatorQuad/15/{y}/{x}.png"
    hidden = client.get(url)
    assert hidden.status_code == 400 and exception(hidden) == ("InvalidParameterValue", "layer")
    seen = client.get(url, headers=headers("operator"))
    assert seen.status_code == 200 and rgba(seen.content)[..., 3].max() > 0
    assert client.get(url, headers={"X-API-Key": "not-a-key-at-all"}).status_code == 401


@pytest.mark.parametrize(("query", "code", "locator", "status"), [
    ("REQUEST=GetTile&LAYER=dem&STYLE=default&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILECOL=1",
     "MissingParameterValue", "TileRow", 400),
    ("REQUEST=GetTile&LAYER=dem&STYLE=default&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&"
     "TILEROW=8&TILECOL=1", "TileOutOfRange", "TileRow", 400),
    ("REQUEST=GetTile&LAYER=dem&STYLE=default&FORMAT=image/png&TILEMATRIXSET=GoogleCRS84Quad&TILEMATRIX=3&"
     "TILEROW=1&TILECOL=1", "InvalidParameterValue", "TileMatrixSet", 400),
    ("REQUEST=GetTile&LAYER=roads&STYLE=default&FORMAT=application/vnd.mapbox-vector-tile&"
     "TILEMATRIXSET=CGCS2000Quad&TILEMATRIX=3&TILEROW=1&TILECOL=1", "InvalidParameterValue", "Format", 400),
    ("REQUEST=GetTile&LAYER=dem&STYLE=fancy&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&"
     "TILEROW=1&TILECOL=1", "InvalidParameterValue", "Style", 400),
    ("REQUEST=GetFeatureInfo", "OperationNotSupported", "request", 501),
    ("SERVICE=WMS&REQUEST=GetCapabilities", "InvalidParameterValue", "service", 400),
])
def test_bad_requests_get_an_ows_exception_report_naming_the_parameter(client, query, code, locator, status):
    resp = client.get(f"/wmts?{query}")
    assert resp.status_code == status
    assert exception(resp) == (code, locator)


def test_tiles_carry_an_etag_and_a_matching_one_is_answered_304(client, served_city):
    x, y = busiest_tile(served_city, "roads", 14)
    url = f"/wmts/1.0.0/roads/default/WebMercatorQuad/14/{y}/{x}.png"
    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content
