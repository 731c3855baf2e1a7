"""A store for servers: reads run on a cursor of the calling thread, writes on the one connection.

A DuckDB connection is not safe for concurrent use across threads, and ``DuckDBStore`` serialises
everything behind one lock. A server answers many reads at once, so ``ThreadedStore`` gives each
worker thread its own cursor (same database, same process: it sees every committed write) while
writes and transactions still go through the single writer connection. Reads made inside a
transaction on the same thread use the writer connection so they see their own uncommitted rows.
Reads on a cursor obey the statement time limit in force (``cim.store.timeout``).

Example:
    >>> city = City(ThreadedStore(DuckDBStore("city.duckdb")))   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from cim.store.base import Store
from cim.store.counting import CountingStore
from cim.store.duckdb import DuckDBStore, ThreadCursors
from cim.store.timeout import interrupt_after


class ThreadedStore(CountingStore):
    """Wraps a ``DuckDBStore``: per-thread read cursors, one writer; writes counted (``generation``)."""

    def __init__(self, base: DuckDBStore) -> None:
        super().__init__(base)
        self._local = threading.local()
        self._readers = ThreadCursors(base.cursor)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The writer connection (use ``cursor()`` for reads from worker threads)."""
        return self.base.connection

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own read cursor, created on first use and reused after."""
        return self._readers.get()

    def _in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        if self._in_transaction():
            return self.base.rows(sql, params)
        cur = self.cursor()
        with interrupt_after(cur, duckdb.InterruptException):
            return cur.execute(sql, params or []).fetchall()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        if self._in_transaction():
            return self.base.arrow(sql, params)
        cur = self.cursor()
        with interrupt_after(cur, duckdb.InterruptException):
            return cur.execute(sql, params or []).to_arrow_table()

    def centroids(self, relation: str) -> pa.Table:
        return Store.centroids(self, relation)  # through this thread's cursor, not the writer's

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Reads inside go to the writer connection, so they see the transaction's own rows."""
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            with super().transaction():
                yield
        finally:
            self._local.depth -= 1

    @contextmanager
    def temporary(self, name: str, data: pa.Table) -> Iterator[None]:
        with self.transaction(), self.base.temporary(name, data):
            yield

    def close(self) -> None:
        """Close the read cursors; the wrapped store stays open (its owner closes it)."""
        self._readers.close()
