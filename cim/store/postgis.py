"""PostgreSQL + PostGIS store: the same city for many writers and readers at once.

``cim.create("postgresql://user:pass@host/db")`` and ``cim.open(...)`` give the same ``City`` as a
DuckDB file. Statements arrive in the city's one SQL dialect and are translated once each
(``cim.store.dialect``). Each thread gets its own connection, so a server's readers never queue
behind one another or behind a writer; a transaction stays on the connection of the thread that
opened it.

Isolation: every ingest, copy and observation batch is one transaction at READ COMMITTED, the
PostgreSQL default. Writers that hand out numbers (layer versions, IoT ids, batch ids) first take a
transaction-scoped advisory lock on what they number (``Store.lock``), so two ingests of the same
layer queue while ingests of different layers, and readers, run side by side; readers see only
committed versions. A city can live in its own schema: ``postgresql://…/db?options=-csearch_path%3Dcity``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from cim.errors import CIMError, CityNotFound, first_line
from cim.store.base import Store
from cim.store.dialect import COMPAT_SQL, to_postgres
from cim.store.pg_values import (
    ARROW_TYPES,
    GEOARROW,
    csv_column,
    ewkb_to_wkb,
    json_texts,
    multipoint_xy,
    param,
    pg_type,
    plain,
)
from cim.store.timeout import current_timeout, timed_out

SCHEMES = ("postgresql://", "postgres://")



#: per connection: sorts and hashes of analysis queries (a join over a million buildings) stay in
#: memory when the server's work_mem is lower (the default 4 MB spilled them to disk); no JIT,
#: whose compile time (seconds on the big cost estimates of analysis queries) exceeds its gain
_SESSION = ("SELECT set_config('work_mem', '64MB', false) "
            "WHERE pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024; SET jit = off")


def is_url(location: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a broken install
        raise CIMError("a PostGIS city needs psycopg: pip install 'cim[postgis]'") from exc
    return psycopg


class PostGISStore(Store):
    """A city kept in a PostgreSQL database with PostGIS (in its current schema)."""

    kind = "postgis"

    def __init__(self, url: str, *, read_only: bool = False, must_exist: bool = True) -> None:
        self.url = url
        self.location = redact(url)
        self._read_only = read_only
        self._local = threading.local()
        self._connections: list[Any] = []
        self._guard = threading.Lock()
        con = self._connection()  # fail now, with a clear message, rather than at the first query
        self._geometry_oid = self._prepare(con, must_exist)

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> Any:
        psycopg = _psycopg()
        try:
            con = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise CIMError(_connect_message(self.location, exc)) from None
        except psycopg.ProgrammingError as exc:
            raise CIMError(f"bad PostgreSQL URL {self.location}: {first_line(exc)}") from None
        con.execute("SET TIME ZONE 'UTC'")
        con.execute(_SESSION)
        if self._read_only:
            con.execute("SET default_transaction_read_only = on")
        _text_loaders(con)
        if getattr(self, "_geometry_oid", None):
            _geometry_loader(con, self._geometry_oid)
        return con

    def _connection(self) -> Any:
        con = getattr(self._local, "con", None)
        if con is None or con.closed:
            con = self._connect()
            with self._guard:
                self._connections.append(con)
            self._local.con = con
        return con

    def _prepare(self, con: Any, must_exist: bool) -> int:
        """PostGIS present (created when we may), compat functions in place; the geometry type's oid."""
        have = con.execute("SELECT oid FROM pg_type WHERE typname = 'geometry'").fetchone()
        if have is None:
            if self._read_only or must_exist:
                raise CIMError(_no_postgis(con, self.location))
            try:
                con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except Exception:  # noqa: BLE001 - lack of rights is the usual cause: say what to do
                raise CIMError(_no_postgis(con, self.location)) from None
            have = con.execute("SELECT oid FROM pg_type WHERE typname = 'geometry'").fetchone()
        if must_exist and not self.has_table("schema_migrations"):
            schema = con.execute("SELECT current_schema()").fetchone()[0]
            raise CityNotFound(
                f"no city in {self.location} (schema {schema}): create one with `cim init {self.location}`")
        if not self._read_only and con.execute(
                "SELECT to_regproc('cim_geometry_type') IS NULL "
                "OR to_regprocedure('cim_round(double precision, integer)') IS NULL "
                "OR (SELECT proparallel FROM pg_proc WHERE oid = to_regprocedure('cim_try_double(text)')) "
                "IS DISTINCT FROM 's'"
        ).fetchone()[0]:
            con.execute(COMPAT_SQL)
        _geometry_loader(con, have[0])
        return int(have[0])

    @property
    def read_only(self) -> bool:
        return self._read_only

    def for_server(self, refresh_s: float = 1.0) -> Store:
        """A ``WatchedStore`` polling the model version every ``refresh_s`` seconds (other processes
        write too); with 0 the store itself, so the version is read on every request. Each thread
        already has its own connection."""
        if refresh_s <= 0:
            return self
        from cim.store.watched import WatchedStore

        return WatchedStore(self, interval=refresh_s).start()

    # -- the store interface -----------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._run(sql, params)

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        cur = self._run(sql, params)
        return cur.fetchall() if cur.description else []

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        cur = self._run(sql, params)
        if not cur.description:
            return pa.table({})
        rows = cur.fetchall()
        # a column at a time (zip(*rows) unpacks every row as an argument: 0.7 s a million rows, this 0.04 s)
        columns = [list(map(itemgetter(k), rows)) for k in range(len(cur.description))]
        fields, arrays = [], []
        for desc, values in zip(cur.description, columns, strict=True):
            field, array = self._column(desc.name, desc.type_code, values)
            fields.append(field)
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def centroids(self, relation: str) -> pa.Table:
        """The centroids in bulk: computed by parallel workers (a materialised CTE) and sent as a few
        rows, each a group's ids joined by a separator and its centroids as one MultiPoint WKB, read
        with numpy. Row by row, building a million Python tuples took longer than computing them
        (1 M buildings: 4.2 s → about 2 s). Ids holding the separator, or anything unexpected in the
        WKB, and the rows are read one by one instead."""
        sql = (f"WITH cim_centroids AS MATERIALIZED (SELECT id, ST_Force2D(ST_Centroid(geom)) AS c "
               f"FROM ({to_postgres(relation)}) AS r) "
               f"SELECT count(*), string_agg(id, E'{_SEPARATOR}'), ST_AsBinary(ST_Collect(c), 'NDR') "
               f"FROM cim_centroids GROUP BY hashtext(id) & {_BULK_GROUPS - 1}")
        groups = self._run(sql, None, translate=False, binary=True).fetchall()
        ids, xs, ys = [], [], []
        for count, joined, wkb in groups:
            points = multipoint_xy(wkb, count)
            names = joined.split(_SEPARATOR) if isinstance(joined, str) else []
            if points is None or len(names) != count:
                return super().centroids(relation)
            ids.append(pa.array(names, pa.string()))
            xs.append(points[0])
            ys.append(points[1])
        if not groups:
            return pa.table({"id": pa.array([], pa.string()), "x": pa.array([], pa.float64()),
                             "y": pa.array([], pa.float64())})
        return pa.table({"id": pa.concat_arrays(ids), "x": np.concatenate(xs), "y": np.concatenate(ys)})

    def _column(self, name: str, oid: int, values: Sequence[Any]) -> tuple[pa.Field, pa.Array]:
        if oid == self._geometry_oid:
            return pa.field(name, pa.binary(), metadata=GEOARROW), pa.array(values, pa.binary())
        type_ = ARROW_TYPES.get(oid)
        if type_ is not None:
            if oid == 1700:
                values = [None if v is None else float(v) for v in values]
            try:
                return pa.field(name, type_), pa.array(values, type_)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                pass
        array = pa.array([plain(v) for v in values])
        return pa.field(name, array.type), array

    def insert_arrow(self, table: str, data: pa.Table, *, geometry: Sequence[str] = (),
                     json_objects: dict[str, pa.Table] | None = None) -> int:
        if data.num_rows == 0:
            return 0
        # one COPY in CSV written by Arrow's C++ writer: far faster than adapting row by row in Python
        names = list(data.column_names)
        columns = [csv_column(data.column(c), wkb=c in geometry) for c in names]
        for column, attrs in (json_objects or {}).items():
            names.append(column)
            columns.append(pa.array(json_texts(attrs, data.num_rows), pa.string()))
        quoted = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(pa.table(columns, names=[f"c{i}" for i in range(len(columns))]), sink,
                         pa_csv.WriteOptions(include_header=False))
        payload = sink.getvalue()
        con = self._connection()
        try:
            with con.cursor() as cur, cur.copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT csv)") as copy:
                view = memoryview(payload)
                for start in range(0, len(view), 1 << 22):
                    copy.write(view[start:start + (1 << 22)])
            if data.num_rows >= 50_000:  # fresh statistics, or the next spatial join is planned blind
                con.execute(f"ANALYZE {table}")
        except _psycopg().Error as exc:
            raise CIMError(f"writing {table} to {self.location} failed: {first_line(exc)}") from exc
        return data.num_rows

    @contextmanager
    def transaction(self) -> Iterator[None]:
        con = self._connection()
        depth = getattr(self._local, "depth", 0)
        if not depth:
            self._limit(con, None)  # writes are never cut (and a SET inside would roll back with them)
        self._local.depth = depth + 1
        try:
            if depth:
                yield
                return
            with con.transaction():
                yield
        finally:
            self._local.depth = depth

    @contextmanager
    def temporary(self, name: str, data: pa.Table) -> Iterator[None]:
        """``data`` as a temporary table ``name`` for the statements inside (this thread's connection).

        On a read-only city the transaction writes only its own temporary table, then turns read-only
        for the statements inside; the table goes when it ends.
        """
        con = self._connection()
        cols = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in data.schema)
        own = self._read_only and not getattr(self._local, "depth", 0)
        with self.transaction():
            if own:
                con.execute("SET TRANSACTION READ WRITE")
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
            con.execute(f'CREATE TEMP TABLE "{name}" ({cols}) ON COMMIT DROP')
            try:
                self.insert_arrow(f'"{name}"', data)
                if own:
                    con.execute("SET TRANSACTION READ ONLY")
                yield
            finally:
                if not own and not con.closed \
                        and con.info.transaction_status != _psycopg().pq.TransactionStatus.INERROR:
                    con.execute(f'DROP TABLE IF EXISTS "{name}"')

    @property
    def data_dir(self) -> Path:
        """Side files (COGs, caches): ``$CIM_DATA_DIR/<host>-<port>-<database>-<schema>``."""
        import os
        import re

        root = Path(os.environ.get("CIM_DATA_DIR") or Path.home() / ".local" / "share" / "cim")
        info = self._connection().info
        schema = self.scalar("SELECT current_schema()")
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{info.host}-{info.port}-{info.dbname}-{schema}")
        return root / slug

    def lock(self, key: str) -> None:
        """Hold a transaction-scoped advisory lock on ``key`` (call inside ``transaction()``)."""
        self._run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [key])

    def size_bytes(self) -> int:
        return int(self._connection().execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
        ).fetchone()[0])

    def has_table(self, name: str) -> bool:
        return bool(self._connection().execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()[0])

    def close(self) -> None:
        with self._guard:
            for con in self._connections:
                try:
                    con.close()
                except Exception:  # noqa: BLE001 - closing what is already gone
                    pass
            self._connections.clear()
        self._local = threading.local()

    # -- internals ---------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | None, *, translate: bool = True, binary: bool = False) -> Any:
        """Run ``sql`` (DuckDB's dialect, or PostgreSQL's with ``translate=False``); ``binary``: values
        come in PostgreSQL's binary format (bytea as bytes, not hex text)."""
        psycopg = _psycopg()
        text = to_postgres(sql) if translate else sql
        args = [param(p) for p in params] if params else None
        if not args:
            text = text.replace("%%", "%")
        con = self._connection()
        seconds = None if getattr(self._local, "depth", 0) else current_timeout()
        self._limit(con, seconds)
        try:
            if binary:
                return con.cursor(binary=True).execute(text, args, prepare=False)
            return con.execute(text, args, prepare=False)
        except psycopg.errors.QueryCanceled as exc:
            if seconds is None:
                raise CIMError(f"a statement on {self.location} was cancelled: {first_line(exc)}") from exc
            raise timed_out(seconds) from exc
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise CIMError(f"{self.location} is open read-only: {first_line(exc)}") from exc
        except psycopg.OperationalError as exc:
            if con.closed or con.broken:
                self._local.con = None
            raise CIMError(f"lost the connection to {self.location}: {first_line(exc)}") from exc

    def _limit(self, con: Any, seconds: float | None) -> None:
        """This connection's ``statement_timeout`` (``cim.store.timeout``); set only when it changes."""
        ms = max(1, round(seconds * 1000)) if seconds else 0
        if getattr(self._local, "limit", (None, 0)) != (con, ms):
            con.execute(f"SET statement_timeout = {int(ms)}")
            self._local.limit = (con, ms)


