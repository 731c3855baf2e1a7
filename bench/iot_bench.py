"""IoT benchmarks: bulk observations and MQTT end to end, ours beside the floor and the peers.

    python -m bench.iot_bench                          # 5 M observations, 100 000 datastreams, 200 000 messages
    python -m bench.iot_bench --obs 1000000 --messages 50000   # quicker
    python -m bench.iot_bench --skip-mqtt / --skip-bulk / --repeat 5
    python -m bench.iot_bench --quick                  # smoke check: 20 000 observations, 2 000 messages

Bulk (observations per second; every path ends with the rows in a table):
  * cim write_observations from Arrow (idempotent: duplicate check, latest table, rules on ingest)
  * cim load_observations from Parquet and from CSV (file parsing included)
  * floor: DuckDB fed the same Arrow table into a bare table (no checks, no latest)
  * PostgreSQL 15 COPY of **the same CSV file** cim loads (read from disk inside the timing: file
    to table on both sides) into a bare table, and COPY into a temp table + INSERT … ON CONFLICT
    DO NOTHING into a keyed table (idempotent, like ours); PostgreSQL is started by the bench in a
    temporary folder, and reported "not installed" when it is missing
  * re-loading the same batch (everything a duplicate), and "latest value of 100 000 datastreams"

MQTT (QoS 1, messages per second, one mosquitto started by the bench on loopback; every row gets
the same N payload lines from the same publisher, ``mosquitto_pub -q 1 -M 1000 -l`` reading files
of 40 000 lines one after the other):
  * floor: that publisher → broker → ``mosquitto_sub -q 1 -C N`` (persistent session made before
    publishing), timed from the start of publishing until ``mosquitto_sub`` exits after the N-th
    message; no storage. The lines it printed are counted: lost = N − lines.
  * cim's listener (``cim.iot.mqtt.MqttListener``, what ``cim iot listen`` and ``cim serve --mqtt``
    run) storing one observation per message, timed from the start of publishing until all N
    observations are committed (and therefore acknowledged); then the batch topic (10 per message)
  * the same after the fact: the listener draining a queue the broker kept while it was down
Lost is counted in the store, not trusted from the listener: N − ``count(*)`` of iot_observations
after the listener stopped (0 lost = every published observation is a row). The floor and the
one-per-message row run ``--repeat`` times (3) in turn, floor then ours, so both see the shared
machine's load alike; the table shows the median of each (and each pair's ratio), lost the most
of any repeat. Every row has its own topic prefix and session, so no earlier row's session makes
the broker queue its messages.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import cim
from bench.common import print_table, ratio, timed
from cim.store.duckdb import connect

T0_US = 1_777_593_600_000_000  # 2026-05-01T00:00:00Z


# -- data ---------------------------------------------------------------------------------------
def observations(n: int, streams: int, offset_s: int = 0) -> pa.Table:
    """``n`` readings spread over ``streams`` datastreams (ids 1…), one per minute per stream."""
    per = max(1, n // streams)
    ds = np.tile(np.arange(1, streams + 1, dtype=np.int32), per)[:n]
    step = np.repeat(np.arange(per, dtype=np.int64), streams)[:n]
    t = T0_US + (step * 60 + offset_s) * 1_000_000
    v = np.random.default_rng(1).normal(50, 10, n).round(3)
    return pa.table({"datastream_id": ds, "phenomenon_time": pa.array(t, pa.timestamp("us", tz="UTC")),
                     "result": v})


def city_with_streams(path: Path, streams: int) -> cim.City:
    """A city with one parcel and ``streams`` datastreams (one Thing each) bound to it."""
    import geopandas as gpd
    from shapely.geometry import box

    from cim.iot import register_sensors

    city = cim.create(path, name="bench")
    src = path.with_suffix(".parcel.parquet")
    gpd.GeoDataFrame({"fid": ["P1"]}, geometry=[box(515000, 3980000, 516000, 3981000)], crs=city.crs).to_parquet(src)
    city.ingest(src, layer="parcels", id_field="fid")
    register_sensors(city, [{"feature": "parcels.P1", "location": [515000 + i % 1000, 3980000 + i // 1000 % 1000],
                             "datastreams": [{"key": f"s{i}", "property": "pm10", "unit": "ug/m3"}]}
                            for i in range(streams)])
    from cim.iot import Rule, add_rules

    add_rules(city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120),
                     Rule("silent", "stale", "warn", property="pm10", minutes=30)])
    return city


# -- bulk ---------------------------------------------------------------------------------------
def bench_bulk(work: Path, n: int, streams: int, batch: int) -> list[dict]:
    from cim.iot import latest, write_observations
    from cim.iot.load import load_observations

    data = observations(n, streams)
    rows: list[dict] = []
    city = city_with_streams(work / "ours.duckdb", streams)
    secs, stored = timed(lambda: sum(write_observations(city, data.slice(o, batch), evaluate=True).stored
                                     for o in range(0, n, batch)))
    rows.append(_row("cim write_observations (Arrow, idempotent, latest, rules)", n, secs, stored))
    secs, dups = timed(lambda: sum(write_observations(city, data.slice(o, batch)).duplicates
                                   for o in range(0, n, batch)))
    rows.append(_row("cim write_observations again (all duplicates)", n, secs, dups))
    lat_secs, table = timed(lambda: latest(city), repeat=5)
    arg_secs, _ = timed(lambda: city.store.arrow(
        "SELECT datastream_id, arg_max(result, phenomenon_time) FROM iot_observations GROUP BY 1"), repeat=3)
    city.close()
    parquet, csv = work / "obs.parquet", work / "obs.csv"
    pq.write_table(data, parquet)
    pacsv.write_csv(data.set_column(0, "datastream_id", data.column(0).cast(pa.string())), csv)
    for label, path in (("Parquet", parquet), ("CSV", csv)):
        city = city_with_streams(work / f"ours_{label}.duckdb", streams)
        secs, report = timed(lambda city=city, path=path: load_observations(city, path))
        rows.append(_row(f"cim iot load {label} (file read included)", n, secs, report.stored))
        city.close()
    rows.append(_duckdb_floor(work, data))
    rows += _postgres(work, csv, n)
    floor = next(r["obs/s"] for r in rows if r["what"].startswith("floor"))
    for r in rows:
        r["vs floor"] = round(r["obs/s"] / floor, 3) if r["obs/s"] else None
    print_table(f"bulk observations: {n:,} rows, {streams:,} datastreams, batches of {batch:,}", rows)
    print(f"\nlatest value of {table.num_rows:,} datastreams with status and position: {lat_secs * 1000:.0f} ms "
          f"(goal <= 100 ms); arg_max over all {n:,} observations: {arg_secs * 1000:.0f} ms "
          f"(ratio {arg_secs / lat_secs:.1f}x)")
    return rows


def _row(what: str, n: int, secs: float, stored: int) -> dict:
    return {"what": what, "rows": stored, "seconds": round(secs, 3), "obs/s": round(n / secs) if secs else 0}


def _duckdb_floor(work: Path, data: pa.Table) -> dict:
    con = connect(work / "floor.duckdb")
    con.execute("CREATE TABLE obs (datastream_id INTEGER, phenomenon_time TIMESTAMPTZ, result DOUBLE)")

    def run() -> int:
        con.register("incoming", data)
        con.execute("INSERT INTO obs SELECT * FROM incoming")
        con.unregister("incoming")
        return con.execute("SELECT count(*) FROM obs").fetchone()[0]

    secs, stored = timed(run)
    con.close()
    return _row("floor: DuckDB fed Arrow, bare table", data.num_rows, secs, stored)


def _postgres(work: Path, csv: Path, n: int) -> list[dict]:
    try:
        import psycopg
    except ImportError:
        print("PostgreSQL: psycopg not installed (pip install 'psycopg[binary]'; the dev extra has it)")
        return []
    bindir = next((p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin")) if (p / "initdb").exists()), None)
    if bindir is None:
        print("PostgreSQL: not installed (no initdb under /usr/lib/postgresql; apt-get install postgresql)")
        return []
    try:
        server = _PostgresServer(bindir, Path(tempfile.mkdtemp(prefix="cim-iot-pg-")))
        dsn = server.__enter__()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"PostgreSQL column skipped: could not start a temporary server ({exc})")
        return []
    try:
        return _postgres_rows(psycopg, dsn, csv, n)
    finally:
        server.__exit__()


def _postgres_rows(psycopg: object, dsn: str, csv: Path, n: int) -> list[dict]:
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute("CREATE UNLOGGED TABLE bare (datastream_id int, t timestamptz, v double precision)")
        pg.execute("CREATE TABLE keyed (datastream_id int, t timestamptz, v double precision, "
                   "PRIMARY KEY (datastream_id, t))")
        bare, _ = timed(lambda: _copy(pg, "bare", csv))
        keyed, _ = timed(lambda: _copy_idempotent(pg, csv))
        again, _ = timed(lambda: _copy_idempotent(pg, csv))
        latest, _ = timed(lambda: pg.execute(
            "SELECT DISTINCT ON (datastream_id) datastream_id, v FROM keyed ORDER BY datastream_id, t DESC").fetchall())
        count = pg.execute("SELECT count(*) FROM keyed").fetchone()[0]
        print(f"PostgreSQL latest value per datastream (DISTINCT ON over the keyed table): {latest * 1000:.0f} ms")
        return [_row("PostgreSQL COPY of the same CSV file into a bare table", n, bare, n),
                _row("PostgreSQL COPY of the CSV file + INSERT ON CONFLICT DO NOTHING (keyed)", n, keyed, count),
                _row("PostgreSQL the same again (all duplicates)", n, again, count)]


def _copy(pg: object, table: str, csv: Path) -> None:
    """COPY the CSV file (header line, as cim reads it) into ``table``, read from disk in 1 MB pieces."""
    with (pg.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
          csv.open("rb") as f):
        while chunk := f.read(1 << 20):
            copy.write(chunk)


def _copy_idempotent(pg: object, csv: Path) -> None:
    with pg.transaction():
        pg.execute("CREATE TEMP TABLE incoming (datastream_id int, t timestamptz, v double precision) ON COMMIT DROP")
        _copy(pg, "incoming", csv)
        pg.execute("INSERT INTO keyed SELECT * FROM incoming ON CONFLICT DO NOTHING")


class _PostgresServer:
    """A throwaway PostgreSQL cluster in ``folder`` on a free port (Unix socket in the folder)."""

    def __init__(self, bindir: Path, folder: Path) -> None:
        self.bin, self.folder = bindir, folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def _run(self, *args: str) -> None:
        user = [] if _not_root() else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def __enter__(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not _not_root():  # initdb refuses to run as root: the cluster belongs to postgres
            self.folder.chmod(0o755)
            shutil.chown(self.folder, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-A", "trust", "-U", "bench")
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses='' -c fsync=off -c max_wal_size=4GB"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-o", opts, "-w", "-l",
                  str(self.folder / "log"), "start")
        return f"host={self.folder} port={self.port} user=bench dbname=postgres"

    def __exit__(self, *exc: object) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def _not_root() -> bool:
    import os

    return os.geteuid() != 0


# -- MQTT ---------------------------------------------------------------------------------------
def bench_mqtt(work: Path, messages: int, per_batch: int, repeat: int = 3) -> list[dict]:
    from cim.iot.broker import LocalBroker

    rows = []
    single = "\n".join(json.dumps({"t": (T0_US // 1000) + i * 1000, "v": i % 97}) for i in range(messages))
    with LocalBroker(work / "broker") as broker:
        floors, ours, pairs = [], [], []
        for r in range(repeat):  # floor and ours in turn, so both see the machine's load alike
            floors.append(_mosquitto_floor(broker, work, single, messages, tag=str(r)))
            ours.append(_ours(broker, work, "cim listener, 1 observation per message", single, messages, messages,
                              topic="obs/s1", tag=f"single{r}"))
            pairs.append({"repeat": r + 1, "floor msg/s": floors[-1]["msg/s"], "ours msg/s": ours[-1]["msg/s"],
                          "ours/floor": round(ours[-1]["msg/s"] / floors[-1]["msg/s"], 3), "lost": ours[-1]["lost"]})
        rows += [_median(floors), _median(ours)]
        n_batches = messages
        batches = "\n".join(json.dumps([[1 + j % 100, (T0_US // 1000) + (b * per_batch + j) * 10, j]
                                        for j in range(per_batch)]) for b in range(n_batches))
        rows.append(_ours(broker, work, f"cim listener, batch topic ({per_batch} per message)", batches,
                          n_batches, n_batches * per_batch, topic="batch", tag="batch"))
        rows.append(_ours(broker, work, "cim listener draining a queue kept while it was down", single, messages,
                          messages, topic="obs/s2", offline=True, tag="drain"))
    floor = rows[0]["msg/s"]
    for r in rows:
        r["vs floor"] = round(r["msg/s"] / floor, 3) if floor else None
    if repeat > 1:
        print_table(f"MQTT one observation a message, each repeat ({messages:,} messages)", pairs)
    print_table(f"MQTT QoS 1 end to end: {messages:,} messages on loopback"
                + (f" (first two rows: median of {repeat}, lost: the most of any repeat)" if repeat > 1 else ""), rows)
    print("\nthe listener speaks MQTT 5 (Receive Maximum lets a stock broker keep a whole batch in flight "
          "until it is committed, then its PUBACKs leave in one write)")
    return rows


def _median(rows: list[dict]) -> dict:
    """The repeat with the median rate, with the most lost of any repeat."""
    row = dict(sorted(rows, key=lambda r: r["msg/s"])[(len(rows) - 1) // 2])
    row["lost"] = max(r["lost"] for r in rows)
    return row


#: mosquitto_pub 2.0.11 -l breaks off after about 69 000 lines ("out of memory" at the broker), so
#: the lines go in chunks, one mosquitto_pub after the other
CHUNK = 40_000


def _publish(broker: object, topic: str, payload_lines: str, work: Path) -> subprocess.Popen:
    lines = payload_lines.split("\n")
    files = []
    for k in range(0, len(lines), CHUNK):
        path = work / f"pub-{abs(hash(topic))}-{k // CHUNK:04d}.txt"
        path.write_text("\n".join(lines[k:k + CHUNK]) + "\n", encoding="utf-8")
        files.append(path)
    one = f"mosquitto_pub -h 127.0.0.1 -p {broker.port} -q 1 -M 1000 -t {topic} -l"
    return subprocess.Popen(" && ".join(f"{one} < {f}" for f in files), shell=True)


def _mosquitto_floor(broker: object, work: Path, lines: str, n: int, tag: str = "") -> dict:
    topic = f"floor/{tag or 'x'}"  # a topic and session of its own per repeat: no old session queues these
    sub_cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic,
               "-c", "-i", f"floor-sub-{tag}"]
    # a persistent session first, so no message is published before the subscription exists
    subprocess.run([*sub_cmd, "-W", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = work / f"floor-received-{tag}.txt"
    sub = subprocess.Popen([*sub_cmd, "-C", str(n)], stdout=out.open("wb"))
    start = time.perf_counter()
    pub = _publish(broker, topic, lines, work)
    try:
        sub.wait(600)
    except subprocess.TimeoutExpired:
        sub.kill()
        sub.wait()
    secs = time.perf_counter() - start
    pub.wait(60)
    got = sum(1 for _ in out.open("rb"))
    return {"what": "floor: mosquitto_pub -> mosquitto_sub (no storage)", "messages": n, "observations": n,
            "stored": got, "lost": n - got, "seconds": round(secs, 2), "msg/s": round(got / secs),
            "obs/s": round(got / secs)}


def _ours(broker: object, work: Path, what: str, lines: str, n_msgs: int, n_obs: int, *, topic: str, tag: str,
          offline: bool = False) -> dict:
    from cim.iot.mqtt import MqttListener

    city = city_with_streams(work / f"mqtt-{tag}.duckdb", 100)
    prefix = f"cim/bench-{tag}"  # a prefix and session of its own: no earlier row's session queues these
    listener = MqttListener(city, broker.address, prefix=prefix, client_id=f"bench-{tag}", stale_every=0)
    listener.start()
    listener.connected.wait(10)
    if offline:
        listener.stop()
        _publish(broker, f"{prefix}/{topic}", lines, work).wait(600)
        listener = MqttListener(city, broker.address, prefix=prefix, client_id=f"bench-{tag}", stale_every=0)
        start = time.perf_counter()
        listener.start()
    else:
        start = time.perf_counter()
        _publish(broker, f"{prefix}/{topic}", lines, work)
    deadline = time.monotonic() + 900
    while listener.stats.observations < n_obs and time.monotonic() < deadline:
        time.sleep(0.01)
    secs = time.perf_counter() - start
    listener.stop()
    stored = city.store.scalar("SELECT count(*) FROM iot_observations")
    city.close()
    return {"what": what, "messages": n_msgs, "observations": n_obs, "stored": stored, "lost": n_obs - stored,
            "seconds": round(secs, 2), "msg/s": round(n_msgs / secs), "obs/s": round(n_obs / secs)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs", type=int, default=5_000_000, help="observations in the bulk test")
    parser.add_argument("--streams", type=int, default=100_000, help="datastreams in the bulk test")
    parser.add_argument("--batch", type=int, default=1_000_000, help="rows per write_observations call")
    parser.add_argument("--messages", type=int, default=200_000, help="MQTT messages")
    parser.add_argument("--per-batch", type=int, default=10, help="observations per batch-topic message")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the MQTT floor and of one observation a message, in turn (median)")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--skip-mqtt", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 20 000 observations over 1 000 datastreams, 2 000 messages")
    args = parser.parse_args(argv)
    if args.quick:
        args.obs, args.streams, args.batch, args.messages, args.repeat = 20_000, 1_000, 10_000, 2_000, 1
    work = Path(tempfile.mkdtemp(prefix="cim-iot-bench-"))
    summary = []
    try:
        if not args.skip_bulk:
            summary += _bulk_summary(bench_bulk(work, args.obs, args.streams, args.batch), args.obs)
        if not args.skip_mqtt:
            if not (shutil.which("mosquitto_pub") and shutil.which("mosquitto")):
                print("MQTT: mosquitto not installed (apt-get install mosquitto mosquitto-clients)")
                summary.append(ratio("MQTT QoS 1, one observation a message", "—", "mosquitto: not installed",
                                     None, "≥ 0.8 (rate cim/floor)"))
            else:
                rows = bench_mqtt(work, args.messages, args.per_batch, args.repeat)
                one = rows[1]
                summary.append(ratio(f"MQTT QoS 1, one observation a message, {args.messages:,} messages"
                                     + (f", median of {args.repeat}" if args.repeat > 1 else ""),
                                     f"{one['msg/s']:,} msg/s, {one['lost']} lost",
                                     f"mosquitto pub→sub {rows[0]['msg/s']:,} msg/s", one["vs floor"],
                                     "≥ 0.8 (rate cim/floor), 0 lost", f"batch topic: {rows[2]['obs/s']:,} obs/s"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table("IoT ratios", summary)
    return summary


def _bulk_summary(rows: list[dict], n: int) -> list[dict]:
    """cim loading the CSV file against PostgreSQL COPY of the same file (keyed, idempotent like ours; and bare)."""
    ours = next(r for r in rows if r["what"] == "cim iot load CSV (file read included)")
    keyed = next((r for r in rows if "ON CONFLICT" in r["what"]), None)
    bare = next((r for r in rows if "bare table" in r["what"] and r["what"].startswith("PostgreSQL")), None)
    if keyed is None:
        return [ratio(f"IoT CSV file → table, {n:,} observations", f"{ours['obs/s']:,} obs/s",
                      "PostgreSQL: not installed", None, "report (rate cim/peer)")]
    return [ratio(f"IoT CSV file → table, {n:,} observations (idempotent both)", f"{ours['obs/s']:,} obs/s",
                  f"PostgreSQL COPY + ON CONFLICT {keyed['obs/s']:,} obs/s", ours["obs/s"] / keyed["obs/s"],
                  "report (rate cim/peer)", f"bare COPY {bare['obs/s']:,} obs/s; ours also keeps latest, rules")]


if __name__ == "__main__":
    main()
