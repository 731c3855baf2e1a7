"""The city's SQL, written once (DuckDB dialect), spoken to PostgreSQL + PostGIS.

Every module above the store writes one SQL text. ``DuckDBStore`` runs it as it is; ``PostGISStore``
runs ``to_postgres(sql)``: sqlglot transpiles the dialect, and a few transforms cover what differs
between DuckDB-spatial and PostGIS (``ST_AsWKB`` is ``ST_AsBinary``, ``ST_Union_Agg`` is the
aggregate ``ST_Union``, ``TRY_CAST`` becomes a function that answers NULL instead of failing, the
R-tree index is a GiST index, ``time_bucket`` is ``date_bin`` from the same origin, ``?``
parameters become ``%s``). Translations are cached: the same
statement text is translated once per process.

Example:
    >>> to_postgres("SELECT ST_AsWKB(geom) FROM features WHERE id = ?")
    'SELECT ST_ASBINARY(geom) FROM features WHERE id = %s'
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

from cim.errors import QueryError, first_line

_PLACEHOLDER = "__cim_param__"

#: DuckDB-spatial function → PostGIS function of the same meaning
_RENAMED = {
    "ST_ASWKB": "ST_AsBinary",
    "ST_UNION_AGG": "ST_Union",
    "ST_GEOMETRYTYPE": "cim_geometry_type",  # DuckDB answers POLYGON, PostGIS ST_GeometryType ST_Polygon
    "ST_READ": None,  # reading files is DuckDB's: refused with a message
    "EPOCH_US": "cim_epoch_us",
    "HASH": "cim_hash",
    "LIST_CONTAINS": "cim_list_contains",
}

#: TRY_CAST target → the compat function that returns NULL where a cast would fail
_TRY = {
    exp.DataType.Type.DOUBLE: "cim_try_double",
    exp.DataType.Type.FLOAT: "cim_try_double",
    exp.DataType.Type.BIGINT: "cim_try_bigint",
    exp.DataType.Type.INT: "cim_try_bigint",
    exp.DataType.Type.BOOLEAN: "cim_try_boolean",
    exp.DataType.Type.DATE: "cim_try_date",
    exp.DataType.Type.TIMESTAMP: "cim_try_timestamp",
    exp.DataType.Type.TIMESTAMPTZ: "cim_try_timestamptz",
}

#: where DuckDB's ``time_bucket`` starts counting buckets that are not months
_BUCKET_ORIGIN = "2000-01-03 00:00:00+00"

_RTREE = re.compile(r"\bUSING\s+RTREE\b", re.IGNORECASE)
#: ``?::VARCHAR[]`` does not parse (a cast straight after a parameter), ``(?)::VARCHAR[]`` does;
#: quoted text is matched first and left as it is
_PARAM_CAST = re.compile(r"('(?:[^']|'')*')|\?::")


def to_postgres(sql: str) -> str:
    """The PostgreSQL text of one DuckDB-dialect statement (``%s`` for each ``?``)."""
    return _translate(sql)


@lru_cache(maxsize=4096)
def _translate(sql: str) -> str:
    source = _PARAM_CAST.sub(lambda m: m.group(1) or "(?)::", _RTREE.sub("USING GIST", sql))
    try:
        trees = sqlglot.parse(source, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"SQL failed: {first_line(exc)}") from exc
    out = []
    for tree in trees:
        if tree is None:
            continue
        tree = _one_parse_per_row(tree.transform(_rewrite))
        out.append(tree.sql(dialect="postgres"))
    text = "; ".join(out)
    # psycopg reads %s as a parameter: literal percent signs are doubled, then the markers swapped in
    return text.replace("%", "%%").replace(_PLACEHOLDER, "%s")


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Placeholder):
        return exp.Var(this=_PLACEHOLDER)
    if isinstance(node, exp.TryCast):
        target = node.args["to"]
        func = _TRY.get(target.this)
        if func is None:  # text and the like never fail
            return exp.Cast(this=node.this.transform(_rewrite), to=target)
        inner = node.this.transform(_rewrite)
        return exp.Anonymous(this=func, expressions=[exp.Cast(this=inner, to=exp.DataType.build("text"))])
    if isinstance(node, (exp.JSONExtractScalar, exp.JSONExtract)) and isinstance(node.expression, exp.Placeholder):
        # a bound path ('$."floors"') is a JSON path, not a key: PostgreSQL's ->> would read it as a key
        found = f"JSONB_PATH_QUERY_FIRST(CAST({_pg(node.this)} AS JSONB), CAST({_PLACEHOLDER} AS JSONPATH))"
        scalar = isinstance(node, exp.JSONExtractScalar)
        return sqlglot.parse_one(f"({found} #>> '{{}}')" if scalar else found, read="postgres")
    if isinstance(node, exp.ColumnDef) and _is_text(node.args.get("kind")):
        # text compares and sorts by code point, as in DuckDB, whatever the database's locale
        collate = exp.ColumnConstraint(kind=exp.CollateColumnConstraint(this=exp.Identifier(this="C", quoted=True)))
        node.set("constraints", [*(node.args.get("constraints") or []), collate])
        return node
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.BLOB:
        return exp.DataType.build("bytea")
    if isinstance(node, exp.DateBin) and not any(node.args.get(k) for k in ("unit", "zone", "origin")):
        # DuckDB's time_bucket counts micro/day buckets from 2000-01-03 (a Monday, in UTC)
        return exp.Anonymous(this="date_bin", expressions=[
            node.this.transform(_rewrite), node.expression.transform(_rewrite), exp.Literal.string(_BUCKET_ORIGIN)])
    if isinstance(node, exp.Round):  # PostgreSQL rounds a double's halves to even, DuckDB away from zero
        return exp.Anonymous(this="cim_round", expressions=[a.transform(_rewrite) for a in _args(node)])
    name = _function_name(node)
    if name == "PRINTF":
        return _printf(node)
    if name == "TO_MICROSECONDS":
        return sqlglot.parse_one(f"(({_pg(_args(node)[0])}) * INTERVAL '1 microsecond')", read="postgres")
    if name in ("ARG_MIN", "ARG_MAX"):
        value, key = (_pg(a) for a in _args(node)[:2])
        order = "" if name == "ARG_MIN" else " DESC"
        return sqlglot.parse_one(
            f"(ARRAY_AGG({value} ORDER BY {key}{order} NULLS LAST) FILTER (WHERE {key} IS NOT NULL))[1]",
            read="postgres")
    if name and name in _RENAMED:
        target = _RENAMED[name]
        if target is None:
            raise QueryError(f"{name} reads files inside DuckDB and has no PostGIS equivalent")
        return exp.Anonymous(this=target, expressions=[a.transform(_rewrite) for a in _args(node)])
    return node


#: the lateral relation holding a row's properties, parsed once (see ``_one_parse_per_row``)
_PROPS = "cim_props"
#: PostgreSQL cuts identifiers at 63 bytes: longer property names keep their own extraction
_MAX_NAME = 63


def _one_parse_per_row(tree: exp.Expression) -> exp.Expression:
    """Properties of ``features`` read once per row, not once per property.

    ``json_extract_path_text`` parses a row's whole JSON text on every call: a query reading nine
    properties of each parcel parsed each one nine times. Where one SELECT over ``features`` reads
    two or more named properties, they come instead from one ``json_to_record`` of the row (a
    LEFT JOIN LATERAL, so no row is lost), which gives the same text: strings unescaped, other
    values as written, JSON null as NULL, the last of duplicate keys; a row whose properties are
    not an object reads NULL for each, as the path extraction does.
    """
    for select in list(tree.find_all(exp.Select)):
        source = select.args.get("from_") or select.args.get("from")
        table = source.this if source is not None else None
        if select.args.get("joins") or not isinstance(table, exp.Table) or table.name.lower() != "features" \
                or table.args.get("db") or any(_bare_star(e) for e in select.expressions):
            continue
        name = table.alias_or_name
        found = [(node, key) for node in select.walk(prune=lambda n, s=select: isinstance(n, exp.Select) and n is not s)
                 if isinstance(node, exp.JSONExtractScalar) and (key := _property_key(node, name)) is not None]
        keys = list(dict.fromkeys(key for _, key in found))
        if len(found) < 2:
            continue
        for node, key in found:  # numbered names: a property called "height" must not shadow the column
            column = exp.column(f"cim_p{keys.index(key)}", table=_PROPS)
            # an unnamed output column keeps the name PostgreSQL gave the extraction
            node.replace(exp.alias_(column, "json_extract_path_text") if node.parent is select else column)
        props = f'"{name}".properties' if table.alias else "features.properties"
        quoted = ['"' + key.replace('"', '""') + '"' for key in keys]
        picked = ", ".join(f"r.{q} AS cim_p{i}" for i, q in enumerate(quoted))
        join = sqlglot.parse_one(
            f"SELECT 1 FROM features LEFT JOIN LATERAL (SELECT {picked} FROM json_to_record(CASE WHEN "
            f"json_typeof({props}) = 'object' THEN {props} END) AS r({', '.join(q + ' TEXT' for q in quoted)})) "
            f"AS {_PROPS} ON TRUE", read="postgres").args["joins"][0]
        select.append("joins", join)
    return tree


def _bare_star(node: exp.Expression) -> bool:
    """``*`` (it would list the lateral columns too); ``features.*`` is fine."""
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
                                          and not node.table)


def _property_key(node: exp.JSONExtractScalar, table: str) -> str | None:
    """The top-level key ``node`` reads from ``table``'s properties, or None (a nested path, a parameter)."""
    column = node.this
    if not isinstance(column, exp.Column) or column.name.lower() != "properties" \
            or (column.table and column.table != table):
        return None
    path = node.expression
    if not isinstance(path, exp.JSONPath) or len(path.expressions) != 2 \
            or not isinstance(path.expressions[0], exp.JSONPathRoot) \
            or not isinstance(path.expressions[1], exp.JSONPathKey):
        return None
    key = path.expressions[1].this
    if not isinstance(key, str) or not key or len(key.encode()) > _MAX_NAME or "\x00" in key:
        return None
    return key


