"""The analyses offered as OGC API – Processes: what each takes, what it gives, how it runs.

Why: the one screen, a notebook and any OGC client should get the same answers as ``cim check`` and
``city.indicators()``; each process here is a thin adapter from JSON inputs (points in lon/lat) to
the analysis function and back to JSON (features as GeoJSON in lon/lat). Analyses read every layer
they need, whatever its classification, so running them needs the ``planner`` role or higher.

Example:
    >>> sorted(PROCESSES)
    ['check', 'check-ifc', 'flood', 'indicators', 'viewshed']
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cim.analysis import check_compliance, flood, indicators, review_ifc, viewshed
from cim.errors import ValidationError
from gis.crs import transformer

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.city import City

#: the lowest role that may run a process (analyses read layers of every classification)
MIN_ROLE = "planner"


@dataclass(frozen=True)
class Process:
    """One process: its description (OGC API – Processes) and the function that runs it."""

    id: str
    title: str
    description: str
    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    run: Callable[[City, dict[str, Any]], dict[str, Any]]
    required: tuple[str, ...] = field(default=())

    def summary(self, base: str) -> dict[str, Any]:
        """The entry in ``/processes``."""
        return {"id": self.id, "title": self.title, "description": self.description, "version": "1.0.0",
                "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
                "outputTransmission": ["value"],
                "links": [{"rel": "self", "type": "application/json", "href": f"{base}/processes/{self.id}"},
                          {"rel": "http://www.opengis.net/def/rel/ogc/1.0/execute", "type": "application/json",
                           "href": f"{base}/processes/{self.id}/execution"}]}

    def description_doc(self, base: str) -> dict[str, Any]:
        """``/processes/{id}``: the summary with its inputs and outputs."""
        inputs = {name: {**spec, "minOccurs": 1 if name in self.required else 0, "maxOccurs": 1}
                  for name, spec in self.inputs.items()}
        return {**self.summary(base), "inputs": inputs, "outputs": self.outputs}

    def check_inputs(self, inputs: Any) -> dict[str, Any]:
        """The inputs as given, or ValidationError naming what is missing or unknown."""
        if not isinstance(inputs, dict):
            raise ValidationError('give the inputs as an object: {"inputs": {"name": value, …}}')
        unknown = sorted(set(inputs) - set(self.inputs))
        if unknown:
            raise ValidationError(f"process {self.id!r} has no input {unknown[0]!r}; inputs: {', '.join(self.inputs)}")
        missing = [name for name in self.required if name not in inputs]
        if missing:
            raise ValidationError(f"process {self.id!r} needs input {missing[0]!r}")
        return inputs


def feature_collection(frame: gpd.GeoDataFrame | None) -> dict[str, Any]:
    """A GeoDataFrame as a GeoJSON FeatureCollection in lon/lat (binary columns left out)."""
    if frame is None or len(frame) == 0:
        return {"type": "FeatureCollection", "features": []}
    geom = frame.geometry.name
    keep = [c for c in frame.columns
            if c != geom and not frame[c].map(lambda v: isinstance(v, bytes | bytearray)).any()]
    light = frame[keep + [frame.geometry.name]].to_crs("EPSG:4326")
    return json.loads(light.to_json(na="null", drop_id=True, default=str))


def _point(city: City, value: Any, name: str) -> tuple[float, float]:
    """A [lon, lat] input in the city's CRS."""

    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"input {name!r} is a point: give [longitude, latitude]") from exc
    if not (np.isfinite([lon, lat]).all() and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(f"input {name!r}: [{lon}, {lat}] is not a longitude and latitude")
    x, y = transformer("EPSG:4326", city.crs).transform(lon, lat)
    return float(x), float(y)


def _indicators(city: City, inputs: dict[str, Any]) -> dict[str, Any]:

    frame = indicators(city, by=inputs.get("by", "parcel"), zones=inputs.get("zones"), where=inputs.get("where"))
    return {"indicators": feature_collection(frame)}


def _check(city: City, inputs: dict[str, Any]) -> dict[str, Any]:

    frame = check_compliance(city, only=inputs.get("rules"), parcels=inputs.get("parcels"),
                             only_failures=bool(inputs.get("only_failures", False)))
    counts = frame.groupby(["rule", "status"]).size().unstack(fill_value=0) if len(frame) else None
    summary = {} if counts is None else {rule: {k: int(v) for k, v in row.items()} for rule, row in counts.iterrows()}
    return {"results": feature_collection(frame), "summary": summary}


def _check_ifc(city: City, inputs: dict[str, Any]) -> dict[str, Any]:

    ifc = inputs["ifc"]
    text = ifc.get("value") if isinstance(ifc, dict) else ifc
    if not isinstance(text, str):
        raise ValidationError('input "ifc" is the IFC file, base64-encoded: {"value": "...", "encoding": "base64"}')
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValidationError('input "ifc" is not valid base64') from exc
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "uploaded.ifc"  # the name a refusal gives the model
        path.write_bytes(data)
        report = review_ifc(city, path, parcel=str(inputs["parcel"]), anchor=inputs.get("anchor"),
                            sunlight=bool(inputs.get("sunlight", False)))
    return {"report": json.loads(json.dumps(report.to_dict(), default=str))}


def _flood(city: City, inputs: dict[str, Any]) -> dict[str, Any]:

    point = _point(city, inputs["connected_to"], "connected_to") if inputs.get("connected_to") else None
    result = flood(city, float(inputs["level"]), layers=inputs.get("layers"), connected_to=point)
    return {"features": feature_collection(result.features), "area_m2": result.area_m2, "notes": result.notes}


def _viewshed(city: City, inputs: dict[str, Any]) -> dict[str, Any]:

    view = viewshed(city, _point(city, inputs["point"], "point"), radius=float(inputs.get("radius", 500)),
                    cell=float(inputs.get("cell", 5)), observer_height=float(inputs.get("observer_height", 1.6)))
    return {"visible_fraction": view.visible_fraction, "buildings": feature_collection(view.buildings),
            "notes": view.notes}


_NUMBER, _TEXT, _BOOL = {"type": "number"}, {"type": "string"}, {"type": "boolean"}
_LIST = {"type": "array", "items": {"type": "string"}}
_LONLAT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_FEATURES = {"schema": {"type": "object", "contentMediaType": "application/geo+json"}}

PROCESSES: dict[str, Process] = {p.id: p for p in (
    Process("indicators", "Planning indicators (容积率, 建筑密度, 绿地率)",
            "FAR, building density, green ratio, heights and counts per parcel, block, district or zone layer.",
            {"by": {"title": "group by", "schema": _TEXT}, "zones": {"title": "zone layers", "schema": _LIST},
             "where": {"title": "SQL filter over the result columns", "schema": _TEXT}},
            {"indicators": {"title": "one feature per parcel or group", **_FEATURES}}, _indicators),
    Process("check", "Planning-rule compliance (规划条件核查)",
            "Every building and parcel against the planning rules; rules without inputs say what is missing.",
            {"rules": {"title": "rules to check", "schema": _LIST}, "parcels": {"title": "parcel ids", "schema": _LIST},
             "only_failures": {"title": "failures only", "schema": _BOOL}},
            {"results": {"title": "one feature per subject and rule", **_FEATURES},
             "summary": {"title": "counts per rule and status", "schema": {"type": "object"}}}, _check),
    Process("check-ifc", "Review of a BIM model against its parcel (报建审查)",
            "Checks an uploaded IFC building against the limits of the parcel it is for, without ingesting it.",
            {"ifc": {"title": "the IFC file, base64", "schema": {"type": "object"}},
             "parcel": {"title": "parcel id", "schema": _TEXT}, "anchor": {"title": "x,y[,z] in the city CRS",
                                                                          "schema": _TEXT},
             "sunlight": {"title": "add the 日照 rule", "schema": _BOOL}},
            {"report": {"title": "the review report", "schema": {"type": "object"}}}, _check_ifc, ("ifc", "parcel")),
    Process("flood", "Flood inundation at a water level",
            "Buildings, roads and pipes under water at a level (metres, the DEM's datum), and the flooded area.",
            {"level": {"title": "water level (m)", "schema": _NUMBER},
             "connected_to": {"title": "a point on the water [lon, lat]", "schema": _LONLAT},
             "layers": {"title": "layers to check", "schema": _LIST}},
            {"features": {"title": "flooded features with depth", **_FEATURES},
             "area_m2": {"title": "flooded area (m²)", "schema": _NUMBER}}, _flood, ("level",)),
    Process("viewshed", "Viewshed from a point",
            "What can be seen from a point over the DEM and the buildings, and which buildings.",
            {"point": {"title": "observer [lon, lat]", "schema": _LONLAT}, "radius": {"title": "radius (m)",
                                                                                      "schema": _NUMBER},
             "cell": {"title": "cell size (m)", "schema": _NUMBER},
             "observer_height": {"title": "eye height above the surface (m)", "schema": _NUMBER}},
            {"visible_fraction": {"title": "share of the circle visible", "schema": _NUMBER},
             "buildings": {"title": "buildings seen", **_FEATURES}}, _viewshed, ("point",)),
)}

__all__ = ["Process", "PROCESSES", "MIN_ROLE", "feature_collection"]
