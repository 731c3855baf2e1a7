"""The viewer's city endpoints: /api/city, /api/features/{id}, /api/search, /api/kpis, /api/compliance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from cim.analysis.kpis import kpis as city_kpis
from cim.analysis.kpis import screen_rules
from cim.model.catalog import LayerInfo, visible_layers
from serving.features.card import feature_card
from serving.features.search import MAX_LIMIT
from serving.features.search import search as city_search
from serving.processes import feature_collection
from tiles.dependencies import CityDep, Role, query_time
from tiles.routers.raster import layer_links as raster_links
from tiles.routers.tiles3d import layer_links as tiles3d_links

router = APIRouter(prefix="/api", tags=["city"])


def layer_entry(info: LayerInfo) -> dict[str, Any]:
    """One layer in /api/city, with the URLs its content is served at (3D and raster tiles add theirs)."""
    entry: dict[str, Any] = {
        "name": info.name, "kind": info.kind, "phase": info.phase, "classification": info.classification,
        "feature_class": info.feature_class, "count": info.count,
        "bbox": list(info.bbox_4326) if info.bbox_4326 else None,
        "fields": [{"name": f["name"], "type": f.get("type", "string")} for f in info.fields],
        "geometry_type": info.geometry_type if info.is_vector else None,
        "view": info.view,
        "tiles": f"/collections/{info.name}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}" if info.is_vector else None,
        "tileset3d": None,
        "raster_tiles": None,
    }
    entry.update(tiles3d_links(info))
    entry.update(raster_links(info))
    return entry


@router.get("/city", summary="The city and the layers you may see", response_model=dict[str, Any])
def city_doc(city: CityDep, role: Role) -> dict[str, Any]:
    """Name, CRS, extent (lon/lat) and the caller's visible layers with their tile URLs."""
    layers = visible_layers(city, role)
    # the city is where its features are: a raster (a national DEM) may cover far more than the city
    boxes = [i.bbox_4326 for i in layers if i.bbox_4326 and i.is_vector and i.count] or \
        [i.bbox_4326 for i in layers if i.bbox_4326]
    bbox = ([min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
            if boxes else None)
    return {
        "name": city.meta("name") or "city", "crs": city.crs, "bbox": bbox,
        "center": [round((bbox[0] + bbox[2]) / 2, 7), round((bbox[1] + bbox[3]) / 2, 7)] if bbox else None,
        "role": role,
        "layers": [layer_entry(i) for i in layers],
    }


@router.get("/features/{feature_id}", summary="One feature with its parents", response_model=dict[str, Any])
def feature(city: CityDep, role: Role,
            feature_id: Annotated[str, Path(max_length=256, description="Stable feature id.")]) -> dict[str, Any]:
    """Attributes, z range, parent chain (element → storey → building → parcel) and lon/lat geometry."""
    return feature_card(city, feature_id, role=role)


@router.get("/search", summary="Find features by name or id", response_model=list[dict[str, Any]])
def search(city: CityDep, role: Role,
           q: Annotated[str, Query(min_length=1, max_length=200, description="Text in the name or id.")],
           limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most hits returned.")] = 20,
           ) -> list[dict[str, Any]]:
    """Features whose name or id contains ``q`` (exact matches first), with centre and bbox."""
    return city_search(city, q, role=role, limit=limit)


@router.get("/kpis", summary="Key figures of a mode", response_model=list[dict[str, Any]])
def kpis(city: CityDep, role: Role,
         mode: Annotated[Literal["plan", "build", "manage", "operate"], Query(description="Viewer mode.")] = "plan",
         at: Annotated[datetime | None, Query(description="Operate mode: the figures at this time (ISO 8601 with "
                                                          "zone), e.g. the viewer's time slider; default now.")]
         = None) -> list[dict[str, Any]]:
    """The figures the viewer shows for a mode (operate is filled by the IoT part when present)."""
    if mode == "operate" and at is not None:  # operate's figures are all the IoT part's; it takes a time
        from cim.iot.kpis import kpis as operate_kpis

        return operate_kpis(city, mode, role, at=query_time("at", at))
    return city_kpis(city, mode, role=role)


@router.get("/compliance", summary="Planning-rule failures (规划 screen)", response_model=dict[str, Any])
def compliance(city: CityDep, role: Role,
               rule: Annotated[str | None, Query(max_length=32, description="Only this rule (height, setback, "
                                                                             "far).")] = None) -> dict[str, Any]:
    """The subjects that fail the screen's rules, as GeoJSON in lon/lat with the rule and the reason —
    found by the compliance engine (cached per model version). A rule is answered only when the caller
    sees every layer it read in full (exact geometry)."""
    full = {i.name for i in visible_layers(city, role) if i.view == "full"}
    features: list[dict[str, Any]] = []
    for name, found in screen_rules(city, full).items():
        if rule is None or rule == name:
            features += feature_collection(found.failures)["features"]
    return {"type": "FeatureCollection", "features": features}
