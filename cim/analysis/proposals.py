"""Planning proposals (方案比选): named sets of buildings evaluated with the city, never written into it.

Why: a planner weighs two or three schemes for a parcel against what is there now. A proposal is a
BIM model (IFC) or a massing (polygons with heights: GeoJSON, GeoPackage, Shapefile …) kept beside
the city (``cim.model.proposals``); checking it joins its buildings to the city's as candidates —
the mechanism of the BIM review (``cim.analysis.review``) — in read-only queries, so the city's
layers, versions and history stay exactly as they were.

For each column (the current city, then each proposal) ``compare`` gives the indicators of the
parcels the proposals stand on (``cim.analysis.indicators``), the compliance failures there
(``cim.analysis.compliance``) and the sunlight hours of the residential neighbours within
``radius`` metres (``cim.analysis.sunlight``: same rule, same method, with and without the
proposal's buildings casting shadows).

Example:
    >>> add_proposal(city, "tower-a", "tower.ifc", anchor="515400,3980300")        # doctest: +SKIP
    >>> compare(city, ["tower-a", "slab-b"]).as_dict()["rows"][0]                  # doctest: +SKIP
    {'indicator': 'far', 'parcel': 'parcels.P1', 'values': {'current': 1.2, 'tower-a': 2.8, 'slab-b': 2.4}}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from cim.analysis.compliance import compliance_arrow
from cim.analysis.indicators import indicators_arrow
from cim.analysis.review import REVIEW_RULES, candidates_from_model
from cim.analysis.rules import RuleSet, load_rules
from cim.analysis.sunlight import _compute as sunlight_hours
from cim.errors import CRSError, SourceError, ValidationError
from cim.model.proposals import list_proposals, proposal, proposal_buildings, save_proposal
from gis.crs import parse_crs, reproject, same_crs
from gis.vector import read_vector, require_crs

if TYPE_CHECKING:
    from cim.city import City

#: neighbours whose sunlight is compared: residential buildings this close to a proposal (metres)
NEIGHBOUR_RADIUS = 200.0
#: the indicators compared per parcel
INDICATORS = {"far": "FAR (容积率)", "density": "building density (建筑密度)", "max_height": "max height m",
              "floor_area": "floor area m²", "buildings": "buildings"}
CANDIDATE = "candidate"


def add_proposal(city: City, name: str, path: str | Path, *, anchor: str | None = None, parcel: str | None = None,
                 height: float | None = None, floors: float | None = None, use: str | None = None,
                 note: str | None = None, rules: Any = None, replace: bool = False) -> dict[str, Any]:
    """Read ``path`` (IFC, or a massing of polygons) as proposal ``name`` and keep it beside the city.

    IFC: the model's buildings, placed by its georeferencing or ``anchor`` (``"x,y[,z]"``, city CRS).
    Massing: each polygon a building; height from its ``height`` field (or ``height``), floors from
    ``floors`` (or height ÷ storey height), use from ``use``. With ``anchor`` a massing is in local
    metres and is moved so its (0, 0) lands on the anchor. ``parcel`` (checked) or the parcel under
    the footprints is recorded. Nothing is written into the city's layers.
    """
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ValidationError(f"bad proposal name {name!r}: use letters, digits, '-', '_' or '.' (at most 64)")
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"no file {path}")
    bound = load_rules(rules).bind(city)
    if path.suffix.lower() == ".ifc":
        kind, table = "bim", _from_ifc(city, path, anchor, bound)
    else:
        kind, table = "massing", _from_massing(city, path, anchor=anchor, height=height, floors=floors, use=use,
                                               floor_height=bound.floor_height)
    table = table.set_column(0, "id", pa.array([f"proposal.{name}.{i.split('.', 1)[-1]}"
                                                for i in table["id"].to_pylist()], pa.string()))
    parcel_id = _parcel_of(city, bound, table, parcel, path)
    save_proposal(city, name, kind=kind, source=path.name, parcel=parcel_id, note=note, buildings=table,
                  replace=replace)
    return proposal(city, name)


def _from_ifc(city: City, path: Path, anchor: str | None, rules: RuleSet) -> pa.Table:
    from bim import Anchor, read_model  # here, not at the top: ifcopenshell is the bim extra's
    from cim.ingest.ifc import placed_in_city_area

    placed = Anchor.parse(anchor, crs=city.crs) if anchor else None
    model = read_model(path, anchor=placed)
    placed_in_city_area(path, model.georef, city.crs)
    model.run_geometry()
    return candidates_from_model(model, city.crs, rules.floor_height)


def _from_massing(city: City, path: Path, *, anchor: str | None, height: float | None, floors: float | None,
                  use: str | None, floor_height: float) -> pa.Table:
    data = read_vector(path)
    table = data.table
    geoms = shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False))
    if anchor:
        try:
            x, y = (float(v) for v in anchor.split(",")[:2])
        except ValueError as exc:
            raise ValidationError(f"bad anchor {anchor!r}: give x,y in the city CRS") from exc
        geoms = shapely.transform(geoms, lambda xy: xy + np.array([x, y]))
    else:
        crs = require_crs(data)
        _massing_in_city_area(path, geoms, crs, city.crs)
        if not same_crs(crs, parse_crs(city.crs)):
            geoms = reproject(geoms, crs, parse_crs(city.crs))
    if not len(geoms) or not np.all(np.isin(shapely.get_type_id(geoms), [3, 6])):
        raise ValidationError(f"{path.name}: a massing is polygons (one per building); found other geometry")
    names = table.column_names
    n = len(geoms)
    h = _column(table, "height", height, n)
    if np.isnan(h).any():
        raise ValidationError(f"{path.name}: {int(np.isnan(h).sum())} buildings have no height: give each a "
                              "`height` field, or --height M for all")
    f = _column(table, "floors", floors, n)
    f = np.where(np.isnan(f), np.maximum(1.0, np.round(h / floor_height)), f)
    uses = table["use"].cast(pa.string()).to_pylist() if "use" in names and use is None else [use] * n
    ids = (table["id"].cast(pa.string()).to_pylist() if "id" in names else [str(i + 1) for i in range(n)])
    label = table["name"].cast(pa.string()).to_pylist() if "name" in names else ids
    return pa.table({"id": ids, "wkb": shapely.to_wkb(geoms), "height": h, "floors": f, "use": uses,
                     "name": label})


def _massing_in_city_area(path: Path, geoms: np.ndarray, crs: object, city_crs: str) -> None:
    """A massing whose buildings lie wholly away from the area the city's CRS is defined for is
    refused saying so (as an ingest refuses such features), not as standing on no parcel."""
    from gis.crs import beyond_area_of_use

    found = beyond_area_of_use(geoms, crs, city_crs)
    if found is not None and len(geoms) and found.far.all():
        raise CRSError(f"{path.name} lies {found.wholly_outside(f'the city CRS {city_crs}')}: give it in the "
                       "city's CRS, or place it with --anchor X,Y")


def _column(table: pa.Table, name: str, given: float | None, n: int) -> np.ndarray:
    if given is not None:
        return np.full(n, float(given))
    if name not in table.column_names:
        return np.full(n, np.nan)
    values = pc.cast(table[name], pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=float)


def _parcel_of(city: City, rules: RuleSet, table: pa.Table, parcel: str | None, path: Path) -> str | None:
    """The parcel the buildings stand on: ``parcel`` (each centroid must lie in it) or the one found."""
    parcels = rules.input("parcels")
    if not parcels.present:
        if parcel:
            raise ValidationError(f"--parcel {parcel}: the city has no parcels layer")
        return None
    centres = shapely.centroid(shapely.from_wkb(table["wkb"].to_numpy(zero_copy_only=False)))
    rows = city.store.arrow(parcels.relation("id, ST_AsWKB(geom) AS wkb")).to_pylist()
    shapes = shapely.from_wkb([r["wkb"] for r in rows]) if rows else np.array([], dtype=object)
    if parcel:
        match = [i for i, r in enumerate(rows) if r["id"] == parcel or r["id"].split(".", 1)[-1] == parcel]
        if not match:
            raise ValidationError(f"no parcel {parcel!r} in {city.location}")
        inside = shapely.contains(shapes[match[0]], centres)
        if not inside.all():
            raise ValidationError(f"{path.name}: {int((~inside).sum())} buildings stand outside parcel "
                                  f"{rows[match[0]]['id']}: check the coordinates or --anchor")
        return rows[match[0]]["id"]
    if not rows:
        return None
    tree = shapely.STRtree(shapes)
    hit = tree.query(shapely.centroid(shapely.union_all(centres)), predicate="within")
    return rows[int(hit[0])]["id"] if len(hit) else None


# -- evaluation --------------------------------------------------------------------------------
@dataclass
class Comparison:
    """The current city and each proposal side by side (the JSON shape of docs/compare.md)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    neighbours: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    parcels: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {"columns": self.columns, "parcels": self.parcels, "rows": self.rows, "neighbours": self.neighbours,
                "violations": self.violations}

    def value(self, indicator: str, column: str, parcel: str | None = None) -> Any:
        """One cell of the table."""
        for row in self.rows:
            if row["indicator"] == indicator and row.get("parcel") == parcel:
                return row["values"][column]
        raise KeyError(indicator)


