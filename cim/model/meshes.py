"""Meshes of features: stored as float32 offsets from a per-mesh origin in the city CRS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from cim.city import City


@dataclass
class StoredMesh:
    """One feature's triangles: ``vertices`` (n, 3) float64 in the city CRS, ``faces`` (m, 3)."""

    feature_id: str
    vertices: np.ndarray
    faces: np.ndarray
    color: tuple[float, float, float, float] | None = None

    @property
    def z_range(self) -> tuple[float, float]:
        return float(self.vertices[:, 2].min()), float(self.vertices[:, 2].max())


def to_rows(meshes: Iterable[StoredMesh], layer: str, version: int) -> pa.Table:
    """Arrow rows for the ``meshes`` table; vertices become float32 offsets from a rounded origin."""
    cols: dict[str, list[Any]] = {k: [] for k in (
        "feature_id", "layer", "version", "origin_x", "origin_y", "origin_z", "vertices", "faces",
        "vertex_count", "face_count", "color", "z_min", "z_max")}
    for m in meshes:
        origin = np.round(m.vertices.mean(axis=0), 0)
        z0, z1 = m.z_range
        for key, value in (("feature_id", m.feature_id), ("layer", layer), ("version", version),
                           ("origin_x", origin[0]), ("origin_y", origin[1]), ("origin_z", origin[2]),
                           ("vertices", (m.vertices - origin).astype("<f4").tobytes()),
                           ("faces", np.ascontiguousarray(m.faces, dtype="<u4").tobytes()),
                           ("vertex_count", len(m.vertices)), ("face_count", len(m.faces)),
                           ("color", list(m.color) if m.color is not None else None),
                           ("z_min", z0), ("z_max", z1)):
            cols[key].append(value)
    schema = pa.schema([("feature_id", pa.string()), ("layer", pa.string()), ("version", pa.int32()),
                        ("origin_x", pa.float64()), ("origin_y", pa.float64()), ("origin_z", pa.float64()),
                        ("vertices", pa.binary()), ("faces", pa.binary()), ("vertex_count", pa.int32()),
                        ("face_count", pa.int32()), ("color", pa.list_(pa.float32())),
                        ("z_min", pa.float64()), ("z_max", pa.float64())])
    return pa.table(cols, schema=schema)


#: meshes written per INSERT while a stream is stored
MESH_BATCH = 200


def write_meshes(city: City, meshes: Iterable[StoredMesh], layer: str, version: int, *,
                 progress: Callable[[int], None] | None = None) -> int:
    """Store a stream of meshes as ``layer``'s ``version`` in batches (inside the writer's
    transaction), so a model with thousands of elements never sits in memory whole.

    ``progress(done)`` is called after each batch stored. Returns how many meshes were stored.
    """
    batch: list[StoredMesh] = []
    done = 0
    for mesh in meshes:
        batch.append(mesh)
        done += 1
        if len(batch) >= MESH_BATCH:
            city.store.insert_arrow("meshes", to_rows(batch, layer, version))
            batch.clear()
            if progress is not None:
                progress(done)
    if batch:
        city.store.insert_arrow("meshes", to_rows(batch, layer, version))
        if progress is not None:
            progress(done)
    return done


def read_meshes(city: City, layer: str, *, version: int | None = None,
                ids: Iterable[str] | None = None) -> list[StoredMesh]:
    """The meshes of a layer (its current version by default), vertices back in the city CRS."""
    version = version or city.layer(layer)["version"]
    sql = ("SELECT feature_id, origin_x, origin_y, origin_z, vertices, faces, color FROM meshes "
           "WHERE layer = ? AND version = ?")
    params: list[Any] = [layer, version]
    if ids is not None:
        sql += " AND feature_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(ids))
    out = []
    for fid, ox, oy, oz, verts, faces, color in city.store.rows(sql + " ORDER BY feature_id", params):
        v = np.frombuffer(verts, dtype="<f4").reshape(-1, 3).astype(np.float64) + (ox, oy, oz)
        f = np.frombuffer(faces, dtype="<u4").reshape(-1, 3)
        out.append(StoredMesh(fid, v, f, tuple(color) if color is not None else None))
    return out
