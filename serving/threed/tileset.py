"""A layer's 3D Tiles 1.1 tileset: the plan (which feature in which tile), tileset.json, glb content.

Why: one object serves both uses — the server answers ``tileset.json`` and each content file on
request (planning reads only ids, boxes and heights; a tile's footprints are read when that tile
is asked for), and ``export_3dtiles`` writes every file for a static host.

Layout: the root tile carries the east-north-up frame at its content's centre as its
``transform``; every other tile carries its own frame relative to its parent's, so each tile's
float32 vertices stay near their origin. Bounding volumes are ``region`` s (radians, ellipsoid
heights), which 3D Tiles leaves untouched by transforms. Content URIs are relative
(``content/{level}_{x}_{y}.glb``).

Example:
    >>> ts = plan_tileset(city, "buildings")   # doctest: +SKIP
    >>> ts.tileset_json()["asset"]["version"]  # doctest: +SKIP
    '1.1'
    >>> glb = ts.content("0_0_0")              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cim.access import COARSE_Z_M
from cim.errors import LayerNotFound, ValidationError
from serving.threed import source
from serving.threed.access import coarse_bounds, coarse_heights
from serving.threed.geodesy import enu_frame, relative_transform, to_lonlat
from serving.threed.glb import mesh_glb
from serving.threed.lod1 import extrude
from serving.threed.meshes import feature_rows, has_meshes, mesh_content, mesh_plan_inputs
from serving.threed.plan import DEFAULT_MAX_FEATURES, Node, plan_quadtree

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["Tileset3D", "plan_tileset", "content_uri"]

_MARGIN_RAD = 2e-7  # ≈ 1.3 m: regions enclose straight edges that dip below the ellipsoid grid
_MARGIN_M = 1.0


def content_uri(key: str) -> str:
    """Relative URI of a tile's glb inside the tileset folder."""
    return f"content/{key}.glb"


