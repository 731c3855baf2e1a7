"""Copy a whole city between stores: a DuckDB file to PostgreSQL + PostGIS and back, or file to file.

A city outgrows its file (many writers, a shared server) or has to travel (a PostGIS city handed
over as one file). ``copy_city`` moves everything: every table of the schema with every row —
old feature versions, history, rejects, meshes, sensors and observations — and the side files
(COGs) of its data folder. Derived tables (prepared vector tiles and rendered tiles, kept in the
city's store by ``cim.model.derived``) and caches of the data folder (``tiles/``, ``3dtiles/``) are
left behind; they rebuild on demand.

It proves the copy: each table is read back from the destination and compared with the source
by row count and by a content checksum computed the same way on both sides, independent of the
backend's text forms (geometry as ISO WKB, JSON parsed and re-dumped with sorted keys, times as
UTC microseconds, REAL as float32) and of row order. Any difference rolls the copy back.

The destination is all or nothing: a database is filled in one transaction (schema included); a
file is written under ``<dst>.partial`` and renamed into place after its commit, so a copy that
fails or is killed leaves the destination as it was. A destination that already holds a city is
refused unless ``replace=True``.

Example:
    >>> report = copy_city("qingdao.duckdb", "postgresql://cim@db/qingdao")  # doctest: +SKIP
    >>> report.ok, report.rows                                              # doctest: +SKIP
    (True, 1204711)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim import migrations
from cim.errors import CIMError, CityExists, CityNotFound
from cim.model.derived import DERIVED_TABLES, drop_all
from cim.store import DuckDBStore, Store, is_url, open_store
from cim.store.postgis import redact

#: rows per chunk read from the source and written to the destination
CHUNK_ROWS = 100_000
#: folders of the data folder that hold caches, rebuilt on demand rather than copied
CACHES = ("tiles", "3dtiles")
_MOD = 1 << 128


@dataclass(frozen=True)
class TableCopy:
    """One table: rows and content checksum in the source and in the destination."""

    table: str
    src_rows: int
    dst_rows: int
    src_checksum: str
    dst_checksum: str

    @property
    def ok(self) -> bool:
        return self.src_rows == self.dst_rows and self.src_checksum == self.dst_checksum


@dataclass
class CopyReport:
    """What ``copy_city`` copied: one ``TableCopy`` per table, side files, time taken."""

    src: str
    dst: str
    tables: list[TableCopy] = field(default_factory=list)
    files: int = 0
    file_bytes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every table arrived with the same rows and the same content."""
        return all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        """Rows copied over all tables."""
        return sum(t.dst_rows for t in self.tables)


class CopyMismatch(CIMError):
    """A table read back from the destination differs from the source; the copy was rolled back."""

    def __init__(self, message: str, report: CopyReport) -> None:
        super().__init__(message)
        self.report = report


