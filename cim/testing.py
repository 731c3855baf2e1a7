"""Test support shared by the test suite and the benchmarks: a throwaway PostgreSQL 15 + PostGIS 3
server in a temporary folder, and a free loopback port.

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` from the Debian ``postgresql-15`` package into
a folder of its own, listening on 127.0.0.1 at a free port with password logins, and stops and
deletes it afterwards. PostgreSQL refuses to run as root, so as root it runs as the ``postgres``
system user. Each ``database()`` is a fresh copy of a template that already has PostGIS.

Example:
    >>> with PostgresServer() as pg:             # doctest: +SKIP
    ...     url = pg.database()
    ...     city = cim.create(url)
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path(os.environ.get("CIM_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER, PASSWORD = "cim", "cim-test-pw"
TEMPLATE = "cim_template"


def available() -> str | None:
    """None when a server can be started here, else why not."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): apt-get install postgresql-15-postgis-3"
    if not Path("/usr/share/postgresql/15/extension/postgis.control").exists():
        return "PostGIS 3 for PostgreSQL 15 is not installed: apt-get install postgresql-15-postgis-3"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One running server; ``url(db)`` to reach it, ``database()`` for a fresh PostGIS database."""

    def __init__(self, *, port: int | None = None, max_connections: int = 200,
                 shared_buffers: str = "256MB") -> None:
        self.port = port or free_port()
        self.max_connections = max_connections
        self.shared_buffers = shared_buffers
        self.root = Path(tempfile.mkdtemp(prefix="cim-pg-"))
        self.data = self.root / "data"
        self._counter = itertools.count(1)
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd=self.root)

    def start(self) -> PostgresServer:
        why = available()
        if why:
            raise RuntimeError(why)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                   f"-c max_connections={self.max_connections} -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c shared_buffers={self.shared_buffers} -c jit=off")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")
        self._sql("postgres", f"CREATE DATABASE {TEMPLATE}")
        self._sql(TEMPLATE, "CREATE EXTENSION postgis")
        return self

    def _sql(self, db: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as con:
            con.execute(sql)

    def url(self, db: str = "postgres", *, user: str = USER, password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def database(self, *, postgis: bool = True) -> str:
        """URL of a new, empty database (with PostGIS unless ``postgis=False``)."""
        name = f"city_{os.getpid()}_{next(self._counter)}"
        template = TEMPLATE if postgis else "template0"
        self._sql("postgres", f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        for _ in range(20):
            try:
                shutil.rmtree(self.root)
                return
            except OSError:
                time.sleep(0.1)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def need(condition: bool, message: str) -> None:
    """In a test: skip when a prerequisite is missing — except under CI (``CI=true``), where it fails."""
    import pytest

    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Wait until ``url`` answers 200; fail with the log's tail when the process exits or time runs out."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def cim_serve(args: list[str], log: Path, *, probe: str = "/conformance", env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Iterator[str]:
    """``cim serve ARGS`` in a subprocess on a free loopback port, as a user starts it; yields its base URL
    once ``probe`` answers and stops the server afterwards. Its output goes to ``log``."""
    import sys

    port = free_port()
    cmd = [sys.executable, "-m", "cim", "serve", *args, "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}{probe}", proc, log)
        yield base
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server process, killing it when it does not stop within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
