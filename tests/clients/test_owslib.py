"""owslib opens the city: the OGC API (landing page, conformance, collections, items), WMTS and WMS,
and the docs' owslib recipe runs as written."""

from __future__ import annotations

import io
import math

import httpx
import numpy as np
import pytest
from owslib.ogcapi.features import Features
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService
from PIL import Image

from tests.clients.conftest import OPERATOR_KEY, recipe


def _rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_owslib_reads_the_landing_page_conformance_collections_and_items(server):
    api = Features(server)
    assert any(link["rel"] == "conformance" for link in api.links)
    classes = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    names = [c["id"] for c in api.collections()["collections"]]
    assert {"buildings", "roads", "parcels"} <= set(names) and "pipes" not in names
    page = api.collection_items("buildings", limit=7)
    total = httpx.get(f"{server}/collections/buildings/items?limit=1").json()["numberMatched"]
    assert len(page["features"]) == 7 and page["numberMatched"] == total
    one = api.collection_item("buildings", page["features"][0]["id"])
    assert one["id"] == page["features"][0]["id"]


def test_owslib_sends_the_api_key_header_and_sees_what_the_role_may(server):
    anonymous = [c["id"] for c in Features(server).collections()["collections"]]
    operator = [c["id"] for c in Features(server, headers={"X-API-Key": OPERATOR_KEY}).collections()["collections"]]
    assert set(anonymous) < set(operator) and "inspections" in operator


def test_owslib_reads_wmts_capabilities_and_gets_a_tile_by_kvp(server):
    wmts = WebMapTileService(f"{server}/wmts/1.0.0/WMTSCapabilities.xml")
    assert {"buildings", "dem", "roads"} <= set(wmts.contents) and "pipes" not in wmts.contents
    assert set(wmts.tilematrixsets) == {"WebMercatorQuad", "CGCS2000Quad"}
    dem = wmts.contents["dem"]
    assert dem.formats == ["image/png"] and "application/vnd.mapbox-vector-tile" in wmts.contents["buildings"].formats
    w, s, e, n = dem.boundingBoxWGS84
    z = 15
    col = int(((w + e) / 2 + 180) / 360 * 2**z)
    row = int((1 - math.asinh(math.tan(math.radians((s + n) / 2))) / math.pi) / 2 * 2**z)
    limits = dem.tilematrixsetlinks["WebMercatorQuad"].tilematrixlimits[str(z)]
    assert limits.mintilecol <= col <= limits.maxtilecol and limits.mintilerow <= row <= limits.maxtilerow
    tile = wmts.gettile(layer="dem", tilematrixset="WebMercatorQuad", tilematrix=str(z), row=row, column=col,
                        format="image/png").read()
    direct = httpx.get(f"{server}/collections/dem/map/tiles/WebMercatorQuad/{z}/{row}/{col}.png").content
    assert tile == direct


def test_owslib_reads_wms_capabilities_and_a_map_in_cgcs2000(server):
    wms = WebMapService(f"{server}/wms", version="1.3.0")
    assert {"buildings", "dem"} <= set(wms.contents)
    assert "EPSG:4490" in wms.contents["dem"].crsOptions and "EPSG:4549" in wms.contents["dem"].crsOptions
    w, s, e, n = wms.contents["buildings"].boundingBoxWGS84
    picture = wms.getmap(layers=["buildings"], styles=["default"], srs="EPSG:4490", bbox=(w, s, e, n),
                         size=(400, 300), format="image/png", transparent=True).read()
    rgba = _rgba(picture)
    assert rgba.shape == (300, 400, 4)
    assert 0.02 < (rgba[..., 3] > 0).mean() < 0.9, "buildings drawn, with space between them"


def test_owslib_gets_an_ows_exception_for_a_layer_it_may_not_see(server):
    from owslib.util import ServiceException

    wms = WebMapService(f"{server}/wms", version="1.3.0")
    with pytest.raises(ServiceException, match="pipes"):
        wms.getmap(layers=["pipes"], styles=[""], srs="EPSG:4326", bbox=(120.1, 35.9, 120.2, 36.0), size=(64, 64),
                   format="image/png")


def test_the_docs_owslib_recipe_runs_against_the_server(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(recipe("owslib", base=server), "docs/clients.md", "exec"), namespace)  # noqa: S102 - docs are the test
    assert namespace["page"]["numberMatched"] > 0
    tile, picture = _rgba((tmp_path / "dem_tile.png").read_bytes()), _rgba((tmp_path / "city.png").read_bytes())
    assert tile.shape == (256, 256, 4) and tile[..., 3].mean() > 0
    assert picture.shape == (512, 512, 4) and (picture[..., 3] > 0).mean() > 0.9, "the DEM fills the city's box"
