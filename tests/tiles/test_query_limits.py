"""Costly requests are bounded: a statement time limit (503 + Retry-After), numberMatched left out
when counting would be costly — on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tiles import create_app

POINTS = 40_000


def _points(folder: Path) -> Path:
    """40 000 points over a 5 km square (lon/lat), as CSV."""
    path = folder / "points.csv"
    rows = [f"{i},p{i},{120.15 + (i % 200) * 0.00025:.6f},{35.93 + (i // 200) * 0.00025:.6f}" for i in range(POINTS)]
    path.write_text("id,name,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _zigzag(vertices: int = 900) -> str:
    """A line across the whole square, up and down ``vertices`` times: every distance to it is costly."""
    points = [f"{120.15 + 0.05 * i / (vertices - 1):.5f} {35.93 + 0.05 * (i % 2):.5f}" for i in range(vertices)]
    return f"LINESTRING({', '.join(points)})"


@pytest.fixture
def points_city(new_city, tmp_path: Path):
    city = new_city(crs="EPSG:4549")
    city.ingest(_points(tmp_path), layer="points", source_crs="EPSG:4326")
    return city


def _client(city, tmp_path: Path, **settings: object) -> TestClient:
    return TestClient(create_app(city, prepare_tiles=False, viewer_dist=tmp_path / "no-viewer", **settings))


def test_a_costly_but_allowed_filter_is_stopped_with_503_and_retry_after(points_city, tmp_path):
    costly = f"S_DWITHIN(geometry, {_zigzag()}, 1, meters)"
    with _client(points_city, tmp_path, query_timeout_s=0.1) as client:
        resp = client.get("/collections/points/items", params={"filter": costly, "limit": 5})
        assert resp.status_code == 503
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.headers["Retry-After"] == "1"
        detail = resp.json()["detail"]
        assert "took longer than 0.1 s" in detail and "narrow it" in detail
        assert "SELECT" not in resp.text and "Traceback" not in resp.text
        # the worker is free again, and a narrow question is answered
        again = client.get("/collections/points/items", params={"filter": "name = 'p7'"})
        assert again.status_code == 200 and again.json()["numberMatched"] == 1


def test_number_matched_is_left_out_when_a_filter_would_count_a_large_layer(points_city, tmp_path):
    with _client(points_city, tmp_path, count_max_rows=100) as client:
        filtered = client.get("/collections/points/items", params={"filter": "name LIKE 'p1%'", "limit": 5}).json()
        assert "numberMatched" not in filtered and filtered["numberReturned"] == 5
        assert any(link["rel"] == "next" for link in filtered["links"])
        plain = client.get("/collections/points/items", params={"limit": 5}).json()
        assert plain["numberMatched"] == POINTS
    with _client(points_city, tmp_path, count_max_rows=POINTS) as client:
        small = client.get("/collections/points/items", params={"filter": "name LIKE 'p1%'", "limit": 5}).json()
        assert small["numberMatched"] == 11_111  # p1, p10–p19, …, p10000–p19999


def test_on_postgis_the_limit_stops_reads_and_never_a_write_on_the_same_connection(postgis_server, tmp_path,
                                                                                  monkeypatch):
    import cim
    from cim.errors import QueryTimeout
    from cim.store.timeout import statement_timeout

    monkeypatch.setenv("CIM_DATA_DIR", str(tmp_path))
    city = cim.create(postgis_server.database())
    try:
        with statement_timeout(0.05), pytest.raises(QueryTimeout, match="took longer than 0.05 s"):
            city.store.rows("SELECT pg_sleep(1)")
        with statement_timeout(0.05), city.store.transaction():  # a write: never cut
            city.store.execute("SELECT pg_sleep(0.2)")
        city.store.execute("SELECT pg_sleep(0.2)")  # and no limit left behind on the connection
    finally:
        city.close()
