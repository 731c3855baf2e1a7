"""Where an IFC model stands on the earth: from the file's own georeferencing, or from a user anchor.

Why: a wall in an IFC file and a parcel in a GeoPackage can only be asked about together when both
are in the same map CRS. `resolve_georeference` finds the placement in the order of the issue:

1. ``IfcMapConversion`` + ``IfcProjectedCRS`` (IFC4 / IFC4X3),
2. ``ePSet_MapConversion`` + ``ePSet_ProjectedCRS`` on the IfcProject (IFC2X3, any case),
3. ``IfcSite`` RefLatitude / RefLongitude / RefElevation with the context's TrueNorth,
4. a user anchor (`Anchor`),

and otherwise raises `NoGeoreference` listing these options. An anchor given explicitly wins over
the file (the user knows better); `Georeference.source` then records what the file itself offered.

Units: `Georeference.to_map` takes model coordinates in **metres** (what ifcopenshell's geometry
iterator returns) and gives map coordinates in metres of `crs`. Map-conversion eastings given in
map units (e.g. millimetres) are converted to metres here. ``Scale`` is read as the combined
scale factor once the unit conversion (project length unit -> map unit) is done; when an exporter
put the unit conversion itself into ``Scale`` (e.g. 0.001 for a mm project and a metre map), that
is recognised, so either reading of the standard lands the model at the right size.

RefLatitude/RefLongitude (WGS 84) are projected to the UTM zone of the site (EPSG:326xx/327xx);
TrueNorth is turned into a grid rotation including the meridian convergence at the site.

Example:
    >>> import numpy as np
    >>> g = Georeference("anchor", "EPSG:4549", 500000.0, 4000000.0, 10.0)
    >>> g.to_map(np.array([[1.0, 2.0, 3.0]])).tolist()
    [[500001.0, 4000002.0, 13.0]]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from pyproj import CRS

from bim._compat import ifcopenshell
from bim.errors import AbsurdCoordinates, NoGeoreference
from bim.reader import source_name
from gis.crs import transformer

__all__ = ["Anchor", "Georeference", "dms_to_degrees", "resolve_georeference"]

MAP_CONVERSION = "IfcMapConversion"
EPSET_MAP_CONVERSION = "ePset_MapConversion"
SITE_REFERENCE = "IfcSite RefLatitude/RefLongitude"
ANCHOR = "anchor"

# Beyond these a map coordinate cannot be on the earth (half the equator is 2.0e7 m).
_MAX_PLANAR_M = 4.0e7
_MAX_HEIGHT_M = 1.0e5

_OPTIONS = (
    "Options, in the order they are tried: (1) IfcMapConversion + IfcProjectedCRS (IFC4/IFC4X3); "
    "(2) ePset_MapConversion + ePset_ProjectedCRS on the IfcProject (IFC2X3); "
    "(3) IfcSite RefLatitude/RefLongitude (+ RefElevation, TrueNorth); "
    "(4) an anchor: --anchor x,y[,z] --rotation DEG --anchor-crs EPSG:<code> "
    "(in Python: Anchor(x, y, z, rotation_deg, crs))."
)


@dataclass(frozen=True)
class Anchor:
    """A user-given placement: model origin (0, 0, 0) lands on (x, y, z) of `crs`.

    `rotation_deg` turns the model counter-clockwise: it is the angle from map east (grid) to the
    model's +X axis, the same convention as IfcMapConversion's XAxisAbscissa/XAxisOrdinate.
    A geographic `crs` (e.g. EPSG:4326, x = longitude, y = latitude) is accepted and projected to
    the UTM zone of that point.

    Example:
        >>> Anchor.parse("527000,4010000,5", rotation=12, crs="EPSG:4549")
        Anchor(x=527000.0, y=4010000.0, z=5.0, rotation_deg=12.0, crs='EPSG:4549')
    """

    x: float
    y: float
    z: float = 0.0
    rotation_deg: float = 0.0
    crs: str = "EPSG:4549"

    @classmethod
    def parse(cls, text: str, *, rotation: float = 0.0, crs: str = "EPSG:4549") -> Anchor:
        """Build an anchor from the CLI form ``x,y[,z]``."""
        parts = [float(p) for p in text.replace(" ", "").split(",") if p]
        if len(parts) not in (2, 3):
            raise ValueError(f"anchor {text!r} must be 'x,y' or 'x,y,z'")
        return cls(*parts, rotation_deg=float(rotation), crs=crs)


@dataclass(frozen=True)
class Georeference:
    """A Helmert-like placement of model metres into a projected map CRS (metres).

    map_xy = scale * R(x_axis) @ model_xy + (eastings, northings);
    map_z = model_z + orthogonal_height.
    `unit_scale` is the project length unit in metres (informative: `to_map` takes metres).
    `source` is what the file offered when an anchor overrode it; `notes` explain choices made.
    """

    method: str
    crs: str
    eastings: float
    northings: float
    orthogonal_height: float = 0.0
    x_axis_abscissa: float = 1.0
    x_axis_ordinate: float = 0.0
    scale: float = 1.0
    unit_scale: float = 1.0
    source: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rotation_deg(self) -> float:
        """Counter-clockwise angle from map east to the model's +X axis, in degrees."""
        return math.degrees(math.atan2(self.x_axis_ordinate, self.x_axis_abscissa))

    def matrix(self) -> np.ndarray:
        """The 4x4 affine matrix model metres -> map metres (useful for glTF / 3D Tiles)."""
        norm = math.hypot(self.x_axis_abscissa, self.x_axis_ordinate) or 1.0
        c, s = self.x_axis_abscissa / norm, self.x_axis_ordinate / norm
        k = self.scale
        return np.array(
            [
                [k * c, -k * s, 0.0, self.eastings],
                [k * s, k * c, 0.0, self.northings],
                [0.0, 0.0, 1.0, self.orthogonal_height],
                [0.0, 0.0, 0.0, 1.0],
            ]
        )

    def to_map(self, xyz: np.ndarray) -> np.ndarray:
        """Model coordinates (N, 3) in metres -> map coordinates (N, 3) float64 in `crs`."""
        pts = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        m = self.matrix()
        return pts @ m[:3, :3].T + m[:3, 3]

    def to_record(self) -> dict[str, Any]:
        """A flat, Arrow/JSON-friendly dict (notes joined into one string)."""
        rec = asdict(self)
        rec["notes"] = "; ".join(self.notes)
        rec["rotation_deg"] = self.rotation_deg
        return rec


