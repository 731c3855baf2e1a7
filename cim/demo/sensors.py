"""Demo step: a few hundred sensors bound to the demo city's objects, a day of their readings with
incidents that raise alerts, and the rules that watch them; ``publish_live`` keeps them reporting
over MQTT (``cim demo --live``).

Where the sensors are: dust, noise, crane load and tower tilt on the worksite parcel; methane,
water level and temperature gauges in the utility tunnel; pressure meters on water and gas pipes;
occupancy sensors in parking bays and state reporters on EV chargers.

The day ends at the recipe's ``sensors.day_end`` when given (fully reproducible), else at the
current time rounded down to five minutes, so a freshly built demo looks live.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.iot.simulate import Incident, Profile, day_times, simulate

if TYPE_CHECKING:
    from cim.city import City
    from cim.demo import DemoContext

STEP_MINUTES = 5
LIVE_FILE = "sensors-live.json"

RULES = """\
rules:
  - {name: worksite-dust, kind: above, property: pm10, feature_class: Parcel, threshold: 150, clear: 120,
     level: alarm}
  - {name: worksite-noise, kind: above, property: noise, threshold: 80, clear: 75, level: warn}
  - {name: crane-overload, kind: above, property: crane_load, threshold: 9.0, clear: 8.5, level: alarm}
  - {name: tower-tilt, kind: above, property: tilt, threshold: 0.3, clear: 0.25, level: warn}
  - {name: tunnel-methane, kind: above, property: methane, threshold: 20, clear: 10, level: alarm}
  - {name: tunnel-water, kind: above, property: water_level, threshold: 0.3, clear: 0.2, level: warn}
  - {name: tunnel-flooding, kind: rate, property: water_level, threshold: 0.03, level: alarm}
  - {name: tunnel-heat, kind: above, property: temperature, feature_class: UtilityTunnel, threshold: 40,
     level: warn}
  - {name: pipe-pressure-loss, kind: below, property: pressure, feature_class: Pipe, threshold: 100, clear: 150,
     level: alarm}
  - {name: charger-fault, kind: above, property: charger_state, threshold: 1.5, level: warn,
     message: "{name}: fault or offline (state {value})"}
  - {name: charger-silent, kind: stale, property: charger_state, minutes: 30, level: warn}