#: ids in a bulk read of centroids are joined by the ASCII unit separator; groups of features keep
#: each value far below PostgreSQL's 1 GB limit on one value (16 groups: some 100 M buildings); a
#: group is the low bits of the id's hash (a power of two: ``abs`` of the hash can overflow)
_SEPARATOR = "\x1f"
_BULK_GROUPS = 16


def _connect_message(location: str, exc: Exception) -> str:
    text = str(exc)
    if "password authentication failed" in text or "authentication failed" in text:
        return f"PostgreSQL refused the login at {location}: check the user name and password in the URL"
    if "does not exist" in text and "database" in text:
        return f"{location}: {first_line(exc).split('FATAL:')[-1].strip()}: create it with `createdb` first"
    if "Connection refused" in text or "could not connect" in text or "timeout" in text.lower() \
            or "No such file" in text or "could not translate host" in text:
        return f"cannot reach PostgreSQL at {location}: is the server running and the host/port right?"
    return f"cannot connect to {location}: {first_line(exc)}"


def _no_postgis(con: Any, location: str) -> str:
    db = con.execute("SELECT current_database()").fetchone()[0]
    return (f"database {db} at {location} has no PostGIS: run `CREATE EXTENSION postgis;` in it as a "
            "superuser (Debian: apt-get install postgresql-15-postgis-3)")


def _text_loaders(con: Any) -> None:
    """JSON comes back as its text (as DuckDB gives it), not parsed into dicts."""
    from psycopg.types.string import TextLoader

    for oid_name in ("json", "jsonb"):
        con.adapters.register_loader(oid_name, TextLoader)


def _geometry_loader(con: Any, oid: int) -> None:
    """geometry comes back as ISO WKB bytes (DuckDB's form), from PostGIS's hex EWKB text."""
    from psycopg.adapt import Loader

    class WKBLoader(Loader):
        def load(self, data: Any) -> bytes:
            return ewkb_to_wkb(bytes.fromhex(bytes(data).decode()))

    con.adapters.register_loader(oid, WKBLoader)


