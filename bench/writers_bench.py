"""Many writers and readers on one PostGIS city at once, then every count reconciled.

Writers are separate processes, as they are in a city: vector ingests (two of them into the
same layer, so they contend), IFC uploads, ``cim iot listen`` processes storing what a real
mosquitto broker delivers (the publishers re-send some batches, as MQTT re-delivery does), and an
observation writer through the Python API. Readers are threads: half ask, each in one statement,
for a layer's current features and its catalogue count (under any isolation that can show a
half-written version the two differ), half read a ``cim serve`` of the same city over HTTP (vector
tiles, OGC API Features pages, SensorThings observations). At the end the database must hold
exactly what the writers were told they stored, and every MQTT observation published exactly once.

    python -m bench.writers_bench --seconds 60 --writers 8 --readers 8    # prints rows/s

``run(url, seconds=…)`` is what the test suite calls; it returns a ``Result`` whose ``problems``
lists every error and mismatch (empty when all reconciled).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._live import ORIGIN, MqttStream, http_reader, reads_until, serve, server_lists

SHARED_LAYER = "shared_edits"


@dataclass
class Result:
    """What the run did and what is wrong with it (``problems`` empty when all reconciled)."""

    seconds: float = 0.0
    ingests: int = 0
    unchanged: int = 0
    feature_rows: int = 0
    observations: int = 0
    duplicates_resent: int = 0
    reads: int = 0
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    by_writer: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return (self.feature_rows + self.observations) / self.seconds if self.seconds else 0.0


# -- writers (each a process of its own) -------------------------------------------------------

def _geojson(path: Path, layer: str, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    feats = []
    for i in range(n):
        x, y = ORIGIN[0] + rng.uniform(0, 2000), ORIGIN[1] + rng.uniform(0, 2000)
        ring = [[x, y], [x + 12, y], [x + 12, y + 9], [x, y + 9], [x, y]]
        feats.append({"type": "Feature", "properties": {"fid": f"{layer}-{i}", "height": rng.uniform(3, 90),
                                                        "名称": f"楼{seed}-{i}"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:4549"}},
           "features": feats}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _vector_writer(url: str, layer: str, seed: int, deadline: float, folder: Path, out: list) -> None:
    import cim

    with cim.open(url) as city:
        k = 0
        while time.time() < deadline:
            k += 1
            n = random.Random(seed * 1000 + k).randint(20, 400)
            path = _geojson(folder / f"{layer}-{seed}-{k}.geojson", layer, n, seed * 1000 + k)
            (report,) = city.ingest(path, layer=layer, id_field="fid", feature_class="Building")
            out.append({"layer": layer, "version": report.version, "stored": report.stored,
                        "unchanged": report.unchanged})


def _ifc_writer(url: str, layer: str, seed: int, deadline: float, folder: Path, out: list) -> None:
    import cim
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    anchor = Anchor(ORIGIN[0] + 300 * seed, ORIGIN[1] + 500, 0.0, crs="EPSG:4549")
    with cim.open(url) as city:
        k = 0
        while time.time() < deadline:
            k += 1
            path = write_demo_building(folder / f"{layer}-{k}.ifc", storeys=1 + k % 3, width=12 + k % 5,
                                       depth=10, anchor=anchor)
            report = city.ingest(path, layer=layer, threads=1, classification="public")
            out.append({"layer": layer, "version": report.version, "stored": report.stored,
                        "unchanged": report.unchanged})


def _observation_writer(url: str, streams: list[int], seed: int, deadline: float, folder: Path, out: list) -> None:
    import numpy as np
    import pyarrow as pa

    import cim
    from cim.iot.write import write_observations

    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    batch, last = 0, None
    with cim.open(url) as city:
        while time.time() < deadline:
            if last is not None and batch % 5 == 4:  # re-delivery: the same batch again, all duplicates
                data = last
            else:
                n = 500
                ds = np.repeat(np.array(streams, dtype=np.int32), n // len(streams))
                minutes = batch * n + np.arange(len(ds))
                times = [t0 + timedelta(minutes=int(m)) for m in minutes]
                data = pa.table({"datastream_id": ds, "phenomenon_time": pa.array(times, pa.timestamp("us", tz="UTC")),
                                 "result": rng.uniform(0, 50, len(ds))})
                last = data
            batch += 1
            report = write_observations(city, data, source=f"writer-{seed}", kind="python")
            out.append({"observations": report.stored, "duplicates": report.duplicates, "read": report.read,
                        "rejected": report.rejected})


_WRITERS = {"vector": _vector_writer, "ifc": _ifc_writer, "observations": _observation_writer}


def _writer_main(kind: str, url: str, target: Any, seed: int, deadline: float, queue: Any) -> None:
    out: list[dict[str, Any]] = []
    error = None
    with tempfile.TemporaryDirectory(prefix=f"cim-writer-{kind}-") as tmp:
        try:
            _WRITERS[kind](url, target, seed, deadline, Path(tmp), out)
        except Exception:  # noqa: BLE001 - reported to the parent, which fails the run
            error = traceback.format_exc(limit=6)
    queue.put({"kind": kind, "seed": seed, "target": target, "results": out, "error": error})


# -- readers (threads) ---------------------------------------------------------------------------

def _reader(url: str, layers: list[str], deadline: float, counts: list[int], errors: list[str]) -> None:
    import cim

    rng = random.Random(threading.get_ident())
    try:
        with cim.open(url, read_only=True) as city:
            for _ in reads_until(deadline):
                layer = rng.choice(layers)
                # one statement, one snapshot: the catalogue and the rows of the current version agree
                row = city.store.rows(
                    "SELECT (SELECT count(*) FROM features WHERE layer = ? AND valid_to IS NULL), "
                    "(SELECT feature_count FROM layers WHERE name = ?)", [layer, layer])[0]
                if row[1] is not None and row[0] != row[1]:
                    errors.append(f"reader saw {row[0]} current features of {layer} but the catalogue says {row[1]}")
                feats = city.features(layer, bbox=(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 1000, ORIGIN[1] + 1000),
                                      output="arrow") if row[1] else None
                if feats is not None and len(set(feats.column("id").to_pylist())) != feats.num_rows:
                    errors.append(f"reader saw a feature of {layer} twice")
                counts[0] += 1
    except Exception:  # noqa: BLE001
        errors.append(traceback.format_exc(limit=6))


# -- the run ----------------------------------------------------------------------------------------

def prepare(url: str, *, streams: int = 12) -> dict[str, int]:
    """A fresh city at ``url`` with a parcel layer and ``streams`` datastreams; their ids by key."""
    import cim
    from cim.iot.register import register_sensors

    with tempfile.TemporaryDirectory() as tmp, cim.create(url) as city:
        city.ingest(_geojson(Path(tmp) / "parcels.geojson", "parcels", 20, 1), layer="parcels", id_field="fid",
                    feature_class="Parcel")
        reg = register_sensors(city, [{"key": f"gauge{i}", "name": f"Gauge {i}", "feature": f"parcels.parcels-{i}",
                                       "datastreams": [{"key": f"gauge{i}.level", "property": "water_level",
                                                        "unit": "m"}]} for i in range(streams)])
        return dict(reg.datastreams)


def run(url: str, *, seconds: float = 60.0, writers: int = 8, readers: int = 8, mqtt: bool = True,
        http: bool = True) -> Result:
    """``writers`` processes and ``readers`` threads on a fresh city at ``url`` for ``seconds``, reconciled.

    With ``mqtt`` two of the writers are ``cim iot listen`` processes fed through a mosquitto started
    here; with ``http`` half the readers read a ``cim serve`` of the city.
    """
    by_key = prepare(url)
    keys = sorted(by_key)
    streams = [by_key[k] for k in keys]
    kinds = ["vector", "vector", "ifc", "mqtt" if mqtt else "observations", "vector", "observations", "ifc",
             "mqtt" if mqtt else "observations"]
    plan: list[tuple[str, Any]] = []
    for i in range(writers):
        kind = kinds[i % len(kinds)]
        if kind == "vector":
            target = SHARED_LAYER if i < 2 else f"edits_{i}"  # the first two contend for one layer
        elif kind == "ifc":
            target = f"bim_{i}"
        elif kind == "mqtt":
            target = keys[i % 3::3]
        else:
            target = streams[2::3]
        plan.append((kind, target))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start = time.time()
    deadline = start + seconds
    folder = Path(tempfile.mkdtemp(prefix="cim-writers-"))
    broker = None
    mqtt_streams: list[MqttStream] = []
    server = None
    try:
        if any(k == "mqtt" for k, _ in plan):
            from cim.iot.broker import LocalBroker

            broker = LocalBroker(folder / "broker").start()
            mqtt_streams = [MqttStream(url, broker.address, f"bench/w{i}", target, i + 1, deadline)
                            for i, (kind, target) in enumerate(plan) if kind == "mqtt"]
        procs = [ctx.Process(target=_writer_main, args=(kind, url, target, i + 1, deadline, queue), daemon=True)
                 for i, (kind, target) in enumerate(plan) if kind != "mqtt"]
        for p in procs:
            p.start()
        for stream in mqtt_streams:
            stream.thread.start()
        layers = sorted({t for k, t in plan if k in ("vector", "ifc")} | {"parcels"})
        counts, errors = [0], []
        http_readers = readers // 2 if http else 0
        if http_readers:
            from cim.testing import free_port

            port = free_port()
            server = serve(url, port)
        threads = [threading.Thread(target=_reader, args=(url, layers, deadline, counts, errors))
                   for _ in range(readers - http_readers)]
        threads += [threading.Thread(target=http_reader, args=(f"http://127.0.0.1:{port}", layers, streams,
                                                                deadline, counts, errors))
                    for _ in range(http_readers)]
        for t in threads:
            t.start()
        reports = [queue.get(timeout=seconds + 600) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        for t in threads:
            t.join()
        for stream in mqtt_streams:
            stream.thread.join(timeout=120)
        result = Result(seconds=time.time() - start, reads=counts[0], errors=list(errors))
        if server is not None:
            result.errors += server_lists(f"http://127.0.0.1:{port}", layers)
            # a traceback from answering a request fails the run; the background warm-up of tiles is
            # allowed to give up on a layer version another writer has already replaced
            # (logged as "preparing vector tiles in the background failed", its traceback through _warm_up)
            for block in Path(server.log_path).read_text(errors="replace").split("Traceback")[1:]:
                if "in _warm_up" not in block[:400]:
                    result.errors.append("cim serve logged: Traceback" + block[:3000])
        if mqtt_streams:
            _drain(url, reports, mqtt_streams, result)
        for stream in mqtt_streams:
            problem = stream.stop() or stream.error
            if problem:
                result.errors.append(problem)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        for stream in mqtt_streams:
            if stream.process.poll() is None:
                stream.process.kill()
        if broker is not None:
            broker.stop()
    for r in reports:
        if r["error"]:
            result.errors.append(f"{r['kind']} writer {r['seed']}: {r['error']}")
    for stream in mqtt_streams:
        reports.append({"kind": "mqtt", "seed": stream.seed, "target": stream.prefix, "error": None,
                        "results": [{"observations": stream.unique, "duplicates": stream.resent,
                                     "read": stream.unique + stream.resent, "rejected": 0}]})
    _reconcile(url, reports, result)
    return result


def _drain(url: str, reports: list[dict[str, Any]], streams: list[MqttStream], result: Result) -> None:
    """Wait until the listeners have stored everything published (or a minute passes)."""
    import cim

    direct = sum(row["observations"] for r in reports for row in r["results"] if "observations" in row)
    expected = direct + sum(s.unique for s in streams)
    with cim.open(url, read_only=True) as city:
        for _ in range(600):
            if int(city.store.scalar("SELECT count(*) FROM iot_observations")) >= expected:
                return
            time.sleep(0.1)


def _reconcile(url: str, reports: list[dict[str, Any]], result: Result) -> None:
    import cim

    told: dict[tuple[str, int], int] = {}
    observations = 0
    for r in reports:
        name = f"{r['kind']}-{r['seed']}"
        rows = r["results"]
        result.by_writer[name] = {"batches": len(rows)}
        for row in rows:
            if "layer" in row:
                if row["unchanged"]:
                    result.unchanged += 1
                    continue
                key = (row["layer"], row["version"])
                if key in told:
                    result.problems.append(f"two writers were both told they stored {key}")
                told[key] = row["stored"]
                result.ingests += 1
                result.feature_rows += row["stored"]
            else:
                observations += row["observations"]
                result.duplicates_resent += row["duplicates"]
                if row["read"] != row["observations"] + row["duplicates"] + row["rejected"]:
                    result.problems.append(f"an observation batch does not reconcile: {row}")
    result.observations = observations
    with cim.open(url, read_only=True) as city:
        stored = {(layer, int(v)): int(n) for layer, v, n in city.store.rows(
            "SELECT layer, version, count(*) FROM features WHERE layer <> 'parcels' GROUP BY layer, version")}
        versions = {(layer, int(v)): int(n) for layer, v, n in city.store.rows(
            "SELECT layer, version, stored FROM layer_versions WHERE layer <> 'parcels'")}
        if stored != told:
            missing = set(told) - set(stored)
            extra = set(stored) - set(told)
            wrong = {k for k in set(told) & set(stored) if told[k] != stored[k]}
            result.problems.append(f"feature rows differ from what writers were told: missing {sorted(missing)[:5]}, "
                                   f"unexpected {sorted(extra)[:5]}, wrong counts {sorted(wrong)[:5]}")
        if versions != told:
            result.problems.append("layer_versions differs from what writers were told")
        doubled = city.store.rows("SELECT id FROM features WHERE valid_to IS NULL GROUP BY id HAVING count(*) > 1")
        if doubled:
            result.problems.append(f"{len(doubled)} features have two current rows, e.g. {doubled[0][0]}")
        gaps = city.store.rows(
            "SELECT layer FROM layer_versions GROUP BY layer HAVING max(version) <> count(*)")
        if gaps:
            result.problems.append(f"version numbers skip in {[g[0] for g in gaps]}")
        current = city.store.rows(
            "SELECT l.name, l.feature_count, (SELECT count(*) FROM features f WHERE f.layer = l.name "
            "AND f.valid_to IS NULL) FROM layers l")
        for name, catalogued, actual in current:
            if catalogued != actual:
                result.problems.append(f"layer {name}: catalogue says {catalogued}, {actual} current features")
        in_db = int(city.store.scalar("SELECT count(*) FROM iot_observations"))
        if in_db != observations:
            result.problems.append(f"{in_db} observations stored, writers were told {observations}")
        dup = city.store.scalar("SELECT count(*) FROM (SELECT datastream_id, phenomenon_time FROM iot_observations "
                                "GROUP BY 1, 2 HAVING count(*) > 1) d")
        if dup:
            result.problems.append(f"{dup} observations stored twice")
        batches = int(city.store.scalar("SELECT coalesce(sum(stored), 0) FROM iot_batches"))
        if batches != observations:
            result.problems.append(f"iot_batches says {batches} stored, writers were told {observations}")
    result.problems.extend(result.errors)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--url", help="an empty PostGIS database (default: a throwaway server)")
    args = parser.parse_args(argv)
    from cim.testing import PostgresServer

    server = None
    url = args.url
    if url is None:
        server = PostgresServer().start()
        url = server.database()
    try:
        result = run(url, seconds=args.seconds, writers=args.writers, readers=args.readers)
    finally:
        if server is not None:
            server.stop()
    print(f"{args.writers} writers, {args.readers} readers, {result.seconds:.0f} s on PostGIS")
    print(f"  ingests {result.ingests} (+{result.unchanged} unchanged), feature rows {result.feature_rows:,}, "
          f"observations {result.observations:,} (+{result.duplicates_resent:,} re-sent duplicates)")
    print(f"  reads {result.reads:,}; written rows/s {result.rows_per_second:,.0f}")
    print("  reconciled: " + ("yes, 0 errors" if not result.problems else f"NO: {result.problems[:5]}"))


if __name__ == "__main__":
    main()
