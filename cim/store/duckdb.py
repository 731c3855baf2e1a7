"""DuckDB-spatial store: the embedded default, one file per city.

The spatial extension is loaded from the pinned ``duckdb-extension-spatial`` wheel, never from the
network.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from cim.errors import CIMError, CityNotFound, first_line
from cim.store.base import Store

_SPATIAL_VERSION = "v1.5.5"
#: ``cim_meta`` key prefix of an index dropped for a bulk insert and not yet built again
_PENDING_INDEX = "pending_index:"
#: an insert of at least this many rows is a bulk write (see ``DuckDBStore._one_thread_when_busy``)
_BULK_ROWS = 10_000


def spatial_extension_path() -> Path:
    """Where the pinned spatial extension binary lies inside its wheel."""
    try:
        import duckdb_extension_spatial
    except ImportError as exc:  # pragma: no cover - a broken install
        raise CIMError(
            "the DuckDB spatial extension wheel is missing: pip install duckdb-extension-spatial==1.5.5"
        ) from exc
    root = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    path = root / _SPATIAL_VERSION / "spatial.duckdb_extension"
    if not path.exists():
        found = sorted(root.glob("*/spatial.duckdb_extension"))
        if not found:
            raise CIMError(f"no spatial.duckdb_extension under {root}; reinstall duckdb-extension-spatial")
        path = found[-1]
    return path


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with spatial loaded offline and extension auto-install switched off."""
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    try:  # first: loading spatial on a busy machine takes seconds, and would print a bar on stdout
        con.execute("SET enable_progress_bar = false")  # the CLI reports progress itself
    except duckdb.Error:  # inside Jupyter without ipywidgets DuckDB refuses to touch the setting
        pass
    con.execute(f"LOAD '{spatial_extension_path()}'")
    return con


