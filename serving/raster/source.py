"""Which COG a raster layer is, and what its values span: resolved once per layer version.

Why: every tile request needs the file, the zoom range and, for single-band or non-byte rasters,
the value range to rescale into colours. Reading that from the COG's smallest overview once (not
per tile) keeps a tile request to one windowed read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cim.errors import SourceError, ValidationError

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["RasterSource", "raster_source", "web_mercator"]

_LOCK = threading.Lock()
_SOURCES: dict[tuple[str, int], RasterSource] = {}


@lru_cache(maxsize=1)
def web_mercator():  # noqa: ANN201 - morecantile TileMatrixSet
    """The WebMercatorQuad tile matrix set (OGC 2D TMS), built once."""
    import morecantile

    return morecantile.tms.get("WebMercatorQuad")


@dataclass(frozen=True)
class RasterSource:
    """A raster layer's COG and facts about it."""

    layer: str
    version: int
    path: Path
    bands: int
    dtype: str
    role: str
    minzoom: int
    maxzoom: int
    bounds_4326: tuple[float, float, float, float]
    ranges: tuple[tuple[float, float], ...]  # per band: (min, max) of valid values
    crs_wkt: str = ""
    transform: Any = None  # affine.Affine of the full-resolution grid
    width: int = 0
    height: int = 0

    @property
    def is_dem(self) -> bool:
        return self.role == "dem"


def raster_source(city: City, layer: dict[str, Any]) -> RasterSource:
    """The ``RasterSource`` of a raster layer's catalogue row (cached per layer version).

    Example:
        >>> raster_source(city, city.layer("dem")).maxzoom  # doctest: +SKIP
        14
    """
    if layer.get("kind") != "raster":
        raise ValidationError(f"layer {layer['name']!r} is a {layer.get('kind')} layer, not a raster: "
                              "its map tiles are vector tiles (/collections/{layer}/tiles/...)")
    key = (f"{city.location}:{layer['name']}", int(layer["version"]))
    found = _SOURCES.get(key)
    if found is not None:
        return found
    props = layer.get("properties") or {}
    path = city.data_dir / str(props.get("path", ""))
    if not props.get("path") or not path.is_file():
        raise SourceError(f"the COG of raster layer {layer['name']!r} is missing ({path}); ingest the raster again")
    source = _inspect(layer["name"], int(layer["version"]), path, props)
    with _LOCK:
        _SOURCES[key] = source
    return source


def _inspect(name: str, version: int, path: Path, props: dict[str, Any]) -> RasterSource:
    from rio_tiler.io import Reader

    with Reader(str(path), tms=web_mercator()) as src:
        preview = src.preview(max_size=512)
        bounds = tuple(float(v) for v in src.get_geographic_bounds("EPSG:4326"))
        minzoom, maxzoom = int(src.minzoom), int(src.maxzoom)
        bands, dtype = src.dataset.count, str(src.dataset.dtypes[0])
        crs_wkt, transform = src.dataset.crs.to_wkt(), src.dataset.transform
        width, height = src.dataset.width, src.dataset.height
    data = preview.array  # masked
    ranges = []
    for band in range(data.shape[0]):
        valid = data[band].compressed()
        valid = valid[np.isfinite(valid)]
        ranges.append((float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0))
    return RasterSource(name, version, path, bands, dtype, str(props.get("role") or "image"),
                        minzoom, maxzoom, bounds, tuple(ranges), crs_wkt, transform, width, height)
