"""CQL2 filters (text and JSON) → parametrised DuckDB SQL over the ``features`` table.

pygeofilter parses the filter; this module walks its syntax tree and writes SQL in which every
value the client sent is a bound parameter and every name is looked up in a fixed table: the
feature columns or the layer's catalogued fields (an unknown property is a QueryError naming the
queryables). Nothing from the request is ever pasted into SQL text.

Spatial literals are read in ``filter_crs`` (CRS84 by default) and reprojected to the city CRS in
Python. For a desensitised ("coarse") view only open attributes can be filtered on, and spatial
predicates see the coarsened geometry, so a filter cannot be used to probe hidden detail.

Example:
    >>> where = compile_filter("floors > 10 AND S_INTERSECTS(geometry, POINT(120.18 35.95))",
    ...                        "cql2-text", queryables(info), city_crs="EPSG:4549")  # doctest: +SKIP
    >>> where.sql, where.params                                                     # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cim.access import OPEN_FIELDS, coarse_geometry_sql
from cim.errors import QueryError, first_line
from cim.model.relations import field_kind, json_path, prop_param, shown_name, source_name

#: columns of ``features`` a filter may name, with their JSON-schema type
CORE_QUERYABLES: dict[str, str] = {
    "id": "string", "class": "string", "name": "string", "height": "number", "z_min": "number",
    "z_max": "number", "lod": "string", "phase": "string", "cim_level": "integer", "parent": "string",
    "valid_from": "date-time", "valid_to": "date-time",
}
GEOMETRY_NAMES = ("geometry", "geom")
MAX_FILTER_CHARS = 20_000

_SQL_TYPES = {"number": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN", "string": "VARCHAR",
              "date-time": "TIMESTAMPTZ", "date": "DATE"}


@dataclass
class Where:
    """A SQL predicate and its parameters, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)


def queryables(fields: list[dict[str, str]], *, view: str = "full") -> dict[str, str]:
    """Property name → JSON-schema type a filter may use on a layer (``geometry`` included).

    In a coarse view only open attributes are queryable.
    """
    out = dict(CORE_QUERYABLES)
    for f in fields:  # an attribute named like a feature column is ``source:<name>`` (as in the items)
        out.setdefault(shown_name(f["name"]), field_kind(f.get("type", "string")))
    if view == "coarse":
        out = {k: v for k, v in out.items() if k in ("id", "class", "name") or source_name(k) in OPEN_FIELDS}
    out["geometry"] = "geometry"
    return out


def parse_filter(text: str | dict, lang: str = "cql2-text") -> Any:
    """The pygeofilter syntax tree of a CQL2 text or JSON filter; QueryError when it does not parse."""
    if isinstance(text, str) and len(text) > MAX_FILTER_CHARS:
        raise QueryError(f"filter longer than {MAX_FILTER_CHARS} characters: simplify it")
    try:
        if lang == "cql2-text":
            from pygeofilter.parsers.cql2_text import parse

            return _distance_predicates(parse(_distance_calls_text(text)))
        if lang == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_json

            tree = json.loads(text) if isinstance(text, str) else text
            return _distance_predicates(parse_json(_distance_calls_json(tree)))
    except RecursionError as exc:
        raise QueryError("filter nested too deeply: simplify it") from exc
    except Exception as exc:
        raise QueryError(f"bad {lang} filter: {first_line(exc)[:200]}") from exc
    raise QueryError(f"unknown filter-lang {lang!r}: use cql2-text or cql2-json")


_DISTANCE_OPS = {"s_dwithin": "cim_s_dwithin", "s_dbeyond": "cim_s_dbeyond"}


