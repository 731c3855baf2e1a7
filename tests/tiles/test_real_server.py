"""`cim serve` as a user runs it: a real uvicorn process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest

from cim.testing import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture(scope="module")
def server(demo_copy, tmp_path_factory):
    """`cim serve` over a copy of the demo city (the session app holds the original's writer), on
    each backend in turn: a file, or a postgresql:// URL."""
    folder = tmp_path_factory.mktemp("real")
    city = demo_copy()
    keys = folder / "keys.json"
    keys.write_text('{"operator-real-01": "operator"}', encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cim", "serve", str(city), "--port", str(port), "--api-keys", str(keys),
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "CIM_PREPARE_TILES": "false"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"cim serve exited: {proc.stdout.read().decode()[-2000:]}")
        try:
            if httpx.get(base + "/conformance", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("cim serve did not answer within 60 s")
    yield base
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert PASSWORD not in out.decode(errors="replace")  # nothing the server printed shows it


def test_cim_serve_answers_the_viewer_contract_over_http(server):
    city = httpx.get(server + "/api/city").json()
    assert city["layers"] and city["crs"] == "EPSG:4549"
    assert httpx.get(server + "/").status_code == 200
    assert httpx.get(server + "/collections/buildings/items?limit=2").json()["numberReturned"] == 2


def test_concurrent_tile_and_item_requests_are_answered_consistently(server):
    city = httpx.get(server + "/api/city").json()
    lon, lat = city["center"]
    import math

    z = 15
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    urls = [f"{server}/tiles/buildings/{z}/{x + dx}/{y + dy}.mvt" for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    urls += [f"{server}/collections/parcels/items?limit=5&offset={i}" for i in range(8)]
    with httpx.Client(timeout=60) as client:
        first = {u: client.get(u).content for u in urls}
        with ThreadPoolExecutor(max_workers=8) as pool:
            again = list(pool.map(lambda u: (u, client.get(u)), urls * 3))
    for url, resp in again:
        assert resp.status_code in (200, 204), (url, resp.status_code)
        if "/tiles/" in url:
            assert resp.content == first[url]
    tile = first[urls[4]]
    assert "buildings" in mapbox_vector_tile.decode(tile)


def test_gzip_and_etag_travel_over_real_http(server):
    city = httpx.get(server + "/api/city").json()
    lon, lat = city["center"]
    import math

    z = 16
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    url = f"{server}/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
    with httpx.Client() as client:
        resp = client.get(url, headers={"Accept-Encoding": "gzip"})
        if resp.status_code == 204:
            pytest.skip("the centre tile of this city is empty")
        assert resp.headers["content-encoding"] == "gzip"
        assert client.get(url, headers={"If-None-Match": resp.headers["etag"]}).status_code == 304


def test_api_key_file_given_to_cim_serve_is_honoured(server):
    assert httpx.get(server + "/collections/pipes").status_code == 404
    assert httpx.get(server + "/collections/pipes", headers={"X-API-Key": "operator-real-01"}).status_code == 200
    assert httpx.get(server + "/collections", headers={"X-API-Key": "wrong-key-123"}).status_code == 401


def test_cim_serve_refuses_a_missing_city_with_a_hint(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cim", "serve", str(tmp_path / "none.duckdb")], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "cim demo" in out.stderr


def test_the_landing_page_and_city_document_never_show_the_database_password(server):
    for path in ("/", "/landing", "/api/city", "/collections", "/api", "/collections/nowhere"):
        assert PASSWORD not in httpx.get(server + path, headers={"Accept": "application/json"}).text


def test_cim_serve_names_an_unreachable_database_without_its_password(tmp_path):
    url = f"postgresql://cim:{PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    out = subprocess.run([sys.executable, "-m", "cim", "serve", url], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "cannot reach PostgreSQL" in out.stderr and "cim:***@127.0.0.1" in out.stderr
    assert PASSWORD not in out.stderr + out.stdout
