"""The model's SQL, written once: which feature rows count, a layer's features as a relation, typed properties.

Why: every read of the city asks the same three things — *which rows are valid* (the current
city, or the city as it was at a time), *which features* (of these layers or classes) and *what is
this property as a number* (from the JSON ``properties`` column). They are spelled out here and
nowhere else, so as-of reads, per-backend tuning and desensitisation change in one place. The
pieces are SQL text in the city's one dialect (the store translates it per backend); values the
model controls (layer names, classes, times) are inlined as escaped literals so relations compose
freely, and a caller's own values stay ``?`` parameters of its statement.

Example:
    >>> features(layers=["buildings"], columns="id, geom", alias="b")
    "(SELECT id, geom FROM features WHERE valid_to IS NULL AND layer IN ('buildings')) AS b"
    >>> prop("far_limit")
    'TRY_CAST(json_extract_string(properties, \\'$."far_limit"\\') AS DOUBLE)'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

#: a time, or an interval (start, end) with None for an open end; None alone = the current city
AsOf = datetime | tuple[datetime | None, datetime | None] | None

#: the columns every feature row has, in the order reads return them
FEATURE_COLUMNS = ("id", "layer", "class", "name", "cim_level", "lod", "phase", "z_min", "z_max", "height",
                   "parent", "classification", "version", "valid_from", "valid_to", "properties", "geom")

#: what a source attribute is shown under when its name is taken by the model (``class`` → ``source:class``)
SOURCE_PREFIX = "source:"
_MODEL_NAMES = frozenset(FEATURE_COLUMNS) | {"geometry"}


def shown_name(name: str) -> str:
    """The name a source attribute has in outputs beside the feature columns (GeoJSON, OGC API items,
    ``city.features`` columns, CQL2 queryables).

    A name the model uses for its own columns (``id``, ``layer``, ``class``, ``name``, ``height``,
    ``geometry`` …, compared case-insensitively) is shown as ``source:<name>``, and so is a name that
    already starts with ``source:`` (so no two attributes can end up under one name); every other
    name is shown as it is. The stored properties keep the source's own names.

    Example:
        >>> shown_name("class"), shown_name("bgt_status"), shown_name("source:class")
        ('source:class', 'bgt_status', 'source:source:class')
    """
    if name.lower() in _MODEL_NAMES or name.startswith(SOURCE_PREFIX):
        return SOURCE_PREFIX + name
    return name


def source_name(shown: str) -> str | None:
    """The source attribute a shown name stands for (the inverse of ``shown_name``), or None when the
    name is the model's own (``class``) rather than an attribute's."""
    if shown.startswith(SOURCE_PREFIX):
        return shown[len(SOURCE_PREFIX):]
    return None if shown.lower() in _MODEL_NAMES else shown


def literal(value: Any) -> str:
    """A SQL literal for a value the model controls: text, number, bool, None or an aware datetime."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"time {value.isoformat()} has no time zone")
        return f"CAST('{value.astimezone(UTC).isoformat()}' AS TIMESTAMPTZ)"
    return "'" + str(value).replace("'", "''") + "'"


def in_list(column: str, values: Iterable[Any]) -> str:
    """``column IN (…)`` of literals; FALSE for no values (nothing matches)."""
    items = [literal(v) for v in values]
    return f"{column} IN ({', '.join(items)})" if items else "FALSE"


def validity(as_of: AsOf = None, alias: str = "") -> str:
    """Which versions of each feature count: current ones (``as_of=None``), those valid at a time, or
    those valid at some moment of an interval ``(start, end)`` (either end may be None)."""
    p = f"{alias}." if alias else ""
    if as_of is None:
        return f"{p}valid_to IS NULL"
    if isinstance(as_of, tuple):
        start, end = as_of
        parts = []
        if end is not None:
            parts.append(f"{p}valid_from <= {literal(end)}")
        if start is not None:
            parts.append(f"({p}valid_to IS NULL OR {p}valid_to > {literal(start)})")
        return " AND ".join(parts) or "TRUE"
    t = literal(as_of)
    return f"{p}valid_from <= {t} AND ({p}valid_to IS NULL OR {p}valid_to > {t})"


def json_path(name: str) -> str:
    """The JSON path of a top-level property, quoted so any name (Chinese, spaces, dots) works."""
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def prop(name: str, sql_type: str = "DOUBLE", alias: str = "") -> str:
    """One JSON property as a typed value: NULL when absent or not convertible."""
    p = f"{alias}." if alias else ""
    return f"TRY_CAST(json_extract_string({p}properties, {literal(json_path(name))}) AS {sql_type})"


