"""A minimal WMS 1.3.0: GetCapabilities and GetMap (PNG), drawn from the same tiles as WMTS
(``serving.maps``); the HTTP wiring is ``tiles/routers/wms.py``."""

from serving.wms.capabilities import capabilities_xml, exception_report
from serving.wms.requests import MAX_SIZE, GetMap, get_map, north_first, offered_crs, operation

__all__ = ["MAX_SIZE", "GetMap", "capabilities_xml", "exception_report", "get_map", "north_first", "offered_crs",
           "operation"]
