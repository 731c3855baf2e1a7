"""The demo city's sensors: bound to the worksite, tunnel, pipes and parking; a day with incidents."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

import cim
from cim.demo import DemoContext, generate_frames, ingest_frame
from cim.demo.recipe import load_recipe
from cim.demo.sensors import LIVE_FILE, demo_step, publish_live
from cim.iot.mqtt import MqttListener
from tests.iot.conftest import wait_for


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small demo city (no buildings, DEM or BIM) with the sensors step run on it."""
    folder = tmp_path_factory.mktemp("demo-sensors")
    recipe = load_recipe()
    recipe.raw["sensors"] = {"day_end": "2026-05-01T18:00:00+08:00"}
    frames = generate_frames(recipe, np.random.default_rng(7), buildings=300, crs="EPSG:4549")
    city = cim.create(folder / "city.duckdb", name="示范区")
    for name in ("parcels", "pipes", "utility_tunnel", "parking_lots"):
        ingest_frame(city, name, frames[name], folder)
    ctx = DemoContext(recipe, np.random.default_rng(7), folder, frames, frames["parcels"].attrs["worksite"])
    demo_step(city, ctx)
    yield city, ctx
    city.close()


def test_sensors_are_bound_to_the_worksite_tunnel_pipes_and_parking(demo):
    city, ctx = demo
    by_class = dict(city.store.rows("SELECT feature_class, count(*) FROM iot_things GROUP BY 1"))
    assert set(by_class) == {"Parcel", "UtilityTunnel", "Pipe", "ParkingLot"}
    assert 100 <= sum(by_class.values()) <= 600
    worksite = f"parcels.{ctx.worksite_parcel}"
    props = {p for (p,) in city.store.rows(
        "SELECT DISTINCT p.key FROM iot_datastreams d JOIN iot_properties p ON p.id = d.property_id "
        "JOIN iot_things t ON t.id = d.thing_id WHERE t.feature_id = ?", [worksite])}
    assert props == {"pm10", "noise", "crane_load", "tilt"}


def test_a_day_of_readings_with_incidents_that_raised_alerts(demo):
    city, _ = demo
    first, last = city.store.rows("SELECT min(phenomenon_time), max(phenomenon_time) FROM iot_observations")[0]
    assert last == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert (last - first).total_seconds() == 24 * 3600 - 300
    rules = {r for (r,) in city.store.rows(
        "SELECT DISTINCT r.name FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id")}
    assert {"worksite-dust", "crane-overload", "tunnel-methane", "tunnel-water", "pipe-pressure-loss",
            "charger-fault", "charger-silent"} <= rules
    active = {r for (r,) in city.store.rows(
        "SELECT r.name FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id WHERE a.active")}
    assert {"pipe-pressure-loss", "charger-silent"} <= active  # the day ends with something still wrong
    ended = city.store.rows("SELECT state, closed_at = cleared_at FROM iot_alerts WHERE NOT active")
    assert len(ended) >= 5 and set(ended) == {("closed", True)}  # incidents that ended closed when they ended
    still = dict(city.store.rows("SELECT r.name, a.state FROM iot_alerts a JOIN iot_rules r ON r.id = a.rule_id "
                                 "WHERE a.active"))
    assert still["pipe-pressure-loss"] == "acknowledged" and still["charger-silent"] == "open"


def test_the_same_seed_gives_the_same_readings(demo, tmp_path):
    city, ctx = demo
    total = city.store.rows("SELECT count(*), round(sum(result), 3) FROM iot_observations")[0]
    again = cim.create(tmp_path / "again.duckdb", name="示范区")
    for name in ("parcels", "pipes", "utility_tunnel", "parking_lots"):
        ingest_frame(again, name, ctx.frames[name], tmp_path)
    demo_step(again, DemoContext(ctx.recipe, np.random.default_rng(7), tmp_path, ctx.frames, ctx.worksite_parcel))
    assert again.store.rows("SELECT count(*), round(sum(result), 3) FROM iot_observations")[0] == total
    again.close()


def test_live_mode_publishes_every_sensor_to_the_broker(demo, broker):
    city, _ = demo
    assert (city.data_dir / LIVE_FILE).is_file()
    listener = MqttListener(city, broker.address, client_id="live-test", flush_interval=0.05).start()
    assert listener.connected.wait(10)
    try:
        sent = publish_live(city.location, broker.address, interval=0.1, ticks=2)
        assert wait_for(lambda: listener.stats.observations >= sent)
    finally:
        listener.stop()
    streams = city.store.scalar("SELECT count(*) FROM iot_datastreams")
    assert streams - 2 <= sent // 2 <= streams  # one reading each per tick (a silent charger may skip)
    assert listener.stats.stored == sent and listener.stats.rejected == 0