def prop_param(sql_type: str = "DOUBLE", alias: str = "") -> str:
    """The same cast with the JSON path as a ``?`` parameter (give ``json_path(name)``)."""
    p = f"{alias}." if alias else ""
    return f"TRY_CAST(json_extract_string({p}properties, ?) AS {sql_type})"


def prop_text(name: str, alias: str = "") -> str:
    """One JSON property as text, exactly as stored (no cast)."""
    p = f"{alias}." if alias else ""
    return f"json_extract_string({p}properties, {literal(json_path(name))})"


def field_kind(arrow_type: str) -> str:
    """What a property of this Arrow type (as the catalogue records it, ``int64``, ``double`` …) holds:
    ``integer``, ``number``, ``boolean``, ``date``, ``date-time`` or ``string`` — the one mapping every
    output (SQL casts, OGC queryables, TileJSON) derives its own type names from.

    Example:
        >>> field_kind("int64"), field_kind("large_string"), field_kind("timestamp[us, tz=UTC]")
        ('integer', 'string', 'date-time')
    """
    t = arrow_type.lower()
    if t.startswith(("int", "uint")):
        return "integer"
    if t.startswith(("double", "float", "decimal", "halffloat")):
        return "number"
    if t.startswith("bool"):
        return "boolean"
    if t.startswith("timestamp"):
        return "date-time"
    if t.startswith("date"):
        return "date"
    return "string"


_SQL_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
              "date-time": "TIMESTAMP", "string": "VARCHAR"}


def sql_type(arrow_type: str) -> str:
    """The SQL type a property of this Arrow type is read as."""
    return _SQL_TYPES[field_kind(arrow_type)]


def quote(name: str) -> str:
    """A quoted identifier (column alias) for any name."""
    return '"' + name.replace('"', '""') + '"'


def features_where(*, layers: Iterable[str] | None = None, classes: Iterable[str] | None = None,
                   ids: Iterable[str] | None = None, as_of: AsOf = None, version: int | None = None,
                   with_geometry: bool = False, alias: str = "") -> str:
    """The predicate selecting feature rows: validity (or one layer ``version``), layers, classes, ids."""
    p = f"{alias}." if alias else ""
    parts = [f"{p}version = {int(version)}"] if version is not None else [validity(as_of, alias)]
    if layers is not None:
        parts.append(in_list(f"{p}layer", layers))
    if classes is not None:
        parts.append(in_list(f"{p}class", classes))
    if ids is not None:
        parts.append(in_list(f"{p}id", ids))
    if with_geometry:
        parts.append(f"{p}geom IS NOT NULL")
    return " AND ".join(parts)


def features(*, layers: Iterable[str] | None = None, classes: Iterable[str] | None = None,
             ids: Iterable[str] | None = None, as_of: AsOf = None, version: int | None = None,
             columns: str = "*", props: dict[str, str] | None = None, with_geometry: bool = False,
             where: str | None = None, alias: str | None = None) -> str:
    """Feature rows as a relation to put after FROM or JOIN: ``(SELECT columns FROM features WHERE …) AS alias``.

    ``props`` adds typed property columns (``{"far_limit": "DOUBLE"}``), each named as ``shown_name``
    says (a property ``class`` comes out as ``source:class``); ``where`` adds a predicate
    over the feature columns (no parameters: use literals). Without ``alias`` the bare SELECT is
    returned (for ``IN (…)``, ``EXISTS`` or a whole statement). A simple subquery like this is
    flattened by both backends' planners, so a join on it still probes the spatial index.
    """
    cols = columns
    if props:
        cols += "".join(f", {prop(name, t)} AS {quote(shown_name(name))}" for name, t in props.items())
    sql = (f"SELECT {cols} FROM features WHERE "
           + features_where(layers=layers, classes=classes, ids=ids, as_of=as_of, version=version,
                            with_geometry=with_geometry))
    if where:
        sql += f" AND ({where})"
    return f"({sql}) AS {alias}" if alias else sql


__all__ = ["AsOf", "FEATURE_COLUMNS", "SOURCE_PREFIX", "shown_name", "source_name", "literal", "in_list",
           "validity", "json_path", "prop", "prop_param",
           "prop_text", "field_kind", "sql_type", "quote", "features_where", "features"]
