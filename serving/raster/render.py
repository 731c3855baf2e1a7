"""Raster tiles in WebMercatorQuad: coloured map tiles (PNG/WebP) and terrain-RGB DEM tiles.

Why: a web map shows a DEM or an orthophoto as 256 px tiles. Single-band rasters (DEMs) are
rescaled over their value range and coloured (``terrain`` by default); non-byte multi-band
rasters are rescaled per band; nodata (and a COG's mask) becomes transparent. A DEM also serves
terrain-RGB (Mapbox encoding: height = -10000 + (R·65536 + G·256 + B) · 0.1), read with nearest
resampling so a decoded pixel is the DEM's own sample to 0.05 m; nodata is alpha 0.

A tile none of whose pixels falls on the raster is ``None`` (the server answers 204 No Content);
any other tile is a full 256 px image, transparent where there is no data.

Example:
    >>> png = map_tile(source, 12, 3421, 1564, fmt="png")  # doctest: +SKIP
    >>> rgb = terrain_tile(source, 12, 3421, 1564)         # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np

from cim.errors import ValidationError
from serving.raster.source import RasterSource
from serving.raster.warp import read_tile

__all__ = ["MAX_ZOOM", "check_tile", "map_tile", "terrain_tile", "coarse_tilesize", "FORMATS"]

MAX_ZOOM = 24
TILE_SIZE = 256
FORMATS = {"png": "PNG", "webp": "WEBP"}
_EARTH_M_PER_PX_Z0 = 2 * math.pi * 6378137.0 / TILE_SIZE
_PNG_LEVEL = 3  # measured: level 6 costs ~2× the encode time for ~10 % smaller tiles
_WEBP_QUALITY, _WEBP_METHOD = 85, 2


def check_tile(z: int, x: int, y: int) -> None:
    """``ValidationError`` unless z/x/y address a WebMercatorQuad tile (z ≤ 24)."""
    if not 0 <= z <= MAX_ZOOM:
        raise ValidationError(f"zoom {z} is out of range: WebMercatorQuad tiles here go from 0 to {MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise ValidationError(f"tile {z}/{y}/{x} does not exist: at zoom {z} column and row go from 0 to {n - 1}")


def coarse_tilesize(z: int, y: int, grid_m: float) -> int:
    """Pixels per tile side so that one pixel covers at least ``grid_m`` metres on the ground."""
    lat = math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / (1 << z))))
    ground = _EARTH_M_PER_PX_Z0 / (1 << z) * math.cos(lat)
    return max(1, min(TILE_SIZE, int(TILE_SIZE * ground / grid_m)))


def map_tile(source: RasterSource, z: int, x: int, y: int, *, fmt: str = "png", colormap: str | None = None,
             rescale: tuple[float, float] | None = None, tilesize: int = TILE_SIZE) -> bytes | None:
    """A coloured tile (PNG or WebP, RGBA), or None when the tile misses the raster.

    ``colormap`` names a rio-tiler colour map for single-band rasters (default ``terrain`` for a
    DEM, ``greys`` otherwise); ``rescale`` overrides the value range. ``tilesize`` < 256 reads
    fewer pixels and scales them up (the desensitised view).
    """
    check_tile(z, x, y)
    if fmt not in FORMATS:
        raise ValidationError(f"format {fmt!r} is not served: use one of {', '.join(FORMATS)}")
    single = source.bands < 3
    if colormap and not single:
        raise ValidationError(f"a colour map applies to single-band rasters only; this one has {source.bands} bands")
    lut = _lut(colormap or ("terrain" if source.is_dem else "greys")) if single else None
    got = read_tile(source, z, x, y, size=tilesize, indexes=(1,) if single else (1, 2, 3))
    if got is None:
        return None
    data, valid = got
    if single:
        rgba = lut[_to_byte(data[0], rescale or source.ranges[0])]
        rgba[..., 3] = np.where(valid, rgba[..., 3], 0)
    else:
        if source.dtype == "uint8" and not rescale:
            rgb = data.astype(np.uint8)
        else:
            rgb = np.stack([_to_byte(data[i], rescale or source.ranges[i]) for i in range(3)])
        rgba = np.concatenate([rgb, (valid * 255).astype(np.uint8)[None]], axis=0).transpose(1, 2, 0)
    return _encode(np.ascontiguousarray(rgba), FORMATS[fmt])


def _to_byte(band: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    low, high = (float(v) for v in value_range)
    span = high - low if high > low else 1.0
    with np.errstate(invalid="ignore"):
        scaled = np.nan_to_num((band.astype(np.float64) - low) / span * 255.0, nan=0.0)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


@lru_cache(maxsize=32)
def _lut(name: str) -> np.ndarray:
    from rio_tiler.colormap import InvalidColorMapName, cmap

    try:
        table = cmap.get(name.lower())
    except InvalidColorMapName as exc:
        raise ValidationError(f"unknown colour map {name!r}: use e.g. terrain, viridis, greys") from exc
    out = np.zeros((256, 4), dtype=np.uint8)
    for value, rgba in table.items():
        if 0 <= int(value) < 256:
            out[int(value)] = rgba
    return out


def _encode(rgba: np.ndarray, fmt: str) -> bytes:
    """RGBA (h, w, 4) → PNG or WebP bytes, scaled up to 256 px (nearest) when smaller."""
    from PIL import Image

    image = Image.fromarray(rgba, "RGBA")
    if image.size != (TILE_SIZE, TILE_SIZE):
        image = image.resize((TILE_SIZE, TILE_SIZE), Image.Resampling.NEAREST)
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG", compress_level=_PNG_LEVEL)
    else:
        image.save(out, format="WEBP", quality=_WEBP_QUALITY, method=_WEBP_METHOD, exact=True)
    return out.getvalue()


def terrain_tile(source: RasterSource, z: int, x: int, y: int, *, tilesize: int = TILE_SIZE) -> bytes | None:
    """A terrain-RGB PNG (RGBA, nodata transparent) of a DEM, or None outside it."""
    check_tile(z, x, y)
    if not source.is_dem and source.bands != 1:
        raise ValidationError(f"layer {source.layer!r} is not a DEM: terrain tiles need a single-band elevation "
                              "raster (ingest it with role='dem')")
    got = read_tile(source, z, x, y, size=tilesize, indexes=(1,))
    if got is None:
        return None
    data, valid = got
    return encode_terrain_rgb(np.where(valid, data[0].astype(np.float64), np.nan))


def encode_terrain_rgb(heights: np.ndarray) -> bytes:
    """Heights (NaN = no data) → RGBA PNG in the Mapbox terrain-RGB encoding (lossless).

    Example:
        >>> encode_terrain_rgb(np.zeros((4, 4)))[:4]
        b'\\x89PNG'
    """
    valid = np.isfinite(heights)
    code = np.round((np.where(valid, heights, 0.0) + 10000.0) * 10.0)
    code = np.clip(code, 0, (1 << 24) - 1).astype(np.uint32)
    rgba = np.stack([(code >> 16) & 255, (code >> 8) & 255, code & 255, np.where(valid, 255, 0)],
                    axis=-1).astype(np.uint8)
    return _encode(rgba, "PNG")
