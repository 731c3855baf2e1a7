"""Writing observations: validation, idempotence, latest values, reconciling counts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cim.errors import ValidationError
from cim.iot import datastream_id, write_observations
from tests.iot.conftest import at


def obs(rows: list[tuple]) -> pa.Table:
    """(datastream_id, time, value) tuples as an observation batch."""
    return pa.table({"datastream_id": pa.array([r[0] for r in rows], pa.int64()),
                     "phenomenon_time": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
                     "result": pa.array([r[2] for r in rows], pa.float64())})


def stored(city) -> list[tuple]:
    return city.store.rows("SELECT datastream_id, phenomenon_time, result FROM iot_observations ORDER BY 1, 2")


def test_write_stores_rows_and_keeps_the_newest_value_per_datastream(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    noise = datastream_id(iot_city, "ws.noise")
    report = write_observations(iot_city, obs([(dust, at(0), 40.0), (dust, at(5), 55.0), (noise, at(1), 61.0)]))
    assert (report.read, report.stored, report.duplicates, report.rejected) == (3, 3, 0, 0)
    latest = dict(iot_city.store.rows("SELECT datastream_id, result FROM iot_latest"))
    assert latest == {dust: 55.0, noise: 61.0}


def test_writing_the_same_batch_twice_stores_it_once_and_counts_duplicates(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    batch = obs([(dust, at(i), float(i)) for i in range(10)])
    write_observations(iot_city, batch)
    again = write_observations(iot_city, batch)
    assert (again.stored, again.duplicates, again.rejected) == (0, 10, 0)
    assert again.reconciles
    assert len(stored(iot_city)) == 10


def test_out_of_order_rows_are_stored_but_do_not_move_the_latest_value(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(10), 10.0)]))
    report = write_observations(iot_city, obs([(dust, at(5), 5.0), (dust, at(10), 10.0)]))
    assert (report.stored, report.duplicates) == (1, 1)
    assert iot_city.store.rows("SELECT result FROM iot_latest") == [(10.0,)]
    assert [r[2] for r in stored(iot_city)] == [5.0, 10.0]


def test_a_different_value_for_a_stored_time_is_rejected_and_the_first_kept(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(0), 1.0), (dust, at(1), 2.0)]))
    report = write_observations(iot_city, obs([(dust, at(0), 9.0)]))
    assert report.rejected == 1
    assert "conflicts with the stored value 1" in report.rejects[0][1]
    assert [r[2] for r in stored(iot_city)] == [1.0, 2.0]


def test_duplicates_inside_one_batch_keep_the_first_row(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    report = write_observations(iot_city, obs([(dust, at(0), 1.0), (dust, at(0), 1.0), (dust, at(0), 3.0)]))
    assert (report.stored, report.duplicates, report.rejected) == (1, 1, 1)
    assert report.rejects[0][0] == "row 3"
    assert stored(iot_city)[0][2] == 1.0


def test_bad_rows_are_rejected_with_where_and_why_and_counts_reconcile(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    report = write_observations(iot_city, obs([
        (dust, at(0), 1.0), (999, at(0), 1.0), (None, at(1), 1.0), (dust, None, 2.0),
        (dust, at(2), None), (dust, at(3), float("inf"))]))
    assert report.stored == 1
    assert dict(report.rejects) == {"row 2": "unknown datastream", "row 3": "unknown datastream",
                                    "row 4": "missing time", "row 5": "missing value",
                                    "row 6": "not a finite number"}
    assert report.reconciles
    kept = iot_city.store.rows("SELECT ref, reason FROM iot_rejects WHERE batch_id = ? ORDER BY ref",
                               [report.batch_id])
    assert len(kept) == 5


def test_times_without_a_zone_are_refused_before_anything_is_written(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    naive = pa.table({"datastream_id": [dust], "phenomenon_time": pa.array([at(0).replace(tzinfo=None)]),
                      "result": [1.0]})
    with pytest.raises(ValidationError, match="zone"):
        write_observations(iot_city, naive)
    assert stored(iot_city) == []


def test_concurrent_writers_store_each_observation_once_and_number_batches_and_alerts_apart(iot_city):
    from concurrent.futures import ThreadPoolExecutor

    from cim.iot import Rule, add_rules, list_alerts

    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    dust = datastream_id(iot_city, "ws.dust")
    value = lambda m: 200.0 if m % 10 == 0 else 100.0  # noqa: E731 - the same value whoever writes minute m
    # overlapping windows of 60 minutes, written by four threads at once (on PostGIS, four connections)
    batches = [obs([(dust, at(m), value(m)) for m in range(k * 30, k * 30 + 60)]) for k in range(8)]
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda batch: write_observations(iot_city, batch), batches))
    minutes = {m for k in range(8) for m in range(k * 30, k * 30 + 60)}
    assert len(stored(iot_city)) == len(minutes) == sum(r.stored for r in reports)
    assert all(r.reconciles and r.rejected == 0 for r in reports)
    assert len({r.batch_id for r in reports}) == 8
    alerts = [a["id"] for a in list_alerts(iot_city)]
    assert len(alerts) == len(set(alerts)) > 0
