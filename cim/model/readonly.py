"""Is this SQL a pure read of the city? The gate in front of ``city.sql`` and ``cim query``.

Why: ``city.sql`` lets an analyst run any query, but "any query" also means ``COPY … TO
'city.duckdb'`` (which overwrote a city), ``ATTACH 'other.duckdb'; DELETE …`` (which emptied
another city), ``read_csv('/etc/passwd')``, ``read_text('keys.json')``, ``EXPORT DATABASE`` and
``INSTALL httpfs``. A query passes only when it is ONE ``SELECT`` (with CTEs and subqueries as it
likes) whose tables are tables of the city — no file paths, no other databases — and which calls no
function that reaches outside the city (files, the environment, the network, sequences, sleeping).
The statement is parsed by DuckDB itself (an in-memory connection, whichever backend the city is
on), so the gate sees exactly what the engine would run.

Example:
    >>> check_read_only("SELECT class, count(*) FROM features GROUP BY class")
    >>> check_read_only("COPY (SELECT 1) TO 'x.csv'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cim.errors.QueryError: only SELECT queries run here (this statement is COPY): ...
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import duckdb

from cim.errors import QueryError, first_line

#: table functions a read may use (generators and the engine's own catalogue)
TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_indexes",
    "duckdb_schemas", "duckdb_types", "duckdb_functions", "duckdb_constraints", "pragma_table_info",
})
#: functions that reach outside the city (files, environment, network, sequences, other sessions)
DENIED_PREFIXES = (
    "read_", "st_read", "sniff_", "glob", "parquet_", "iceberg", "delta_", "getenv", "duckdb_secrets",
    "which_secret", "http", "load_", "nextval", "setval", "currval", "pg_read", "pg_ls", "pg_stat_file",
    "pg_file", "lo_", "dblink", "pg_sleep", "pg_terminate", "pg_cancel", "pg_reload", "pg_rotate", "set_config",
    "query", "query_table", "sqlite_", "postgres_", "mysql_",
)
_SCHEMAS = frozenset({"", "main", "information_schema", "pg_catalog"})
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_local = threading.local()


def check_read_only(sql: str) -> None:
    """QueryError (one line, saying what to do) unless ``sql`` is a single read of the city's tables."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"SQL does not parse: {first_line(exc)}") from exc
    if len(statements) != 1:
        raise QueryError(f"give one SELECT statement, not {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(f"only SELECT queries run here (this statement is {kind.name}): the city is read "
                         "through SQL, written through ingest")
    tree = json.loads(_parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise QueryError(f"SQL does not parse: {tree.get('error_message', 'unknown error')}")
    for node in _nodes(tree):
        _check_node(node)


def _check_node(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if kind == "BASE_TABLE":
        name, catalog, schema = node.get("table_name", ""), node.get("catalog_name", ""), node.get("schema_name", "")
        if catalog or schema not in _SCHEMAS or not _TABLE_NAME.match(name):
            qualified = ".".join(p for p in (catalog, schema, name) if p)
            raise QueryError(f"{qualified!r} is not a table of the city: "
                             "queries read the city's own tables (files and other databases are out of reach)")
    elif kind == "TABLE_FUNCTION":
        name = str((node.get("function") or {}).get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS:
            raise QueryError(f"table function {name}() is not allowed here: queries read the city's own tables")
    elif "function_name" in node:
        name = str(node["function_name"]).lower()
        if name.startswith(DENIED_PREFIXES):
            raise QueryError(f"function {name}() reaches outside the city and is not allowed in a query")


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every object of the serialised tree, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _parser() -> duckdb.DuckDBPyConnection:
    """An in-memory connection per thread, used only to parse (it has no tables and reads nothing)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect(config={"enable_external_access": "false"})
        con.execute("SET enable_progress_bar = false")  # a slow parse on a busy machine must not print
    return con


__all__ = ["check_read_only", "TABLE_FUNCTIONS", "DENIED_PREFIXES"]
