"""``city.map(...)``: an interactive deck.gl map of the city for Jupyter that needs no internet.

Why: analysts look at results where they compute them. The map uses the deck.gl bundle that ships
inside the pydeck wheel, inlined into the page, and draws no basemap tiles, so it renders on a
machine with no network (an office intranet, a plane, CI). Layers come from the city (GeoArrow
→ GeoDataFrame → EPSG:4326 GeoJSON); GeoDataFrames of results (compliance failures, flooded
buildings …) can be drawn on top.

lonboard was tried first: its 0.17 wheel bundles its JavaScript but still fetches parquet-wasm's
WebAssembly and an earcut worker from a CDN when it draws, so it cannot render offline.

Example:
    >>> m = city.map(["parcels", "buildings"], where={"parcels": "far_limit > 2"})   # doctest: +SKIP
    >>> m                          # in Jupyter: the map                               # doctest: +SKIP
    >>> m.to_html("map.html")      # a standalone page that opens offline              # doctest: +SKIP
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cim.errors import CIMError, ValidationError
from cim.model.catalog import all_layers

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.city import City

#: fill colours (RGBA) by the class of a layer's features
PALETTE = {
    "Parcel": [120, 170, 120, 70], "Block": [200, 200, 200, 40], "Building": [150, 160, 190, 220],
    "Road": [90, 90, 90, 255], "Pipe": [30, 120, 220, 255], "GreenSpace": [60, 170, 80, 140],
    "ParkingLot": [200, 180, 90, 140], "UtilityTunnel": [160, 90, 200, 120], "District": [230, 200, 120, 50],
}
OTHER = [120, 120, 120, 160]
HIGHLIGHT = [220, 40, 40, 230]
#: what a map shows by default: the layers holding these classes, drawn in this order
DEFAULT_CLASSES = ("District", "Parcel", "GreenSpace", "Road", "Building")


class CityMap:
    """A deck.gl map: ``_repr_html_`` shows it in Jupyter, ``to_html`` writes a standalone page."""

    def __init__(self, deck: Any, height: int = 560) -> None:
        self.deck = deck
        self.height = height

    def to_html(self, path: str | Path | None = None, *, title: str = "cim map") -> str:
        """The page as text (and written to ``path`` when given); deck.gl is inlined, nothing is fetched."""
        page = _page(self.deck.to_json(), title)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{escape(self.to_html())}" width="100%" height="{self.height}" '
                'style="border:none"></iframe>')


def city_map(city: City, layers: Any = None, *, where: dict[str, str] | None = None, bbox: Any = None,
             highlight: Any = None, extrude: bool = True, limit: int = 100_000, pitch: float = 45.0) -> CityMap:
    """A map of ``layers`` (names, or GeoDataFrames to draw; default: the layers of districts, parcels,
    green space, roads and buildings — found by class — or every vector layer when none of those).

    ``where`` filters a named layer by SQL (``{"buildings": "height > 50"}``); ``bbox`` (city
    CRS) crops every layer; ``highlight`` is drawn last in red (e.g. compliance failures);
    buildings are extruded by ``height`` when ``extrude``. At most ``limit`` features per layer.
    """
    pdk = _pydeck()
    frames = []
    catalogue = all_layers(city)
    for item in (list(layers) if layers is not None else default_layers(city)):
        if isinstance(item, str):
            frame = city.features(item, bbox=bbox, where=(where or {}).get(item), limit=limit)
            frames.append((item, frame, PALETTE.get(catalogue[item].feature_class or "", OTHER)))
        else:
            frames.append(("overlay", item, [240, 160, 30, 200]))
    if highlight is not None:
        frames.append(("highlight", highlight, HIGHLIGHT))
    deck_layers = [_layer(pdk, name, frame, colour, extrude) for name, frame, colour in frames if len(frame)]
    if not deck_layers:
        raise ValidationError("nothing to draw: the layers are empty (check the names, where and bbox)")
    view = _view(pdk, [f for _, f, _ in frames if len(f)], pitch)
    deck = pdk.Deck(layers=deck_layers, initial_view_state=view, map_style=None, map_provider=None,
                    tooltip=True)
    return CityMap(deck)


def default_layers(city: City) -> list[str]:
    """The layers a map shows when none are named (see ``DEFAULT_CLASSES``)."""
    vector = [i for i in all_layers(city).values() if i.is_vector and i.kind != "bim" and i.count]
    chosen = sorted((i for i in vector if i.feature_class in DEFAULT_CLASSES),
                    key=lambda i: (DEFAULT_CLASSES.index(i.feature_class), i.name))
    if not chosen:
        chosen = sorted(vector, key=lambda i: i.name)[:8]
    if not chosen:
        raise ValidationError(f"{city.location} has no vector layers to draw: ingest some first")
    return [i.name for i in chosen]


def _pydeck() -> Any:
    try:
        import pydeck
    except ImportError as exc:
        raise CIMError("city.map needs pydeck: pip install 'cim[jupyter]'") from exc
    return pydeck


def _geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """GeoJSON in EPSG:4326 with light properties (id, name, class, height and plain scalars)."""
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValidationError(f"cannot draw a {type(frame).__name__}: give layer names or GeoDataFrames")
    if frame.crs is None:
        raise ValidationError("a GeoDataFrame to draw has no CRS: label it with .set_crs(...) first")
    keep = [c for c in frame.columns if c != frame.geometry.name and c not in ("properties", "valid_from",
                                                                                "valid_to", "geom")]
    light = frame[keep + [frame.geometry.name]].to_crs("EPSG:4326")
    for col in keep:
        if light[col].dtype == object:
            light[col] = light[col].map(lambda v: v if isinstance(v, str | int | float | bool) or v is None else str(v))
    return json.loads(light.to_json(na="null", drop_id=True))


def _layer(pdk: Any, name: str, frame: gpd.GeoDataFrame, colour: list[int], extrude: bool) -> Any:
    polygons = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any()
    tall = extrude and polygons and "height" in frame.columns and frame["height"].notna().any()
    return pdk.Layer(
        "GeoJsonLayer", data=_geojson(frame), id=name, pickable=True, stroked=True, filled=True,
        extruded=bool(tall), get_fill_color=colour,
        get_elevation="(properties.height || 0) + 1.5" if name == "highlight" else "properties.height || 0",
        get_line_color=colour[:3] + [255], line_width_min_pixels=1, get_point_radius=4,
        point_radius_min_pixels=3, wireframe=False,
    )


def _view(pdk: Any, frames: list[gpd.GeoDataFrame], pitch: float) -> Any:
    import pyproj

    bounds = np.array([f.to_crs("EPSG:4326").total_bounds for f in frames])
    minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
    maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
    width = pyproj.Geod(ellps="WGS84").inv(minx, miny, maxx, maxy)[2]
    lat = (miny + maxy) / 2
    # deck.gl: 156 543 m per pixel at zoom 0 on the equator; fit the extent into ~800 pixels
    zoom = float(np.clip(np.log2(156_543.0 * np.cos(np.radians(lat)) * 800 / max(width, 50.0)), 3, 19))
    return pdk.ViewState(longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=zoom, pitch=pitch)


def _page(deck_json: str, title: str) -> str:
    bundle = _bundle()
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>html,body,#deck{{margin:0;padding:0;width:100%;height:100%;overflow:hidden;background:#f7f7f5}}</style>
<script>{bundle}</script></head>
<body><div id="deck"></div>
<script>
const cimDeck = createDeck({{container: document.getElementById("deck"), jsonInput: {deck_json}, tooltip: true}});
</script></body></html>
"""


def _bundle() -> str:
    """deck.gl (the @deck.gl/jupyter-widget build) from inside the installed pydeck wheel."""
    pdk = _pydeck()
    path = Path(pdk.__file__).parent / "nbextension" / "static" / "index.js"
    if not path.is_file():
        raise CIMError(f"pydeck's bundled deck.gl is missing ({path}): reinstall pydeck")
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


__all__ = ["city_map", "CityMap", "PALETTE", "default_layers"]
