"""The WMTS 1.0.0 capabilities document: the layers a role may see, their formats and tile limits.

Why written by hand (ElementTree): it is a fixed shape, and every client (GDAL, owslib, QGIS,
ArcGIS, OpenLayers, Chinese GIS clients) reads it; each layer lists both tile matrix sets with
``TileMatrixSetLimits`` (so clients ask only for tiles that exist), a KVP ``GetTile`` and a
RESTful ``ResourceURL`` per format.

Example:
    >>> dem = MapLayer("dem", "DEM", (120.1, 35.9, 120.2, 36.0), ("image/png",))
    >>> xml = capabilities_xml("http://127.0.0.1:8000", "demo", [dem])
    >>> b"<ows:Identifier>dem</ows:Identifier>" in xml
    True
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from gis.crs import transformer
from serving.wmts.errors import OWS
from serving.wmts.matrixsets import MATRIX_SETS, TILE_SIZE, WEB_MERCATOR, TileMatrixSet

__all__ = ["MapLayer", "capabilities_xml", "FORMATS", "MVT", "PNG", "WMTS"]

WMTS = "http://www.opengis.net/wmts/1.0"
XLINK = "http://www.w3.org/1999/xlink"
PNG = "image/png"
MVT = "application/vnd.mapbox-vector-tile"
#: media type → file extension in RESTful URLs
FORMATS = {PNG: "png", MVT: "mvt"}


@dataclass(frozen=True)
class MapLayer:
    """What the capabilities say of one layer."""

    name: str
    abstract: str
    bbox_4326: tuple[float, float, float, float]
    formats: tuple[str, ...]


def _ows(tag: str) -> str:
    return f"{{{OWS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def capabilities_xml(base: str, title: str, layers: list[MapLayer]) -> bytes:
    """The capabilities document for ``layers``, with URLs under ``base`` (the server's root URL)."""
    for prefix, uri in (("", WMTS), ("ows", OWS), ("xlink", XLINK)):
        ET.register_namespace(prefix, uri)
    root = ET.Element(f"{{{WMTS}}}Capabilities", {"version": "1.0.0"})
    ident = _sub(root, _ows("ServiceIdentification"))
    _sub(ident, _ows("Title"), title)
    _sub(ident, _ows("Abstract"), "Map tiles of the city's raster and vector layers (WebMercatorQuad, CGCS2000Quad)")
    _sub(ident, _ows("ServiceType"), "OGC WMTS")
    _sub(ident, _ows("ServiceTypeVersion"), "1.0.0")
    _operations(root, base)
    contents = _sub(root, f"{{{WMTS}}}Contents")
    for layer in layers:
        _layer(contents, base, layer)
    for tms in MATRIX_SETS.values():
        _matrix_set(contents, tms)
    _sub(root, f"{{{WMTS}}}ServiceMetadataURL", **{f"{{{XLINK}}}href": f"{base}/wmts/1.0.0/WMTSCapabilities.xml"})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _operations(root: ET.Element, base: str) -> None:
    ops = _sub(root, _ows("OperationsMetadata"))
    for name in ("GetCapabilities", "GetTile"):
        http = _sub(_sub(_sub(ops, _ows("Operation"), name=name), _ows("DCP")), _ows("HTTP"))
        encodings = [("KVP", f"{base}/wmts?")]
        if name == "GetCapabilities":
            encodings.append(("RESTful", f"{base}/wmts/1.0.0/WMTSCapabilities.xml"))
        else:
            encodings.append(("RESTful", f"{base}/wmts/1.0.0/"))
        for encoding, href in encodings:
            get = _sub(http, _ows("Get"), **{f"{{{XLINK}}}href": href})
            values = _sub(_sub(get, _ows("Constraint"), name="GetEncoding"), _ows("AllowedValues"))
            _sub(values, _ows("Value"), encoding)


def _layer(contents: ET.Element, base: str, layer: MapLayer) -> None:
    el = _sub(contents, f"{{{WMTS}}}Layer")
    _sub(el, _ows("Title"), layer.name)
    _sub(el, _ows("Abstract"), layer.abstract)
    w, s, e, n = layer.bbox_4326
    box = _sub(el, _ows("WGS84BoundingBox"))
    _sub(box, _ows("LowerCorner"), f"{w} {s}")
    _sub(box, _ows("UpperCorner"), f"{e} {n}")
    _sub(el, _ows("Identifier"), layer.name)
    style = _sub(el, f"{{{WMTS}}}Style", isDefault="true")
    _sub(style, _ows("Identifier"), "default")
    for fmt in layer.formats:
        _sub(el, f"{{{WMTS}}}Format", fmt)
    for tms in MATRIX_SETS.values():
        _limits(_sub(el, f"{{{WMTS}}}TileMatrixSetLink"), tms, layer)
    for fmt in layer.formats:
        template = (f"{base}/wmts/1.0.0/{layer.name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/"
                    f"{{TileCol}}.{FORMATS[fmt]}")
        _sub(el, f"{{{WMTS}}}ResourceURL", format=fmt, resourceType="tile", template=template)


def _limits(link: ET.Element, tms: TileMatrixSet, layer: MapLayer) -> None:
    _sub(link, f"{{{WMTS}}}TileMatrixSet", tms.identifier)
    limits = _sub(link, f"{{{WMTS}}}TileMatrixSetLimits")
    bbox = _in_set_crs(tms, layer.bbox_4326)
    for level in tms.levels():  # every level is served (past a raster's own detail, its pixels grow)
        c0, r0, c1, r1 = tms.covering(level, bbox)
        item = _sub(limits, f"{{{WMTS}}}TileMatrixLimits")
        _sub(item, f"{{{WMTS}}}TileMatrix", str(level))
        for tag, value in (("MinTileRow", r0), ("MaxTileRow", r1), ("MinTileCol", c0), ("MaxTileCol", c1)):
            _sub(item, f"{{{WMTS}}}{tag}", str(value))


def _in_set_crs(tms: TileMatrixSet, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    if tms is not WEB_MERCATOR:
        return bbox

    return transformer("EPSG:4326", "EPSG:3857").transform_bounds(*bbox)


def _matrix_set(contents: ET.Element, tms: TileMatrixSet) -> None:
    el = _sub(contents, f"{{{WMTS}}}TileMatrixSet")
    _sub(el, _ows("Identifier"), tms.identifier)
    _sub(el, _ows("SupportedCRS"), tms.crs_urn)
    if tms.well_known_scale_set:
        _sub(el, f"{{{WMTS}}}WellKnownScaleSet", tms.well_known_scale_set)
    for level in tms.levels():
        cols, rows = tms.matrix_size(level)
        m = _sub(el, f"{{{WMTS}}}TileMatrix")
        _sub(m, _ows("Identifier"), str(level))
        _sub(m, f"{{{WMTS}}}ScaleDenominator", repr(tms.scale_denominator(level)))
        _sub(m, f"{{{WMTS}}}TopLeftCorner", tms.corner())
        for tag, value in (("TileWidth", TILE_SIZE), ("TileHeight", TILE_SIZE), ("MatrixWidth", cols),
                           ("MatrixHeight", rows)):
            _sub(m, f"{{{WMTS}}}{tag}", str(value))
