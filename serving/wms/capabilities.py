"""The WMS 1.3.0 capabilities document and exception report.

Why: QGIS, ArcGIS, GDAL, owslib and most Chinese GIS clients still add a city as a WMS. The
document lists every layer the caller's role may see, with its box in each offered CRS written in
that CRS's axis order (``serving.wms.requests.north_first``).

Example:
    >>> dem = ("dem", "DEM", (120.1, 35.9, 120.2, 36.0))
    >>> xml = capabilities_xml("http://127.0.0.1:8000", "demo", "EPSG:4549", [dem])
    >>> b"<Name>dem</Name>" in xml
    True
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cim.errors import CIMError, first_line
from gis.crs import transformer
from serving.wms.requests import MAX_SIZE, north_first, offered_crs
from serving.wmts.errors import code_of

__all__ = ["capabilities_xml", "exception_report", "WMS"]

WMS = "http://www.opengis.net/wms"
XLINK = "http://www.w3.org/1999/xlink"
OGC = "http://www.opengis.net/ogc"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{WMS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _href(parent: ET.Element, url: str) -> None:
    _sub(parent, "OnlineResource", **{f"{{{XLINK}}}type": "simple", f"{{{XLINK}}}href": url})


def capabilities_xml(base: str, title: str, city_crs: str,
                     layers: list[tuple[str, str, tuple[float, float, float, float]]]) -> bytes:
    """The capabilities of ``layers`` — (name, abstract, lon/lat box) each — served at ``base``/wms."""
    ET.register_namespace("", WMS)
    ET.register_namespace("xlink", XLINK)
    root = ET.Element(f"{{{WMS}}}WMS_Capabilities", {"version": "1.3.0"})
    service = _sub(root, "Service")
    _sub(service, "Name", "WMS")
    _sub(service, "Title", title)
    _sub(service, "Abstract", "Maps of the city's raster and vector layers, drawn from its tiles")
    _href(service, f"{base}/wms")
    _sub(service, "MaxWidth", str(MAX_SIZE))
    _sub(service, "MaxHeight", str(MAX_SIZE))
    capability = _sub(root, "Capability")
    request = _sub(capability, "Request")
    for op, fmt in (("GetCapabilities", "text/xml"), ("GetMap", "image/png")):
        el = _sub(request, op)
        _sub(el, "Format", fmt)
        _href(_sub(_sub(_sub(el, "DCPType"), "HTTP"), "Get"), f"{base}/wms?")
    _sub(_sub(capability, "Exception"), "Format", "XML")
    top = _sub(capability, "Layer")
    _sub(top, "Title", title)
    crs_list = offered_crs(city_crs)
    for crs in crs_list:
        _sub(top, "CRS", crs)
    if layers:
        boxes = [b for _, _, b in layers]
        _geographic(top, (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                          max(b[3] for b in boxes)))
    for name, abstract, bbox in layers:
        el = _sub(top, "Layer", queryable="0", opaque="0")
        _sub(el, "Name", name)
        _sub(el, "Title", name)
        _sub(el, "Abstract", abstract)
        _geographic(el, bbox)
        for crs in crs_list:
            _bounding_box(el, crs, bbox)
        style = _sub(el, "Style")
        _sub(style, "Name", "default")
        _sub(style, "Title", "default")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _geographic(parent: ET.Element, bbox: tuple[float, float, float, float]) -> None:
    box = _sub(parent, "EX_GeographicBoundingBox")
    for tag, value in zip(("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude", "northBoundLatitude"),
                          (bbox[0], bbox[2], bbox[1], bbox[3]), strict=True):
        _sub(box, tag, f"{value:.7f}")


def _bounding_box(parent: ET.Element, crs: str, bbox: tuple[float, float, float, float]) -> None:

    target = "OGC:CRS84" if crs == "CRS:84" else crs
    minx, miny, maxx, maxy = transformer("OGC:CRS84", target).transform_bounds(*bbox)
    if north_first(crs):
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    digits = 7 if crs in ("EPSG:4326", "EPSG:4490", "CRS:84") else 2
    _sub(parent, "BoundingBox", CRS=crs, minx=f"{minx:.{digits}f}", miny=f"{miny:.{digits}f}",
         maxx=f"{maxx:.{digits}f}", maxy=f"{maxy:.{digits}f}")


def exception_report(exc: CIMError, *, message: str | None = None) -> bytes:
    """A WMS 1.3.0 ServiceExceptionReport for ``exc``; an unknown layer is ``LayerNotDefined``."""
    code, locator = code_of(exc, layer_code="LayerNotDefined")
    ET.register_namespace("", OGC)
    root = ET.Element(f"{{{OGC}}}ServiceExceptionReport", {"version": "1.3.0"})
    attrs = {"code": code, **({"locator": locator} if locator else {})}
    item = ET.SubElement(root, f"{{{OGC}}}ServiceException", attrs)
    item.text = message or first_line(exc)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
