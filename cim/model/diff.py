"""Versions of a layer and the difference between two of them: the model's compare operations.

Why here: a version is the set of ``features`` rows an ingest (or a profile revision) wrote with
that ``version`` number, so a diff is one full outer join of two versions on the stable id — SQL
of the schema, written once for both backends (the store translates it). Only the rows that differ
leave the database; their attribute changes and geometry measures are computed here with shapely
(vectorised), so a 1 M-feature layer with 1 % changed moves ~10 000 rows to Python.

A version is named by its number or by a time (the version valid then): ``resolve_version``.

Example:
    >>> d = diff_layer(city, "buildings", 1, 2)                           # doctest: +SKIP
    >>> d.summary                                                         # doctest: +SKIP
    {'added': 1, 'removed': 1, 'modified': 2, 'unchanged': 996}
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.errors import LayerNotFound, QueryError
from cim.model.reads import parse_time
from cim.model.relations import features
from gis.crs import parse_crs, reproject

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

#: the feature columns compared besides the properties and the geometry
COMPARED_COLUMNS = ("class", "name", "parent", "z_min", "z_max", "height")
#: changes listed by default (``summary`` always counts them all)
DEFAULT_LIMIT = 10_000


@dataclass(frozen=True)
class VersionRef:
    """A resolved version of a layer: its number and when it became valid (None: no version yet)."""

    layer: str
    version: int
    time: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """``{"version": n, "time": ISO}``."""
        return {"version": self.version, "time": self.time.isoformat() if self.time else None}


def list_versions(city: City, layer: str | None = None, *, layers: list[str] | None = None) -> list[dict[str, Any]]:
    """Every version of ``layer`` (or of ``layers``, or of all layers), newest first, with when it
    became valid (``created_at``), when the next replaced it (``valid_to``, None: current), its
    source and the ingest's counts."""
    sql = ("SELECT v.layer, v.version, v.ingested_at, v.source, v.checksum, v.read, v.stored, v.repaired, "
           "v.rejected, l.version AS current FROM layer_versions v LEFT JOIN layers l ON l.name = v.layer")
    params: list[Any] = []
    if layer is not None:
        sql += " WHERE v.layer = ?"
        params.append(layer)
    rows = city.store.rows(sql + " ORDER BY v.layer, v.version", params)
    out: list[dict[str, Any]] = []
    for i, (name, version, at, source, checksum, read, stored, repaired, rejected, current) in enumerate(rows):
        if layers is not None and name not in layers:
            continue
        following = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == name else None
        out.append({"layer": name, "version": int(version), "created_at": _iso(at),
                    "valid_to": _iso(following[2]) if following else None,
                    "current": current is not None and int(current) == int(version),
                    "source": source, "checksum": checksum, "read": int(read), "stored": int(stored),
                    "repaired": int(repaired), "rejected": int(rejected)})
    out.sort(key=lambda r: (r["layer"], -r["version"]))
    return out


def resolve_version(city: City, layer: str, ref: int | str | datetime) -> VersionRef:
    """The version ``ref`` names: a number of the layer, or a time (the version valid then; version 0,
    an empty layer, before its first ingest). Unknown numbers and bad times are a QueryError."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        number = int(ref)
        if number > 2**31 - 1:
            raise QueryError(f"layer {layer!r} has no version {number}")
        at = city.store.scalar("SELECT ingested_at FROM layer_versions WHERE layer = ? AND version = ?",
                               [layer, number])
        if at is None:
            known = [r[0] for r in city.store.rows(
                "SELECT version FROM layer_versions WHERE layer = ? ORDER BY version", [layer])]
            raise QueryError(f"layer {layer!r} has no version {number}: it has {known or 'none'}")
        return VersionRef(layer, number, _aware(at))
    when = parse_time(ref) if isinstance(ref, str | datetime) else None
    if when is None:
        raise QueryError(f"cannot read {ref!r} as a version: give a number or an ISO time with a zone")
    row = city.store.rows("SELECT version, ingested_at FROM layer_versions WHERE layer = ? AND ingested_at <= ? "
                          "ORDER BY version DESC LIMIT 1", [layer, when])
    if not row:
        return VersionRef(layer, 0, None)
    return VersionRef(layer, int(row[0][0]), _aware(row[0][1]))


def layer_at(city: City, info: LayerInfo, ref: int | str | datetime) -> LayerInfo:
    """The catalogue entry ``info`` as it was at version or time ``ref``: the same layer and view with
    that version's number, count and time, so everything keyed by version (prepared tiles, kept
    tiles, 3D plans) serves the past version. LayerNotFound when the layer had no version then."""
    found = resolve_version(city, info.name, ref)
    if found.version == 0:
        raise LayerNotFound(f"no version of layer {info.name!r} at {ref}: its first version is later "
                            "(see GET /api/versions)")
    if found.version == info.version:
        return info
    stored = city.store.scalar("SELECT stored FROM layer_versions WHERE layer = ? AND version = ?",
                               [info.name, found.version])
    return replace(info, version=found.version, count=int(stored or 0),
                   updated_at=found.time.isoformat() if found.time else info.updated_at)


@dataclass
class FeatureChange:
    """One feature that differs: ``change`` is added, removed or modified."""

    id: str
    change: str
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    geometry_changed: bool = False
    measures: dict[str, float | None] = field(default_factory=dict)
    old_geom: Any = None
    new_geom: Any = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of docs/compare.md (no geometry)."""
        return {"id": self.id, "change": self.change, "attributes": self.attributes,
                "geometry_changed": self.geometry_changed, "measures": self.measures}