def dms_to_degrees(dms: tuple[int, ...] | list[int] | None) -> float | None:
    """IfcCompoundPlaneAngleMeasure (deg, min, sec[, millionths of sec]) -> decimal degrees.

    All components carry the sign (IFC rule), e.g. (-87, -38, -21, -839999) -> -87.6394; a sign
    only on the degrees, as some exporters write, is honoured too.

    Example:
        >>> round(dms_to_degrees((49, 6, 1, 566000)), 6)
        49.100435
    """
    if not dms:
        return None
    parts = [float(p) for p in dms] + [0.0] * (4 - len(dms))
    sign = -1.0 if any(p < 0 for p in parts) else 1.0
    d, m, s, us = (abs(p) for p in parts[:4])
    return sign * (d + m / 60.0 + (s + us / 1e6) / 3600.0)


def resolve_georeference(model: ifcopenshell.file, anchor: Anchor | None = None) -> Georeference:
    """Find how `model` sits in a map CRS; see the module docstring for the order and rules.

    Raises NoGeoreference (listing the options) when nothing places the model, and
    AbsurdCoordinates when the placement cannot be on the earth (e.g. eastings of 1e9 m).

    Example:
        >>> g = resolve_georeference(model)  # doctest: +SKIP
        >>> g.method, g.crs  # doctest: +SKIP
        ('IfcMapConversion', 'EPSG:25832')
    """
    name = source_name(model)
    unit = ifcopenshell.util.unit.calculate_unit_scale(model)
    found, reasons = _from_file(model, unit)
    if anchor is not None:
        geo = _from_anchor(anchor, unit)
        if found is not None:
            geo = replace(geo, source=found.method, notes=(f"anchor overrides the file's {found.method}",))
    elif found is not None:
        geo = found
    else:
        why = f" ({'; '.join(reasons)})" if reasons else ""
        raise NoGeoreference(f"{name}: the model has no usable georeferencing{why}. {_OPTIONS}", path=name)
    check_plausible(geo, name)
    return geo


