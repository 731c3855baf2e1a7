"""Storage backends behind one interface: a DuckDB file, or a PostgreSQL + PostGIS database."""

from __future__ import annotations

from pathlib import Path

from cim.store.base import Store
from cim.store.duckdb import DuckDBStore, connect, spatial_extension_path
from cim.store.postgis import PostGISStore, is_url


def open_store(location: str | Path, *, read_only: bool = False, must_exist: bool = True) -> Store:
    """The store for ``location``: ``postgresql://…`` URLs are PostGIS, anything else a DuckDB file."""
    if is_url(location):
        return PostGISStore(str(location), read_only=read_only, must_exist=must_exist)
    if str(location).startswith(("postgresql:/", "postgres:/")):  # pathlib folds "//" into "/"
        raise ValueError("a postgresql:// URL was turned into a file path; pass the URL as a str, not a Path")
    return DuckDBStore(location, read_only=read_only, must_exist=must_exist)


__all__ = ["Store", "DuckDBStore", "PostGISStore", "connect", "is_url", "open_store", "spatial_extension_path"]
