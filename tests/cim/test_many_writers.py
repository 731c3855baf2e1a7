"""Many writers and readers on one PostGIS city at once: no errors, nothing lost or doubled.

Vector and IFC ingests, ``cim iot listen`` processes fed by a real mosquitto, and readers over
SQL and over HTTP (``cim serve``: tiles, features, SensorThings) — see bench/writers_bench.py."""

from __future__ import annotations

import os

from bench._live import MIN_READS
from bench.writers_bench import run

#: the issue's figure; CIM_WRITERS_SECONDS shortens it for a quick local run
SECONDS = float(os.environ.get("CIM_WRITERS_SECONDS", "60"))


def test_eight_writers_and_eight_readers_for_a_minute_reconcile_exactly(postgis_server):
    result = run(postgis_server.database(), seconds=SECONDS, writers=8, readers=8)
    assert result.problems == []
    # every kind of writer got work done, and the two writers of one layer both committed versions
    assert result.ingests >= 8 and result.observations > 0 and result.duplicates_resent > 0
    assert result.reads >= 8 * MIN_READS  # every reader read, however loaded the machine
    shared = [w for w in result.by_writer if w in ("vector-1", "vector-2")]
    assert all(result.by_writer[w]["batches"] > 0 for w in shared) and len(shared) == 2
    assert sum(1 for w in result.by_writer if w.startswith(("mqtt", "ifc"))) == 4
