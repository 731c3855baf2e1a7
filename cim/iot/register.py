"""Register sensors: Things bound to city features, their Locations, Sensors, ObservedProperties and
Datastreams — many at once, validated first, written in one transaction.

Every Thing is bound to a current city feature (a crane to the worksite parcel, a gauge to the
utility tunnel); without an explicit position it stands on that feature (a point on its surface, or
``along`` a fraction of a line such as a pipe or tunnel).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.errors import FeatureNotFound, ValidationError
from cim.iot.units import DIMENSIONS, PROPERTIES, check_unit, known_units
from cim.model.relations import features
from gis.crs import transformer

if TYPE_CHECKING:
    from cim.city import City

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
_KEY = re.compile(r"[\w.\-:]{1,128}")


@dataclass
class Registered:
    """What ``register_sensors`` made: ids by key (things without a key are listed in order)."""

    things: list[int] = field(default_factory=list)
    datastreams: dict[str, int] = field(default_factory=dict)
    datastream_ids: list[int] = field(default_factory=list)


def register_sensors(city: City, things: list[dict[str, Any]], *, sensors: list[dict[str, Any]] = (),
                     properties: list[dict[str, Any]] = (), actor: str | None = None) -> Registered:
    """Add Things (each with its datastreams) bound to city features; all or nothing.

    Example:
        >>> register_sensors(city, [{"key": "ws.dust.1", "name": "Dust monitor 1",
        ...     "feature": "parcels.P0042", "datastreams": [{"key": "ws.dust.1.pm10",
        ...     "property": "pm10", "unit": "ug/m3"}]}])  # doctest: +SKIP
    """
    store = city.store
    with store.transaction():
        store.lock("iot:register")  # one registration at a time: keys checked and ids handed out inside
        for spec in properties:
            add_property(city, **spec)
        sensor_ids = _ensure_sensors(city, sensors)
        places = _places(city, things)
        thing_rows, ds_rows, result = _rows(city, things, places, sensor_ids)
        _insert_things(city, thing_rows, places)
        if ds_rows:
            store.insert_arrow("iot_datastreams", pa.Table.from_pylist(ds_rows))
        city.record("iot-register", details={"things": len(thing_rows), "datastreams": len(ds_rows)},
                    actor=actor)
    return result


def add_property(city: City, key: str, *, name: str | None = None, dimension: str | None = None,
                 definition: str = "", description: str = "") -> int:
    """The id of an ObservedProperty, creating it (from the built-in list or the arguments) if new."""
    store = city.store
    with store.transaction():
        store.lock("iot:iot_properties")  # before looking: a concurrent caller waits, then finds ours
        found = store.scalar("SELECT id FROM iot_properties WHERE key = ?", [key])
        if found is not None:
            return int(found)
        if key in PROPERTIES and dimension is None:
            name, dimension, _unit, definition = PROPERTIES[key]
        if dimension not in DIMENSIONS:
            raise ValidationError(
                f"unknown observed property {key!r}: use one of {', '.join(PROPERTIES)}, or declare it with "
                f"a dimension ({', '.join(DIMENSIONS)})")
        _check_key(key, "observed property")
        new_id = _next_id(city, "iot_properties")
        store.execute("INSERT INTO iot_properties VALUES (?, ?, ?, ?, ?, ?)",
                      [new_id, key, name or key, definition or None, description or None, dimension])
    return new_id


def _ensure_sensors(city: City, sensors: list[dict[str, Any]]) -> dict[str, int]:
    ids = {k: i for i, k in city.store.rows("SELECT id, key FROM iot_sensors WHERE key IS NOT NULL")}
    for spec in sensors:
        key = _check_key(spec["key"], "sensor")
        if key in ids:
            continue
        ids[key] = _next_id(city, "iot_sensors")
        city.store.execute("INSERT INTO iot_sensors VALUES (?, ?, ?, ?, ?, ?)", [
            ids[key], key, spec.get("name", key), spec.get("description"),
            spec.get("encoding_type", "text/plain"), spec.get("metadata")])
    return ids


def _sensor_for(city: City, sensor_ids: dict[str, int], key: str) -> int:
    if key not in sensor_ids:
        sensor_ids.update(_ensure_sensors(city, [{"key": key, "name": key.replace("-", " ")}]))
    return sensor_ids[key]


def _places(city: City, things: list[dict[str, Any]]) -> pa.Table:
    """Feature class, position (city CRS) and z of each thing, resolved in one query."""
    rows = []
    for i, spec in enumerate(things):
        where = f"things[{i}]" + (f" ({spec['key']})" if spec.get("key") else "")
        if not spec.get("feature"):
            raise ValidationError(f"{where}: every Thing is bound to a city feature: give feature: <id>")
        x, y, along = _position(city, spec.get("location"), where)
        rows.append({"i": i, "fid": str(spec["feature"]), "x": x, "y": y, "along": along, "z": spec.get("z")})
    req = pa.Table.from_pylist(rows, schema=pa.schema(
        [("i", pa.int64()), ("fid", pa.string()), ("x", pa.float64()), ("y", pa.float64()),
         ("along", pa.float64()), ("z", pa.float64())]))
    store = city.store
    sql = """
        SELECT r.i, f.id IS NOT NULL AS found, f.class, f.layer, f.classification,
          ST_AsWKB(CASE WHEN r.x IS NOT NULL THEN ST_Point(r.x, r.y)
               WHEN r.along IS NOT NULL AND ST_GeometryType(f.geom) = 'LINESTRING'
                 THEN ST_LineInterpolatePoint(f.geom, r.along)
               ELSE ST_PointOnSurface(f.geom) END) AS wkb,
          coalesce(r.z, (f.z_min + f.z_max) / 2, f.z_min) AS z
        FROM _iot_req r LEFT JOIN {features} ON f.id = r.fid ORDER BY r.i""".format(
        features=features(columns="id, class, layer, classification, geom, z_min, z_max", alias="f"))
    with store.transaction(), store.temporary("_iot_req", req):
        table = store.arrow(sql)
    found = table["found"].to_pylist()
    missing = [things[i]["feature"] for i in table["i"].to_pylist() if not found[i]]
    if missing:
        raise FeatureNotFound(
            f"{len(missing)} Thing(s) bound to features the city does not have, e.g. {missing[0]!r}: "
            "bind sensors to current feature ids (see `cim query CITY LAYER`)")
    return table


def _position(city: City, location: Any, where: str) -> tuple[float | None, float | None, float | None]:
    if location is None:
        return None, None, None
    if isinstance(location, dict) and "along" in location:
        along = float(location["along"])
        if not 0 <= along <= 1:
            raise ValidationError(f"{where}: location.along is a fraction of the line, 0..1")
        return None, None, along
    if isinstance(location, dict) and {"lon", "lat"} <= location.keys():
        return (*_from_lonlat(city, float(location["lon"]), float(location["lat"]), where), None)
    try:
        x, y = (float(v) for v in location)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{where}: location must be [x, y] in the city CRS, {{lon, lat}} or {{along: 0..1}}") from exc
    return x, y, None


def _from_lonlat(city: City, lon: float, lat: float, where: str) -> tuple[float, float]:

    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(f"{where}: lon/lat out of range ({lon}, {lat})")
    x, y = transformer("EPSG:4326", city.crs).transform(lon, lat)
    return float(x), float(y)


def _rows(city: City, things: list[dict[str, Any]], places: pa.Table,
          sensor_ids: dict[str, int]) -> tuple[list[dict], list[dict], Registered]:
    now = datetime.now(UTC)
    thing_id = _next_id(city, "iot_things")
    ds_id = _next_id(city, "iot_datastreams")
    taken = {k for (k,) in city.store.rows("SELECT key FROM iot_datastreams WHERE key IS NOT NULL")}
    cache = _Lookups(city)
    classes, layers = places["class"].to_pylist(), places["layer"].to_pylist()
    classifications = places["classification"].to_pylist()
    thing_rows, ds_rows, result = [], [], Registered()
    for i, spec in enumerate(things):
        key = _check_key(spec["key"], "thing") if spec.get("key") else None
        props = dict(spec.get("properties") or {})
        thing_rows.append({"id": thing_id, "key": key, "name": spec.get("name") or key or f"thing {thing_id}",
                           "description": spec.get("description"), "feature_id": str(spec["feature"]),
                           "feature_class": classes[i], "properties": json.dumps(props, ensure_ascii=False),
                           "created_at": now, "layer": layers[i], "classification": classifications[i]})
        result.things.append(thing_id)
        for j, ds in enumerate(spec.get("datastreams") or []):
            row = _datastream_row(cache, ds, ds_id, thing_id, sensor_ids, f"things[{i}].datastreams[{j}]", now)
            if row["key"] is not None:
                if row["key"] in taken:
                    raise ValidationError(f"things[{i}].datastreams[{j}]: datastream key {row['key']!r} "
                                          "is taken: keys are unique in a city")
                taken.add(row["key"])
                result.datastreams[row["key"]] = ds_id
            result.datastream_ids.append(ds_id)
            ds_rows.append(row)
            ds_id += 1
        thing_id += 1
    return thing_rows, ds_rows, result


class _Lookups:
    """Property ids and dimensions and the city's units, looked up once per registration."""

    def __init__(self, city: City) -> None:

        self.city = city
        self.units = known_units(city)
        self.props: dict[str, tuple[int, str]] = {}

    def prop(self, key: str) -> tuple[int, str]:
        if key not in self.props:
            pid = add_property(self.city, key)
            dim = self.city.store.scalar("SELECT dimension FROM iot_properties WHERE id = ?", [pid])
            self.props[key] = (pid, dim)
        return self.props[key]


