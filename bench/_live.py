"""The live parts of the many-writers run: MQTT streams through a real broker, HTTP readers.

``MqttStream`` is a ``cim iot listen`` process for one topic prefix plus a publisher thread that
re-sends every seventh batch; ``http_reader`` reads a ``cim serve`` of the city (vector tiles, OGC
API Features pages, SensorThings observations) and reports any answer that is not 200/204.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ORIGIN = (515000.0, 3980000.0)  # EPSG:4549, Qingdao: where the writers put their features


class MqttStream:
    """A ``cim iot listen`` process for one topic prefix, and a publisher feeding it from a thread."""

    def __init__(self, url: str, broker: str, prefix: str, keys: list[str], seed: int, deadline: float) -> None:
        import subprocess
        import sys

        self.url, self.prefix, self.keys, self.seed, self.deadline = url, prefix, keys, seed, deadline
        self.broker = broker
        self.unique = 0  # observations published once (re-sent copies not counted)
        self.resent = 0
        self.error: str | None = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cim", "iot", "listen", url, "--broker", broker, "--prefix", prefix,
             "--client-id", f"bench-{prefix.replace('/', '-')}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self._publish, daemon=True)

    def _publish(self) -> None:
        from cim.iot.publish import Publisher

        # epoch ms, one time range per stream, all in the past (times after now + 10 min are refused)
        t0 = 1_500_000_000_000 + self.seed * 10**10
        k, last = 0, None
        try:
            with Publisher(self.broker, client_id=f"pub-{self.seed}") as pub:
                self._until_subscribed(pub, t0 - 1000)
                while time.time() < self.deadline:
                    if last is not None and k % 7 == 6:
                        pub.batch(self.prefix, last)  # re-delivery of the same rows
                        self.resent += len(last)
                    else:  # ten readings of every datastream, each at a time of its own
                        n = len(self.keys)
                        last = [[self.keys[j % n], t0 + (k * 10 + j // n) * 1000, float((k + j) % 50)]
                                for j in range(10 * n)]
                        pub.batch(self.prefix, last)
                        self.unique += len(last)
                    k += 1
                    time.sleep(0.01)
                if not pub.flush(60):
                    self.error = f"{self.prefix}: the broker did not acknowledge every message"
        except Exception:  # noqa: BLE001
            self.error = traceback.format_exc(limit=4)

    def _until_subscribed(self, pub: Any, when_ms: int) -> None:
        """Publish one probe reading until it is stored: from then on the broker queues for the listener."""
        import cim

        with cim.open(self.url, read_only=True) as city:
            for _ in range(600):
                pub.batch(self.prefix, [[self.keys[0], when_ms, 0.0]])
                pub.flush(10)
                time.sleep(0.2)
                if city.store.scalar(
                        "SELECT count(*) FROM iot_observations o JOIN iot_datastreams d ON d.id = o.datastream_id "
                        "WHERE d.key = ? AND o.phenomenon_time = ?",
                        [self.keys[0], datetime.fromtimestamp(when_ms / 1000, UTC)]):
                    self.unique += 1
                    return
        raise RuntimeError(f"the listener for {self.prefix} never stored the probe reading")

    def stop(self) -> str | None:
        import signal

        self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=60)
        except Exception:  # noqa: BLE001
            self.process.kill()
            return f"listener {self.prefix} did not stop"
        if self.process.returncode not in (0, -signal.SIGTERM):
            return f"listener {self.prefix} exited {self.process.returncode}: {err[-500:]}"
        return None


#: every reader reads at least this often, however late a loaded machine let it start
MIN_READS = 5


def reads_until(deadline: float) -> Iterator[int]:
    """0, 1, 2, … until ``deadline`` has passed and at least ``MIN_READS`` reads were made."""
    n = 0
    while time.time() < deadline or n < MIN_READS:
        yield n
        n += 1


def http_reader(base: str, layers: list[str], streams: list[int], deadline: float, counts: list[int],
                 errors: list[str]) -> None:
    import httpx

    rng = random.Random(threading.get_ident())
    tiles = _tiles_over_city(14)
    visible: list[str] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in reads_until(deadline):
            if not visible or counts[0] % 25 == 0:  # layers appear as writers create them
                listed = {c["id"] for c in client.get("/collections").json()["collections"]}
                visible = [layer for layer in layers if layer in listed] or ["parcels"]
            choice = rng.random()
            if choice < 0.4:
                z, x, y = rng.choice(tiles)
                path = f"/tiles/{rng.choice(visible)}/{z}/{x}/{y}.mvt"
            elif choice < 0.8:
                path = f"/collections/{rng.choice(visible)}/items?limit=50"
            else:
                path = f"/sta/v1.1/Datastreams({rng.choice(streams)})/Observations?$top=10"
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                errors.append(f"GET {path}: {exc}")
                continue
            if response.status_code not in (200, 204):
                errors.append(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
            counts[0] += 1


def server_lists(base: str, layers: list[str]) -> list[str]:
    """Problems: layers written while the server ran that it does not list."""
    import httpx

    listed = {c["id"] for c in httpx.get(f"{base}/collections", timeout=30).json()["collections"]}
    return [f"the running server does not list layer {layer}, written while it ran"
            for layer in layers if layer not in listed]


def _tiles_over_city(z: int) -> list[tuple[int, int, int]]:
    import math

    from gis.crs import parse_crs, transformer

    lon0, lat0, lon1, lat1 = transformer(parse_crs("EPSG:4549"), parse_crs("EPSG:4326")).transform_bounds(
        ORIGIN[0], ORIGIN[1], ORIGIN[0] + 2000, ORIGIN[1] + 2000)
    n = 2 ** z

    def tile(lon: float, lat: float) -> tuple[int, int]:
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return x, y

    (xa, ya), (xb, yb) = tile(lon0, lat1), tile(lon1, lat0)
    return [(z, x, y) for x in range(xa, xb + 1) for y in range(ya, yb + 1)]


def serve(url: str, port: int) -> Any:
    import subprocess
    import sys
    import tempfile

    import httpx

    log = tempfile.NamedTemporaryFile("w+", prefix="cim-serve-", suffix=".log", delete=False)  # noqa: SIM115 - the server writes it while it runs
    proc = subprocess.Popen([sys.executable, "-m", "cim", "serve", url, "--port", str(port), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    proc.log_path = log.name  # server errors (tracebacks) land here; the run reports them
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"cim serve exited: {Path(log.name).read_text()[-800:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/landing", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("cim serve did not come up")