def _from_file(model: ifcopenshell.file, unit: float) -> tuple[Georeference | None, list[str]]:
    reasons: list[str] = []
    for reader in (_from_map_conversion, _from_epset, _from_site):
        try:
            geo = reader(model, unit)
        except _Unusable as exc:
            reasons.append(str(exc))
            continue
        if geo is not None:
            return geo, reasons
    return None, reasons


class _Unusable(Exception):
    """A georeferencing source is present but cannot be used (the reason is kept for the message)."""


def _from_map_conversion(model: ifcopenshell.file, unit: float) -> Georeference | None:
    if model.schema == "IFC2X3":
        return None
    ops = [op for op in model.by_type("IfcCoordinateOperation") if op.is_a("IfcMapConversion")]
    if not ops:
        return None
    op = _model_context_operation(model) or ops[0]
    target = op.TargetCRS
    if target is None or not target.is_a("IfcProjectedCRS"):
        raise _Unusable("IfcMapConversion has no IfcProjectedCRS target")
    crs = _normalise_crs(target.Name, "IfcProjectedCRS.Name")
    map_unit = ifcopenshell.util.unit.get_named_unit_scale(target.MapUnit) if target.MapUnit else unit
    params = {
        "Eastings": op.Eastings,
        "Northings": op.Northings,
        "OrthogonalHeight": op.OrthogonalHeight,
        "XAxisAbscissa": op.XAxisAbscissa,
        "XAxisOrdinate": op.XAxisOrdinate,
        "Scale": op.Scale,
    }
    return _helmert(MAP_CONVERSION, crs, params, unit, map_unit)


def _model_context_operation(model: ifcopenshell.file) -> Any:
    for ctx in model.by_type("IfcGeometricRepresentationContext", include_subtypes=False):
        for op in getattr(ctx, "HasCoordinateOperation", None) or ():
            if op.is_a("IfcMapConversion"):
                return op
    return None


def _from_epset(model: ifcopenshell.file, unit: float) -> Georeference | None:
    projects = model.by_type("IfcProject")
    if not projects:
        return None
    psets = {k.lower(): v for k, v in ifcopenshell.util.element.get_psets(projects[0]).items()}
    conv = psets.get("epset_mapconversion")
    if not conv:
        return None
    crs_pset = psets.get("epset_projectedcrs") or {}
    crs = _normalise_crs(crs_pset.get("Name"), "ePset_ProjectedCRS.Name")
    map_unit = _unit_name_scale(crs_pset.get("MapUnit"), default=unit)
    return _helmert(EPSET_MAP_CONVERSION, crs, conv, unit, map_unit)


def _helmert(method: str, crs: str, p: dict[str, Any], unit: float, map_unit: float) -> Georeference:
    """Map-conversion parameters (in map units) -> a Georeference in metres, units reconciled."""
    xaa = float(p.get("XAxisAbscissa") or 0.0)
    xao = float(p.get("XAxisOrdinate") or 0.0)
    if xaa == 0.0 and xao == 0.0:
        xaa = 1.0
    scale, note = _effective_scale(p.get("Scale"), unit / map_unit)
    notes = [f"project unit {unit:g} m, map unit {map_unit:g} m", note]
    return Georeference(
        method=method,
        crs=crs,
        eastings=float(p.get("Eastings") or 0.0) * map_unit,
        northings=float(p.get("Northings") or 0.0) * map_unit,
        orthogonal_height=float(p.get("OrthogonalHeight") or 0.0) * map_unit,
        x_axis_abscissa=xaa,
        x_axis_ordinate=xao,
        scale=scale,
        unit_scale=unit,
        notes=tuple(notes),
    )


