"""BIM review (BIM 报建审查): an IFC building checked against its parcel's rules before it is ingested.

Why: an architect submits an IFC model for a parcel; the planning office wants to know, before the
model enters the city, whether it keeps the height limit, stays inside the setback and the road
red line, keeps its distance from the neighbours, and what it does to the parcel's FAR and
density. The model is read with ``bim.read_model`` (nothing is written to the city); its
footprint and height join the city's buildings as a candidate in one read-only query per rule.

Example:
    >>> from cim.analysis import review_ifc
    >>> report = review_ifc(city, "tower.ifc", parcel="P012-003-01")   # doctest: +SKIP
    >>> report.passed, report.write_html("review.html")                 # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.analysis._common import json_safe
from cim.analysis._review_html import render
from cim.analysis.compliance import compliance_arrow
from cim.analysis.rules import load_rules
from cim.errors import FeatureNotFound, ValidationError
from gis.crs import parse_crs, reproject, same_crs

if TYPE_CHECKING:
    from cim.city import City

#: rules a single building can be reviewed against (sunlight is opt-in: it takes seconds)
REVIEW_RULES = ["height", "setback", "road_red_line", "spacing", "far", "density"]


@dataclass
class ReviewReport:
    """What was reviewed, against what, and each check's verdict with reason and numbers."""

    model: dict[str, Any]
    parcel: dict[str, Any]
    checks: list[dict[str, Any]]
    footprint_wkt: str
    parcel_wkt: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def checked(self) -> bool:
        """True when at least one check could be judged (passed or failed)."""
        return any(c["status"] in ("pass", "fail") for c in self.checks)

    @property
    def passed(self) -> bool:
        """True when some check was judged and none failed (checks without data fail nothing, but a
        review in which nothing could be judged has not passed)."""
        return self.checked and not any(c["status"] == "fail" for c in self.checks)

    @property
    def verdict(self) -> str:
        """``compliant``, ``non_compliant``, or ``not_checked`` when no check could be judged."""
        return "not_checked" if not self.checked else "compliant" if self.passed else "non_compliant"

    @property
    def unchecked_reasons(self) -> list[str]:
        """Why checks could not be judged: each distinct reason once, with its rule."""
        seen: dict[str, None] = {}
        for c in self.checks:
            if c["status"] == "no_data":
                seen.setdefault(f"{c['rule']}: {c['reason_en']}", None)
        return list(seen) or ["no rule produced a check for this model and parcel"]

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The failed checks."""
        return [c for c in self.checks if c["status"] == "fail"]

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-able values (NaN as None: strict JSON)."""
        return json_safe({"passed": self.passed, "verdict": self.verdict, "created_at": self.created_at,
                          "model": self.model, "parcel": self.parcel, "checks": self.checks,
                          "footprint_wkt": self.footprint_wkt, "parcel_wkt": self.parcel_wkt})

    def write_json(self, path: str | Path) -> Path:
        """Write the report as UTF-8 JSON (Chinese kept readable)."""
        import json

        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str, allow_nan=False),
                        encoding="utf-8")
        return path

    def to_html(self) -> str:
        """A self-contained HTML page (no external assets): verdict, checks, a plan drawing."""

        return render(self)

    def write_html(self, path: str | Path) -> Path:
        """Write ``to_html()`` to ``path``."""
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path


def review_ifc(city: City, path: str | Path, *, parcel: str, anchor: Any = None, rules: Any = None,
               sunlight: bool = False) -> ReviewReport:
    """Review the IFC building(s) in ``path`` against ``parcel`` (id with or without ``parcels.``).

    ``anchor`` places a model without georeferencing (``bim.Anchor`` or ``"x,y[,z]"`` in the
    city CRS). ``sunlight=True`` adds the 日照 rule for the residential buildings on the parcel.
    """
    from bim import Anchor, read_model  # here, not at the top: ifcopenshell is the bim extra's
    from cim.ingest.ifc import placed_in_city_area

    rules = load_rules(rules).bind(city)
    layers = rules.input("parcels").require("a review of a model against its parcel").layers
    parcel_id, parcel_row = _parcel(city, layers, parcel)
    if isinstance(anchor, str):
        anchor = Anchor.parse(anchor, crs=city.crs)
    model = read_model(path, anchor=anchor)
    placed_in_city_area(Path(path), model.georef, city.crs)
    model.run_geometry()
    candidates = candidates_from_model(model, city.crs, rules.floor_height)
    _on_parcel(candidates, parcel_id, parcel_row, path)
    keys = REVIEW_RULES + (["sunlight"] if sunlight else [])
    with city.store.temporary("candidate", candidates):
        table = compliance_arrow(city, rules, keys, parcels=[parcel_id], extra="candidate")
    ids = set(candidates["id"].to_pylist())
    # NaN as None (the HTML page reads None too); a subject of None is a rule's no_data
    rows = json_safe([r for r in table.drop(["geom"]).to_pylist()
                      if r["subject"] is None or r["subject"] in ids or r["subject_class"] == "Parcel"])
    footprint = shapely.union_all(shapely.from_wkb(candidates["wkb"].to_numpy(zero_copy_only=False)))
    return ReviewReport(model=_model_info(model, candidates), parcel=parcel_row, checks=rows,
                        footprint_wkt=footprint.wkt, parcel_wkt=parcel_row.pop("wkt"))


