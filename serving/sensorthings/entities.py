"""Reading the sensors as OGC SensorThings API 1.1 entities: Things, Locations, Sensors,
ObservedProperties, Datastreams, Observations, with ``$top``, ``$skip``, ``$count``, ``$orderby``
and ``$filter`` (simple comparisons joined by ``and``), navigation (``Datastreams(1)/Observations``)
and ``@iot.selfLink`` / ``@iot.nextLink``.

No SQL is built from request text: field names map through a whitelist and values are parameters.
An Observation's id is ``<datastream id>-<phenomenon time in µs since 1970>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from cim.errors import QueryError
from cim.iot.errors import EntityNotFound
from cim.iot.register import OM_MEASUREMENT
from cim.iot.units import UCUM_DEFINITION, UNITS
from cim.iot.visibility import apply_view, in_use_predicate, visible_predicate, xy_columns
from cim.model.reads import parse_time

if TYPE_CHECKING:
    from cim.city import City

MAX_TOP = 10_000
_MIN_US, _MAX_US = -62_135_596_800_000_000, 253_402_300_799_000_000  # years 1 to 9999
DEFAULT_TOP = 100


@dataclass(frozen=True)
class EntitySet:
    """How one entity set is read: its SQL, fields usable in $filter/$orderby, default order."""

    name: str
    select: str                     # SELECT … FROM … WHERE {visible} (and {xy} for positions)
    fields: dict[str, str]          # STA property → SQL column
    order: str                      # default ORDER BY
    time_fields: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset({"id"})  # fields compared with numbers; the rest with 'text'
    guard: str = "thing"            # visibility: by the Thing (alias t), or "sensor"/"property" in use


SETS: dict[str, EntitySet] = {s.name: s for s in [
    EntitySet("Things", "SELECT t.id, t.name, t.description, t.properties, t.key, t.feature_id, t.feature_class "
              "FROM iot_things t WHERE {visible}", {"id": "t.id", "name": "t.name", "description": "t.description"},
              "t.id"),
    EntitySet("Locations", "SELECT l.id, l.name, l.description, l.lon, l.lat, l.z, {xy}, t.classification "
              "FROM iot_locations l JOIN iot_things t ON t.id = l.thing_id WHERE {visible}",
              {"id": "l.id", "name": "l.name"}, "l.id"),
    EntitySet("Sensors", "SELECT s.id, s.name, s.description, s.encoding_type, s.metadata FROM iot_sensors s "
              "WHERE {visible}", {"id": "s.id", "name": "s.name", "description": "s.description"}, "s.id",
              guard="sensor"),
    EntitySet("ObservedProperties", "SELECT p.id, p.name, p.definition, p.description, p.key "
              "FROM iot_properties p WHERE {visible}",
              {"id": "p.id", "name": "p.name", "definition": "p.definition"}, "p.id", guard="property"),
    EntitySet("Datastreams", "SELECT d.id, d.name, d.description, d.unit, d.observation_type, d.key "
              "FROM iot_datastreams d JOIN iot_things t ON t.id = d.thing_id WHERE {visible}",
              {"id": "d.id", "name": "d.name", "description": "d.description"}, "d.id"),
    EntitySet("Observations", "SELECT o.datastream_id, o.phenomenon_time, o.result FROM iot_observations o "
              "WHERE o.datastream_id IN (SELECT d.id FROM iot_datastreams d JOIN iot_things t ON t.id = d.thing_id "
              "WHERE {visible})",
              {"phenomenonTime": "o.phenomenon_time", "resultTime": "o.phenomenon_time", "result": "o.result"},
              "o.datastream_id, o.phenomenon_time", frozenset({"phenomenonTime", "resultTime"}),
              numbers=frozenset({"result"})),
]}

#: (entity set, navigation property) → (target set, SQL predicate on the target taking the parent id, single?)
NAVIGATION: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("Things", "Datastreams"): ("Datastreams", "d.thing_id = ?", False),
    ("Things", "Locations"): ("Locations", "l.thing_id = ?", False),
    ("Locations", "Things"): ("Things", "t.id IN (SELECT thing_id FROM iot_locations WHERE id = ?)", False),
    ("Datastreams", "Thing"): ("Things", "t.id IN (SELECT thing_id FROM iot_datastreams WHERE id = ?)", True),
    ("Datastreams", "Sensor"): ("Sensors", "s.id IN (SELECT sensor_id FROM iot_datastreams WHERE id = ?)", True),
    ("Datastreams", "ObservedProperty"): (
        "ObservedProperties", "p.id IN (SELECT property_id FROM iot_datastreams WHERE id = ?)", True),
    ("Datastreams", "Observations"): ("Observations", "o.datastream_id = ?", False),
    ("Sensors", "Datastreams"): ("Datastreams", "d.sensor_id = ?", False),
    ("ObservedProperties", "Datastreams"): ("Datastreams", "d.property_id = ?", False),
    ("Observations", "Datastream"): ("Datastreams", "d.id = ?", True),
}


@dataclass
class Options:
    """Parsed query options of a collection request."""

    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    orderby: list[tuple[str, str]] = field(default_factory=list)
    filter_sql: str | None = None
    filter_params: list[Any] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)


def parse_options(entity_set: str, query: Mapping[str, str]) -> Options:
    """``$top``, ``$skip``, ``$count``, ``$orderby``, ``$filter`` for ``entity_set``; QueryError otherwise."""
    spec = SETS[entity_set]
    unknown = [k for k in query if k.startswith("$") and k not in ("$top", "$skip", "$count", "$orderby", "$filter")]
    if unknown:
        raise QueryError(f"{', '.join(unknown)} is not supported here: use $top, $skip, $count, $orderby, $filter "
                         "and the navigation links")
    opts = Options(raw={k: v for k, v in query.items() if k.startswith("$")})
    opts.top = _int_option(query, "$top", DEFAULT_TOP, 0, MAX_TOP)
    opts.skip = _int_option(query, "$skip", 0, 0, 10_000_000)
    count = query.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise QueryError("$count is true or false")
    opts.count = count == "true"
    if query.get("$orderby"):
        opts.orderby = _orderby(spec, query["$orderby"])
    if query.get("$filter"):
        opts.filter_sql, opts.filter_params = _filter(spec, query["$filter"])
    return opts


def _int_option(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise QueryError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _orderby(spec: EntitySet, text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"bad $orderby {text!r}: use e.g. phenomenonTime desc")
        if words[0] not in spec.fields:
            raise QueryError(f"cannot order {spec.name} by {words[0]!r}: use one of {', '.join(spec.fields)}")
        out.append((spec.fields[words[0]], (words[1] if len(words) == 2 else "asc").upper()))
    return out


_CMP = re.compile(r"\s*([A-Za-z]+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|[^\s']+)\s*", re.I)
_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _filter(spec: EntitySet, text: str) -> tuple[str, list[Any]]:
    parts, params = [], []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.I):
        m = _CMP.fullmatch(clause)
        if not m:
            raise QueryError(f"unsupported $filter {text!r}: use comparisons such as "
                             "phenomenonTime ge 2026-05-01T00:00:00Z joined by 'and'")
        name, op, value = m.group(1), m.group(2).lower(), m.group(3)
        if name not in spec.fields:
            raise QueryError(f"cannot filter {spec.name} on {name!r}: use one of {', '.join(spec.fields)}")
        parts.append(f"{spec.fields[name]} {_OPS[op]} ?")
        params.append(_literal(name, value, spec))
    return " AND ".join(parts), params


def _literal(name: str, value: str, spec: EntitySet) -> Any:
    """The value of one comparison, of the field's own type: a time, a number or a text."""
    quoted = value.startswith("'")
    text = value[1:-1].replace("''", "'") if quoted else value
    if name in spec.time_fields:
        return _time(text)
    if name in spec.numbers:
        if quoted:
            raise QueryError(f"{name} is a number: compare it with one, e.g. {name} gt 3 (no quotes), "
                             f"not {value}")
        return _number(name, text)
    if not quoted:
        raise QueryError(f"{name} is a text: quote the value, e.g. {name} eq '{text}'")
    return text