def _effective_scale(declared: Any, unit_ratio: float) -> tuple[float, str]:
    """The scale to apply to model metres, given the declared Scale and project/map unit ratio.

    Some exporters store only a grid scale factor (~1) and rely on the unit conversion being
    implicit; others put the unit conversion itself into Scale. Whichever reading gives a factor
    nearer to 1 is the one that makes sense for a building on a map.
    """
    if declared is None:
        return 1.0, "Scale omitted: 1.0 after unit conversion"
    declared = float(declared)
    if declared <= 0 or not math.isfinite(declared):
        return 1.0, f"Scale {declared!r} ignored"
    as_units = declared / unit_ratio
    if abs(math.log(as_units)) < abs(math.log(declared)):
        return as_units, f"Scale {declared:g} includes the unit conversion"
    return declared, f"Scale {declared:g} used as the combined scale factor"


def _unit_name_scale(name: Any, *, default: float) -> float:
    if not name:
        return default
    text = str(name).upper()
    for key, factor in (("MILLI", 1e-3), ("CENTI", 1e-2), ("DECI", 1e-1), ("KILO", 1e3)):
        if key in text:
            return factor
    if "FOOT" in text or "FEET" in text:
        return 0.3048
    return 1.0


def _normalise_crs(name: Any, what: str) -> str:
    """'EPSG:25832', '25832', 'urn:ogc:def:crs:EPSG::25832' ... -> 'EPSG:25832' (or raise _Unusable)."""
    if not name:
        raise _Unusable(f"{what} is empty")
    text = str(name).strip()
    try:
        crs = CRS.from_user_input(int(text) if text.isdigit() else text)
    except Exception as exc:  # pyproj raises CRSError and others
        raise _Unusable(f"{what} {text!r} is not a CRS known to PROJ") from exc
    if not crs.is_projected:
        raise _Unusable(f"{what} {text!r} is not a projected CRS")
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt()


def _from_site(model: ifcopenshell.file, unit: float) -> Georeference | None:
    for site in model.by_type("IfcSite"):
        lat, lon = dms_to_degrees(site.RefLatitude), dms_to_degrees(site.RefLongitude)
        if lat is None or lon is None:
            continue
        origin = _placement_origin(site, unit)
        height = float(site.RefElevation or 0.0) * unit
        geo = place_lonlat(lon, lat, height, origin=origin, north_deg=_true_north_deg(model), unit=unit)
        note = f"site {site.GlobalId} at lat {lat:.7f}, lon {lon:.7f}, elevation {height:g} m"
        return replace(geo, method=SITE_REFERENCE, notes=(note, *geo.notes))
    return None


def _placement_origin(product: Any, unit: float) -> np.ndarray:
    if product.ObjectPlacement is None:
        return np.zeros(3)
    matrix = ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement)
    return np.asarray(matrix[:3, 3], dtype=np.float64) * unit


def _true_north_deg(model: ifcopenshell.file) -> float:
    """Angle of true north in the model's XY plane, counter-clockwise from +X (90 = model +Y)."""
    contexts = model.by_type("IfcGeometricRepresentationContext", include_subtypes=False)
    contexts = sorted(contexts, key=lambda c: c.ContextType != "Model")
    for ctx in contexts:
        if ctx.TrueNorth is not None:
            x, y = (list(ctx.TrueNorth.DirectionRatios) + [0.0])[:2]
            if x or y:
                return math.degrees(math.atan2(y, x))
    return 90.0


def place_lonlat(
    lon: float,
    lat: float,
    height: float,
    *,
    origin: np.ndarray | None = None,
    north_deg: float = 90.0,
    unit: float = 1.0,
) -> Georeference:
    """Place model point `origin` (metres) at WGS 84 lon/lat in the UTM zone of that point.

    `north_deg` is the direction of true north in model XY (counter-clockwise from +X). The grid
    rotation includes the meridian convergence, measured by projecting a point a little north.

    Example:
        >>> place_lonlat(120.38, 36.07, 5.0).crs
        'EPSG:32651'
    """
    crs = utm_crs(lon, lat)
    fwd = transformer("EPSG:4326", crs)
    e0, n0 = fwd.transform(lon, lat)
    e1, n1 = fwd.transform(lon, lat + 1e-4)
    grid_north = math.degrees(math.atan2(n1 - n0, e1 - e0))
    theta = math.radians(grid_north - north_deg)
    c, s = math.cos(theta), math.sin(theta)
    o = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
    return Georeference(
        method=ANCHOR,
        crs=crs,
        eastings=e0 - (c * o[0] - s * o[1]),
        northings=n0 - (s * o[0] + c * o[1]),
        orthogonal_height=height - o[2],
        x_axis_abscissa=c,
        x_axis_ordinate=s,
        unit_scale=unit,
        notes=(f"grid north {grid_north - 90.0:+.4f} deg from true north (meridian convergence)",),
    )