def _distance_calls_text(text: str) -> str:
    """``S_DWITHIN(a, b, d[, units])`` (and ``S_DBEYOND``) as a function compared with TRUE, which the
    CQL2 text grammar of pygeofilter parses; ``_distance_predicates`` turns it back into the predicate."""
    out, i, lowered = [], 0, text.lower()
    while i < len(text):
        if text[i] == "'":  # copy a string literal untouched ('' is an escaped quote)
            j = i + 1
            while j < len(text) and not (text[j] == "'" and text[j + 1:j + 2] != "'"):
                j += 2 if text[j] == "'" else 1
            out.append(text[i:j + 1])
            i = j + 1
            continue
        name = next((n for n in _DISTANCE_OPS if lowered.startswith(n, i) and lowered[i + len(n):].lstrip()[:1] == "("
                     and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))), None)
        if name is None:
            out.append(text[i])
            i += 1
            continue
        close = _closing_paren(text, text.index("(", i))
        out.append(f"({_DISTANCE_OPS[name]}{text[text.index('(', i):close + 1]} = TRUE)")
        i = close + 1
    return "".join(out)


def _closing_paren(text: str, start: int) -> int:
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            i = text.index("'", i + 1) if "'" in text[i + 1:] else len(text)
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise QueryError("unbalanced parentheses in filter")


