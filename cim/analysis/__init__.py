"""Planning analysis over the city model: indicators, compliance, sunlight, viewshed, flood, networks.

Each use case is one module with one public function of the same name; everything takes a
``City`` and returns Arrow tables or GeoDataFrames (``output=``).

Example:
    >>> from cim.analysis import indicators, check_compliance
    >>> indicators(city, by="block")               # doctest: +SKIP
    >>> check_compliance(city, only_failures=True) # doctest: +SKIP
"""

from __future__ import annotations

from cim.analysis.buffer import buffer_impact
from cim.analysis.compliance import check_compliance
from cim.analysis.flood import FloodResult, flood
from cim.analysis.indicators import indicators
from cim.analysis.pipe_failure import PipeFailure, pipe_failure
from cim.analysis.review import ReviewReport, review_ifc
from cim.analysis.rules import RuleSet, load_rules
from cim.analysis.solar import solar_position, solar_term_date
from cim.analysis.sunlight import sunlight
from cim.analysis.viewshed import Viewshed, line_of_sight, viewshed

__all__ = ["indicators", "check_compliance", "sunlight", "review_ifc", "ReviewReport", "load_rules", "RuleSet",
           "solar_position", "solar_term_date", "viewshed", "line_of_sight", "Viewshed", "flood", "FloodResult",
           "pipe_failure", "PipeFailure", "buffer_impact"]