def utm_crs(lon: float, lat: float) -> str:
    """The WGS 84 UTM zone holding lon/lat, as 'EPSG:326zz' (north) or 'EPSG:327zz' (south)."""
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _from_anchor(anchor: Anchor, unit: float) -> Georeference:
    crs = CRS.from_user_input(anchor.crs)
    theta = math.radians(anchor.rotation_deg)
    if crs.is_geographic:
        geo = place_lonlat(anchor.x, anchor.y, anchor.z, north_deg=90.0 - anchor.rotation_deg, unit=unit)
        return replace(geo, notes=(f"anchor given in {anchor.crs}, projected to {geo.crs}",))
    auth = crs.to_authority()
    return Georeference(
        method=ANCHOR,
        crs=f"{auth[0]}:{auth[1]}" if auth else anchor.crs,
        eastings=float(anchor.x),
        northings=float(anchor.y),
        orthogonal_height=float(anchor.z),
        x_axis_abscissa=math.cos(theta),
        x_axis_ordinate=math.sin(theta),
        unit_scale=unit,
    )


def check_plausible(geo: Georeference, name: str = "<model>") -> None:
    """Raise AbsurdCoordinates when `geo` cannot put anything on the earth.

    Catches eastings of 1e9 m, map units mistaken for metres (x1000), heights beyond 100 km and
    scale factors far from 1.
    """
    values = (geo.eastings, geo.northings, geo.orthogonal_height, geo.scale)
    if not all(math.isfinite(v) for v in values):
        raise AbsurdCoordinates(f"{name}: georeferencing has non-finite numbers {values}", path=name)
    if abs(geo.eastings) > _MAX_PLANAR_M or abs(geo.northings) > _MAX_PLANAR_M:
        raise AbsurdCoordinates(
            f"{name}: {geo.method} puts the model at E={geo.eastings:.6g} m, N={geo.northings:.6g} m "
            f"in {geo.crs}, which is not on the earth; check the map unit and the Eastings/Northings",
            path=name,
        )
    if abs(geo.orthogonal_height) > _MAX_HEIGHT_M:
        raise AbsurdCoordinates(f"{name}: height {geo.orthogonal_height:.6g} m is absurd", path=name)
    if not 0.5 < geo.scale < 2.0:
        raise AbsurdCoordinates(f"{name}: scale {geo.scale:g} would resize the model", path=name)
    _check_in_crs_area(geo, name)


def _check_in_crs_area(geo: Georeference, name: str) -> None:
    lon, lat = transformer(geo.crs, "EPSG:4326").transform(geo.eastings, geo.northings)
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90.0):
        raise AbsurdCoordinates(
            f"{name}: E={geo.eastings:.6g}, N={geo.northings:.6g} are outside {geo.crs}", path=name
        )
    area = CRS.from_user_input(geo.crs).area_of_use
    if area is None:
        return
    margin = 10.0
    west, east = area.west - margin, area.east + margin
    inside_lon = west <= lon <= east or (east > 180.0 and lon + 360.0 <= east) or (west < -180 and lon - 360 >= west)
    if not inside_lon or not area.south - margin <= lat <= area.north + margin:
        raise AbsurdCoordinates(
            f"{name}: {geo.method} puts the model at lon {lon:.4f}, lat {lat:.4f}, far outside the area "
            f"of {geo.crs} ({area.name}); check the CRS and the map unit",
            path=name,
        )


