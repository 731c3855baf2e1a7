"""A store wrapped for a server: every write through it bumps ``generation``.

The server keys its layer catalogue, tile caches and ETags by the model version and re-reads it
only when ``generation`` changes, so a cached tile costs no database round trip. Writes made on
the wrapped store directly (a notebook that ingests through the ``City`` it served) count too,
when that store counts them (``writes``: ``DuckDBStore``). ``ThreadedStore``
(a DuckDB file: per-thread read cursors) and ``cim.store.watched.WatchedStore`` (a database other
processes write too: changes polled) both build on this; everything they do not override is the
wrapped store's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from cim.store.base import Store


class CountingStore(Store):
    """Passes everything to ``base``; ``generation`` goes up after each write and transaction."""

    def __init__(self, base: Store) -> None:
        self.base = base
        self.kind = base.kind
        self.location = base.location
        self._own = 0

    @property
    def generation(self) -> int:
        """Goes up after every write through this store or on the wrapped one; readers cache what
        they derive from the model until it changes."""
        return self._own + getattr(self.base, "writes", 0)

    def changed(self) -> None:
        """Count a change this store did not write itself (another process's, seen by a watcher)."""
        self._own += 1

    # -- writes are counted ----------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        try:
            self.base.execute(sql, params)
        finally:
            self._own += 1

    def insert_arrow(self, table: str, data: pa.Table, *, geometry: Sequence[str] = (), **options: Any) -> int:
        try:
            return self.base.insert_arrow(table, data, geometry=geometry, **options)
        finally:
            self._own += 1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.base.transaction():
                yield
        finally:
            self._own += 1

    # -- everything else is the wrapped store's ----------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.base.rows(sql, params)

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.base.arrow(sql, params)

    def centroids(self, relation: str) -> pa.Table:
        return self.base.centroids(relation)

    @contextmanager
    def temporary(self, name: str, data: pa.Table) -> Iterator[None]:
        with self.base.temporary(name, data):
            yield

    def has_table(self, name: str) -> bool:
        return self.base.has_table(name)

    def lock(self, key: str) -> None:
        self.base.lock(key)

    def size_bytes(self) -> int:
        return self.base.size_bytes()

    @property
    def data_dir(self) -> Path:
        return self.base.data_dir

    @property
    def read_only(self) -> bool:
        return self.base.read_only

    def for_server(self, refresh_s: float = 1.0) -> Store:
        """Already a server's store."""
        return self

    @property
    def unwrapped(self) -> Store:
        return self.base.unwrapped

    def close(self) -> None:
        """The wrapped store stays open (its owner closes it)."""

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.base, name)
