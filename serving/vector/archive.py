"""Export vector tiles as one static file — PMTiles v3 or MBTiles — holding exactly the served tiles.

Why: when a city's audience outgrows one server, its vector tiles are best served as static files
from a CDN or object storage. The archive holds, tile for tile, what ``/collections/{layer}/tiles``
sends to the same role (the same generalisation per zoom, the same desensitised view): the tiles
come from the server's own renderer (``serving.vector.served``). One archive holds one layer or
several (a tile of several layers is their MVT layers side by side).

Example:
    >>> export_archive(city, "site/buildings.pmtiles", layers=["buildings"])  # doctest: +SKIP
    ArchiveReport(path='site/buildings.pmtiles', layers=('buildings',), tiles=341, ...)
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cim.errors import LayerNotFound, ValidationError, first_line
from cim.model.catalog import LayerInfo, layer_info, visible_layers
from cim.model.relations import field_kind
from serving.tilegrid import tiles_covering
from serving.vector import served
from serving.vector.mbtiles import MBTilesWriter
from serving.vector.pmtiles import PMTilesWriter, hilbert_order

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["ArchiveReport", "export_archive", "vector_layer", "MAX_ARCHIVE_ZOOM"]

MAX_ARCHIVE_ZOOM = 18
Format = Literal["pmtiles", "mbtiles"]


@dataclass(frozen=True)
class ArchiveReport:
    """What an export wrote."""

    path: str
    format: str
    layers: tuple[str, ...]
    tiles: int
    bytes: int
    minzoom: int
    maxzoom: int
    seconds: float


def export_archive(city: City, out: str | Path, *, layers: list[str] | None = None, role: str = "anonymous",
                   minzoom: int = 0, maxzoom: int = 16, fmt: Format = "pmtiles",
                   overwrite: bool = False) -> ArchiveReport:
    """Write the vector tiles of ``layers`` (default: every vector layer ``role`` may see) from
    ``minzoom`` to ``maxzoom`` into one archive at ``out``; clients zoom in past ``maxzoom`` on its tiles.

    ``role`` applies the server's visibility rules (the default, anonymous, exports what the
    public sees — what a CDN should carry). Tiles are prepared and kept in the city's derived tables,
    as the server keeps them (in memory for a city opened read-only).
    """
    start = time.perf_counter()
    path = Path(out)
    if not 0 <= minzoom <= maxzoom <= MAX_ARCHIVE_ZOOM:
        raise ValidationError(f"zooms {minzoom}..{maxzoom}: give 0 <= min-zoom <= max-zoom <= {MAX_ARCHIVE_ZOOM}")
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists: choose another file or pass --overwrite")
    if not path.parent.is_dir():
        raise ValidationError(f"folder {path.parent} does not exist: create it first")
    infos = _layers(city, layers, role)
    renderer = served.open_tiles(city)
    writer = PMTilesWriter(path) if fmt == "pmtiles" else MBTilesWriter(path)
    try:
        extents = {i.name: served.extent(renderer, i) for i in infos}
        for z in range(minzoom, maxzoom + 1):
            for x, y in _tiles_at(z, extents):
                data = b"".join(served.tile(renderer, i, z, x, y) for i in infos
                                if _touches(extents[i.name], z, x, y))
                if data:
                    writer.add(z, x, y, gzip.compress(data, compresslevel=6, mtime=0))
        size = writer.finish(_metadata(city, infos, minzoom, maxzoom), minzoom=minzoom, maxzoom=maxzoom,
                             bounds=_bounds(infos), center=_center(infos, minzoom, maxzoom))
    except BaseException:
        writer.abort()
        raise
    finally:
        served.close(renderer)
    return ArchiveReport(str(path), fmt, tuple(i.name for i in infos), writer.addressed, size, minzoom, maxzoom,
                         round(time.perf_counter() - start, 3))


def _layers(city: City, names: list[str] | None, role: str) -> list[LayerInfo]:
    if names:
        try:
            infos = [layer_info(city, n, role) for n in dict.fromkeys(names)]
        except LayerNotFound as exc:
            raise LayerNotFound(f"{first_line(exc).split(';')[0]} that the role {role!r} may see: check the name "
                                "(cim info CITY lists the layers) or export as another role") from None
        for info in infos:
            if not info.is_vector:
                raise ValidationError(f"layer {info.name!r} is a {info.kind} layer: it has map tiles, not vector "
                                      "tiles (serve it through WMTS or the raster tile API)")
        return infos
    infos = [i for i in visible_layers(city, role) if i.is_vector and i.bbox_4326 is not None]
    if not infos:
        raise ValidationError(f"the city has no vector layer the role {role!r} may see: nothing to export")
    return infos


def _tiles_at(z: int, extents: dict[str, tuple[float, float, float, float] | None]) -> list[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for bounds in extents.values():
        if bounds is not None:
            found.update(tiles_covering(bounds, z))
    return hilbert_order(z, found)


def _touches(bounds: tuple[float, float, float, float] | None, z: int, x: int, y: int) -> bool:
    if bounds is None:
        return False
    from serving.tilegrid import tile_bounds

    b = tile_bounds(z, x, y)
    return b[0] <= bounds[2] and bounds[0] <= b[2] and b[1] <= bounds[3] and bounds[1] <= b[3]


def vector_layer(info: LayerInfo, minzoom: int, maxzoom: int) -> dict[str, Any]:
    """The TileJSON ``vector_layers`` entry of a layer: its id and the attributes its features carry."""
    fields = {"id": "String", "class": "String", "name": "String", "height": "Number", "z_min": "Number",
              "z_max": "Number"}
    kinds = {"integer": "Number", "number": "Number", "boolean": "Boolean"}
    for f in info.fields:
        fields.setdefault(f["name"], kinds.get(field_kind(str(f.get("type", "string"))), "String"))
    return {"id": info.name, "fields": fields, "minzoom": minzoom, "maxzoom": maxzoom,
            "description": f"{info.feature_class or info.kind} features"}


def _metadata(city: City, infos: list[LayerInfo], minzoom: int, maxzoom: int) -> dict[str, Any]:
    name = city.meta("name") or "cim"
    return {"name": name if len(infos) > 1 else f"{name} · {infos[0].name}",
            "description": f"Vector tiles of {', '.join(i.name for i in infos)} exported by cim",
            "attribution": name, "type": "overlay", "format": "pbf",
            "vector_layers": [vector_layer(i, minzoom, maxzoom) for i in infos]}


def _bounds(infos: list[LayerInfo]) -> tuple[float, float, float, float]:
    boxes = [i.bbox_4326 for i in infos if i.bbox_4326]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _center(infos: list[LayerInfo], minzoom: int, maxzoom: int) -> tuple[float, float, int]:
    w, s, e, n = _bounds(infos)
    return (w + e) / 2, (s + n) / 2, max(minzoom, min(14, maxzoom))