@dataclass
class Tileset3D:
    """The plan of one layer version's tileset; cheap to keep in memory (arrays, no geometry)."""

    city: City
    layer: str
    version: int
    ids: np.ndarray
    bounds: np.ndarray  # (n, 4) minx, miny, maxx, maxy in the city CRS
    base: np.ndarray
    top: np.ndarray
    importance: np.ndarray
    nodes: list[Node]
    view: str = "full"
    source_kind: str = "lod1"  # "lod1": extruded footprints; "mesh": the meshes table (BIM, CityJSON)
    sidecar: Any = None  # Path of the tile-ordered footprints (serving.threed.sidecar), once written
    not_drawn: source.NotDrawn = field(default_factory=source.NotDrawn)  # the layer's features left out
    frames: list[np.ndarray] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)

    @property
    def crs(self) -> str:
        return self.city.crs

    @property
    def nbytes(self) -> int:
        """About the memory the plan holds (what a byte-bounded cache counts): its arrays, its ids'
        text and its nodes."""
        arrays = (self.bounds, self.base, self.top, self.importance, *self.frames)
        ids = sum(len(str(i)) + 56 for i in self.ids) if self.ids.dtype == object else self.ids.nbytes
        return int(sum(a.nbytes for a in arrays) + ids + sum(n.content.nbytes + 120 for n in self.nodes))

    def tileset_json(self) -> dict[str, Any]:
        """The tileset.json document (3D Tiles 1.1)."""
        error = float(max(self.top.max() - self.base.min(), 1.0)) if self.ids.size else 0.0
        return {
            "asset": {"version": "1.1", "generator": "cim",
                      "tilesetVersion": f"{self.layer}.v{self.version}.{self.view}"},
            "geometricError": error,
            "root": self._tile(0, None),
            "extras": {"cim": {"layer": self.layer, "version": self.version, "features": int(self.ids.size),
                               "tiles": len(self.nodes), "crs": self.crs, "view": self.view,
                               "heights": "city z taken as ellipsoidal heights",
                               "not_drawn": self.not_drawn.to_json()}},
        }

    def _tile(self, index: int, parent: int | None) -> dict[str, Any]:
        node = self.nodes[index]
        world = self.frames[index]
        matrix = relative_transform(None if parent is None else self.frames[parent], world)
        tile: dict[str, Any] = {
            "boundingVolume": {"region": self._region(self._subtree[index])},
            "geometricError": node.geometric_error,
            "refine": "ADD",
            "transform": [float(v) for v in matrix.T.reshape(-1)],
            "content": {"uri": content_uri(node.key),
                        "boundingVolume": {"region": self._region(self._content_box(node.content))}},
        }
        if node.children:
            tile["children"] = [self._tile(child, index) for child in node.children]
        return tile

    def _content_box(self, members: np.ndarray) -> np.ndarray:
        b = self.bounds[members]
        return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max(),
                         self.base[members].min(), self.top[members].max()])

    def _region(self, box: np.ndarray) -> list[float]:
        minx, miny, maxx, maxy, zmin, zmax = box
        t = np.linspace(0.0, 1.0, 9)  # grid lines are curved in lon/lat: sample each edge
        xs = np.concatenate([minx + (maxx - minx) * t, np.full(9, maxx), maxx - (maxx - minx) * t, np.full(9, minx)])
        ys = np.concatenate([np.full(9, miny), miny + (maxy - miny) * t, np.full(9, maxy), maxy - (maxy - miny) * t])
        lon, lat = (np.radians(v) for v in to_lonlat(self.crs, xs, ys))
        return [float(lon.min() - _MARGIN_RAD), float(lat.min() - _MARGIN_RAD), float(lon.max() + _MARGIN_RAD),
                float(lat.max() + _MARGIN_RAD), float(zmin - _MARGIN_M), float(zmax + _MARGIN_M)]

    @property
    def _subtree(self) -> list[np.ndarray]:
        cached = getattr(self, "_subtree_boxes", None)
        if cached is None:
            cached = [self._content_box(n.content) for n in self.nodes]
            for i in range(len(self.nodes) - 1, -1, -1):  # children come after their parent
                for c in self.nodes[i].children:
                    a, b = cached[i], cached[c]
                    cached[i] = np.r_[np.minimum(a[[0, 1]], b[[0, 1]]), np.maximum(a[[2, 3]], b[[2, 3]]),
                                      min(a[4], b[4]), max(a[5], b[5])]
            self._subtree_boxes = cached
        return cached

    def node(self, key: str) -> Node:
        """The tile of a content key (``level_x_y``); ``LayerNotFound`` for an unknown one."""
        index = self.by_key.get(key)
        if index is None:
            raise LayerNotFound(f"tileset of {self.layer!r} (v{self.version}) has no tile {key!r}")
        return self.nodes[index]

    def content(self, key: str, aligned: dict[str, np.ndarray] | None = None) -> bytes:
        """The glb of one tile. ``aligned`` (``self.aligned_features()``) skips the per-tile query
        when many tiles are built at once (export)."""
        index = self.by_key.get(key)
        members = self.node(key).content
        ids = self.ids[members]
        if self.source_kind == "mesh" and self.view == "full":
            mesh, table = self._mesh_tile(ids, self.frames[index])
        else:
            if self.view == "full":
                table = self._footprints(index, ids, members, aligned)
                polygons = shapely.from_wkb(table["wkb"])
            else:  # desensitised: the grid boxes, never the outline
                table = self._labels(ids)
                polygons = shapely.box(*self.bounds[members].T)
            mesh = extrude(polygons, self.base[members], self.top[members], crs=self.crs, frame=self.frames[index])
        heights = self.top[members] - self.base[members]
        return mesh_glb(mesh, {"id": table["id"], "class": table["class"], "name": table["name"],
                               "height": heights, "base": self.base[members]},
                        extras={"cim": {"layer": self.layer, "version": self.version, "tile": key}})

    def _footprints(self, index: int, ids: np.ndarray, members: np.ndarray,
                    aligned: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        if aligned is not None:
            return {name: column[members] for name, column in aligned.items()}
        if self.sidecar is not None:
            from serving.threed.sidecar import read_tile_rows

            return read_tile_rows(self.sidecar, index)
        return _align(source.tile_features(self.city, self.layer, self.version, ids), ids)

    def _labels(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        found = feature_rows(self.city, self.layer, self.version, [str(i) for i in ids])
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValidationError(f"{len(missing)} features of this tile vanished from the city since the tileset "
                                  "was planned: request tileset.json again")
        return {"id": ids, "class": np.array([found[i][0] for i in ids], dtype=object),
                "name": np.array([found[i][1] for i in ids], dtype=object)}

    def _mesh_tile(self, ids: np.ndarray, frame: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
        from cim.model.meshes import read_meshes

        by_id = {m.feature_id: m for m in read_meshes(self.city, self.layer, version=self.version, ids=list(ids))}
        table = self._labels(ids)
        if len(by_id) != len(ids):
            raise ValidationError("meshes of this tile vanished from the city since the tileset was planned: "
                                  "request tileset.json again")
        return mesh_content([by_id[i] for i in ids], crs=self.crs, frame=frame), table

    def aligned_features(self) -> dict[str, np.ndarray] | None:
        """id, class, name, wkb of every planned feature, in plan order (one query for all);
        None when tiles are not made from footprints (meshes, the coarse view)."""
        if self.source_kind == "mesh" or self.view != "full":
            return None
        return _align(source.tile_features(self.city, self.layer, self.version), self.ids)


def _align(features: Any, wanted: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of ``features`` (Arrow) reordered to ``wanted`` ids (a hash lookup in Arrow's C++);
    an id that is not there is an error."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pos = pc.index_in(pa.array(list(wanted), pa.string()), value_set=features.column("id"))
    if pos.null_count:
        raise ValidationError(f"{pos.null_count} features of this tile vanished from the city since the tileset "
                              "was planned: request tileset.json again")
    take = pos.to_numpy(zero_copy_only=False)
    return {name: features.column(name).take(take).to_numpy(zero_copy_only=False)
            for name in ("id", "class", "name", "wkb")}


def plan_tileset(city: City, layer: str, *, view: str = "full",
                 max_features: int = DEFAULT_MAX_FEATURES, version: int | None = None) -> Tileset3D:
    """Plan the 3D tileset of a polygon layer's current version (or of ``version``, a past one) (LOD1
    extrusions).

    ``view="coarse"`` plans the desensitised tileset (see ``serving.threed.access``).

    Example:
        >>> plan_tileset(city, "buildings").tileset_json()["root"]["refine"]  # doctest: +SKIP
        'ADD'
    """
    row = city.layer(layer)
    if row["kind"] == "raster":
        raise ValidationError(f"layer {layer!r} is a raster: 3D tiles are made from polygon layers with heights")
    if view not in ("full", "coarse"):
        raise ValidationError(f"view must be 'full' or 'coarse', not {view!r}")
    version = int(row["version"]) if version is None else int(version)
    kind = "mesh" if has_meshes(city, layer, version) else "lod1"
    table = mesh_plan_inputs(city, layer, version) if kind == "mesh" else source.plan_inputs(city, layer, version)
    if table.num_rows == 0:
        raise ValidationError(f"layer {layer!r} has no polygons with a height to extrude into 3D tiles; "
                              "give its features a height (or z_min/z_max)")
    cols = {c: table.column(c).to_numpy(zero_copy_only=False).astype(float)
            for c in ("minx", "miny", "maxx", "maxy", "height", "area")}
    bounds = np.column_stack([cols["minx"], cols["miny"], cols["maxx"], cols["maxy"]])
    base = (table.column("z_min").to_numpy(zero_copy_only=False).astype(float) if kind == "mesh"
            else source.base_heights(city, table))
    height, area = cols["height"], cols["area"]
    if view == "coarse":
        bounds = coarse_bounds(bounds)
        base, height = coarse_heights(base), np.maximum(coarse_heights(height), COARSE_Z_M)
        area = (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
    importance = np.maximum(height, np.sqrt(np.maximum(area, 0.0)))
    nodes = plan_quadtree((bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2, importance,
                          max_features=max_features)
    ts = Tileset3D(city, layer, version, np.asarray(table.column("id").to_pylist(), dtype=object), bounds, base,
                   base + height, importance, nodes, view=view, source_kind=kind,
                   not_drawn=source.not_drawn(city, layer, version, meshed=kind == "mesh"))
    for i, node in enumerate(nodes):
        box = ts._content_box(node.content)
        ts.frames.append(enu_frame(city.crs, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[4]))
        ts.by_key[node.key] = i
    return ts
