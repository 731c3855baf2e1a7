"""Chromium for the web-client tests: Debian's chromium driven by playwright (software WebGL), a static
site on loopback holding the docs' pages beside the npm packages, and a record of every request.

Every request the page makes is recorded (playwright's request events) and any that would leave
127.0.0.1 is aborted: the tests assert the list of such requests is empty, that the page logged no
error and that no request failed or was answered with an error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cim.testing import need
from tests.clients.conftest import ROOT, WEB, static_site

sys.path.insert(0, str(ROOT / "viewer" / "testing"))

from overview_page import CHROMIUM, chromium, is_loopback


@dataclass
class Record:
    """What a page asked for and said."""

    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.route("**/*", self._route)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: self.failed.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _route(self, route: Any) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def assert_clean(self) -> None:
        """Nothing left 127.0.0.1, nothing failed, the console stayed clean, and requests were seen."""
        assert self.requests, "the page made no request: the record saw nothing"
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside[:5]}"
        assert self.failed == [], f"failed requests: {self.failed[:5]}"
        assert self.errors == [], f"console errors: {self.errors[:5]}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian chromium, headless, software WebGL; never a downloaded browser."""
    need(Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: scripts/install-system.sh installs Debian chromium")
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def site(site_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A static site on loopback (the docs' pages go in its folder) with the npm packages beside them."""
    modules = WEB / "node_modules"
    need(modules.is_dir(), "the web clients are not installed: npm ci --prefix tests/clients/web")
    folder = tmp_path_factory.mktemp("site")
    (folder / "node_modules").symlink_to(modules, target_is_directory=True)
    with static_site(folder, site_port) as base:
        yield base, folder


def open_page(browser: Any, url: str, record: Record, *, size: tuple[int, int] = (1000, 700)) -> Any:
    """A fresh page at ``url`` with every request and message recorded."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_default_timeout(120_000)
    record.attach(page)
    page.goto(url)
    return page
