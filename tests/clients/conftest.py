"""Fixtures of the third-party client tests: the small demo city served by a real `cim serve` on a
free loopback port (one server per test module), a static web server for the pages the browser
tests open (ranges supported, as a CDN), and the recipes of docs/clients.md.

Nothing here leaves 127.0.0.1: the clients are installed locally (pip, npm, Debian) and every
URL they are given is on loopback.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cim.testing import cim_serve as serve_process
from cim.testing import free_port
from tests.tiles.conftest import demo_path, file_copy  # noqa: F401 - the session's demo city (fixture)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "clients.md"
WEB = ROOT / "tests" / "clients" / "web"
#: the address the docs use for `cim serve`; tests put the real server's in its place
DOC_BASE = "http://127.0.0.1:8000"
DOC_SITE = "http://127.0.0.1:8080"
#: the keys the docs start `cim serve` with (its `serve` recipe)
OPERATOR_KEY = "operator-key-0001"
ADMIN_KEY = "admin-key-000001"


def artifact(name: str) -> str:
    """Path under test-artifacts/ (gitignored) for a screenshot worth looking at."""
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return str(folder / name)


def serve_command(city: Path, site: str) -> list[str]:
    """The docs' `cim serve` command (recipe ``serve``) for ``city``, letting pages from ``site`` call it."""
    args = shlex.split(recipe("serve", site=site))
    assert args[:3] == ["cim", "serve", "demo/city.duckdb"], f"unexpected serve recipe: {args}"
    assert OPERATOR_KEY in args[4] and ADMIN_KEY in args[4], "the docs start the server with other keys"
    return [str(city), *args[3:]]


@contextmanager
def cim_serve(args: list[str], log: Path) -> Iterator[str]:
    """`cim serve ARGS` as a user starts it, on a free loopback port (access log on); its base URL."""
    with serve_process([*args, "--log-level", "info"], log, env={"CIM_PREPARE_TILES": "false"}, cwd=ROOT) as base:
        yield base


@pytest.fixture(scope="module")
def city_file(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A copy of the session's small demo city for this module's server (a city file has one writer)."""
    return file_copy(demo_path, tmp_path_factory.mktemp("clients"))


@pytest.fixture(scope="module")
def site_port() -> int:
    """The port of this module's static site (known before the server starts, for CORS)."""
    return free_port()


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's server writes its log (uvicorn's access log included)."""
    return tmp_path_factory.mktemp("serve-log") / "serve.log"


@pytest.fixture(scope="module")
def server(city_file: Path, site_port: int, server_log: Path) -> Iterator[str]:
    """`cim serve` over the demo city as the docs start it, letting the module's static site call it."""
    with cim_serve(serve_command(city_file, f"http://127.0.0.1:{site_port}"), server_log) as base:
        yield base


class RangeHandler(SimpleHTTPRequestHandler):
    """A static file handler that honours single ``Range: bytes=a-b`` requests, as CDNs and object
    stores do (PMTiles needs them)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def send_head(self):
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        if start > end:
            self.send_error(416)
            return None
        f = open(path, "rb")  # noqa: SIM115 - the base class closes what send_head returns
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return _Limited(f, end - start + 1)


class _Limited:
    """A file object that reads at most ``left`` bytes (the requested range)."""

    def __init__(self, f, left: int) -> None:
        self.f, self.left = f, left

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.f.close()


@contextmanager
def static_site(folder: Path, port: int) -> Iterator[str]:
    """Serve ``folder`` on ``port`` (loopback) in a thread; its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(RangeHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def recipe(tag: str, base: str | None = None, site: str | None = None) -> str:
    """The code block of docs/clients.md (or another docs page) fenced as ```<lang> <tag>```, with the
    docs' addresses replaced by the test server's and site's."""
    page = DOCS
    if ":" in tag:
        name, tag = tag.split(":", 1)
        page = ROOT / "docs" / name
    found = re.findall(rf"```[a-z]+ {re.escape(tag)}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    assert len(found) == 1, f"{page.name} should have exactly one block tagged {tag!r}, found {len(found)}"
    text = found[0]
    if base:
        text = text.replace(DOC_BASE, base)
    if site:
        text = text.replace(DOC_SITE, site)
    return text
