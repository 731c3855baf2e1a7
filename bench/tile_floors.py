"""Render floors of vector tiles: each tile rendered in process, without HTTP, by cim's own renderer and
by the databases' ST_AsMVT over the same prepared rows — what serving costs beyond rendering.

Used by bench/tiles_bench.py; loads the prepared rows into PostGIS for TiPg and the PostGIS floor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench._postgis import TempPostGIS, load_layer
from bench.common import percentile


def _floor(engine: str, render: Callable[[int, int, int], bytes], tiles: list[tuple[int, int, int]],
           ) -> dict[str, object]:
    lat, sizes = [], []
    start = time.perf_counter()
    for z, x, y in tiles:
        t = time.perf_counter()
        sizes.append(len(render(z, x, y)))
        lat.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    z14 = [v for v, t in zip(lat, tiles, strict=True) if t[0] == 14]
    return {"engine": engine, "tiles/s": len(tiles) / elapsed, "p50 ms": percentile(lat, 50),
            "p99 ms": percentile(lat, 99), "z14 p99 ms": percentile(z14, 99),
            "mean KB": sum(sizes) / len(sizes) / 1024, "max KB": max(sizes) / 1024}


def duckdb_floor(store: Path, table: str, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    """``store``: a city file holding the prepared layer ``table`` (a derived table)."""
    # DuckDB ST_AsMVTGeom + ST_AsMVT over the same 3857 geometries with an RTREE, no generalisation
    from cim.store.duckdb import connect
    from serving.tilegrid import tile_bounds

    con = connect()
    con.execute(f"ATTACH '{store}' AS store (READ_ONLY)")
    con.execute(f'CREATE TABLE b AS SELECT id, class, name, height, ST_GeomFromWKB(wkb) AS geom FROM store."{table}"')
    con.execute("CREATE INDEX b_rtree ON b USING RTREE (geom)")
    sql = ("SELECT ST_AsMVT(t, 'buildings', 4096, 'geom') FROM (SELECT ST_AsMVTGeom(geom, "
           "ST_Extent(ST_MakeEnvelope(?, ?, ?, ?)), 4096, 64, true) AS geom, id, class, name, height "
           "FROM b WHERE ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))) t")

    def render(z: int, x: int, y: int) -> bytes:
        b = tile_bounds(z, x, y)
        row = con.execute(sql, [*b, *b]).fetchone()
        return bytes(row[0]) if row and row[0] else b""

    try:
        return _floor("DuckDB ST_AsMVT (raw)", render, tiles)
    finally:
        con.close()


def cim_in_process(city_path: Path, layer: str, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    """cim rendering each tile from scratch, without HTTP (prepared layer, generalised, own encoder)."""
    import cim
    from cim.model.catalog import layer_info
    from serving.vector import VectorTiles

    city = cim.open(city_path)
    vt = VectorTiles(city)
    info = layer_info(city, layer, "anonymous")
    try:
        return _floor("cim render, no store (in process)", lambda z, x, y: vt.tile(info, z, x, y), tiles)
    finally:
        vt.close()
        city.close()


def postgis_floor(pg: TempPostGIS, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    """PostGIS ST_AsMVTGeom + ST_AsMVT, no generalisation."""
    con = pg.connect()
    sql = ("SELECT ST_AsMVT(t, 'buildings', 4096, 'geom') FROM (SELECT ST_AsMVTGeom(geom, "
           "ST_TileEnvelope(%s, %s, %s), 4096, 64, true) AS geom, id, class, name, height FROM buildings "
           "WHERE geom && ST_TileEnvelope(%s, %s, %s)) t")

    def render(z: int, x: int, y: int) -> bytes:
        row = con.execute(sql, (z, x, y, z, x, y)).fetchone()
        return bytes(row[0]) if row and row[0] else b""

    try:
        return _floor("PostGIS ST_AsMVT (raw)", render, tiles)
    finally:
        con.close()


def load_postgis(pg: TempPostGIS, store: Path, table: str) -> float:
    """The prepared 3857 rows (same attributes as cim's tiles, from the city file ``store``) into PostGIS
    as table ``buildings``."""
    from cim.store.duckdb import connect

    con = connect(store, read_only=True)
    try:
        cur = con.execute(f'SELECT id, class, name, height, z_min, z_max, wkb FROM "{table}"')
        columns = [("id", "text"), ("class", "text"), ("name", "text"), ("height", "double precision"),
                   ("z_min", "double precision"), ("z_max", "double precision")]

        def rows() -> Iterator[tuple]:
            while batch := cur.fetchmany(50_000):
                yield from batch

        return load_layer(pg, "buildings", columns, rows())
    finally:
        con.close()
