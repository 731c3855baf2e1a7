"""Tilesets generated on request and kept: plans in memory, glb files on disk, keyed by version.

Why: planning a million-building tileset takes seconds and a tile's glb tens of milliseconds;
neither should happen twice for the same layer version. A new ingest makes a new layer version,
hence new keys: stale content is never served and needs no invalidation. Files are written
atomically (temporary name, then rename), so concurrent requests for one tile never read half a
file.

Example:
    >>> cache = TilesetCache()
    >>> doc = cache.tileset_json(city, "buildings", role=None)  # doctest: +SKIP
    >>> glb = cache.content(city, "buildings", "0_0_0", role=None)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serving.threed.access import view_for
from serving.threed.sidecar import write_sidecar
from serving.threed.tileset import Tileset3D, plan_tileset

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["TilesetCache", "cache_dir"]

log = logging.getLogger("serving.threed")

_GENERATOR = "g1"  # bump when the content layout changes, so old cached files are not reused


def cache_dir(city: City, layer: str, version: int, view: str) -> Path:
    """Where a layer version's generated files are kept, beside the city file."""
    return city.data_dir / "3dtiles" / f"{layer}.v{version}.{view}.{_GENERATOR}"


class TilesetCache:
    """Plans of recently used tilesets (LRU, ``max_plans``) and their content on disk."""

    def __init__(self, *, max_plans: int = 8, disk: bool = True, sidecar_from: int = 20_000) -> None:
        self.max_plans = max_plans
        self.disk = disk
        self.sidecar_from = sidecar_from  # layers with this many features get tile-ordered footprints
        self._plans: OrderedDict[tuple, Tileset3D] = OrderedDict()
        self._lock = threading.Lock()
        self._planning: dict[tuple, threading.Lock] = {}

    def plan(self, city: City, layer: str, *, role: str | None = None) -> Tileset3D:
        """The current tileset plan of ``layer`` as ``role`` sees it (PermissionDenied otherwise)."""
        row = city.layer(layer)
        view = view_for(row, role)
        key = (city.location, layer, int(row["version"]), view)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return found
            gate = self._planning.setdefault(key, threading.Lock())
        with gate:  # one planner per key; the others wait and reuse its result
            with self._lock:
                if key in self._plans:
                    return self._plans[key]
            plan = plan_tileset(city, layer, view=view)
            if self.disk and plan.ids.size >= self.sidecar_from:
                _start_sidecar(plan, cache_dir(city, layer, plan.version, view) / "features.parquet")
            with self._lock:
                self._plans[key] = plan
                self._planning.pop(key, None)
                while len(self._plans) > self.max_plans:
                    self._plans.popitem(last=False)
        return plan

    def tileset_json(self, city: City, layer: str, *, role: str | None = None) -> dict[str, Any]:
        """tileset.json of ``layer`` for ``role``."""
        return self.plan(city, layer, role=role).tileset_json()

    def content(self, city: City, layer: str, key: str, *, role: str | None = None) -> bytes:
        """One tile's glb, from disk when it was made before."""
        plan = self.plan(city, layer, role=role)
        plan.node(key)  # unknown key → LayerNotFound before touching the disk
        path = cache_dir(city, layer, plan.version, plan.view) / f"{key}.glb"
        if self.disk and path.is_file():
            return path.read_bytes()
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
        except Exception:  # noqa: BLE001 - an optimisation: on any failure tiles keep reading the city
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