def compare(city: City, names: Sequence[str], *, rules: Any = None, sunlight: bool = True,
            radius: float = NEIGHBOUR_RADIUS) -> Comparison:
    """The current city and the proposals ``names`` in one table: indicators of the parcels they
    stand on, compliance failures there, and the sunlight hours of their residential neighbours."""
    bound = load_rules(rules).bind(city)
    names = list(dict.fromkeys(names))
    tables = {n: proposal_buildings(city, n) for n in names}
    parcels = _parcels(city, bound, tables)
    neighbours = _neighbours(city, bound, tables, radius) if sunlight else []
    columns = ["current", *names]
    per: dict[str, dict[str, Any]] = {}
    for column in columns:
        table = tables.get(column)
        with city.store.temporary(CANDIDATE, table) if table is not None else nullcontext():
            per[column] = _evaluate(city, bound, parcels, neighbours, CANDIDATE if table is not None else None,
                                    sunlight)
    rows: list[dict[str, Any]] = []
    for parcel in parcels:
        for key, label in INDICATORS.items():
            rows.append({"indicator": key, "label": label, "parcel": parcel,
                         "values": {c: per[c]["indicators"].get(parcel, {}).get(key) for c in columns}})
    rows.append({"indicator": "violations", "label": "compliance failures on these parcels",
                 "values": {c: len(per[c]["violations"]) for c in columns}})
    if sunlight:
        rows.append({"indicator": "neighbour_sunlight_h", "label": "neighbours' mean sunlight hours",
                     "values": {c: _mean([h for h in per[c]["hours"].values() if h is not None]) for c in columns}})
        rows.append({"indicator": "neighbours_failing", "label": "neighbours below the sunlight minimum",
                     "values": {c: sum(1 for p in per[c]["passed"].values() if p is False) for c in columns}})
    effect = {n: [{"id": i, "before_h": per["current"]["hours"].get(i), "after_h": per[n]["hours"].get(i),
                   "delta_h": _delta(per["current"]["hours"].get(i), per[n]["hours"].get(i))}
                  for i in neighbours] for n in names}
    return Comparison(columns, rows, {n: [e for e in v if e["delta_h"]] for n, v in effect.items()},
                      {c: per[c]["violations"] for c in columns}, parcels)