_PRINTF_SPEC = re.compile(r"%(?:(%)|(s)|(d)|(?:\.(\d+))?(f))")


def _printf(node: exp.Expression) -> exp.Expression:
    """DuckDB's printf as concatenated text: ``%s``, ``%d``, ``%f`` / ``%.Nf`` (C's rounding, via to_char)."""
    fmt, *values = _args(node)
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise QueryError("printf needs a literal format string to run on PostgreSQL")
    text, args, parts, pos = fmt.this, iter(values), [], 0
    for match in _PRINTF_SPEC.finditer(text):
        if "%" in text[pos:match.start()]:
            break
        if match.start() > pos:
            parts.append(_pg(exp.Literal.string(text[pos:match.start()])))
        pos = match.end()
        percent, string, integer, digits, _ = match.groups()
        if percent:
            parts.append("'%'")
            continue
        value = next(args, None)
        if value is None:
            raise QueryError(f"printf format {text!r} wants more values than it is given")
        if string:
            parts.append(f"CAST({_pg(value)} AS TEXT)")
        elif integer:
            parts.append(f"CAST(CAST({_pg(value)} AS BIGINT) AS TEXT)")
        else:
            places = int(digits or 6)
            pattern = "FM" + "9" * 20 + "0" + ("." + "0" * places if places else "")
            parts.append(f"REPLACE(LOWER(TO_CHAR(CAST({_pg(value)} AS DOUBLE PRECISION), '{pattern}')), "
                         "'infinity', 'inf')")
    if "%" in text[pos:]:
        raise QueryError(f"printf format {text!r}: only %s, %d, %f and %.Nf run on PostgreSQL")
    if pos < len(text) or not parts:
        parts.append(_pg(exp.Literal.string(text[pos:])))
    return sqlglot.parse_one("(" + " || ".join(parts) + ")", read="postgres")