def _number(name: str, text: str) -> float | int:
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError as exc:
        raise QueryError(f"bad value {text!r} for {name}: give a number such as 3 or 2.5") from exc
    if isinstance(number, float) and number != number:
        raise QueryError(f"bad value {text!r} for {name}: give a number such as 3 or 2.5")
    return float(number) if isinstance(number, int) and abs(number) >= 2**53 else number


def _time(text: str) -> datetime:

    return parse_time(text)


def read(city: City, entity_set: str, *, entity_id: str | None = None, navigation: str | None = None,
         query: Mapping[str, str] | None = None, base_url: str, role: str | None = None) -> dict[str, Any]:
    """One entity, a collection, or what a navigation path leads to, as SensorThings JSON.

    Example:
        >>> read(city, "Datastreams", entity_id="7", navigation="Observations",
        ...      query={"$top": "10", "$orderby": "phenomenonTime desc"},
        ...      base_url="http://127.0.0.1:8000/sta/v1.1")  # doctest: +SKIP
    """
    if entity_set not in SETS:
        raise EntityNotFound(f"no entity set {entity_set!r}: use one of {', '.join(SETS)}")
    if entity_id is None:
        return _collection(city, entity_set, [], [], query or {}, base_url, role, f"{base_url}/{entity_set}")
    key = _parse_id(entity_set, entity_id)
    if navigation is None:
        return _single(city, entity_set, key, base_url, role)
    if (entity_set, navigation) not in NAVIGATION:
        raise EntityNotFound(f"{entity_set} has no navigation property {navigation!r}")
    _single(city, entity_set, key, base_url, role)  # the parent must exist and be visible
    target, predicate, single = NAVIGATION[(entity_set, navigation)]
    parent = key[0] if entity_set == "Observations" else key
    if single:
        rows = _rows(city, target, [predicate], [parent], role, limit=1)
        if not rows:
            raise EntityNotFound(f"{entity_set}({entity_id}) has no {navigation}")
        return render(target, rows[0], base_url)
    here = f"{base_url}/{entity_set}({entity_id})/{navigation}"
    return _collection(city, target, [predicate], [parent], query or {}, base_url, role, here)


