"""A throwaway PostgreSQL 15 + PostGIS 3 cluster in a temp folder, and loading a layer into it.

Used by ``bench.tiles_bench`` to serve the same demo city with TiPg. The cluster listens on a
free loopback port with trust authentication, runs with ``fsync=off`` (it is thrown away), and
is stopped and removed on exit. As root, the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostGIS:
    """``with TempPostGIS() as pg: pg.dsn`` — a PostGIS database for one benchmark run."""

    def __init__(self, shared_buffers: str = "512MB") -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL 15 is missing: apt-get install postgresql-15-postgis-3 "
                               "(scripts/install-system.sh installs it)")
        self.shared_buffers = shared_buffers
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cim-postgis-"))
        self.data = self.root / "data"
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/cim"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    def __enter__(self) -> TempPostGIS:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c shared_buffers={self.shared_buffers} "
                "-c max_connections=100 -c jit=off")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w",
                  "start")
        self._wait()
        with self.connect("postgres") as con:
            con.autocommit = True
            con.execute("CREATE DATABASE cim")
        with self.connect() as con:
            con.execute("CREATE EXTENSION postgis")
            con.commit()
        return self

    def _wait(self) -> None:
        for _ in range(100):
            try:
                with self.connect("postgres"):
                    return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'log'}")

    def connect(self, db: str = "cim") -> Any:
        """A psycopg connection."""
        import psycopg

        return psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/{db}")

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


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