def _is_text(kind: object) -> bool:
    return isinstance(kind, exp.DataType) and kind.this in (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR)


def _function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    if isinstance(node, exp.Func):
        key = node.sql_name().upper()
        if key in _RENAMED:
            return key
        aliases = {"ARGMIN": "ARG_MIN", "ARGMAX": "ARG_MAX", "ARRAYCONTAINS": "LIST_CONTAINS"}
        return aliases.get(type(node).__name__.upper())
    return None


def _pg(node: exp.Expression) -> str:
    return node.transform(_rewrite).sql(dialect="postgres")


def _args(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    args: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            args.extend(value)
        elif isinstance(value, exp.Expression):
            args.append(value)
    return args


def _try_cast(name: str, target: str, volatility: str = "IMMUTABLE", fallback: str | None = None) -> str:
    """``cim_try_<name>(text)``: the cast, else ``fallback`` (itself tried), else NULL."""
    otherwise = "RETURN NULL;" if fallback is None else \
        f"BEGIN RETURN {fallback}; EXCEPTION WHEN others THEN RETURN NULL; END;"
    return (f"CREATE OR REPLACE FUNCTION cim_try_{name}(t text) RETURNS {target}\n"
            f"  LANGUAGE plpgsql {volatility} PARALLEL UNSAFE AS $$ BEGIN RETURN t::{target};\n"
            f"  EXCEPTION WHEN others THEN {otherwise} END $$;\n")


#: a decimal number as PostgreSQL's float8 and numeric inputs read it, with an exponent of at most four
#: digits (what numeric holds for any mantissa of up to 1 000 characters; a longer exponent is NULL)
_NUMBER = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?0*[0-9]{1,4})?\s*$"
_DECIMAL = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$"

