"""Annotations (批注): notes on a point or an area, stored in the model, versioned, read by role.

An annotation has a text, a place (a GeoJSON Point or Polygon in lon/lat), an author, the role it
was written in, the time, and a *minimum role*: only that role and higher ones read it
(``cim.access.may_read``). Like features, annotations are versioned: an edit closes the current row
and adds the next version, a deletion closes it, and ``as_of`` reads what was there at a time.

Why here: the table is part of the schema the model layer owns; the server and the command line
call these functions.

Example:
    >>> note = add_annotation(city.store, text="渗水", geometry={"type": "Point", "coordinates": [120.17, 35.95]},
    ...                       author="wang", role="operator", min_role="operator")   # doctest: +SKIP
    >>> [a["text"] for a in list_annotations(city.store, role="viewer")]                  # doctest: +SKIP
    []
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from cim.access import ROLES, check_role, may_read, readable_minimums, require_role
from cim.errors import FeatureNotFound, ValidationError
from cim.model.reads import as_of_time
from cim.store.base import Store

#: longest annotation text, in characters
MAX_TEXT = 2000
#: most vertices of an annotated area
MAX_VERTICES = 1000

_COLUMNS = ("id", "version", "kind", "geometry", "text", "author", "role", "min_role", "feature", "created_at",
            "valid_from", "valid_to", "closed_by")


def check_geometry(geometry: Any) -> tuple[str, dict[str, Any]]:
    """``(kind, geometry)`` of a GeoJSON Point (``point``) or Polygon (``area``) in lon/lat, or a
    ValidationError saying what is wrong with it."""
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"annotation geometry is not JSON: {exc.msg}") from exc
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Point", "Polygon"):
        raise ValidationError("annotation geometry must be a GeoJSON Point or Polygon in lon/lat, "
                              'e.g. {"type": "Point", "coordinates": [120.17, 35.95]}')
    coordinates = geometry.get("coordinates")
    if geometry["type"] == "Point":
        _check_position(coordinates)
        return "point", {"type": "Point", "coordinates": [float(coordinates[0]), float(coordinates[1])]}
    if not isinstance(coordinates, list) or not coordinates:
        raise ValidationError("an annotated area needs coordinates: a list of rings, the outer ring first")
    rings = []
    vertices = 0
    for ring in coordinates:
        if not isinstance(ring, list) or len(ring) < 4:
            raise ValidationError("each ring of an annotated area needs at least 4 positions (closed)")
        for position in ring:
            _check_position(position)
        vertices += len(ring)
        if [float(v) for v in ring[0][:2]] != [float(v) for v in ring[-1][:2]]:
            raise ValidationError("each ring of an annotated area must end where it starts (closed)")
        rings.append([[float(p[0]), float(p[1])] for p in ring])
    if vertices > MAX_VERTICES:
        raise ValidationError(f"an annotated area may have at most {MAX_VERTICES} vertices (it has {vertices})")
    if _ring_area(rings[0]) == 0:
        raise ValidationError("an annotated area has no area: its outer ring is a line or a point")
    return "area", {"type": "Polygon", "coordinates": rings}


def _check_position(position: Any) -> None:
    if (not isinstance(position, list | tuple) or len(position) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                       for v in position[:2])):
        raise ValidationError(f"bad position {position!r}: give lon and lat in degrees")
    lon, lat = position[0], position[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(f"position [{lon}, {lat}] is outside lon/lat: give lon and lat in degrees")


def _ring_area(ring: list[list[float]]) -> float:
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:], strict=False))) / 2


def _check_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("an annotation needs a text")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"an annotation text may have at most {MAX_TEXT} characters (it has {len(text)})")
    return text.strip()


def add_annotation(store: Store, *, text: str, geometry: Any, author: str, role: str,
                   min_role: str | None = None, feature: str | None = None) -> dict[str, Any]:
    """Store a new annotation (its version 1) and return it.

    ``min_role`` (default: the writer's own ``role``) may not be above ``role``: nobody writes a note
    they could not read back.
    """
    check_role(role)
    minimum = check_role(min_role or role)
    if minimum not in readable_minimums(role):
        raise ValidationError(f"min_role {minimum} is above your role ({role}): choose one of "
                              f"{', '.join(readable_minimums(role))}")
    kind, shape = check_geometry(geometry)
    if not isinstance(author, str) or not author.strip():
        raise ValidationError("an annotation needs an author")
    if feature is not None and (not isinstance(feature, str) or len(feature) > 256):
        raise ValidationError("feature must be a feature id (text of at most 256 characters)")
    now = datetime.now(UTC)
    row = {"id": "a-" + uuid.uuid4().hex[:16], "version": 1, "kind": kind,
           "geometry": json.dumps(shape, separators=(",", ":")), "text": _check_text(text),
           "author": author.strip()[:200], "role": role, "min_role": minimum, "feature": feature,
           "created_at": now, "valid_from": now, "valid_to": None, "closed_by": None}
    with store.transaction():
        _insert(store, row)
    return _public(row)


def _insert(store: Store, row: dict[str, Any]) -> None:
    store.execute(f"INSERT INTO annotations ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                  [row[c] for c in _COLUMNS])


def list_annotations(store: Store, *, role: str, as_of: datetime | str | None = None,
                     bbox: tuple[float, float, float, float] | None = None,
                     feature: str | None = None) -> list[dict[str, Any]]:
    """The annotations ``role`` may read, oldest first: the current ones, or those valid at ``as_of``;
    ``bbox`` (west, south, east, north in degrees) keeps those whose place touches it."""
    minimums = readable_minimums(role)
    when = as_of_time(as_of)
    sql = f"SELECT {', '.join(_COLUMNS)} FROM annotations WHERE min_role IN ({', '.join('?' * len(minimums))})"
    params: list[Any] = list(minimums)
    if when is None:
        sql += " AND valid_to IS NULL"
    else:
        sql += " AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
        params += [when, when]
    if feature is not None:
        sql += " AND feature = ?"
        params.append(feature)
    rows = [dict(zip(_COLUMNS, r, strict=True)) for r in store.rows(sql + " ORDER BY created_at, id", params)]
    out = [_public(r) for r in rows]
    if bbox is not None:
        out = [a for a in out if _touches(a["geometry"], bbox)]
    return out


def _touches(geometry: dict[str, Any], bbox: tuple[float, float, float, float]) -> bool:
    points = [geometry["coordinates"]] if geometry["type"] == "Point" else geometry["coordinates"][0]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) <= bbox[2] and max(xs) >= bbox[0] and min(ys) <= bbox[3] and max(ys) >= bbox[1]


def get_annotation(store: Store, annotation_id: str, *, role: str) -> dict[str, Any]:
    """The current version of one annotation ``role`` may read (FeatureNotFound when missing or hidden:
    a hidden annotation looks like no annotation)."""
    row = _current(store, annotation_id)
    if row is None or not may_read(row["min_role"], role):
        raise FeatureNotFound(f"no annotation {annotation_id!r}")
    return _public(row)


def _current(store: Store, annotation_id: str) -> dict[str, Any] | None:
    found = store.rows(f"SELECT {', '.join(_COLUMNS)} FROM annotations WHERE id = ? AND valid_to IS NULL",
                       [annotation_id])
    return dict(zip(_COLUMNS, found[0], strict=True)) if found else None


def _may_change(row: dict[str, Any], role: str, action: str) -> None:
    """Its writer's role and higher ones may change an annotation (an admin any)."""
    require_role(role, row["role"] if row["role"] in ROLES else "admin", action)


def edit_annotation(store: Store, annotation_id: str, *, role: str, by: str, text: str | None = None,
                    geometry: Any = None, min_role: str | None = None) -> dict[str, Any]:
    """Write the next version of an annotation (the current one is closed) and return it."""
    with store.transaction():
        row = _current(store, annotation_id)
        if row is None or not may_read(row["min_role"], role):
            raise FeatureNotFound(f"no annotation {annotation_id!r}")
        _may_change(row, role, "editing this annotation")
        new = dict(row)
        if text is not None:
            new["text"] = _check_text(text)
        if geometry is not None:
            kind, shape = check_geometry(geometry)
            new["kind"], new["geometry"] = kind, json.dumps(shape, separators=(",", ":"))
        if min_role is not None:
            if check_role(min_role) not in readable_minimums(role):
                raise ValidationError(f"min_role {min_role} is above your role ({role})")
            new["min_role"] = min_role
        now = datetime.now(UTC)
        store.execute("UPDATE annotations SET valid_to = ?, closed_by = ? WHERE id = ? AND valid_to IS NULL",
                      [now, by, annotation_id])
        new.update(version=row["version"] + 1, author=by, role=role, valid_from=now, valid_to=None, closed_by=None)
        _insert(store, new)
    return _public(new)


def delete_annotation(store: Store, annotation_id: str, *, role: str, by: str) -> None:
    """Close an annotation (its versions stay, readable with ``as_of``)."""
    with store.transaction():
        row = _current(store, annotation_id)
        if row is None or not may_read(row["min_role"], role):
            raise FeatureNotFound(f"no annotation {annotation_id!r}")
        _may_change(row, role, "deleting this annotation")
        store.execute("UPDATE annotations SET valid_to = ?, closed_by = ? WHERE id = ? AND valid_to IS NULL",
                      [datetime.now(UTC), by, annotation_id])


def annotation_history(store: Store, annotation_id: str, *, role: str) -> list[dict[str, Any]]:
    """Every version of an annotation ``role`` may read, oldest first."""
    rows = store.rows(f"SELECT {', '.join(_COLUMNS)} FROM annotations WHERE id = ? ORDER BY version",
                      [annotation_id])
    out = [_public(dict(zip(_COLUMNS, r, strict=True))) for r in rows]
    out = [a for a in out if may_read(a["min_role"], role)]
    if not out:
        raise FeatureNotFound(f"no annotation {annotation_id!r}")
    return out


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out["geometry"], str):
        out["geometry"] = json.loads(out["geometry"])
    for key in ("created_at", "valid_from", "valid_to"):
        value = out[key]
        if isinstance(value, datetime):
            out[key] = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return out


__all__ = [
    "MAX_TEXT",
    "MAX_VERTICES",
    "check_geometry",
    "add_annotation",
    "list_annotations",
    "get_annotation",
    "edit_annotation",
    "delete_annotation",
    "annotation_history",
]
