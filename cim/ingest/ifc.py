"""IFC models into the city: every IfcProduct a feature (GlobalId as id), meshes in the city CRS.

The file is parsed and georeferenced before anything is returned (``bim.read_model`` refuses bad
files up front); geometry then streams, as the pipeline stores it in the ``meshes`` table inside
its transaction, and the elements become features once it is drained. Elements whose geometry
fails are rejected by GlobalId; the rest go in. The pipeline links each building to the parcel it
stands on (``parcel_under``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.errors import CRSError, ValidationError
from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import IfcOptions
from cim.ingest.source import layer_name_for
from cim.model.meshes import StoredMesh
from cim.model.relations import features

if TYPE_CHECKING:
    from cim.city import City

_CLASS_NAMES = {"BuildingStorey": "Storey", "BuildingElementProxy": "Element"}


def plan_ifc(path: Path, options: IfcOptions) -> list[Target]:
    """An IFC file fills one ``bim`` layer, named after the file unless ``layer`` names it."""
    return [Target(options.layer or layer_name_for(path.stem))]


def read_ifc(path: Path, options: IfcOptions, target: Target, ctx: ReadContext) -> SourceLayer:
    """One IFC file (IFC2X3, IFC4, IFC4X3) as a ``bim`` layer: a mesh stream, then its elements.

    Georeferencing comes from the file (IfcMapConversion, ePset_MapConversion, IfcSite
    RefLatitude/RefLongitude) unless ``anchor="x,y[,z]"`` (with ``rotation`` degrees and
    ``anchor_crs``, default the city's) places it; without either the file is refused before
    anything is returned.

    Example:
        >>> read_ifc(Path("tower.ifc"), IfcOptions(anchor="515400,3980300", rotation=12),
        ...          Target("tower"), ctx)  # doctest: +SKIP
    """
    from bim import read_model

    name = target.layer
    ctx.progress(f"{name}: reading {path.name}", 0.02)
    model = read_model(path, anchor=_anchor(ctx.city_crs, options), threads=options.threads,
                       workers=options.workers)
    placed_in_city_area(path, model.georef, ctx.city_crs)
    out = SourceLayer(target, kind="bim", feature_class="BimElement", source_crs=model.georef.crs,
                      read=len(model.elements))
    out.notes.append(f"georeferenced by {model.georef.method} ({model.georef.crs})")
    shapes = _Shapes()
    out.meshes = _city_meshes(model, ctx.city_crs, shapes)
    out.mesh_total = max(1, sum(1 for e in model.elements if e.ifc_class not in ("IfcSite", "IfcBuilding")))
    out.finish = lambda layer: _finish(layer, model, shapes, str(path))
    return out


def placed_in_city_area(path: Path, georef: Any, city_crs: str) -> None:
    """Refuse a model whose georeferencing puts it wholly away from the area the city's CRS is
    defined for (a model of a New Zealand building in a city in eastern China's Gauss-Krüger zone):
    its elements would land at wild coordinates with no error. Judged by the model's origin; a
    review or a proposal of a model asks the same before meshing it."""
    from gis.crs import beyond_area_of_use, transformer

    origin = shapely.points(georef.eastings, georef.northings)
    found = beyond_area_of_use(np.array([origin], dtype=object), georef.crs, city_crs)
    if found is None or not found.far[0]:
        return
    lon, lat = transformer(georef.crs, "EPSG:4326").transform(georef.eastings, georef.northings)
    raise CRSError(f"{path.name} is placed by {georef.method} ({georef.crs}) at lon {lon:.4f}, lat {lat:.4f}, "
                   f"{found.wholly_outside(f'the city CRS {city_crs}')}: if the model belongs to this city, place "
                   "it by an anchor E,N in the city's CRS (--anchor, with --rotation; anchor= in Python and a "
                   "process's anchor input); else keep it in a city whose CRS covers it")


def _anchor(city_crs: str, options: IfcOptions) -> Any:
    if options.anchor is None:
        return None
    from bim.georef import Anchor

    try:
        return Anchor.parse(options.anchor, rotation=options.rotation or 0.0, crs=options.anchor_crs or city_crs)
    except ValueError as exc:
        raise ValidationError(f"bad --anchor {options.anchor!r}: give x,y or x,y,z in metres of the "
                              "anchor CRS") from exc


class _Shapes:
    """What the geometry stream leaves behind: per-element footprints and z ranges (city CRS)."""

    def __init__(self) -> None:
        self.footprint: dict[str, Any] = {}
        self.z: dict[str, tuple[float, float]] = {}
        self.building_shape: dict[str, Any] = {}
        self.building_z: dict[str, tuple[float, float]] = {}
        self.storey_z: dict[str, tuple[float, float]] = {}

    def collect_storeys(self, elements: list[Any]) -> None:
        """Each storey's z range: the lowest and highest point of the elements it contains."""
        for e in elements:
            z = self.z.get(e.global_id)
            if z is None or not e.storey_id or e.storey_id == e.global_id:
                continue
            lo, hi = self.storey_z.get(e.storey_id, (z[0], z[1]))
            self.storey_z[e.storey_id] = (min(lo, z[0]), max(hi, z[1]))


def _city_meshes(model: Any, city_crs: str, shapes: _Shapes) -> Iterator[StoredMesh]:
    """The model's meshes moved into the city CRS, noting each element's footprint and z range."""
    from gis.crs import parse_crs, reproject, same_crs, transformer

    src, dst = parse_crs(model.georef.crs), parse_crs(city_crs)
    move = None if same_crs(src, dst) else transformer(src, dst)
    for mesh in _meshes_or_none(model):
        vertices = mesh.vertices.astype(np.float64)
        if move is not None:
            x, y = move.transform(vertices[:, 0], vertices[:, 1])
            vertices = np.column_stack([x, y, vertices[:, 2]])
        shapes.z[mesh.global_id] = (float(mesh.z_min), float(mesh.z_max))
        if mesh.footprint is not None:
            fp = mesh.footprint if move is None else reproject(np.array([mesh.footprint]), src, dst)[0]
            shapes.footprint[mesh.global_id] = fp
        yield StoredMesh(mesh.global_id, vertices, mesh.faces, mesh.color)
    for bid, b in model.buildings.items():
        fp = b.footprint
        if fp is not None and move is not None:
            fp = reproject(np.array([fp]), src, dst)[0]
        shapes.building_shape[bid], shapes.building_z[bid] = fp, (float(b.z_min), float(b.z_max))


def _meshes_or_none(model: Any) -> Iterator[Any]:
    """The model's meshes; when every element with geometry failed, none (each is rejected later)."""
    from bim.errors import NoGeometry

    try:
        yield from model.iter_meshes()
    except NoGeometry:
        if not model.failures:
            raise


def _finish(out: SourceLayer, model: Any, shapes: _Shapes, source: str) -> None:
    """Once the meshes are stored: the elements as features, failed ones rejected by GlobalId."""
    out.features = _features(model, shapes, out, source)
    out.properties = _layer_properties(model)
    out.parcel_links = {b: shapes.building_shape.get(b) for b in model.buildings}
    out.extra.update(schema=model.schema, georeference=model.georef.method, meshes=model.mesh_count)


def parcel_under(city: City, footprint: Any) -> str | None:
    """The current parcel that holds most of a footprint, if the city has parcels there."""
    if footprint is None or footprint.is_empty:
        return None
    rows = city.store.rows(
        f"SELECT id FROM {features(classes=['Parcel'], columns='id, geom', alias='p')} "
        "WHERE ST_Intersects(geom, ST_GeomFromWKB(?)) "
        "ORDER BY ST_Area(ST_Intersection(geom, ST_GeomFromWKB(?))) DESC, id LIMIT 1",
        [shapely.to_wkb(footprint), shapely.to_wkb(footprint)])
    return rows[0][0] if rows else None


def _features(model: Any, shapes: _Shapes, out: SourceLayer, source: str) -> pa.Table:
    shapes.collect_storeys(model.elements)
    failed = {f.global_id: f.reason for f in model.failures}
    for gid, reason in failed.items():
        out.reject(source, gid, f"geometry failed: {reason}")
    rows = [_feature_row(e, shapes) for e in model.elements if e.global_id not in failed]
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("id", pa.string()), ("class", pa.string()), ("name", pa.string()), ("cim_level", pa.int8()),
        ("lod", pa.string()), ("geom", pa.binary()), ("z_min", pa.float64()), ("z_max", pa.float64()),
        ("height", pa.float64()), ("properties", pa.string()), ("parent", pa.string())]))
    return table