#: ``cim_try_double`` and ``cim_try_bigint`` decide by pattern and range before they cast, so they
#: never raise: no subtransaction, PARALLEL SAFE. They are in most property reads (every typed
#: property of an analysis is one), and an error-catching function there made the whole statement
#: parallel-unsafe and paid a subtransaction per row (indicators of 100 000 buildings: 3.9 s, 3.2 s
#: without). A decimal without exponent below 300 characters cannot overflow a double; other numbers
#: (up to 1 000 characters) are checked as numeric against the double's finite range (what would round
#: to zero or infinity: NULL, as the cast's error would make it).
_TRY_NUMBERS = rf"""
CREATE OR REPLACE FUNCTION cim_try_double(t text) RETURNS double precision
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE n numeric;
BEGIN
  IF length(t) < 300 AND t ~ '{_DECIMAL}' THEN RETURN t::double precision; END IF;
  IF t ~* '^\s*([+-]?inf(inity)?|nan)\s*$' THEN RETURN t::double precision; END IF;
  IF length(t) > 1000 OR t !~ '{_NUMBER}' THEN RETURN NULL; END IF;
  n := t::numeric;
  IF n = 0 OR abs(n) BETWEEN 2.5e-324 AND 1.7976931348623157e308 THEN RETURN t::double precision; END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION cim_try_bigint(t text) RETURNS bigint
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE n numeric;
BEGIN
  IF t ~ '^\s*[+-]?[0-9]{{1,18}}\s*$' THEN RETURN t::bigint; END IF;
  IF length(t) > 1000 OR t !~ '{_NUMBER}' THEN RETURN NULL; END IF;
  n := trunc(t::numeric);
  IF n BETWEEN -9223372036854775808 AND 9223372036854775807 THEN RETURN n::bigint; END IF;
  RETURN NULL;
END $$;
"""

#: functions the translated SQL relies on, created in the city's schema by ``PostGISStore``.
#: The other cim_try_* functions catch errors in a subtransaction, which no process may start while
#: a parallel operation runs — not even the leader, so PARALLEL RESTRICTED failed too ("cannot start
#: subtransactions during a parallel operation" on a 100 000-row JSON cast): PARALLEL UNSAFE.
COMPAT_SQL = _TRY_NUMBERS + "".join([
    _try_cast("boolean", "boolean"),
    _try_cast("date", "date"),
    _try_cast("timestamp", "timestamp"),
    _try_cast("timestamptz", "timestamptz", volatility="STABLE"),
]) + """
CREATE OR REPLACE FUNCTION cim_geometry_type(g geometry) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT upper(GeometryType(g)) $$;
CREATE OR REPLACE FUNCTION cim_epoch_us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
CREATE OR REPLACE FUNCTION cim_hash(t anyelement) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hashtextextended(t::text, 0) $$;
CREATE OR REPLACE FUNCTION cim_list_contains(a anyarray, v anyelement) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v = ANY(a) $$;
CREATE OR REPLACE FUNCTION cim_round(x double precision, n integer DEFAULT 0) RETURNS double precision
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN abs(x * 10.0::float8 ^ n - trunc(x * 10.0::float8 ^ n))
  >= 0.5 THEN trunc(x * 10.0::float8 ^ n) + sign(x) ELSE trunc(x * 10.0::float8 ^ n) END / 10.0::float8 ^ n $$;
CREATE OR REPLACE FUNCTION cim_round(x numeric, n integer DEFAULT 0) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x, n) $$;
"""
