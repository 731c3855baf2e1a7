"""A throwaway PostgreSQL 15 + PostGIS 3 cluster in a temp folder, and loading a layer into it.

Used by ``bench.tiles_bench`` to serve the same demo city with TiPg: the server of the test suite
(``cim.testing.PostgresServer``: loopback port, ``fsync=off``, removed on exit) with one
database ``cim`` that has PostGIS.
"""

from __future__ import annotations

import time
from typing import Any

from cim.testing import PostgresServer, available


class TempPostGIS(PostgresServer):
    """``with TempPostGIS() as pg: pg.dsn`` — one PostGIS database ``cim`` on a throwaway server."""

    def __init__(self, shared_buffers: str = "512MB") -> None:
        super().__init__(max_connections=100, shared_buffers=shared_buffers)
        self.dsn = self.url("cim")

    def __enter__(self) -> TempPostGIS:
        self.start()
        self._sql("postgres", "CREATE DATABASE cim TEMPLATE cim_template")
        return self

    def connect(self, db: str = "cim") -> Any:
        """A psycopg connection."""
        import psycopg

        return psycopg.connect(self.url(db))


def load_layer(pg: TempPostGIS, name: str, columns: list[tuple[str, str]], rows: Any) -> float:
    """COPY rows (tuples whose last item is WKB in EPSG:3857) into table ``name``; GIST index; seconds.

    ``columns`` are (name, PostgreSQL type) of the attributes before the geometry.
    """
    start = time.perf_counter()
    cols = ", ".join(f'"{c}" {t}' for c, t in columns)
    with pg.connect() as con:
        con.execute(f'CREATE TABLE "{name}" (gid serial PRIMARY KEY, {cols}, geom geometry)')
        names = ", ".join(f'"{c}"' for c, _ in columns)
        with con.cursor().copy(f'COPY "{name}" ({names}, geom) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row[:-1] + (bytes(row[-1]).hex(),))
        con.execute(f'ALTER TABLE "{name}" ALTER COLUMN geom TYPE geometry(Geometry, 3857) '
                    "USING ST_SetSRID(geom, 3857)")
        con.execute(f'CREATE INDEX "{name}_geom" ON "{name}" USING GIST (geom)')
        con.execute(f'ANALYZE "{name}"')
        con.commit()
    return time.perf_counter() - start


def pg_missing() -> str:
    """Why PostgreSQL + PostGIS cannot be started here ("" when it can)."""
    return "PostgreSQL/PostGIS not installed" if available() else ""