def _feature_row(e: Any, shapes: _Shapes) -> dict[str, Any]:
    container = e.global_id if e.ifc_class == "IfcBuilding" else e.building_id
    geom = shapes.footprint.get(e.global_id)
    if geom is None and e.ifc_class in ("IfcSite", "IfcBuilding", "IfcBuildingStorey", "IfcSpace"):
        geom = shapes.building_shape.get(container) if container else _site_shape(shapes)
    z = shapes.z.get(e.global_id) or (shapes.building_z.get(container) if e.ifc_class == "IfcBuilding" else None)
    if z is None and e.ifc_class == "IfcBuildingStorey":
        z = shapes.storey_z.get(e.global_id)
    parent = e.parent_id  # a building's parcel is found by the pipeline (``parcel_links``)
    props = {"ifc_class": e.ifc_class, "type": e.type_name, "material": e.material, "storey": e.storey_id,
             "building": e.building_id, "site": e.site_id, "predefined_type": e.predefined_type,
             "elevation": e.elevation, **e.properties}
    return {
        "id": e.global_id, "class": _class_name(e.ifc_class), "name": e.name, "cim_level": e.cim_level,
        "lod": e.lod, "geom": shapely.to_wkb(geom) if geom is not None and not geom.is_empty else None,
        "z_min": z[0] if z else None, "z_max": z[1] if z else None,
        "height": (z[1] - z[0]) if z else None, "parent": parent,
        "properties": json.dumps({k: v for k, v in props.items() if v is not None}, ensure_ascii=False,
                                 default=str),
    }


def _site_shape(shapes: _Shapes) -> Any:
    parts = [g for g in shapes.building_shape.values() if g is not None]
    return shapely.union_all(parts) if parts else None


def _class_name(ifc_class: str) -> str:
    name = ifc_class[3:] if ifc_class.startswith("Ifc") else ifc_class
    return _CLASS_NAMES.get(name, name)


def _layer_properties(model: Any) -> dict[str, Any]:
    g = model.georef
    return {"schema": model.schema, "georeference": g.method, "crs": g.crs, "eastings": g.eastings,
            "northings": g.northings, "orthogonal_height": g.orthogonal_height, "rotation_deg": g.rotation_deg,
            "counts": model.counts()}


def iter_layer_buildings(city: City, layer: str) -> Iterator[dict[str, Any]]:
    """The buildings of a BIM layer with their parcel (``parent``) and height."""
    relation = features(layers=[layer], classes=["Building"], columns="id, name, parent, height")
    for fid, name, parent, height in city.store.rows(relation + " ORDER BY id"):
        yield {"id": fid, "name": name, "parcel": parent, "height": height}
