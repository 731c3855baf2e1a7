"""Storage backends behind one interface."""

from cim.store.base import Store
from cim.store.duckdb import DuckDBStore, connect, spatial_extension_path

__all__ = ["Store", "DuckDBStore", "connect", "spatial_extension_path"]