@dataclass
class LayerDiff:
    """What differs between two versions of a layer."""

    layer: str
    from_: VersionRef
    to: VersionRef
    summary: dict[str, int]
    changes: list[FeatureChange]
    truncated: bool = False
    crs: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``GET /collections/{layer}/diff`` (docs/compare.md)."""
        return {"layer": self.layer, "from": self.from_.as_dict(), "to": self.to.as_dict(),
                "summary": self.summary, "changes": [c.as_dict() for c in self.changes],
                "truncated": self.truncated}

    def by_id(self) -> dict[str, FeatureChange]:
        """The changes keyed by feature id."""
        return {c.id: c for c in self.changes}

    def to_geojson(self, crs: str | None = "EPSG:4326") -> dict[str, Any]:
        """A FeatureCollection: one Feature per change with the new geometry (the old one for removed
        features), in ``crs`` (lon/lat by default; None keeps the city CRS)."""
        geoms = np.array([c.old_geom if c.change == "removed" else c.new_geom for c in self.changes], dtype=object)
        if crs is not None and len(geoms):
            present = np.array([g is not None for g in geoms])
            if present.any():
                geoms[present] = reproject(geoms[present], parse_crs(self.crs), parse_crs(crs))
        items = []
        for change, geom in zip(self.changes, geoms, strict=True):
            props: dict[str, Any] = {"id": change.id, "change": change.change, "attributes": change.attributes,
                                     "geometry_changed": change.geometry_changed, **change.measures}
            items.append({"type": "Feature", "id": change.id, "properties": props,
                          "geometry": None if geom is None else json.loads(shapely.to_geojson(geom))})
        return {"type": "FeatureCollection", "layer": self.layer, "from": self.from_.as_dict(),
                "to": self.to.as_dict(), "summary": self.summary, "truncated": self.truncated, "features": items}


def diff_layer(city: City, layer: str, from_: int | str | datetime, to: int | str | datetime, *,
               limit: int | None = DEFAULT_LIMIT, coarse: bool = False,
               coarse_geometry: Callable[[str], str] | None = None,
               mask: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
               round_z: Callable[[float | None], float | None] | None = None,
               ignore: Sequence[str] = ()) -> LayerDiff:
    """Added, removed and modified features of ``layer`` from version ``from_`` to version ``to``.

    Features are matched by id. A feature is modified when a compared column, a property or its
    geometry differs; its ``attributes`` list each differing one ``{"old", "new"}`` and its
    ``measures`` the area and height deltas, the centroid's move and the Hausdorff distance (city
    CRS units). ``coarse`` (a desensitised view; the caller gives the access module's functions):
    geometries are compared and measured as ``coarse_geometry`` makes them, heights as ``round_z``
    rounds them, and changed attribute values are shown as ``mask`` shows them. ``ignore`` names
    attributes whose changes do not count (a source's row number such as ``fid`` after a format
    change, an export timestamp).
    """
    a, b = resolve_version(city, layer, from_), resolve_version(city, layer, to)
    geom = coarse_geometry("geom") if coarse and coarse_geometry else "geom"
    cols = f"id, class, name, parent, z_min, z_max, height, CAST(properties AS VARCHAR) AS props, {geom} AS geom"
    old = features(layers=[layer], version=a.version, columns=cols, alias="a")
    new = features(layers=[layer], version=b.version, columns=cols, alias="b")
    differs = " OR ".join([f"a.{c} IS DISTINCT FROM b.{c}" for c in COMPARED_COLUMNS]
                          + ["a.props IS DISTINCT FROM b.props",
                             # binary equality of the stored shapes (DuckDB's blob; PostGIS's = since 2.4)
                             "a.geom IS DISTINCT FROM b.geom"])
    side = ", ".join(f"{s}.{c} AS {s}_{c}" for s in "ab" for c in (*COMPARED_COLUMNS, "props"))
    sql = (f"SELECT coalesce(a.id, b.id) AS id, a.id IS NOT NULL AS in_old, b.id IS NOT NULL AS in_new, {side}, "
           f"ST_AsWKB(a.geom) AS a_geom, ST_AsWKB(b.geom) AS b_geom "
           f"FROM {old} FULL OUTER JOIN {new} ON a.id = b.id "
           f"WHERE a.id IS NULL OR b.id IS NULL OR {differs} ORDER BY 1")
    table = city.store.arrow(sql)
    total_new = int(city.store.scalar("SELECT stored FROM layer_versions WHERE layer = ? AND version = ?",
                                      [layer, b.version]) or 0) if b.version else 0
    changes = _changes(table, coarse=coarse, mask=mask, round_z=round_z, ignore=frozenset(ignore))
    summary = {"added": 0, "removed": 0, "modified": 0}
    for change in changes:
        summary[change.change] += 1
    summary["unchanged"] = total_new - summary["added"] - summary["modified"]
    truncated = limit is not None and len(changes) > limit
    return LayerDiff(layer, a, b, summary, changes[:limit] if truncated else changes, truncated, city.crs)


def _changes(table: pa.Table, *, coarse: bool, mask: Callable[[dict[str, Any]], dict[str, Any]] | None,
             round_z: Callable[[float | None], float | None] | None, ignore: frozenset[str]) -> list[FeatureChange]:
    rows = table.drop_columns(["a_geom", "b_geom"]).to_pylist()
    old_geoms = shapely.from_wkb(np.array(table.column("a_geom").to_pylist(), dtype=object))
    new_geoms = shapely.from_wkb(np.array(table.column("b_geom").to_pylist(), dtype=object))
    measures = _measures(old_geoms, new_geoms)
    same_geom = np.array([x == y for x, y in zip(table.column("a_geom").to_pylist(),
                                                 table.column("b_geom").to_pylist(), strict=True)], dtype=bool)
    out: list[FeatureChange] = []
    for i, row in enumerate(rows):
        kind = "modified" if row["in_old"] and row["in_new"] else ("added" if row["in_new"] else "removed")
        m = {k: _number(v[i]) for k, v in measures.items()}
        m["height_old"], m["height_new"] = _number(row["a_height"]), _number(row["b_height"])
        if coarse and round_z is not None:
            m["height_old"], m["height_new"] = round_z(m["height_old"]), round_z(m["height_new"])
        m["height_delta"] = (None if m["height_old"] is None or m["height_new"] is None
                             else m["height_new"] - m["height_old"])
        if kind == "added":
            m = {k: v for k, v in m.items() if k.endswith("_new")}
        elif kind == "removed":
            m = {k: v for k, v in m.items() if k.endswith("_old")}
        change = FeatureChange(row["id"], kind, old_geom=old_geoms[i], new_geom=new_geoms[i], measures=m)
        if kind == "modified":
            change.attributes = _attribute_changes(row, coarse=coarse, mask=mask, round_z=round_z, ignore=ignore)
            change.geometry_changed = not same_geom[i]
            if not change.attributes and not change.geometry_changed:
                continue  # the same values written differently (JSON key order): not a change
        out.append(change)
    return out


def _attribute_changes(row: dict[str, Any], *, coarse: bool, mask: Callable[[dict[str, Any]], dict[str, Any]] | None,
                       round_z: Callable[[float | None], float | None] | None,
                       ignore: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    old = {c: row[f"a_{c}"] for c in COMPARED_COLUMNS} | {"properties": json.loads(row["a_props"] or "{}")}
    new = {c: row[f"b_{c}"] for c in COMPARED_COLUMNS} | {"properties": json.loads(row["b_props"] or "{}")}
    if coarse and round_z is not None:
        for side in (old, new):
            for c in ("z_min", "z_max", "height"):
                side[c] = round_z(side[c])
    changes: dict[str, dict[str, Any]] = {}
    for c in COMPARED_COLUMNS:
        if old[c] != new[c]:
            changes[c] = {"old": old[c], "new": new[c]}
    po, pn = old["properties"], new["properties"]
    for key in sorted(set(po) | set(pn)):
        if po.get(key) != pn.get(key):
            changes[key] = {"old": po.get(key), "new": pn.get(key)}
    changes = {k: v for k, v in changes.items() if k not in ignore}
    if coarse and mask is not None and changes:
        shown_old = mask({k: v["old"] for k, v in changes.items()})
        shown_new = mask({k: v["new"] for k, v in changes.items()})
        changes = {k: {"old": shown_old[k], "new": shown_new[k]} for k in changes}
    return changes


def _measures(old: np.ndarray, new: np.ndarray) -> dict[str, np.ndarray]:
    """Areas, centroid move and Hausdorff distance, NaN where a side is missing."""
    area_old, area_new = shapely.area(old), shapely.area(new)
    both = ~(shapely.is_missing(old) | shapely.is_missing(new))
    moved = np.full(len(old), np.nan)
    hausdorff = np.full(len(old), np.nan)
    if both.any():
        moved[both] = shapely.distance(shapely.centroid(old[both]), shapely.centroid(new[both]))
        hausdorff[both] = shapely.hausdorff_distance(old[both], new[both])
    return {"area_old": area_old, "area_new": area_new, "area_delta": area_new - area_old,
            "moved": moved, "hausdorff": hausdorff}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else round(v, 6)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_time(value)
    return value if value.tzinfo else value.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _iso(value: Any) -> str | None:
    at = _aware(value)
    return at.isoformat() if at else None


__all__ = ["VersionRef", "FeatureChange", "LayerDiff", "COMPARED_COLUMNS", "list_versions", "resolve_version",
           "layer_at", "diff_layer"]