def _parse_id(entity_set: str, text: str) -> Any:
    raw = text.strip("'\"")
    if entity_set == "Observations":
        m = re.fullmatch(r"(\d{1,10})-(-?\d{1,18})", raw)
        if not m or int(m.group(1)) > 2**31 or not _MIN_US <= int(m.group(2)) <= _MAX_US:
            raise EntityNotFound(f"no Observation {text}: ids look like '7-1777593600000000'")
        return int(m.group(1)), int(m.group(2))
    if not raw.isdigit() or int(raw) > 2**31:
        raise EntityNotFound(f"no {entity_set}({text}): ids are whole numbers")
    return int(raw)


def _single(city: City, entity_set: str, key: Any, base_url: str, role: str | None) -> dict[str, Any]:
    if entity_set == "Observations":
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=key[1])
        rows = _rows(city, entity_set, ["o.datastream_id = ?", "o.phenomenon_time = ?"], [key[0], when], role, 1)
    else:
        rows = _rows(city, entity_set, [f"{SETS[entity_set].fields['id']} = ?"], [key], role, 1)
    if not rows:
        raise EntityNotFound(f"no {entity_set[:-1] if entity_set.endswith('s') else entity_set} with id {key!r}")
    return render(entity_set, rows[0], base_url)


def _collection(city: City, entity_set: str, where: list[str], params: list[Any], query: Mapping[str, str],
                base_url: str, role: str | None, here: str) -> dict[str, Any]:
    opts = parse_options(entity_set, query)
    if opts.filter_sql:
        where, params = [*where, opts.filter_sql], [*params, *opts.filter_params]
    order = ", ".join(f"{c} {d}" for c, d in opts.orderby) or SETS[entity_set].order
    rows = _rows(city, entity_set, where, params, role, opts.top + 1, opts.skip, order)
    out: dict[str, Any] = {}
    if opts.count:
        out["@iot.count"] = _count(city, entity_set, where, params, role)
    if len(rows) > opts.top:
        rows = rows[:opts.top]
        nxt = {**opts.raw, "$skip": str(opts.skip + opts.top), "$top": str(opts.top)}
        out["@iot.nextLink"] = f"{here}?{urlencode(nxt)}"
    out["value"] = [render(entity_set, r, base_url) for r in rows]
    return out


