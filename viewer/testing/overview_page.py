"""Page object of the one-screen viewer, for the browser tests (playwright, sync API).

It knows the page's structure (ids, data attributes, the ``window.cim`` handle the app exposes)
so the tests read as what a user does: open a mode, search, click a building, read the panel.

Example:
    >>> page = OverviewPage(pw_page, "http://127.0.0.1:8123")        # doctest: +SKIP
    >>> page.open("plan").legend_texts()                                # doctest: +SKIP
    ['二类居住用地', …]
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Debian chromium, headless with software WebGL (SwiftShader), no calls home
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]



@contextmanager
def chromium() -> Iterator[Any]:
    """A playwright Browser on Debian chromium (never a downloaded browser), closed afterwards."""
    from playwright.sync_api import sync_playwright  # only browser tests and benches have playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def is_loopback(url: str) -> bool:
    """True for URLs that stay on this machine (loopback, data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    host = (parts.hostname or "").lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@dataclass
class Traffic:
    """What the page asked for and said: loopback requests, refused outside requests, console errors."""

    local: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def guard(self, context: Any) -> None:
        """Route every request of `context`: loopback ones go through, anything else is aborted and noted."""

        def handle(route: Any) -> None:
            url = route.request.url
            if is_loopback(url):
                self.local.append(url)
                route.continue_()
            else:
                self.outside.append(url)
                route.abort()

        context.route("**/*", handle)

    def listen(self, page: Any) -> None:
        """Collect console errors and uncaught page errors."""
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"))


class OverviewPage:
    """The viewer at `base` in a playwright page."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base.rstrip("/")

    # --- navigation -----------------------------------------------------------------------------
    def open(self, mode: str = "plan", *, api_key: str | None = None, lang: str = "zh") -> OverviewPage:
        """Load the viewer in `mode` and wait for its first meaningful render."""
        if api_key is not None or lang != "zh":
            self.page.add_init_script(
                f"localStorage.setItem('cim.apiKey', {api_key or ''!r}); localStorage.setItem('cim.lang', {lang!r});")
        self.page.goto(f"{self.base}/#{mode}")
        self.wait_ready()
        self.settle()
        return self

    def wait_ready(self, timeout: float = 60_000) -> None:
        """Wait for the first render (base layers' tiles in view drawn) and the side data (sensors, alerts)."""
        self.page.wait_for_function("window.cim && window.cim.firstRenderMs !== null && window.cim.dataLoaded",
                                    timeout=timeout)

    def switch_mode(self, mode: str) -> None:
        """Click a mode tab and wait for its tiles."""
        self.page.click(f"#modes button[data-mode={mode}]")
        self.page.wait_for_function(f"document.body.dataset.mode === '{mode}'")
        self.settle()

    def settle(self, timeout: float = 30_000) -> None:
        """Wait until no tile is loading, the camera stands still and a frame has been drawn."""
        try:
            self.page.wait_for_function(
                "window.cim && !window.cim.moving && window.cim.tilesLoading() === 0", timeout=timeout)
        except Exception as exc:
            state = self.page.evaluate("({moving: window.cim.moving, loading: window.cim.loadingLayers()})")
            raise AssertionError(f"the page did not settle: {state}") from exc
        self.page.wait_for_timeout(400)

    @property
    def first_render_ms(self) -> float:
        """Milliseconds from navigation start to the first meaningful render."""
        return float(self.page.evaluate("window.cim.firstRenderMs"))

    # --- reading --------------------------------------------------------------------------------
    def legend_texts(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#legend li").all_inner_texts()]

    def mode_labels(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#modes button").all_inner_texts()]

    def kpi_texts(self) -> list[str]:
        return self.page.locator("#kpis .kpi").all_inner_texts()

    def panel_text(self) -> str:
        return self.page.locator("#panel").inner_text()

    def parent_chain(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#parent-chain li").all_inner_texts()]

    def alert_ids(self) -> list[str]:
        return self.page.locator("#alert-list li.alert").evaluate_all("els => els.map(e => e.dataset.alertId)")

    def map_png(self) -> bytes:
        """A screenshot of the map area only."""
        return self.page.locator("#map").screenshot()

    def map_spread(self) -> tuple[float, float]:
        """(pixel standard deviation, share of pixels unlike the background) of the map screenshot."""
        from PIL import Image, ImageStat

        img = Image.open(io.BytesIO(self.map_png())).convert("RGB")
        stddev = sum(ImageStat.Stat(img).stddev) / 3
        background = img.getpixel((2, img.height - 3))
        pixels = img.getdata()
        unlike = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, background, strict=True)) > 30)
        return stddev, unlike / (img.width * img.height)

    def screenshot(self, path: str) -> None:
        self.page.screenshot(path=path)

    # --- doing ----------------------------------------------------------------------------------
    def screen_of(self, lon: float, lat: float, z: float = 0.0) -> tuple[float, float]:
        """Page coordinates of a lon/lat/z in the current view."""
        x, y = self.page.evaluate("([lon, lat, z]) => window.cim.project(lon, lat, z)", [lon, lat, z])
        box = self.page.locator("#map").bounding_box()
        return box["x"] + x, box["y"] + y

    def click_map(self, lon: float, lat: float, z: float = 0.0) -> None:
        """One click, then a pause as a person makes (two quick clicks would be a double-click)."""
        x, y = self.screen_of(lon, lat, z)
        self.page.mouse.click(x, y)
        self.page.wait_for_timeout(450)

    def measure_at(self, lon: float, lat: float) -> None:
        """Add a measuring point by clicking the map; waits until the tool has taken it."""
        readout = self.page.locator("#measure-readout")
        before = int(readout.get_attribute("data-points") or 0) if readout.is_visible() else 0
        self.click_map(lon, lat)
        self.page.wait_for_function(
            f"Number(document.getElementById('measure-readout').dataset.points || 0) > {before}", timeout=15_000)

    def search(self, text: str) -> list[str]:
        """Type into the search box; returns the ids listed."""
        self.page.fill("#search-input", text)
        self.page.wait_for_selector("#search-results li[data-id]", timeout=15_000)
        return self.page.locator("#search-results li[data-id]").evaluate_all("els => els.map(e => e.dataset.id)")

    def choose_result(self, feature_id: str) -> None:
        self.page.locator(f"#search-results li[data-id='{feature_id}']").dispatch_event("mousedown")
        self.page.wait_for_function("!window.cim.moving", timeout=15_000)

    def set_time(self, fraction: float) -> str:
        """Move the time slider to `fraction` of its range (1.0 = now); returns the label it shows."""
        self.page.locator("#time-range").evaluate(
            "(el, f) => { el.value = String(Math.round(Number(el.max) * f)); el.dispatchEvent(new Event('input'));"
            " el.dispatchEvent(new Event('change')); }", fraction)
        return self.page.locator("#time-value").inner_text()

    def close_panel(self) -> None:
        self.page.locator("#panel button.icon").click()

    def toggle_language(self) -> None:
        self.page.click("#lang-toggle")

    def view_state(self) -> dict[str, float]:
        return self.page.evaluate(
            "(() => { const v = window.cim.state.viewState; return {longitude: v.longitude, latitude: v.latitude,"
            " zoom: v.zoom, pitch: v.pitch}; })()")
