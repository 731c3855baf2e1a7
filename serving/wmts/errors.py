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
from collections.abc import Mapping

from cim.errors import CIMError, LayerNotFound, ValidationError, first_line

__all__ = ["OWSError", "exception_report", "code_of", "OWS", "kvp_operation", "lower_keys"]

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


def lower_keys(params: Mapping[str, str]) -> dict[str, str]:
    """KVP parameters with their names lower-cased (OGC parameter names are case-insensitive)."""
    return {k.lower(): v for k, v in params.items()}


def kvp_operation(params: Mapping[str, str], service: str, other: str, operations: tuple[str, ...]) -> str:
    """The operation a KVP request asks ``service`` for (one of ``operations``, matched case-insensitively);
    a request for another service, none, or an unknown one is refused with its OWS code."""
    p = lower_keys(params)
    asked = p.get("service", service)
    if asked.upper() != service:
        raise OWSError(f"SERVICE={asked[:20]!r}: this endpoint is {service} (use /{other.lower()} for {other})",
                       locator="service")
    request = p.get("request") or ""
    names = " or ".join(operations)
    if not request:
        raise OWSError(f"REQUEST is missing: use {names}", "MissingParameterValue", "request")
    for name in operations:
        if request.lower() == name.lower():
            return name
    raise OWSError(f"REQUEST={request[:30]!r} is not supported: use {names}", "OperationNotSupported", "request")

