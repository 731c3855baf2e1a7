"""Reading people, land and housing for a role: rows masked field by field, or k-anonymous counts.

One entry point, ``for_role(city, role, user=…, path=…)``, gives a ``PeopleView`` that every path
(Python, CLI, HTTP) reads through:

* ``residents(...)`` — rows about people, for ``PERSON_ROLES`` only, each field kept, masked or
  left out by its level (``cim.access.mask_record``); a refused read raises PermissionDenied. Both
  are written to the audit trail with the filter and the row count.
* ``units(building)`` — the housing units of a building, fields by level; with per-unit resident
  counts (and the residents, masked) only for roles with person access (audited).
* ``population(by=…)`` — residents, units and occupied units per building, parcel, grid cell or
  district. Roles without person access get counts of at least ``k`` only: a building's count
  below ``k`` is suppressed, and every coarser count is the sum of the *published* building counts
  (suppressed again below ``k``), so no subtraction of two published figures reveals a suppressed one.

Example:
    >>> view = for_role(city, "planner")                       # doctest: +SKIP
    >>> view.population(by="parcel")[0]                          # doctest: +SKIP
    {'key': 'parcels.12', 'residents': 48, 'units': 20, 'occupied_units': 17, ...}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from cim.access import (
    K_ANONYMITY,
    POPULATION_CELL_M,
    check_role,
    field_view,
    mask_record,
    may_read_people,
    require_people,
)
from cim.analysis.inputs import find_inputs
from cim.audit import record_audit
from cim.errors import PermissionDenied, ValidationError
from cim.model.catalog import all_layers, class_census
from cim.model.relations import features, in_list, literal, prop_text
from cim.people.profile import table

if TYPE_CHECKING:
    from cim.city import City

By = Literal["building", "parcel", "grid", "district"]
BY = ("building", "parcel", "grid", "district")
MAX_PAGE = 10_000


def people_layers(city: City) -> dict[str, list[str]]:
    """People table → the layers holding it (from each layer's catalogue entry), e.g. {"residents": [...]}."""
    out: dict[str, list[str]] = {}
    for name, info in all_layers(city).items():
        people = (info.properties or {}).get("people")
        if isinstance(people, dict) and people.get("table"):
            out.setdefault(str(people["table"]), []).append(name)
    return {k: sorted(v) for k, v in out.items()}


def _levels(city: City, layer: str) -> tuple[dict[str, str], dict[str, str]]:
    people = all_layers(city)[layer].properties.get("people") or {}
    spec = table(people.get("table", "residents"))
    levels = {f.name: f.level for f in spec.fields} | dict(people.get("levels") or {})
    kinds = {f.name: f.kind for f in spec.fields} | dict(people.get("kinds") or {})
    return levels, kinds


@dataclass
class PeopleView:
    """People, land and housing as one role (and, when known, one named user) may see them."""

    city: City
    role: str
    user: str | None = None
    path: str = "python"
    k: int = K_ANONYMITY

    def __post_init__(self) -> None:
        check_role(self.role)
        if self.k < 2:
            raise ValidationError(f"k = {self.k}: suppressing counts below fewer than 2 people protects no one")

    # -- rows about people -----------------------------------------------------------------------
    def residents(self, *, building: str | None = None, unit: str | None = None, parcel: str | None = None,
                  limit: int = 100, offset: int = 0, current: bool = True) -> list[dict[str, Any]]:
        """Residents (of a building, unit or parcel), masked as the role requires; audited."""
        for value in (building, unit, parcel):
            _check_id(value)
        asked = {k: v for k, v in (("building", building), ("unit", unit), ("parcel", parcel),
                                   ("limit", limit), ("offset", offset)) if v is not None}
        layers = people_layers(self.city).get("residents", [])
        if not may_read_people(self.role):
            self._audit("refused", layers[0] if layers else None, asked, (), 0)
            require_people(self.role, "listing residents")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise ValidationError(f"limit must be 1–{MAX_PAGE} and offset ≥ 0 (got {limit}, {offset})")
        out: list[dict[str, Any]] = []
        fields_seen: set[str] = set()
        for layer in layers:
            levels, kinds = _levels(self.city, layer)
            where = self._resident_filter(building, unit, parcel, current)
            # the page's ids first (no JSON carried through the sort), then those rows
            page = [r[0] for r in self.city.store.rows(
                features(layers=[layer], columns="id", where=where)
                + f" ORDER BY id LIMIT {int(limit) - len(out)} OFFSET {int(offset)}")]
            rows = self.city.store.rows(features(layers=[layer], ids=page, columns="id, parent, properties")
                                        + " ORDER BY id") if page else []
            buildings = self._unit_buildings([r[1] for r in rows])
            for fid, parent, props in rows:
                record = _json(props)
                masked = mask_record(record, levels, kinds, self.role, building=buildings.get(parent))
                fields_seen |= {n for n in masked if levels.get(n) in ("restricted", "secret")}
                out.append({"id": fid, **masked})
            if len(out) >= limit:
                break
        self._audit("read", ",".join(layers) or None, asked, fields_seen, len(out))
        return out

    def units(self, building: str) -> dict[str, Any]:
        """The housing units of ``building``, fields by level. For roles with person access also its
        residents (masked; audited): under each unit when the role sees residents' units in full,
        else as one list for the building (an exact address is shown only to the building)."""
        _check_id(building)
        units = []
        for layer in people_layers(self.city).get("units", []):
            levels, kinds = _levels(self.city, layer)
            rows = self.city.store.rows(features(layers=[layer], columns="id, properties",
                                                 where=f"parent = {literal(building)}") + " ORDER BY id")
            units += [{"id": fid, **mask_record(_json(props), levels, kinds, self.role)} for fid, props in rows]
        out: dict[str, Any] = {"building": building, "units": units}
        if may_read_people(self.role):
            by_unit, fields, unit_full = self._residents_by_unit(building)
            if unit_full:
                for unit in units:
                    unit["residents"] = by_unit.get(unit["id"], [])
            else:
                out["residents"] = [r for rows in by_unit.values() for r in rows]
            self._audit("read", ",".join(people_layers(self.city).get("residents", [])) or None,
                        {"building": building, "units": True}, fields, sum(len(v) for v in by_unit.values()))
        return out

    def _residents_by_unit(self, building: str) -> tuple[dict[str, list[dict[str, Any]]], set[str], bool]:
        out: dict[str, list[dict[str, Any]]] = {}
        fields: set[str] = set()
        unit_full = True
        for layer in people_layers(self.city).get("residents", []):
            levels, kinds = _levels(self.city, layer)
            unit_full = unit_full and field_view(levels.get("unit"), self.role) == "full"
            rows = self.city.store.rows(features(layers=[layer], columns="id, parent, properties",
                                                 where=self._resident_filter(building, None, None, True))
                                        + " ORDER BY id")
            for fid, parent, props in rows:
                masked = mask_record(_json(props), levels, kinds, self.role, building=building)
                fields |= {n for n in masked if levels.get(n) in ("restricted", "secret")}
                out.setdefault(parent, []).append({"id": fid, **masked})
        return out, fields, unit_full

    # -- counts ----------------------------------------------------------------------------------
    def population(self, by: By = "building", *, cell: float = POPULATION_CELL_M) -> list[dict[str, Any]]:
        """Residents, units and occupied units per ``by``; counts below k suppressed (None) for roles
        without person access. Grid cells carry their bounds (city CRS), the others their key."""
        if by not in BY:
            raise ValidationError(f"unknown grouping {by!r}: use one of {', '.join(BY)}")
        if not 1 <= cell <= 100_000 or not math.isfinite(cell):
            raise ValidationError(f"cell {cell} m: use 1–100000 metres")
        base = self._per_building()
        exact = may_read_people(self.role)
        for b in base:
            if not exact and b["residents"] < self.k:
                b["residents"] = b["occupied_units"] = None
        if by == "building":
            return base
        if by == "grid":
            def key_of(b: dict[str, Any]) -> Any:
                return (math.floor(b["x"] / cell), math.floor(b["y"] / cell))
            groups = _group(base, key_of)
        else:
            owners = self._containing(base, by)
            groups = _group([b for b in base if b["id"] in owners], lambda b: owners[b["id"]])
        out = []
        for key, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
            published = [m["residents"] for m in members if m["residents"] is not None]
            residents = sum(published) if published else None
            occupied = (sum(m["occupied_units"] for m in members if m["occupied_units"] is not None)
                        if published else None)
            if not exact and (residents is None or residents < self.k):
                residents = occupied = None
            row = {"key": key if by != "grid" else f"{key[0]}_{key[1]}", "residents": residents,
                   "units": sum(m["units"] for m in members), "occupied_units": occupied,
                   "buildings": len(members)}
            if by == "grid":
                x, y = key
                row["bounds"] = (x * cell, y * cell, (x + 1) * cell, (y + 1) * cell)
            out.append(row)
        return out

    def _per_building(self) -> list[dict[str, Any]]:
        """Residents, units and occupied units per building. Two plain scans joined here: a join of
        the two in SQL is planned as a nested loop on PostGIS (the JSON filter's rows are misjudged)."""
        layers = people_layers(self.city)
        units, residents = layers.get("units", []), layers.get("residents", [])
        if not units:
            return []
        per_unit: dict[str, int] = {}
        if residents:
            today = literal(datetime.now(UTC).date().isoformat())
            living = f"({prop_text('moved_out')} IS NULL OR {prop_text('moved_out')} > {today})"
            per_unit = {u: int(n) for u, n in self.city.store.rows(
                features(layers=residents, columns="parent, count(*) AS n", where=living) + " GROUP BY parent")}
        out: dict[str, dict[str, Any]] = {}
        for uid, building, x, y in self.city.store.rows(
                features(layers=units, columns="id, parent, ST_X(geom), ST_Y(geom)") + " ORDER BY parent, id"):
            b = out.get(building)
            if b is None:
                b = out[building] = {"id": building, "residents": 0, "units": 0, "occupied_units": 0, "x": x, "y": y}
            n = per_unit.get(uid, 0)
            b["units"] += 1
            b["residents"] += n
            b["occupied_units"] += 1 if n else 0
        return list(out.values())

    def _containing(self, base: list[dict[str, Any]], by: str) -> dict[str, str]:
        """Building id → the parcel (or district) under its point."""
        if by == "parcel":
            found = find_inputs(self.city)["parcels"]
            if not found.present:
                raise ValidationError("no parcels in the city: " + found.missing_reason())
            polygons = found.relation("id, geom", alias="p")
        else:
            census = class_census(self.city)
            layers = [name for name, counts in census.items() if any(c == "District" for c, _ in counts)]
            if not layers:
                raise ValidationError("no districts in the city: ingest one with --class District")
            polygons = features(layers=layers, classes=["District"], columns="id, geom", alias="p")
        units = people_layers(self.city).get("units", [])
        sql = (f"SELECT u.parent, min(p.id) FROM (SELECT parent, min(ST_X(geom)) AS x, min(ST_Y(geom)) AS y "
               f"FROM {features(layers=units, columns='parent, geom', alias='uu')} GROUP BY parent) AS u "
               f"JOIN {polygons} ON ST_Contains(p.geom, ST_Point(u.x, u.y)) GROUP BY u.parent")
        return dict(self.city.store.rows(sql))

    # -- helpers ---------------------------------------------------------------------------------
    def _resident_filter(self, building: str | None, unit: str | None, parcel: str | None, current: bool) -> str:
        parts = []
        if current:
            today = literal(datetime.now(UTC).date().isoformat())
            parts.append(f"({prop_text('moved_out')} IS NULL OR {prop_text('moved_out')} > {today})")
        if unit is not None:
            parts.append(f"parent = {literal(unit)}")
        units = people_layers(self.city).get("units", [])
        if building is not None:
            parts.append(f"parent IN ({features(layers=units, columns='id', where=f'parent = {literal(building)}')})")
        if parcel is not None:
            buildings = [b for b, p in self._containing(self._per_building(), "parcel").items() if p == parcel]
            parts.append(f"parent IN ({features(layers=units, columns='id', where=in_list('parent', buildings))})")
        return " AND ".join(parts) or "TRUE"

    def _unit_buildings(self, units: list[str]) -> dict[str, str]:
        if not units:
            return {}
        layers = people_layers(self.city).get("units", [])
        return dict(self.city.store.rows(features(layers=layers, ids=sorted(set(units)), columns="id, parent")))

    def _audit(self, action: str, layer: str | None, asked: dict[str, Any], fields: Any, rows: int) -> None:
        record_audit(self.city, role=self.role, actor=self.user, action=action, path=self.path, layer=layer,
                     filter=asked, fields=fields, rows=rows)

    def field_view(self, level: str) -> str | None:
        """How this role sees a field of ``level`` (for clients drawing a table)."""
        return field_view(level, self.role)


def _check_id(value: str | None) -> None:
    """A feature id a caller gave: printable text of at most 200 characters (it becomes a SQL literal)."""
    if value is not None and (len(value) > 200 or any(ord(c) < 32 for c in value)):
        raise ValidationError(f"bad feature id {value[:40]!r}: ids are printable text of at most 200 characters")


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def _group(rows: list[dict[str, Any]], key: Any) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def for_role(city: City, role: str, *, user: str | None = None, path: str = "python",
             k: int = K_ANONYMITY) -> PeopleView:
    """People, land and housing as ``role`` (and user ``user``) may see them; see the module doc."""
    return PeopleView(city, role, user, path, k)




def ingest_people(city: City, path: str | Any, *, actor: str | None = None, role: str = "admin",
                  progress: Any = None, **options: Any) -> Any:
    """Ingest a people table (``cim.people.ingest``; options as ``cim people ingest``) and write the
    write to the audit trail: who, the layer, the source and the rows stored. Only an admin writes."""
    if check_role(role) != "admin":
        record_audit(city, role=role, actor=actor, action="refused", path="ingest", layer=None,
                     filter={"source": str(path)}, rows=0)
        raise PermissionDenied(f"loading people, land and housing needs the admin role (you are {role})")
    report = city.ingest(path, kind="people", progress=progress, **options)
    record_audit(city, role=role, actor=actor, action="write", path="ingest", layer=report.layer,
                 filter={"source": str(path), "version": report.version, "rejected": report.rejected},
                 rows=report.stored)
    return report


__all__ = ["BY", "PeopleView", "for_role", "people_layers", "ingest_people"]
