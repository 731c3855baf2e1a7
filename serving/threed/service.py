"""3D Tiles of a city for a server: tileset plans kept in the shared tile cache, glb content on disk.

Why: planning a million-building tileset takes seconds and a tile's glb tens of milliseconds;
neither should happen twice for the same layer version. Plans live in memory, in the server's
one byte-bounded ``serving.cache.TileCache`` (counted by their arrays), and the most recent plan
is held besides, so a burst of glb requests for one layer never plans twice even when the
budget is small. A new ingest makes a new layer version, hence new keys: stale content is never
served and needs no invalidation.

Why glb content (and the tile-ordered footprints of a large layer, ``serving.threed.sidecar``)
stay as files under the city's data folder rather than in the store: a tile's glb is an opaque,
immutable blob of up to megabytes, written once per layer version and read whole; a file
survives restarts, costs no database round trip or transaction, and is what a static 3D Tiles
host serves too (``cim export 3dtiles`` writes the same layout). The folder is a cache: safe to
delete, left behind by ``cim copy``. Files are written atomically (temporary name, then rename),
so concurrent requests for one tile never read half a file; a read-only folder just means
nothing is kept.

Example:
    >>> service = Tiles3DService(TileCache()).open()
    >>> doc = service.tileset_json(city, "buildings", role=None)  # doctest: +SKIP
    >>> glb = service.content(city, "buildings", "0_0_0", role=None)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cim.store.timeout import statement_timeout
from serving.cache import TileCache
from serving.threed.access import view_for
from serving.threed.sidecar import write_sidecar
from serving.threed.tileset import Tileset3D, plan_tileset

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["Tiles3DService", "cache_dir", "dumps"]

log = logging.getLogger("serving.threed")

_GENERATOR = "g1"  # bump when the content layout changes, so old cached files are not reused


def cache_dir(city: City, layer: str, version: int, view: str) -> Path:
    """Where a layer version's generated files are kept, beside the city file."""
    return city.data_dir / "3dtiles" / f"{layer}.v{version}.{view}.{_GENERATOR}"


class Tiles3DService:
    """Plans and glb content of the city's 3D tilesets, as each role sees them."""

    def __init__(self, cache: TileCache | None = None, *, disk: bool = True, sidecar_from: int = 20_000) -> None:
        self.cache = cache if cache is not None else TileCache()
        self.disk = disk
        self.sidecar_from = sidecar_from  # layers with this many features get tile-ordered footprints
        self._lock = threading.Lock()
        self._planning: dict[tuple, threading.Lock] = {}
        self._last: tuple[tuple, Tileset3D] | None = None

    def open(self) -> Tiles3DService:
        """Nothing to open: plans are made on request."""
        return self

    def close(self) -> None:
        """Forget the plan held besides the cache."""
        self._last = None

    def plan(self, city: City, layer: str, *, role: str | None = None, version: int | None = None) -> Tileset3D:
        """The current tileset plan of ``layer`` (or of its past ``version``) as ``role`` sees it
        (PermissionDenied otherwise)."""
        row = city.layer(layer)
        view = view_for(row, role)
        version = int(row["version"]) if version is None else int(version)
        key = ("3dtiles-plan", city.location, layer, version, view)
        found = self._known(key)
        if found is not None:
            return found
        with self._lock:
            gate = self._planning.setdefault(key, threading.Lock())
        with gate:  # one planner per key; the others wait and reuse its result
            found = self._known(key)
            if found is None:
                with statement_timeout(None):  # shared, cached work, not shaped by the caller's query
                    found = plan_tileset(city, layer, view=view, version=version)
                if self.disk and found.ids.size >= self.sidecar_from:
                    _start_sidecar(found, cache_dir(city, layer, found.version, view) / "features.parquet")
                self.cache.put(key, found)
                self._last = (key, found)
            with self._lock:
                self._planning.pop(key, None)
        return found

    def _known(self, key: tuple) -> Tileset3D | None:
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        found = self.cache.get(key)
        if found is not None:
            self._last = (key, found)
        return found

    def tileset_json(self, city: City, layer: str, *, role: str | None = None,
                     version: int | None = None) -> dict[str, Any]:
        """tileset.json of ``layer`` (current, or its past ``version``) for ``role``."""
        return self.plan(city, layer, role=role, version=version).tileset_json()

    def content(self, city: City, layer: str, key: str, *, role: str | None = None,
                version: int | None = None) -> bytes:
        """One tile's glb, from disk when it was made before."""
        plan = self.plan(city, layer, role=role, version=version)
        plan.node(key)  # unknown key → LayerNotFound before touching the disk
        path = cache_dir(city, layer, plan.version, plan.view) / f"{key}.glb"
        if self.disk and path.is_file():
            return path.read_bytes()
        with statement_timeout(None):
            data = plan.content(key)
        if self.disk:
            _write_atomic(path, data)
        return data


def _start_sidecar(plan: Tileset3D, path: Path) -> None:
    """Write the plan's tile-ordered footprints in the background; tiles use them once complete."""
    if path.is_file():
        plan.sidecar = path
        return

    def run() -> None:
        try:
            plan.sidecar = write_sidecar(plan, path)
        except Exception:
            log.warning("could not write %s; tiles of %s read the city instead", path, plan.layer, exc_info=True)

    threading.Thread(target=run, name=f"3dtiles-sidecar-{plan.layer}", daemon=True).start()


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:  # a read-only city folder: serve from memory, cache nothing
        return


def dumps(doc: dict[str, Any]) -> bytes:
    """Compact JSON bytes of a tileset document."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