def _datastream_row(cache: _Lookups, ds: dict[str, Any], ds_id: int, thing_id: int, sensor_ids: dict[str, int],
                    where: str, now: datetime) -> dict[str, Any]:
    prop = ds.get("property")
    if not prop:
        raise ValidationError(f"{where}: a datastream observes a property: give property: pm10 (or another)")
    prop_id, dimension = cache.prop(prop)
    unit = ds.get("unit") or (PROPERTIES[prop][2] if prop in PROPERTIES else None)
    if not unit:
        raise ValidationError(f"{where}: give the unit of {prop} as a UCUM code")
    found = cache.units.get(unit)
    if found is None or found.dimension != dimension:  # check_unit says why, with the codes that fit
        check_unit(unit, dimension, f"{where} ({prop})", cache.city)
    key = _check_key(ds["key"], "datastream") if ds.get("key") else None
    sensor = _sensor_for(cache.city, sensor_ids, ds.get("sensor") or f"{prop}-sensor")
    return {"id": ds_id, "key": key, "name": ds.get("name") or key or f"{prop} {ds_id}",
            "description": ds.get("description"), "thing_id": thing_id, "sensor_id": sensor,
            "property_id": prop_id, "unit": unit, "observation_type": OM_MEASUREMENT, "created_at": now}


