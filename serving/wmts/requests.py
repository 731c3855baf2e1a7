"""WMTS requests: KVP parameters (any letter case) and RESTful paths → one ``TileRequest``.

Why: both encodings name the same tile; checking them in one place gives every client the same
OWS exception (code and locator) for the same mistake.

Example:
    >>> kvp({"service": "WMTS", "request": "GetTile", "layer": "dem", "style": "default",
    ...      "tilematrixset": "WebMercatorQuad", "tilematrix": "14", "tilerow": "6436", "tilecol": "13661",
    ...      "format": "image/png"}).level
    14
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from serving.wmts.capabilities import FORMATS, MVT
from serving.wmts.errors import OWSError, kvp_operation, lower_keys
from serving.wmts.matrixsets import TileMatrixSet, matrix_set

__all__ = ["TileRequest", "kvp", "operation", "tile_request", "format_of_extension"]


@dataclass(frozen=True)
class TileRequest:
    """One tile asked for: layer, matrix set, level, column, row and media type."""

    layer: str
    tms: TileMatrixSet
    level: int
    col: int
    row: int
    format: str


def operation(params: Mapping[str, str]) -> str:
    """The operation of a KVP request (``GetCapabilities`` or ``GetTile``)."""
    return kvp_operation(params, "WMTS", "WMS", ("GetCapabilities", "GetTile"))


def _need(p: dict[str, str], name: str) -> str:
    value = p.get(name.lower())
    if value is None or value == "":
        raise OWSError(f"{name} is missing", "MissingParameterValue", name)
    return value


def _int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise OWSError(f"{name}={value[:20]!r} is not a whole number", locator=name) from None
    if number < 0:
        raise OWSError(f"{name}={number} is negative", "TileOutOfRange", name)
    return number


def kvp(params: Mapping[str, str]) -> TileRequest:
    """The tile of a KVP GetTile request (all of LAYER, STYLE, FORMAT, TILEMATRIXSET, TILEMATRIX,
    TILEROW, TILECOL are required, as WMTS 1.0 says)."""
    p = lower_keys(params)
    version = p.get("version", "1.0.0")
    if version != "1.0.0":
        raise OWSError(f"VERSION={version[:12]!r}: this server speaks WMTS 1.0.0", locator="version")
    _style(_need(p, "Style"))
    return tile_request(_need(p, "Layer"), _need(p, "TileMatrixSet"), _need(p, "TileMatrix"), _need(p, "TileRow"),
                        _need(p, "TileCol"), _format(_need(p, "Format")))


def tile_request(layer: str, tms: str, level: str, row: str, col: str, media: str) -> TileRequest:
    """A checked ``TileRequest`` (the layer itself is checked by whoever knows the caller's role)."""
    tile_set = matrix_set(tms)
    if not level.isdigit():
        raise OWSError(f"TileMatrix={level[:20]!r} is not a level of {tile_set.identifier}", locator="TileMatrix")
    req = TileRequest(layer, tile_set, int(level), _int(col, "TileCol"), _int(row, "TileRow"), media)
    tile_set.check(req.level, req.col, req.row)
    if media == MVT and tile_set.identifier != "WebMercatorQuad":
        raise OWSError(f"vector tiles (MVT) come in WebMercatorQuad only; ask {tile_set.identifier} for image/png",
                       locator="Format")
    return req


def _style(style: str) -> None:
    if style not in ("default", ""):
        raise OWSError(f"STYLE={style[:30]!r}: the layers have one style, 'default'", locator="Style")


def _format(media: str) -> str:
    base = media.split(";")[0].strip().lower()
    if base in ("application/x-protobuf", "application/vnd.mapbox-vector-tile"):
        return MVT
    if base not in FORMATS:
        raise OWSError(f"FORMAT={media[:40]!r} is not served: use {' or '.join(FORMATS)}", locator="Format")
    return base


def format_of_extension(ext: str, style: str) -> str:
    """The media type of a RESTful URL's extension (``png``, ``mvt`` or ``pbf``); checks the style too."""
    _style(style)
    for media, known in FORMATS.items():
        if ext == known:
            return media
    if ext == "pbf":
        return MVT
    raise OWSError(f"unknown tile extension .{ext[:10]}: use .png or .mvt", locator="Format")