def _sql(city: City, entity_set: str, where: list[str], role: str | None) -> tuple[str, list[Any]]:

    spec = SETS[entity_set]
    if spec.guard == "thing":
        visible, allowed = visible_predicate(role)
    else:  # a Sensor or ObservedProperty is seen where a datastream the role may see uses it
        visible, allowed = in_use_predicate(role, "sensor_id" if spec.guard == "sensor" else "property_id",
                                            "s.id" if spec.guard == "sensor" else "p.id")
    sql = spec.select.format(visible=visible, xy=xy_columns(role, "l.geom"))
    if where:
        sql += " AND " + " AND ".join(f"({w})" for w in where)
    return sql, allowed


def _rows(city: City, entity_set: str, where: list[str], params: list[Any], role: str | None, limit: int,
          skip: int = 0, order: str | None = None) -> list[dict[str, Any]]:

    sql, allowed = _sql(city, entity_set, where, role)
    sql += f" ORDER BY {order or SETS[entity_set].order} LIMIT {int(limit)} OFFSET {int(skip)}"
    return apply_view(city.store.arrow(sql, [*allowed, *params]), role, city.crs).to_pylist()


def _count(city: City, entity_set: str, where: list[str], params: list[Any], role: str | None) -> int:
    sql, allowed = _sql(city, entity_set, where, role)
    return int(city.store.scalar(f"SELECT count(*) FROM ({sql}) AS found", [*allowed, *params]))


def render(entity_set: str, row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One row as a SensorThings entity with its self and navigation links."""
    if entity_set == "Observations":
        oid = f"{row['datastream_id']}-{_micros(row['phenomenon_time'])}"
        link = f"{base_url}/Observations('{oid}')"
        when = _iso(row["phenomenon_time"])
        return {"@iot.id": oid, "@iot.selfLink": link, "phenomenonTime": when, "resultTime": when,
                "result": row["result"], "Datastream@iot.navigationLink": f"{link}/Datastream"}
    link = f"{base_url}/{entity_set}({row['id']})"
    out: dict[str, Any] = {"@iot.id": row["id"], "@iot.selfLink": link, "name": row["name"],
                           "description": row.get("description") or ""}
    out.update(_BODY[entity_set](row))
    for (source, nav), _target in NAVIGATION.items():
        if source == entity_set:
            out[f"{nav}@iot.navigationLink"] = f"{link}/{nav}"
    return out


def _thing(row: dict[str, Any]) -> dict[str, Any]:
    props = json.loads(row["properties"]) if row.get("properties") else {}
    return {"properties": {**props, "cim:feature": row["feature_id"], "cim:featureClass": row["feature_class"],
                           "cim:key": row["key"]}}


def _location(row: dict[str, Any]) -> dict[str, Any]:
    coords = [row["lon"], row["lat"]] + ([row["z"]] if row.get("z") is not None else [])
    return {"encodingType": "application/geo+json", "location": {"type": "Point", "coordinates": coords}}


def _datastream(row: dict[str, Any]) -> dict[str, Any]:
    unit = UNITS.get(row["unit"])
    return {"unitOfMeasurement": {"name": unit.name if unit else row["unit"], "symbol": row["unit"],
                                  "definition": f"{UCUM_DEFINITION}#{row['unit']}"},
            "observationType": row.get("observation_type") or OM_MEASUREMENT, "properties": {"cim:key": row["key"]}}


_BODY = {
    "Things": _thing,
    "Locations": _location,
    "Sensors": lambda r: {"encodingType": r["encoding_type"], "metadata": r.get("metadata") or ""},
    "ObservedProperties": lambda r: {"definition": r.get("definition") or "", "properties": {"cim:key": r["key"]}},
    "Datastreams": _datastream,
}


def _micros(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def service_root(base_url: str) -> dict[str, Any]:
    """The SensorThings service document: the entity sets and what this server conforms to."""
    return {"value": [{"name": n, "url": f"{base_url}/{n}"} for n in SETS],
            "serverSettings": {"conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array"]}}
