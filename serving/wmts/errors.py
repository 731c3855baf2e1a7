"""OGC web service exceptions: the code and locator OWS clients read, and the XML they expect.

Why: GDAL, owslib, QGIS and ArcGIS show the text of an OWS exception report to their user; a JSON
problem document would reach them as "cannot parse". The HTTP status still comes from the
server's one error table (``tiles/errors.py``); only the body's format is OWS here.

Example:
    >>> exception_report(OWSError("no TILEROW", "MissingParameterValue", "TileRow"))[:38]
    b"<?xml version='1.0' encoding='utf-8'?>"
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cim.errors import CIMError, LayerNotFound, ValidationError, first_line

__all__ = ["OWSError", "exception_report", "code_of", "OWS"]

OWS = "http://www.opengis.net/ows/1.1"


class OWSError(ValidationError):
    """A request a map service refuses, with its OWS exception code and the parameter at fault."""

    def __init__(self, message: str, code: str = "InvalidParameterValue", locator: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.locator = locator


def code_of(exc: CIMError, *, layer_code: str = "InvalidParameterValue") -> tuple[str, str | None]:
    """(exception code, locator) of any domain error; an unknown or hidden layer gets ``layer_code``."""
    if isinstance(exc, OWSError):
        return exc.code, exc.locator
    if isinstance(exc, LayerNotFound):
        return layer_code, "layer"
    if isinstance(exc, ValidationError):
        return "InvalidParameterValue", None
    return "NoApplicableCode", None


def exception_report(exc: CIMError, *, message: str | None = None) -> bytes:
    """An OWS 1.1 ExceptionReport (WMTS) for ``exc``; ``message`` replaces its text (internal errors)."""
    code, locator = code_of(exc)
    ET.register_namespace("ows", OWS)
    root = ET.Element(f"{{{OWS}}}ExceptionReport", {"version": "1.1.0", "xml:lang": "en"})
    attrs = {"exceptionCode": code, **({"locator": locator} if locator else {})}
    item = ET.SubElement(root, f"{{{OWS}}}Exception", attrs)
    ET.SubElement(item, f"{{{OWS}}}ExceptionText").text = message or first_line(exc)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