def _parcel(city: City, layers: tuple[str, ...], parcel: str) -> tuple[str, dict[str, Any]]:
    """The parcel by its id, or by its id without the layer prefix in any parcel layer."""
    tried = [parcel] + [f"{layer}.{parcel}" for layer in layers if not parcel.startswith(f"{layer}.")]
    for pid in tried:
        try:
            feature = city.feature(pid)
        except FeatureNotFound:
            continue
        row = {"id": pid, **{k: v for k, v in feature["properties"].items() if not isinstance(v, dict | list)},
               "wkt": shapely.from_wkt(feature["wkt"]).wkt}  # one spelling, whichever store wrote the text
        return pid, row
    raise FeatureNotFound(f"no parcel {parcel!r} in {city.location}: give a parcel id from layer "
                          f"{' or '.join(layers)}, e.g. `cim query {city.location} --layer {layers[0]} --limit 5`")


def candidates_from_model(model: Any, city_crs: str, floor_height: float) -> pa.Table:
    """One row per IfcBuilding with a footprint: id, wkb (city CRS), height, floors, use, name."""

    names = {e.global_id: e.name for e in model.elements if e.ifc_class == "IfcBuilding"}
    storeys: dict[str, int] = {}
    for e in model.elements:
        if e.ifc_class == "IfcBuildingStorey" and e.building_id:
            storeys[e.building_id] = storeys.get(e.building_id, 0) + 1
    rows = [(bid, fp) for bid, fp in model.buildings.items() if fp.footprint is not None]
    if not rows:
        raise ValidationError(f"{model.path}: no building footprint could be made from the model's geometry")
    geoms = np.array([fp.footprint for _, fp in rows], dtype=object)
    if not same_crs(parse_crs(model.georef.crs), parse_crs(city_crs)):
        geoms = reproject(geoms, parse_crs(model.georef.crs), parse_crs(city_crs))
    heights = [float(fp.height) for _, fp in rows]
    floors = [float(storeys.get(bid) or max(1, round(h / floor_height))) for (bid, _), h in zip(rows, heights,
                                                                                                   strict=True)]
    return pa.table({
        "id": [f"candidate.{bid}" for bid, _ in rows], "wkb": shapely.to_wkb(geoms),
        "height": heights, "floors": floors, "use": ["candidate"] * len(rows),
        "name": [names.get(bid) or bid for bid, _ in rows],
    })


def _on_parcel(candidates: pa.Table, parcel_id: str, parcel_row: dict[str, Any], path: str | Path) -> None:
    """The model must stand on the parcel it is reviewed for (its footprint's centre inside it)."""
    area = shapely.from_wkt(parcel_row["wkt"])
    for fid, wkb in zip(candidates["id"].to_pylist(), candidates["wkb"].to_pylist(), strict=True):
        centre = shapely.from_wkb(wkb).centroid
        if not area.contains(centre):
            raise ValidationError(
                f"{Path(path).name}: building {fid.split('.', 1)[1]} stands at ({centre.x:.1f}, {centre.y:.1f}), "
                f"outside parcel {parcel_id}: check the model's georeferencing or give --anchor x,y inside the parcel")


def _model_info(model: Any, candidates: pa.Table) -> dict[str, Any]:
    g = model.georef
    fps = shapely.from_wkb(candidates["wkb"].to_numpy(zero_copy_only=False))
    return {"file": str(model.path), "schema": model.schema, "georeference": g.method, "crs": g.crs,
            "buildings": candidates.num_rows, "footprint_area": float(shapely.area(fps).sum()),
            "height": float(max(candidates["height"].to_pylist())),
            "floors": float(sum(candidates["floors"].to_pylist())),
            "floor_area": float(np.sum(shapely.area(fps) * np.asarray(candidates["floors"].to_pylist()))),
            "elements": len(model.elements), "meshes": model.mesh_count, "failures": len(model.failures)}


__all__ = ["review_ifc", "ReviewReport", "REVIEW_RULES", "candidates_from_model"]