class ThreadCursors:
    """One DuckDB cursor per thread, made on first use by ``make``; ``close`` closes them all."""

    def __init__(self, make: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self._make = make
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._guard = threading.Lock()

    def get(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._guard:
                cur = self._make()
                self._cursors.append(cur)
            self._local.cursor = cur
        return cur

    def close(self) -> None:
        """Close every cursor made so far; the next ``get`` makes a fresh one."""
        with self._guard:
            for cur in self._cursors:
                try:
                    cur.close()
                except duckdb.Error:  # pragma: no cover - already closed with the database
                    pass
            self._cursors.clear()
        self._local = threading.local()


def _held_elsewhere(location: str, error: str, read_only: bool) -> str:
    """What to say when another process holds the file: which one, and what to do about it.

    A DuckDB file is written by one process or read by several, never both; a process that only
    reads cannot open a file a server is writing, so "open it read-only" is no way out then.
    """
    found = re.search(r"\(PID (\d+)\)", error)
    holder = "another process"
    if found:
        try:
            command = Path(f"/proc/{found.group(1)}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            command = ""
        holder = f"process {found.group(1)}" + (f" ({command[:120]})" if command else "")
    if read_only:
        return (f"{location} is held by {holder}, which writes it (a DuckDB file is written by one process "
                "or read by several, never both): stop that process first, or, while `cim serve` holds "
                "it, ask the server over HTTP (/collections, /search, /api.html)")
    return (f"{location} is open in {holder} (a DuckDB file is written by one process or read by several, "
            "never both): stop that process first")


class DuckDBStore(Store):
    """A city kept in one DuckDB file (``:memory:`` for throwaway cities)."""

    kind = "duckdb"
    reads_beside = True  # one connection behind a lock: another thread reads through it too

    def __init__(self, path: str | Path, *, read_only: bool = False, must_exist: bool = True) -> None:
        self.location = str(path)
        self._read_only = read_only
        if must_exist and self.location != ":memory:" and not Path(self.location).is_file():
            raise CityNotFound(f"no city at {self.location}: create one with `cim init {self.location}`")
        try:
            self._con = connect(self.location, read_only=read_only)
        except duckdb.IOException as exc:
            if "not a valid DuckDB database" in str(exc):
                raise CIMError(f"{self.location} is not a readable DuckDB city file") from exc
            if "lock" in str(exc).lower():
                raise CIMError(_held_elsewhere(self.location, str(exc), read_only)) from exc
            raise CIMError(f"cannot open {self.location}: {first_line(exc)}") from exc
        except duckdb.Error as exc:
            raise CIMError(
                f"{self.location} is not a readable DuckDB city file: {first_line(exc)}"
            ) from exc
        self._lock = threading.RLock()
        self._depth = 0
        #: how many writes and transactions ended on this store; a server's wrapper adds it to its
        #: own count, so a layer ingested through this object reaches the server's caches too
        self.writes = 0
        self._rtrees_dropped = False
        self._threads_to_restore: int | None = None
        if not read_only:
            self._build_pending_rtrees()

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The raw connection, for DuckDB-specific fast paths (tiles, analysis)."""
        return self._con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own, for use from another thread."""
        cur = self._con.cursor()
        cur.execute(f"LOAD '{spatial_extension_path()}'")
        return cur

    def for_server(self, refresh_s: float = 1.0) -> Store:
        """A ``ThreadedStore``: one writer (this process holds the file), a read cursor per worker thread."""
        from cim.store.threaded import ThreadedStore

        return ThreadedStore(self)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self._lock:
            try:
                self._con.execute(sql, params or [])
            finally:
                self.writes += 1

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, params or []).fetchall()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self._lock:
            return self._con.execute(sql, params or []).to_arrow_table()

    def insert_arrow(self, table: str, data: pa.Table, *, geometry: Sequence[str] = (),
                     json_objects: dict[str, pa.Table] | None = None) -> int:
        if data.num_rows == 0:
            return 0
        json_objects = json_objects or {}
        cols = [f'ST_GeomFromWKB(f."{c}")' if c in geometry else f'f."{c}"' for c in data.column_names]
        names = [f'"{c}"' for c in data.column_names]
        sources = "_cim_incoming f"
        registered = {"_cim_incoming": data}
        for n, (column, attrs) in enumerate(json_objects.items()):
            alias = f"_cim_json{n}"
            cols.append(_json_object_sql(attrs, alias))
            names.append(f'"{column}"')
            if attrs.num_columns:
                sources += f" POSITIONAL JOIN {alias}"
                registered[alias] = _jsonable(attrs)
        insert = f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(cols)} FROM {sources}"
        with self._lock, self.transaction():
            for name, arrow in registered.items():
                self._con.register(name, arrow)
            try:
                if geometry:
                    self._defer_rtrees(table, data.num_rows)
                if data.num_rows >= _BULK_ROWS:
                    self._one_thread_when_busy()
                self._con.execute(insert)
            finally:
                for name in registered:
                    self._con.unregister(name)
        return data.num_rows

    def _defer_rtrees(self, table: str, incoming: int) -> None:
        """Drop the RTREE indexes of ``table`` for a bulk insert; they are built again once it commits.

        Why: DuckDB adds a transaction's rows to an RTREE one by one at commit (about 1.8 s per
        million polygons), while building the index from the committed rows takes about 0.6 s, and
        an index created inside the transaction is filled the slow way too. So when the rows coming
        in are at least half as many as those already there, the drop is part of the transaction
        (a rollback restores the index) and the index is built right after the commit. A note in
        ``cim_meta`` written in the same transaction names it until it is built, so a process that
        dies in between leaves the next writer to build it on open (``_build_pending_rtrees``).
        """
        indexes = self._con.execute(
            "SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = ? AND database_name = current_database() "
            "AND sql ILIKE '%USING RTREE%'", [table.strip('"')]).fetchall()
        if not indexes or 2 * incoming < self._con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
            return
        for name, sql in indexes:
            self._con.execute(f'DROP INDEX "{name}"')
            self._con.execute("INSERT OR REPLACE INTO cim_meta VALUES (?, ?)", [f"{_PENDING_INDEX}{name}", sql])
        self._rtrees_dropped = True

    def _one_thread_when_busy(self) -> None:
        """Write this transaction's bulk insert with one DuckDB thread when the machine's cores are busy.

        Why: with every core already taken (1-minute load average at or above the core count),
        DuckDB's worker threads wait on each other and spin; measured on a shared 2-core machine
        (load 20–45), a 100 000-feature ingest took 2.8–3.9 s with one thread against 4.6–6.5 s with
        two, for less CPU. On an idle machine the threads stay. The setting is restored when the
        transaction ends (``transaction``).
        """
        if self._threads_to_restore is not None or os.getloadavg()[0] < (os.cpu_count() or 1):
            return
        self._threads_to_restore = int(self._con.execute("SELECT current_setting('threads')").fetchone()[0])
        self._con.execute("SET threads = 1")

    def _build_pending_rtrees(self) -> None:
        """Build the indexes a committed bulk insert left to be built (see ``_defer_rtrees``).

        A failure here (say, memory) does not undo the committed rows: the note stays and the
        next writer to open the city tries again; queries are right meanwhile, only slower.
        """
        if not self._con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'cim_meta' "
                "AND database_name = current_database()").fetchone()[0]:
            return
        pending = self._con.execute("SELECT key, value FROM cim_meta WHERE starts_with(key, ?)",
                                    [_PENDING_INDEX]).fetchall()
        for key, sql in pending:
            self._con.execute("BEGIN TRANSACTION")
            try:
                self._con.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                self._con.execute("DELETE FROM cim_meta WHERE key = ?", [key])
            except duckdb.Error as exc:
                self._con.execute("ROLLBACK")
                warnings.warn(f"{self.location}: the spatial index {key.removeprefix(_PENDING_INDEX)} could not be "
                              f"built ({first_line(exc)}); the next writer to open the city builds it",
                              RuntimeWarning, stacklevel=3)
                return
            self._con.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._con.execute("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")
                self._depth = 0
                if self._rtrees_dropped:
                    self._build_pending_rtrees()
            finally:
                self._depth = 0
                self.writes += 1
                self._rtrees_dropped = False
                if self._threads_to_restore is not None:
                    self._con.execute(f"SET threads = {self._threads_to_restore}")
                    self._threads_to_restore = None

    @property
    def data_dir(self) -> Path:
        """Side files (COGs, caches) live in ``<file>.data`` beside the city file."""
        loc = Path(self.location)
        return loc.with_name(loc.name + ".data")

    @contextmanager
    def temporary(self, name: str, data: pa.Table) -> Iterator[None]:
        with self._lock:
            self._con.register(name, data)
            try:
                yield
            finally:
                self._con.unregister(name)

    def size_bytes(self) -> int:
        path = Path(self.location)
        return path.stat().st_size if path.is_file() else 0

    def has_table(self, name: str) -> bool:
        return bool(self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
            "AND table_catalog = current_database()", [name]))

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _json_object_sql(attrs: pa.Table, alias: str) -> str:
    """``json_object('name', alias.c0, …)`` keeping the attribute names exactly (Chinese too)."""
    if attrs.num_columns == 0:
        return "'{}'::JSON"
    pairs = ", ".join(
        "'" + name.replace("'", "''") + f"', {alias}.c{i}" for i, name in enumerate(attrs.column_names))
    return f"json_object({pairs})"


def _jsonable(attrs: pa.Table) -> pa.Table:
    """Columns renamed c0…cn (names may hold any text); binary and dictionaries made JSON-friendly."""
    columns = []
    for column in attrs.columns:
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = pa.nulls(len(column), pa.string())
        elif pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column)
    return pa.table(columns, names=[f"c{i}" for i in range(attrs.num_columns)])