def _insert_things(city: City, thing_rows: list[dict], places: pa.Table) -> None:
    if not thing_rows:
        return
    import shapely

    city.store.insert_arrow("iot_things", pa.Table.from_pylist(thing_rows))
    points = shapely.from_wkb(places["wkb"].to_numpy(zero_copy_only=False))
    xy = shapely.get_coordinates(points)
    lon, lat = transformer(city.crs, "EPSG:4326").transform(xy[:, 0].tolist(), xy[:, 1].tolist())
    ids = np.array([r["id"] for r in thing_rows], dtype=np.int32)
    first = _next_id(city, "iot_locations")
    table = pa.table({
        "id": pa.array(np.arange(first, first + len(ids), dtype=np.int32)), "thing_id": pa.array(ids),
        "name": [f"location of {r['name']}" for r in thing_rows],
        "geom": shapely.to_wkb(shapely.points(xy)), "z": places["z"],
        "lon": pa.array(np.asarray(lon, float)), "lat": pa.array(np.asarray(lat, float))})
    city.store.insert_arrow("iot_locations", table, geometry=["geom"])


def _check_key(key: Any, what: str) -> str:
    key = str(key)
    if not _KEY.fullmatch(key):
        raise ValidationError(f"bad {what} key {key!r}: use 1-128 letters, digits, '.', '_', '-' or ':'")
    return key


def _next_id(city: City, table: str) -> int:
    """max(id) + 1 under a lock on the table's numbers, held until the caller's transaction ends."""
    city.store.lock(f"iot:{table}")
    return int(city.store.scalar(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))