"""


def demo_step(city: City, ctx: DemoContext) -> None:
    """Register the sensors, load the rules, write a day of readings, sweep for silent sensors."""
    from cim.iot import check_stale, load_rules, register_sensors, write_observations

    end = _day_end(ctx)
    things, profiles = plan(ctx, end)
    made = register_sensors(city, things)
    rules = ctx.source_dir / "sensor_rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    load_rules(city, rules)
    batch = _day(profiles, made.datastreams, end, ctx.rng)
    ctx.reports.append(write_observations(city, batch, source="demo: a day of readings", kind="python"))
    check_stale(city, now=end)
    _acknowledge_one(city)
    live = [{"key": p.key, "id": made.datastreams[p.key], "prop": p.prop, "base": p.base, "amp": p.amp,
             "noise": p.noise, "incident": p.incident.__dict__ if p.incident else None} for p in profiles]
    city.data_dir.mkdir(parents=True, exist_ok=True)
    (city.data_dir / LIVE_FILE).write_text(json.dumps({"prefix": _prefix(city), "streams": live}), encoding="utf-8")


def _acknowledge_one(city: City) -> None:
    """The duty operator has seen the water main losing pressure and sent a crew (shows the lifecycle:
    the alert stays acknowledged until the pressure comes back, then it closes)."""
    from cim.iot import acknowledge_alert, list_alerts

    for alert in list_alerts(city, state="open"):
        if alert["rule"] == "pipe-pressure-loss":
            acknowledge_alert(city, alert["id"], by="值班员 demo", note="已派抢修班组")
            return


def _prefix(city: City) -> str:
    from cim.iot.mqtt import topic_prefix

    return topic_prefix(city)


def _day_end(ctx: DemoContext) -> datetime:
    given = (ctx.recipe.raw.get("sensors") or {}).get("day_end")
    if given:
        from cim.model.reads import parse_time

        return parse_time(str(given))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=now.minute % STEP_MINUTES)


def _day(profiles: list[Profile], ids: dict[str, int], end: datetime, rng: np.random.Generator) -> pa.Table:
    times = day_times(end, step_minutes=STEP_MINUTES)
    ds, ts, vs = [], [], []
    for p in profiles:
        values, reported = simulate(p, times, rng)
        ds.append(np.full(int(reported.sum()), ids[p.key], dtype=np.int64))
        ts.append(times[reported])
        vs.append(np.round(values[reported], 3))
    return pa.table({"datastream_id": np.concatenate(ds),
                     "phenomenon_time": pa.array(np.concatenate(ts), pa.timestamp("us", tz="UTC")),
                     "result": np.concatenate(vs)})


# -- where the sensors go ----------------------------------------------------------------------
def plan(ctx: DemoContext, end: datetime) -> tuple[list[dict[str, Any]], list[Profile]]:
    """Things (for ``register_sensors``) and the signal profile of each of their datastreams.

    Most incidents happen at fixed local times; two are placed before ``end`` so the day finishes
    with something still wrong: a water main losing pressure and a charger that went silent.
    """
    from cim.iot.simulate import local_minutes

    end_minute = float(local_minutes(np.array([np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "us")]))[0])
    things: list[dict[str, Any]] = []
    profiles: list[Profile] = []
    for part in (_worksite, _tunnel, _pipes, _parking):
        t, p = part(ctx, end_minute)
        things += t
        profiles += p
    return things, profiles


_LABELS = {"pm10": "PM10", "noise": "噪声", "crane_load": "吊重", "tilt": "倾角", "methane": "甲烷",
           "water_level": "水位", "temperature": "温度", "pressure": "压力", "occupancy": "占用",
           "charger_state": "状态"}


def _thing(key: str, name: str, feature: str, location: Any, streams: list[tuple[str, str, str]],
           **extra: Any) -> dict[str, Any]:
    return {"key": key, "name": name, "feature": feature, "location": location, **extra,
            "datastreams": [{"key": f"{key}.{suffix}", "property": prop, "unit": unit,
                             "name": f"{name} {_LABELS.get(prop, prop)}"} for suffix, prop, unit in streams]}


def _worksite(ctx: DemoContext, _end: float) -> tuple[list[dict[str, Any]], list[Profile]]:
    parcels = ctx.frames["parcels"]
    parcel = parcels[parcels["parcel_id"] == ctx.worksite_parcel].geometry.iloc[0]
    feature = f"parcels.{ctx.worksite_parcel}"
    ring = shapely.buffer(parcel, -4.0).exterior
    things, profiles = [], []
    for i in range(6):
        pt = ring.interpolate(i / 6, normalized=True)
        key = f"ws.dust{i + 1}"
        things.append(_thing(key, f"扬尘监测{i + 1}号", feature, [pt.x, pt.y], [("pm10", "pm10", "ug/m3")]))
        spike = Incident(600 + 10 * i, 80, 230.0) if i < 2 else None  # 10:00 local, downwind side
        profiles.append(Profile(f"{key}.pm10", "pm10", 55, 30, 6, spike))
    for i in range(4):
        pt = ring.interpolate((i + 0.5) / 4, normalized=True)
        key = f"ws.noise{i + 1}"
        things.append(_thing(key, f"噪声监测{i + 1}号", feature, [pt.x, pt.y], [("noise", "noise", "dB{A}")]))
        piling = Incident(840, 40, 86.0) if i == 0 else None  # 14:00 pile driving
        profiles.append(Profile(f"{key}.noise", "noise", 48, 18, 1.5, piling))
    centre = parcel.centroid
    for i, dx in enumerate((-12.0, 12.0)):
        key = f"ws.crane{i + 1}"
        things.append(_thing(key, f"{i + 1}号塔吊", feature, [centre.x + dx, centre.y],
                             [("load", "crane_load", "t"), ("tilt", "tilt", "deg")], properties={"rated_load_t": 10}))
        overload = Incident(920, 6, 9.8, "hold") if i == 0 else None  # 15:20
        drift = Incident(780, 150, 0.38, "ramp") if i == 1 else None  # afternoon wind
        profiles += [Profile(f"{key}.load", "crane_load", 2.0, 4.5, 0.2, overload),
                     Profile(f"{key}.tilt", "tilt", 0.08, 0.05, 0.01, drift)]
    return things, profiles


Part = tuple[list[dict[str, Any]], list[Profile]]


def _tunnel(ctx: DemoContext, _end: float, per_segment: int = 2, limit: int = 40) -> Part:
    tunnels = ctx.frames["utility_tunnel"].head(limit // per_segment)
    things, profiles = [], []
    for n, (tid, geom) in enumerate(zip(tunnels["tunnel_id"], tunnels.geometry, strict=True)):
        minx, miny, maxx, maxy = geom.bounds
        for k in range(per_segment):
            f = (k + 1) / (per_segment + 1)
            x, y = (minx + f * (maxx - minx), (miny + maxy) / 2) if maxx - minx > maxy - miny else \
                ((minx + maxx) / 2, miny + f * (maxy - miny))
            key = f"tunnel.{tid}.g{k + 1}"
            things.append(_thing(key, f"管廊{tid}监测{k + 1}", f"utility_tunnel.{tid}", [x, y],
                                 [("methane", "methane", "%{LEL}"), ("water", "water_level", "m"),
                                  ("temp", "temperature", "Cel")], z=-4.0))
            leak = Incident(190, 50, 35.0, "ramp") if (n, k) == (0, 0) else None  # 03:10 gas leak
            flood = Incident(300, 40, 0.65, "ramp") if (n, k) == (1, 1) else None  # 05:00 water ingress
            profiles += [Profile(f"{key}.methane", "methane", 0.6, 0, 0.3, leak),
                         Profile(f"{key}.water", "water_level", 0.05, 0, 0.005, flood),
                         Profile(f"{key}.temp", "temperature", 22, 2.5, 0.2)]
    return things, profiles


def _pipes(ctx: DemoContext, end: float, limit: int = 40) -> tuple[list[dict[str, Any]], list[Profile]]:
    pipes = ctx.frames["pipes"]
    chosen = pipes[pipes["network"].isin(["water", "gas"])].iloc[:: max(1, len(pipes) // (limit * 2))].head(limit)
    things, profiles = [], []
    for n, (pid, network) in enumerate(zip(chosen["pipe_id"], chosen["network"], strict=True)):
        key = f"pipe.{pid}"
        things.append(_thing(key, f"{pid}压力计", f"pipes.{pid}", {"along": 0.5}, [("pressure", "pressure", "kPa")]))
        burst = Incident(end - 40, 120, 80.0, "drop") if n == 0 and network == "water" else None  # ongoing
        profiles.append(Profile(f"{key}.pressure", "pressure", 350.0 if network == "water" else 200.0, 0, 4.0, burst))
    return things, profiles


def _parking(ctx: DemoContext, end: float, lots: int = 20, bays: int = 4,
             chargers: int = 3) -> tuple[list[dict[str, Any]], list[Any]]:
    frame = ctx.frames["parking_lots"].head(lots)
    things, profiles = [], []
    for n, (lid, geom, has) in enumerate(zip(frame["lot_id"], frame.geometry, frame["chargers"], strict=True)):
        minx, miny, maxx, maxy = geom.bounds
        for b in range(bays):
            key = f"lot.{lid}.bay{b + 1}"
            x = minx + (b + 1) / (bays + 1) * (maxx - minx)
            things.append(_thing(key, f"{lid}车位{b + 1}", f"parking_lots.{lid}", [x, miny + 0.3 * (maxy - miny)],
                                 [("occupancy", "occupancy", "1")]))
            profiles.append(Profile(f"{key}.occupancy", "occupancy", 0.25, 0.6))
        for c in range(min(chargers, int(has))):
            key = f"lot.{lid}.charger{c + 1}"
            x = minx + (c + 1) / (chargers + 1) * (maxx - minx)
            things.append(_thing(key, f"{lid}充电桩{c + 1}", f"parking_lots.{lid}", [x, miny + 0.7 * (maxy - miny)],
                                 [("state", "charger_state", "{state}")]))
            incident = (Incident(660, 60, 2.0, "hold") if (n, c) == (0, 0)  # 11:00 fault
                        else Incident(end - 120, 180, 0.0, "silent") if (n, c) == (1, 0) else None)
            profiles.append(Profile(f"{key}.state", "charger_state", 0, 0, 0, incident))
    return things, profiles


# -- live --------------------------------------------------------------------------------------
def publish_live(city_path: str | Path, broker: str, *, interval: float = 5.0, ticks: int | None = None,
                 say: Any = None) -> int:
    """Publish a reading of every demo sensor each ``interval`` seconds (batch topic, QoS 1);
    returns how many observations were sent. Runs until interrupted unless ``ticks`` is given.

    The city file is not opened (the server holds it while it runs): the sensor list was written
    beside it by the demo step.
    """
    import time

    from cim.iot.publish import Publisher

    spec_path = Path(str(city_path) + ".data") / LIVE_FILE
    if not spec_path.is_file():
        from cim.errors import CIMError

        raise CIMError(f"no {LIVE_FILE} beside {city_path}: rebuild the demo city (cim demo {city_path} --overwrite)")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    profiles = [(s["id"], Profile(s["key"], s["prop"], s["base"], s["amp"], s["noise"],
                                  Incident(**s["incident"]) if s["incident"] else None)) for s in spec["streams"]]
    rng, sent, tick = np.random.default_rng(), 0, 0
    with Publisher(broker) as pub:
        while ticks is None or tick < ticks:
            now = np.array([np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us")])
            rows = []
            for ds, profile in profiles:
                value, reported = simulate(profile, now, rng)
                if reported[0]:
                    rows.append([ds, int(now[0].astype(np.int64) // 1000), round(float(value[0]), 3)])
            pub.batch(spec["prefix"], rows)
            pub.flush()
            sent, tick = sent + len(rows), tick + 1
            if say:
                say(f"published {len(rows)} readings to {spec['prefix']}/batch ({sent} in all)")
            if ticks is None or tick < ticks:
                time.sleep(interval)
    return sent