def copy_city(src: str | Path, dst: str | Path, *, replace: bool = False,
              progress: Callable[[str], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> CopyReport:
    """Copy the city at ``src`` to ``dst`` (file paths or ``postgresql://`` URLs), losing nothing.

    ``dst`` must not hold a city yet unless ``replace`` is true; it changes only if the whole copy
    commits. Raises ``CopyMismatch`` (with its report) when a table read back differs.

    Example:
        >>> copy_city("city.duckdb", "postgresql://cim:pw@127.0.0.1/city").ok   # doctest: +SKIP
        True
    """
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    if _same_place(src, dst):
        raise CIMError(f"{_shown(src)} is both source and destination: copy the city somewhere else")
    source = _open_source(src)
    try:
        target = _open_target(dst, replace=replace)
        files = _SideFiles(source.data_dir, target.data_dir)
        try:
            files.stage(say, replace=replace)
            report = CopyReport(str(source.location), str(target.location), files=files.count,
                                file_bytes=files.size)
            _copy_tables(source, target, report, say, chunk_rows, files)
            target.finish()
        except BaseException:
            files.undo()
            target.abort()
            raise
        files.done()
    finally:
        source.close()
    report.seconds = time.perf_counter() - started
    return report


# -- the tables ---------------------------------------------------------------------------------
def city_tables() -> list[str]:
    """The tables of the city schema, in the order the migrations create them (derived tables left out)."""
    names: list[str] = []
    for _version, _name, sql in migrations.available():
        names += [n for n in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sql)
                  if n not in names and n not in DERIVED_TABLES]
    return names


def _copy_tables(source: Store, target: _Target, report: CopyReport, say: Callable[[str], None],
                 chunk_rows: int, files: _SideFiles) -> None:
    """Every table in one destination transaction, read from one consistent source snapshot."""
    with source.transaction(), target.store.transaction():
        if source.kind == "postgis":  # READ COMMITTED would give each chunk its own snapshot
            source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        target.prepare()
        for table in city_tables():
            if source.has_table(table):
                report.tables.append(_copy_table(source, target.store, table, chunk_rows, say))
        bad = [t.table for t in report.tables if not t.ok]
        if bad:
            raise CopyMismatch(f"{', '.join(bad)} differ between {source.location} and {target.location} "
                               "after copying; nothing was written", report)
        files.install()


def _copy_table(src: Store, dst: Store, table: str, chunk_rows: int, say: Callable[[str], None]) -> TableCopy:
    kinds = _kinds(src, table)
    dst_kinds = _kinds(dst, table)
    names = [c for c in kinds if c in dst_kinds]
    geometry = [c for c in names if kinds[c] == "geometry"]
    src_sum = _Checksum({c: kinds[c] for c in names})
    for chunk in _chunks(src, table, {c: kinds[c] for c in names}, chunk_rows):
        src_sum.add(chunk)
        dst.insert_arrow(table, _without_field_metadata(chunk), geometry=geometry)
        say(f"{table}: {src_sum.rows} rows")
    say(f"{table}: checking the copy")
    dst_sum = _Checksum({c: dst_kinds[c] for c in names})
    for chunk in _chunks(dst, table, {c: dst_kinds[c] for c in names}, chunk_rows):
        dst_sum.add(chunk)
    return TableCopy(table, src_sum.rows, dst_sum.rows, src_sum.hexdigest(), dst_sum.hexdigest())


def _chunks(store: Store, table: str, kinds: dict[str, str], chunk_rows: int) -> Iterator[pa.Table]:
    """The table in pages of a total order (every column, cheap ones first), so no row is read twice."""
    select = ", ".join(_quote(c) for c in kinds)
    cost = {"geometry": 3, "blob": 2, "json": 1}
    ordered = sorted(kinds, key=lambda c: cost.get(kinds[c], 0))
    order = ", ".join(_order_expression(c, kinds[c]) for c in ordered)
    offset = 0
    while True:
        chunk = store.arrow(f"SELECT {select} FROM {table} ORDER BY {order} LIMIT {int(chunk_rows)} "
                            f"OFFSET {offset}")
        if chunk.num_rows:
            yield chunk
        if chunk.num_rows < chunk_rows:
            return
        offset += chunk.num_rows


def _order_expression(column: str, kind: str) -> str:
    if kind == "geometry":
        return f"ST_AsWKB({_quote(column)})"
    if kind == "json":
        return f"CAST({_quote(column)} AS VARCHAR)"
    return _quote(column)


def _kinds(store: Store, table: str) -> dict[str, str]:
    """Column → how to compare it (geometry, json, float4, timestamp, blob, value), in table order."""
    rows = store.rows(
        "SELECT column_name, data_type, udt_name FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position", [table])
    return {name: _kind(f"{data_type} {udt or ''}".lower()) for name, data_type, udt in rows}


def _kind(declared: str) -> str:
    if "geometry" in declared:
        return "geometry"
    if "json" in declared:
        return "json"
    if "float4" in declared or re.search(r"\b(float|real)\b", declared):  # DuckDB FLOAT[4]; PostgreSQL real[]
        return "float4"
    if "timestamp" in declared:
        return "timestamp"
    if "blob" in declared or "bytea" in declared:
        return "blob"
    return "value"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _without_field_metadata(table: pa.Table) -> pa.Table:
    """Plain WKB binary: a GeoArrow-tagged column would reach DuckDB as GEOMETRY, not as WKB."""
    schema = pa.schema([f.remove_metadata() for f in table.schema])
    return pa.Table.from_arrays(table.columns, schema=schema)


# -- checksums -----------------------------------------------------------------------------------
class _Checksum:
    """Rows and an order-independent digest of a table's canonical content (sum of row hashes).

    Each column becomes backend-neutral text in Arrow (vectorised); a row is its columns joined by
    a unit separator (NUL for NULL), hashed with BLAKE2b.
    """

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.rows = 0
        self._total = 0

    def add(self, chunk: pa.Table) -> None:
        columns = [_canonical(chunk.column(name), kind) for name, kind in self.kinds.items()]
        if len(columns) == 1:
            columns.append(pa.nulls(chunk.num_rows, pa.string()))
        lines = pc.binary_join_element_wise(*columns, "\x1f", null_handling="replace", null_replacement="\x00")
        total = self._total
        for line in lines.to_pylist():
            total += int.from_bytes(hashlib.blake2b(line.encode(), digest_size=16).digest(), "big")
        self._total = total % _MOD
        self.rows += chunk.num_rows

    def hexdigest(self) -> str:
        return f"{self._total:032x}"


def _canonical(column: pa.ChunkedArray, kind: str) -> pa.Array:
    """One column as text that reads the same from either backend."""
    column = column.combine_chunks()
    if kind == "geometry":  # ISO WKB, whatever flavour the backend handed out
        import shapely

        geoms = shapely.from_wkb(np.asarray(column.to_pylist(), dtype=object))
        return pa.array(shapely.to_wkb(geoms, hex=True, flavor="iso", include_srid=False), pa.string())
    if kind == "json":  # parsed and dumped again: key order and spacing are the backend's
        return pa.array([None if v is None else _json_text(v) for v in column.to_pylist()], pa.string())
    if kind == "timestamp":  # UTC microseconds
        return pc.cast(pc.cast(column.cast(pa.timestamp("us", tz="UTC")), pa.int64()), pa.string())
    if kind == "blob":
        return pa.array([None if v is None else hashlib.blake2b(v, digest_size=16).hexdigest()
                         for v in column.to_pylist()], pa.string())
    t = column.type
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        item = pa.float32() if kind == "float4" else t.value_type
        return pc.binary_join(column.cast(pa.list_(item), safe=False).cast(pa.list_(pa.string())), ",")
    if kind == "float4":  # REAL: its float32 value, however the driver widened it
        column = column.cast(pa.float32(), safe=False)
    return pc.cast(column, pa.string())


def _json_text(text: str) -> str:
    """JSON text in one form: keys sorted, no spaces (orjson when installed: several times faster)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is optional
        orjson = None
    if orjson is not None:
        try:
            return orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS).decode()
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # NaN, integers beyond 64 bits
            pass
    return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# -- source and destination ---------------------------------------------------------------------
def _same_place(src: str | Path, dst: str | Path) -> bool:
    if is_url(src) or is_url(dst):
        return str(src) == str(dst)
    return Path(src).resolve() == Path(dst).resolve()


def _open_source(location: str | Path) -> Store:
    import cim

    try:
        return cim.open(location, read_only=True).store
    except CityNotFound:
        raise CityNotFound(f"no city at {_shown(location)} to copy") from None


def _shown(location: str | Path) -> str:
    """A location for messages: a URL without its password."""
    return redact(str(location)) if is_url(location) else str(location)


class _Target:
    """Where the copy goes: a store to fill inside one transaction, finished or aborted."""

    store: Store
    location: str
    data_dir: Path

    def prepare(self) -> None:
        """Inside the transaction: the city schema, empty."""
        migrations.migrate(self.store)

    def finish(self) -> None:
        self.store.close()

    def abort(self) -> None:
        self.store.close()


class _FileTarget(_Target):
    """A DuckDB file, written as ``<file>.partial`` and renamed into place once committed."""

    def __init__(self, path: Path, *, replace: bool) -> None:
        self.path = path
        self.location = str(path)
        if path.exists():
            if not replace:
                raise CityExists(f"{path} already exists: copy to a new file, or pass --replace to overwrite it")
            _must_be_city(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = path.with_name(path.name + ".partial")
        _remove_duckdb(self.partial)  # left by a copy that was killed
        self.store = DuckDBStore(self.partial, must_exist=False)
        self.data_dir = path.with_name(path.name + ".data")  # where DuckDBStore keeps the file's side files

    def finish(self) -> None:
        self.store.close()
        Path(f"{self.path}.wal").unlink(missing_ok=True)  # a replaced city's log must not replay onto the copy
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self.store.close()
        _remove_duckdb(self.partial)


class _DatabaseTarget(_Target):
    """A PostgreSQL database (schema): tables created and filled in the same transaction."""

    def __init__(self, url: str, *, replace: bool) -> None:
        self.store = open_store(url, must_exist=False)
        self.location = self.store.location
        self.drop = [t for t in ("schema_migrations", *city_tables()) if self.store.has_table(t)]
        if self.drop and not replace:
            self.store.close()
            what = "a city" if "schema_migrations" in self.drop else f"tables of a city ({', '.join(self.drop)})"
            raise CityExists(f"{self.location} already holds {what}: copy to an empty database or schema, "
                             "or pass --replace to overwrite it")
        self.data_dir = self.store.data_dir

    def prepare(self) -> None:
        for table in self.drop:
            self.store.execute(f"DROP TABLE {table}")
        if self.drop:
            drop_all(self.store)  # the replaced city's derived tables describe rows that are gone
        super().prepare()


def _open_target(location: str | Path, *, replace: bool) -> _Target:
    if is_url(location):
        return _DatabaseTarget(str(location), replace=replace)
    return _FileTarget(Path(location), replace=replace)


def _must_be_city(path: Path) -> None:
    import cim

    try:
        cim.open(path, read_only=True).close()
    except CIMError as exc:
        raise CIMError(f"not replacing {path}: {exc}") from None


def _remove_duckdb(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


# -- side files ----------------------------------------------------------------------------------
class _SideFiles:
    """The source's data folder staged beside the destination's and swapped in just before commit."""

    def __init__(self, src: Path, dst: Path) -> None:
        self.src, self.dst = src, dst
        self.staging = dst.with_name(dst.name + ".incoming")
        self.previous = dst.with_name(dst.name + ".previous")
        self.count = self.size = 0
        self._installed = False

    def stage(self, say: Callable[[str], None], *, replace: bool) -> None:
        if not replace and self.dst.is_dir() and any(self.dst.iterdir()):
            raise CityExists(f"the destination's data folder {self.dst} already holds files: remove it, "
                             "or pass --replace to overwrite it")
        shutil.rmtree(self.staging, ignore_errors=True)
        if not self.src.is_dir():
            return
        say(f"copying side files from {self.src}")
        top = self.src

        def caches(folder: str, names: list[str]) -> list[str]:
            return [n for n in names if Path(folder) == top and n in CACHES]

        shutil.copytree(self.src, self.staging, ignore=caches)
        for path in self.staging.rglob("*"):
            if path.is_file():
                self.count += 1
                self.size += path.stat().st_size

    def install(self) -> None:
        """Put the staged files in place (the old folder kept aside until the commit is done)."""
        shutil.rmtree(self.previous, ignore_errors=True)
        if self.dst.exists():
            self.dst.rename(self.previous)
        if self.staging.exists():
            self.staging.rename(self.dst)
        self._installed = True

    def undo(self) -> None:
        if self._installed:
            shutil.rmtree(self.dst, ignore_errors=True)
            if self.previous.exists():
                self.previous.rename(self.dst)
        shutil.rmtree(self.staging, ignore_errors=True)

    def done(self) -> None:
        shutil.rmtree(self.previous, ignore_errors=True)


__all__ = ["copy_city", "city_tables", "CopyReport", "TableCopy", "CopyMismatch", "CHUNK_ROWS"]