def _parcels(city: City, rules: RuleSet, tables: dict[str, pa.Table]) -> list[str]:
    """The parcels any proposal's buildings stand on (by centroid), in id order."""
    if not tables or not rules.input("parcels").present:
        return []
    found: set[str] = set()
    rows = city.store.arrow(rules.input("parcels").relation("id, ST_AsWKB(geom) AS wkb")).to_pylist()
    if not rows:
        return []
    tree = shapely.STRtree(shapely.from_wkb([r["wkb"] for r in rows]))
    for table in tables.values():
        centres = shapely.centroid(shapely.from_wkb(table["wkb"].to_numpy(zero_copy_only=False)))
        found |= {rows[int(i)]["id"] for i in tree.query(centres, predicate="within")[1]}
    return sorted(found)


def _neighbours(city: City, rules: RuleSet, tables: dict[str, pa.Table], radius: float) -> list[str]:
    """Ids of the city's buildings within ``radius`` of any proposal's footprints."""
    if not tables or rules.missing("sunlight"):
        return []
    shapes = np.concatenate([shapely.from_wkb(t["wkb"].to_numpy(zero_copy_only=False)) for t in tables.values()])
    area = shapely.buffer(shapely.union_all(shapes), radius)
    rows = city.store.rows(rules.input("buildings").relation(
        "id", where="ST_Intersects(geom, ST_GeomFromWKB(?))"), [shapely.to_wkb(area)])
    return sorted(r[0] for r in rows)


def _evaluate(city: City, rules: RuleSet, parcels: list[str], neighbours: list[str], extra: str | None,
              sunlight: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"indicators": {}, "violations": [], "hours": {}, "passed": {}}
    if parcels:
        table = indicators_arrow(city, rules, extra=extra)
        wanted = set(parcels)
        for row in table.drop_columns([c for c in ("geom",) if c in table.column_names]).to_pylist():
            if row["parcel"] in wanted:
                out["indicators"][row["parcel"]] = {k: _plain(row.get(k)) for k in INDICATORS}
        checks = compliance_arrow(city, rules, [k for k in REVIEW_RULES if k in rules.enabled()],
                                  parcels=parcels, extra=extra)
        out["violations"] = [{"rule": r["rule"], "subject": r["subject"], "value": _plain(r["value"]),
                              "limit": _plain(r["limit"]), "reason": r.get("reason_en")}
                             for r in checks.drop_columns(["geom"]).to_pylist() if r["status"] == "fail"]
    if sunlight and neighbours:
        hours, _sun = sunlight_hours(city, rules, ids=neighbours, extra=extra)
        for row in hours.drop_columns(["geom"]).to_pylist():
            hours = _plain(row["hours"])
            out["hours"][row["subject"]] = hours
            out["passed"][row["subject"]] = bool(row["passed"]) if hours is not None else None
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else round(float(value), 4)
    return value


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 4)


__all__ = ["add_proposal", "compare", "Comparison", "list_proposals", "NEIGHBOUR_RADIUS", "INDICATORS"]