def _distance_calls_json(node: Any) -> Any:
    """CQL2 JSON ``{"op": "s_dwithin", "args": [...]}`` in the same function form as the text."""
    if isinstance(node, list):
        return [_distance_calls_json(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _distance_calls_json(v) for k, v in node.items()}
    op = str(node.get("op", "")).lower()
    if op in _DISTANCE_OPS:
        return {"op": "=", "args": [{"function": {"name": _DISTANCE_OPS[op], "arguments": node.get("args", [])}},
                                    True]}
    return node


def _distance_predicates(tree: Any) -> Any:
    """Replace the function form of S_DWITHIN/S_DBEYOND by pygeofilter's distance predicates."""
    from pygeofilter import ast

    if isinstance(tree, ast.Equal) and isinstance(tree.lhs, ast.Function) and tree.rhs is True \
            and tree.lhs.name in _DISTANCE_OPS.values():
        args = list(tree.lhs.arguments)
        if len(args) not in (3, 4):
            raise QueryError("S_DWITHIN/S_DBEYOND take a geometry, a geometry, a distance and optional units")
        units = args[3] if len(args) == 4 else "meters"
        units = units.name if isinstance(units, ast.Attribute) else str(units)
        cls = ast.DistanceWithin if tree.lhs.name == "cim_s_dwithin" else ast.DistanceBeyond
        return cls(_distance_predicates(args[0]), _distance_predicates(args[1]), args[2], units)
    if isinstance(tree, ast.Node):
        node = copy.copy(tree)
        for name, value in vars(tree).items():
            setattr(node, name, _distance_predicates(value))
        return node
    if isinstance(tree, list):
        return [_distance_predicates(n) for n in tree]
    return tree


def compile_filter(text: str | dict, lang: str, allowed: dict[str, str], *, city_crs: str,
                   filter_crs: str = "OGC:CRS84", view: str = "full") -> Where:
    """Parse a filter and translate it to SQL over ``features`` (see the module docstring)."""
    tree = parse_filter(text, lang)
    compiler = _Compiler(allowed, city_crs, filter_crs, view)
    try:
        sql = compiler.node(tree)
    except RecursionError as exc:
        raise QueryError("filter nested too deeply: simplify it") from exc
    return Where(sql, compiler.params)


def property_sql(name: str, allowed: dict[str, str]) -> str:
    """SQL for a property: a feature column, or a typed read of the properties JSON (path bound later)."""
    if name in CORE_QUERYABLES:
        return f'"{name}"'
    return prop_param(_SQL_TYPES.get(allowed[name], "VARCHAR"))


class _Compiler:
    def __init__(self, allowed: dict[str, str], city_crs: str, filter_crs: str, view: str) -> None:
        self.allowed = allowed
        self.city_crs = city_crs
        self.filter_crs = filter_crs
        self.view = view
        self.params: list[Any] = []

    # -- dispatch ------------------------------------------------------------------------------
    def node(self, n: Any) -> str:
        from pygeofilter import ast

        kind = type(n).__name__
        method = getattr(self, f"_{kind}", None)
        if method is not None:
            return method(n)
        if isinstance(n, ast.Comparison):
            return self._comparison(n)
        if isinstance(n, ast.SpatialComparisonPredicate):
            return self._spatial(n)
        if isinstance(n, ast.TemporalPredicate):
            return self._temporal(n)
        if isinstance(n, ast.Arithmetic):
            return f"({self.node(n.lhs)} {n.op.value} {self.node(n.rhs)})"
        if isinstance(n, ast.Node):
            raise QueryError(f"{kind} is not supported in filters here")
        return self.literal(n)

    def literal(self, value: Any) -> str:
        from pygeofilter import values

        if isinstance(value, values.Geometry | values.Envelope):
            return self._geometry_literal(value)
        if isinstance(value, bool | int | float | str | datetime | date) or value is None:
            if isinstance(value, float) and value != value:
                raise QueryError("NaN is not a value a filter can compare with")
            self.params.append(value)
            return "?"
        raise QueryError(f"a {type(value).__name__} value cannot be used here")

    # -- logic -------------------------------------------------------------------------------
    def _And(self, n: Any) -> str:
        return f"({self.node(n.lhs)} AND {self.node(n.rhs)})"

    def _Or(self, n: Any) -> str:
        return f"({self.node(n.lhs)} OR {self.node(n.rhs)})"

    def _Not(self, n: Any) -> str:
        return f"(NOT {self.node(n.sub_node)})"

    def _Include(self, n: Any) -> str:
        return "FALSE" if n.not_ else "TRUE"

    # -- values ------------------------------------------------------------------------------
    def _Attribute(self, n: Any) -> str:
        name = n.name
        if name in GEOMETRY_NAMES:
            return coarse_geometry_sql("geom") if self.view == "coarse" else "geom"
        if name not in self.allowed:
            names = ", ".join(sorted(self.allowed))
            raise QueryError(f"unknown property {name!r} in filter; queryables are: {names}")
        sql = property_sql(name, self.allowed)
        if "?" in sql:
            self.params.append(json_path(source_name(name) or name))
        return sql

    def _Function(self, n: Any) -> str:
        fn = {"lower": "lower", "upper": "upper", "casei": "lower", "accenti": "strip_accents",
              "strip_accents": "strip_accents"}.get(n.name.lower())
        if fn is None or len(n.arguments) != 1:
            raise QueryError(f"unknown function {n.name!r}: filters support CASEI, ACCENTI, LOWER, UPPER")
        return f"{fn}({self.node(n.arguments[0])})"

    # -- comparisons -----------------------------------------------------------------------------
    def _comparison(self, n: Any) -> str:
        self._check_types(n.lhs, n.rhs)
        return f"({self.node(n.lhs)} {n.op.value} {self.node(n.rhs)})"

    def _Between(self, n: Any) -> str:
        self._check_types(n.lhs, n.low)
        self._check_types(n.lhs, n.high)
        neg = "NOT " if n.not_ else ""
        return f"({self.node(n.lhs)} {neg}BETWEEN {self.node(n.low)} AND {self.node(n.high)})"

    def _Like(self, n: Any) -> str:
        if not isinstance(n.pattern, str):
            raise QueryError("LIKE needs a text pattern")
        _check_like_pattern(n.pattern)
        lhs = self.node(n.lhs)
        # CQL2 fixes the wildcards: % any run, _ one character, \ escapes (pygeofilter reports ".")
        self.params.append(_like_pattern(n.pattern, "%", "_", "\\"))
        op = ("NOT " if n.not_ else "") + ("ILIKE" if n.nocase else "LIKE")
        return f"({lhs} {op} ? ESCAPE '\\')"

    def _In(self, n: Any) -> str:
        if not n.sub_nodes:
            raise QueryError("IN needs at least one value")
        lhs = self.node(n.lhs)
        items = ", ".join(self.node(v) for v in n.sub_nodes)
        return f"({lhs} {'NOT ' if n.not_ else ''}IN ({items}))"

    def _IsNull(self, n: Any) -> str:
        return f"({self.node(n.lhs)} IS {'NOT ' if n.not_ else ''}NULL)"

    def _check_types(self, lhs: Any, rhs: Any) -> None:
        from pygeofilter import ast

        if not isinstance(lhs, ast.Attribute) or isinstance(rhs, ast.Node):
            return
        kind = self.allowed.get(lhs.name)
        numeric = kind in ("number", "integer")
        if numeric and (isinstance(rhs, str) or isinstance(rhs, bool)):
            raise QueryError(f"property {lhs.name!r} is a number; compare it with a number, not {rhs!r}")
        if kind == "string" and isinstance(rhs, int | float) and not isinstance(rhs, bool):
            raise QueryError(f"property {lhs.name!r} is text; quote the value: '{rhs}'")

    # -- space -----------------------------------------------------------------------------------
    _SPATIAL = {"INTERSECTS": "ST_Intersects", "DISJOINT": "ST_Disjoint", "CONTAINS": "ST_Contains",
                "WITHIN": "ST_Within", "TOUCHES": "ST_Touches", "CROSSES": "ST_Crosses",
                "OVERLAPS": "ST_Overlaps", "EQUALS": "ST_Equals"}

    def _spatial(self, n: Any) -> str:
        fn = self._SPATIAL.get(n.op.name)
        if fn is None:
            raise QueryError(f"spatial operator {n.op.name} is not supported")
        return f"{fn}({self._spatial_arg(n.lhs)}, {self._spatial_arg(n.rhs)})"

    def _spatial_arg(self, v: Any) -> str:
        from pygeofilter import ast, values

        if isinstance(v, ast.Attribute) and v.name in GEOMETRY_NAMES:
            return self._Attribute(v)
        if isinstance(v, values.Geometry | values.Envelope):
            return self._geometry_literal(v)
        raise QueryError("spatial predicates compare the geometry property with a geometry literal")

    def _DistanceWithin(self, n: Any) -> str:
        return self._distance(n, "ST_DWithin")

    def _DistanceBeyond(self, n: Any) -> str:
        return f"(NOT {self._distance(n, 'ST_DWithin')})"

    def _distance(self, n: Any, fn: str) -> str:
        units = (n.units or "meters").lower()
        scale = {"meters": 1.0, "metres": 1.0, "m": 1.0, "kilometers": 1000.0, "km": 1000.0}.get(units)
        if scale is None or not isinstance(n.distance, int | float) or not 0 <= n.distance < 1e7:
            raise QueryError("distance must be a number of meters (or kilometers) between 0 and 10 000 km")
        lhs, rhs = self._spatial_arg(n.lhs), self._spatial_arg(n.rhs)
        self.params.append(float(n.distance) * scale)
        return f"{fn}({lhs}, {rhs}, ?)"

    def _BBox(self, n: Any) -> str:
        from pygeofilter import values

        env = values.Envelope(n.minx, n.maxx, n.miny, n.maxy)
        return f"ST_Intersects({self._spatial_arg(n.lhs)}, {self._geometry_literal(env, crs=n.crs)})"

    def _geometry_literal(self, value: Any, crs: str | None = None) -> str:
        import shapely

        from serving.features.crs import to_city

        try:
            geom = shapely.geometry.shape(value.geometry if hasattr(value, "geometry") else value)
        except Exception as exc:
            raise QueryError(f"bad geometry literal in filter: {first_line(exc)[:200]}") from exc
        if geom.is_empty or not _finite_bounds(geom.bounds):
            raise QueryError("geometry literal in filter is empty or has non-finite coordinates")
        import numpy as np

        geom = to_city(np.array([geom], dtype=object), crs or self.filter_crs, self.city_crs)[0]
        self.params.append(shapely.to_wkb(geom))
        return "ST_GeomFromWKB(?)"

    # -- time ------------------------------------------------------------------------------------
    def _temporal(self, n: Any) -> str:
        start, end = self._interval(n.rhs)
        op = n.op.name
        if op == "BEFORE":
            return self._bind(f"({self.node(n.lhs)} < ?)", start)
        if op == "AFTER":
            return self._bind(f"({self.node(n.lhs)} > ?)", end)
        if op == "TEQUALS" and start == end:
            return self._bind(f"({self.node(n.lhs)} = ?)", start)
        if op not in ("DURING", "INTERSECTS", "TOVERLAPS", "BEFORE_OR_DURING", "DURING_OR_AFTER"):
            raise QueryError(f"temporal operator {op} is not supported; use T_BEFORE, T_AFTER, T_DURING, T_EQUALS")
        lo = None if op == "BEFORE_OR_DURING" else start
        hi = None if op == "DURING_OR_AFTER" else end
        if lo is None and hi is None:
            return "TRUE"
        lhs = self.node(n.lhs)
        if lo is not None and hi is not None:
            self.params += [lo, hi]
            return f"({lhs} BETWEEN ? AND ?)"
        return self._bind(f"({lhs} >= ?)", lo) if lo is not None else self._bind(f"({lhs} <= ?)", hi)

    def _bind(self, sql: str, value: Any) -> str:
        if value is None:
            raise QueryError("an open interval end cannot be compared here")
        self.params.append(value)
        return sql

    def _interval(self, v: Any) -> tuple[Any, Any]:
        from pygeofilter import values

        if isinstance(v, values.Interval):
            return v.start, v.end
        if isinstance(v, datetime | date):
            return v, v
        raise QueryError("temporal predicates compare a time property with a TIMESTAMP, DATE or INTERVAL")


#: a LIKE pattern with more '%' than this can take seconds a row to match (backtracking): refused
MAX_LIKE_WILDCARDS = 4
MAX_LIKE_CHARS = 200


def _check_like_pattern(pattern: str) -> None:
    """Refuse patterns whose matching cost can explode (many '%') or that are absurdly long."""
    unescaped = pattern.replace("\\\\", "").replace("\\%", "")
    if unescaped.count("%") > MAX_LIKE_WILDCARDS:
        raise QueryError(f"LIKE pattern with more than {MAX_LIKE_WILDCARDS} '%' wildcards: use fewer, "
                         "e.g. '%tower%'")
    if len(pattern) > MAX_LIKE_CHARS:
        raise QueryError(f"LIKE pattern longer than {MAX_LIKE_CHARS} characters")


def _like_pattern(pattern: str, wildcard: str, single: str, escape: str) -> str:
    """The CQL2 pattern as SQL LIKE text, with every run of wildcards written as its ``_``s then one
    ``%`` (``%_%_%`` matches what ``__%`` matches, without the backtracking); a pattern whose match
    cost still grows with a power of the text's length (a ``_`` next to one of several ``%``) is refused."""
    tokens = _like_tokens(pattern, wildcard, single, escape)
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if token in ("%", "_"):
            run.append(token)
            continue
        if run:
            out.append("_" * run.count("_") + ("%" if "%" in run else ""))
            run = []
        out.append(token)
    text = "".join(out)
    if text.count("%") - text.count("\\%") > 1 and ("_%" in text or "%_" in text):
        raise QueryError("LIKE pattern with a '_' next to a '%' and more than one '%': its matching cost grows "
                         "with a power of the text's length; use '%' alone, e.g. '%tower%'")
    return text


def _like_tokens(pattern: str, wildcard: str, single: str, escape: str) -> list[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        if ch == wildcard:
            out.append("%")
        elif ch == single:
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    return out


def _finite_bounds(bounds: tuple[float, ...]) -> bool:
    import math

    return all(math.isfinite(b) for b in bounds)




__all__ = ["Where", "queryables", "parse_filter", "compile_filter", "property_sql", "json_path",
           "CORE_QUERYABLES", "GEOMETRY_NAMES"]
