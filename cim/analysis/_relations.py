"""SQL for the relations the planning analyses share: buildings, parcels, and which parcel holds which.

Why: indicators, compliance and the BIM review all ask "which buildings stand on this parcel, how
big and how tall are they"; they build their queries from these pieces so the definitions (floor
area = footprint × floors, building → parcel by centroid) are written once. A candidate building
that is not in the city yet (an IFC under review) joins as an extra relation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cim.model.centroid_join import holders
from cim.model.relations import prop

if TYPE_CHECKING:
    from cim.analysis.rules import RuleSet
    from cim.store.base import SQLRunner

#: parcel fields carried into results when the parcels layer has them
PARCEL_LABELS = ("block_id", "district", "land_use", "land_use_name")


def buildings_sql(rules: RuleSet, extra: str | None = None) -> str:
    """Current buildings: id, geom, height, floors, use, footprint (m²), name, storeys_known.

    ``storeys_known`` is false when neither the storeys nor the height are known: ``floors`` is then
    the one storey every building has at least, and a FAR that counts it is only a lower bound.
    ``extra`` names a table the store can see (id, wkb, height, floors, use, name) appended as candidates.
    """
    height = f"COALESCE(height, {prop('height')})"
    floors_field = rules.input("buildings").field_sql("floors")  # the field each layer's profile names
    floors = f"COALESCE({floors_field}, GREATEST(1, ROUND(COALESCE({height}, 0) / {rules.floor_height})))"
    known = f"({floors_field} IS NOT NULL OR {height} IS NOT NULL)"
    sql = rules.input("buildings").relation(
        f"id, geom, {height} AS height, {floors} AS floors, {prop('use', 'VARCHAR')} AS use, "
        f"ST_Area(geom) AS footprint, name, {known} AS storeys_known")
    if extra:
        sql += (" UNION ALL SELECT id, geom, height, floors, use, ST_Area(geom) AS footprint, name, "
                "floors IS NOT NULL AS storeys_known FROM "
                f"(SELECT id, ST_GeomFromWKB(wkb) AS geom, height, floors, use, name FROM {extra}) AS candidates")
    return sql


def building_shapes(rules: RuleSet, extra: str | None = None) -> list[str]:
    """The footprints (id, geom) of ``buildings_sql`` as separate relations: the city's, then ``extra``'s.

    A spatial join against each one on its own keeps the city's on the spatial index in PostGIS,
    which probes no index inside a CTE, nor through a UNION ALL with a temporary table.
    """
    shapes = [rules.input("buildings").relation("id, geom")]
    if extra:
        shapes.append(f"SELECT id, ST_GeomFromWKB(wkb) AS geom FROM {extra}")
    return shapes


def parcel_fields(city_fields: list[dict[str, str]], rules: RuleSet, keys: list[str]) -> dict[str, str]:
    """Column name → SQL for the parcel's limit fields the rules use and its label fields."""
    present = {f["name"] for f in city_fields}
    cols: dict[str, str] = {}
    for key in keys:
        settings = (rules.raw.get("rules") or {}).get(key) or {}
        field = settings.get("field")
        if not field:
            continue
        default = settings.get("default")
        sources = rules.input("parcels").source_field(field)  # e.g. 限高 for height_limit, by the profile
        value = rules.input("parcels").field_sql(field) if present & set(sources.values()) else "CAST(NULL AS DOUBLE)"
        cols[f"{key}_limit"] = f"COALESCE({value}, {float(default)})" if default is not None else value
    for label in PARCEL_LABELS:
        if label in present:
            cols[label] = prop(label, "VARCHAR")
    return cols


def parcels_sql(rules: RuleSet, cols: dict[str, str]) -> str:
    """Current parcels: id, name, geom, area (m²) and ``cols``."""
    extra = "".join(f", {sql} AS {name}" for name, sql in cols.items())
    return rules.input("parcels").relation(f"id, name, geom, ST_Area(geom) AS area{extra}")


def placed_sql(rules: RuleSet, store: SQLRunner | None = None) -> str:
    """Buildings with the parcel holding their centroid (NULL when none): needs CTE ``b``.

    An inner join, then an equality LEFT JOIN: inside larger queries DuckDB 1.5.5's LEFT
    SPATIAL_JOIN emitted an extra unmatched (NULL) row for a building it had matched. ``min``
    picks one parcel, deterministically, where parcels overlap. On DuckDB the parcels are read
    from ``features`` itself, not from CTE ``p``, and the join is a SPATIAL_JOIN; on PostGIS the
    pairs come from ``cim.model.centroid_join`` (an equality join on grid cells, no index probe
    per building).
    """
    inner = holders(store, rules.input("parcels").relation("id, geom"), "b")
    return f"SELECT b.*, m.parcel FROM b LEFT JOIN ({inner}) m ON m.id = b.id"


def per_parcel_sql() -> str:
    """Counts, footprint, floor area and max height per parcel: needs CTE ``bp``."""
    return ("SELECT parcel, count(*) AS buildings, sum(footprint) AS footprint_area, "
            "sum(footprint * floors) AS floor_area, max(height) AS max_height FROM bp "
            "WHERE parcel IS NOT NULL GROUP BY parcel")


def green_sql(rules: RuleSet) -> str:
    """Green space area inside each parcel: needs CTE ``p``."""
    return (f"SELECT p.id AS parcel, sum(ST_Area(ST_Intersection(p.geom, g.geom))) AS green_area "
            f"FROM p JOIN {rules.input('green_space').relation('geom', alias='g')} "
            "ON ST_Intersects(p.geom, g.geom) GROUP BY p.id")
