"""BIM and CityJSON meshes (the ``meshes`` table) as tile content, in the tile's frame.

Why: a BIM layer's elements already have triangles in the city CRS; a tile only has to move them
into its east-north-up frame (exactly, through ECEF) and tag each vertex with its element's row
in the property table. Vertex colours come from the element's surface style, so walls, glass and
slabs keep their look; no normals are written (clients shade flat).

Example:
    >>> mesh = mesh_content(stored, crs="EPSG:4549", frame=frame)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.model.relations import features
from serving.threed.geodesy import to_ecef, to_local
from serving.threed.lod1 import Mesh, _y_up

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.meshes import StoredMesh

__all__ = ["has_meshes", "mesh_plan_inputs", "mesh_content", "feature_rows"]

_GREY = (0.8, 0.8, 0.8, 1.0)


def has_meshes(city: City, layer: str, version: int) -> bool:
    """True when the layer version has rows in the ``meshes`` table (BIM, CityJSON)."""
    try:
        return bool(city.store.scalar("SELECT count(*) > 0 FROM meshes WHERE layer = ? AND version = ?",
                                      [layer, version]))
    except Exception:  # noqa: BLE001 - a city from before the meshes migration has no such table
        return False


def mesh_plan_inputs(city: City, layer: str, version: int) -> pa.Table:
    """Per meshed feature: id, x/y bounds of its vertices, z range and footprint-box area."""
    from cim.model.meshes import read_meshes

    meshes = read_meshes(city, layer, version=version)
    lo = np.array([m.vertices.min(axis=0) for m in meshes]) if meshes else np.zeros((0, 3))
    hi = np.array([m.vertices.max(axis=0) for m in meshes]) if meshes else np.zeros((0, 3))
    return pa.table({
        "id": [m.feature_id for m in meshes],
        "minx": lo[:, 0], "miny": lo[:, 1], "maxx": hi[:, 0], "maxy": hi[:, 1],
        "z_min": lo[:, 2], "height": hi[:, 2] - lo[:, 2],
        "area": (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1]),
    })


def mesh_content(meshes: Sequence[StoredMesh], *, crs: str, frame: np.ndarray) -> Mesh:
    """One ``Mesh`` of all the given meshes (feature index = position in ``meshes``)."""
    verts = np.concatenate([m.vertices for m in meshes])
    counts = np.array([len(m.vertices) for m in meshes])
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    faces = np.concatenate([m.faces.astype(np.int64) + s for m, s in zip(meshes, starts, strict=True)])
    local = to_local(frame, to_ecef(crs, verts[:, 0], verts[:, 1], verts[:, 2]))
    # colours are REAL (float32) in the store: read them as float32 whichever text form a backend gave
    rgba = np.array([m.color if m.color is not None else _GREY for m in meshes], dtype=np.float32).astype(float)
    colors = np.repeat(np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8), counts, axis=0)
    ids = np.repeat(np.arange(len(meshes), dtype=np.uint32), counts)
    return Mesh(_y_up(local), None, ids, faces.reshape(-1).astype(np.uint32), colors)


def feature_rows(city: City, layer: str, version: int, ids: Sequence[str]) -> dict[str, Any]:
    """class and name of the given features, by id."""
    sql = features(layers=[layer], version=version, columns="id, class, name")
    rows = city.store.rows(sql + " AND id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)])
    return {r[0]: (r[1], r[2]) for r in rows}
