"""The storage interface the city model talks to.

``City`` and everything above it receive a ``Store``; they never open database files themselves.
DuckDB-spatial (``DuckDBStore``) is the embedded default; a server-grade backend is a second class
implementing the same methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa


class SQLRunner(ABC):
    """Something that runs SQL in its backend's dialect: a store, or a city's derived tables."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement that returns nothing."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run a query and return its rows as tuples."""

    @abstractmethod
    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query and return an Arrow table (geometry as GeoArrow WKB)."""


class Store(SQLRunner):
    """A connection to one city's storage."""

    #: where the city lives (file path or URL without its password), for messages
    location: str
    #: which backend: "duckdb" or "postgis"
    kind: str
    #: may another thread read through this store while the caller works on (one read, then done)?
    #: Not where each thread gets a connection or cursor of its own that stays open after it
    #: (PostGIS, a server's store): a thread per call would leave one behind per call
    reads_beside: bool = False

    @abstractmethod
    def insert_arrow(self, table: str, data: pa.Table, *, geometry: Sequence[str] = (),
                     json_objects: dict[str, pa.Table] | None = None) -> int:
        """Append an Arrow table to ``table``; columns in ``geometry`` hold WKB. Returns rows added.

        ``json_objects={"properties": attrs}`` fills that column with one JSON object per row built
        from the same-length table ``attrs`` (its column names become the keys).
        """

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    @abstractmethod
    @contextmanager
    def temporary(self, name: str, data: pa.Table) -> Iterator[None]:
        """``data`` visible to SQL as table ``name`` while inside (same thread, same transaction)."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """True when the city's schema has a table called ``name``."""

    @property
    @abstractmethod
    def data_dir(self) -> Path:
        """Folder for the city's side files (rasters, tile and 3D caches)."""

    @abstractmethod
    def size_bytes(self) -> int:
        """How much storage the city takes (file size, or its tables in the database)."""

    def lock(self, key: str) -> None:
        """Serialise writers that work on ``key`` until the current transaction ends."""

    def for_server(self, refresh_s: float = 1.0) -> Store:
        """The store a server reads this city through; the backend decides, the server never asks which.

        A server answers many reads at once and keys its caches and ETags by the model version,
        so the store it gets counts its writes (``generation``). The default is the store itself;
        ``DuckDBStore`` answers a ``ThreadedStore`` (a read cursor per worker thread),
        ``PostGISStore`` a ``WatchedStore`` (other processes' changes polled every ``refresh_s``).
        """
        return self

    @property
    def unwrapped(self) -> Store:
        """The backend store under any server wrapper: what derived side tables are written through,
        so writing them is never counted as a change of the model (no catalogue re-read, no new ETags)."""
        return self

    def centroids(self, relation: str) -> pa.Table:
        """``id``, ``x``, ``y``: the centroid (``ST_Centroid``) of each feature of ``relation`` (a
        ``SELECT id, geom …``), in no particular order. A backend may send them in bulk."""
        return self.arrow(f"SELECT id, ST_X(c) AS x, ST_Y(c) AS y FROM "
                          f"(SELECT id, ST_Centroid(geom) AS c FROM ({relation}) AS r) AS r")

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        result = self.rows(sql, params)
        return result[0][0] if result else None

    @property
    @abstractmethod
    def read_only(self) -> bool:
        """True when writes are refused."""
