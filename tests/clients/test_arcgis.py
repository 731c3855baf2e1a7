"""ArcGIS Pro runs on Windows only, so its docs recipe is tested by sending the requests it sends:
the OGC API with ``f=json``, the WMTS and WMS capabilities and a 3D Tiles tileset."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from tests.clients.conftest import recipe


def test_every_url_of_the_arcgis_recipe_answers_what_arcgis_pro_reads(server):
    urls = [line.strip() for line in recipe("arcgis").splitlines() if line.strip()]
    assert len(urls) >= 6
    with httpx.Client(base_url=server, timeout=120, headers={"Accept": "*/*"}) as client:
        for url in urls:
            resp = client.get(url)
            assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
            kind = resp.headers["content-type"]
            if "f=json" in url or url.endswith(".json"):
                assert "json" in kind, (url, kind)
                resp.json()
            else:
                assert "xml" in kind, (url, kind)
                ET.fromstring(resp.content)
    landing = httpx.get(f"{server}/?f=json").json()
    assert {link["rel"] for link in landing["links"]} >= {"conformance", "data", "service-desc"}
    items = httpx.get(f"{server}/collections/buildings/items?f=json&limit=100").json()
    assert items["type"] == "FeatureCollection" and len(items["features"]) == 100
