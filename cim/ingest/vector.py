"""Vector sources (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV) into layers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.errors import CRSError, SourceError
from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import VectorOptions
from cim.ingest.profiles import layer_profile
from cim.ingest.properties import binary_as_base64, feature_ids, parent_ids, profile_columns
from cim.ingest.source import layer_name_for, table_not_found

if TYPE_CHECKING:
    from gis.vector import VectorData


def plan_vector(path: Path, options: VectorOptions) -> list[Target]:
    """The layers a vector source fills: every layer of a GeoPackage unless ``source_layer`` picks one."""
    from gis.vector import list_layers

    names = [options.source_layer] if options.source_layer else _layers_of(path, list_layers)
    if options.source_layer and path.suffix.lower() == ".gpkg" and options.source_layer not in list_layers(path):
        raise table_not_found(path, options.source_layer)
    if options.layer and len(names) > 1:
        raise SourceError(
            f"{path} holds {len(names)} layers ({', '.join(names)}); --layer names one target layer, "
            "so pick the source layer with --source-layer"
        )
    many = len(names) > 1 or options.source_layer is not None
    # a layer picked from a many-layer file is named as when the whole file is ingested, so ingesting
    # it again updates that layer
    return [Target(options.layer or layer_name_for(name if many else path.stem.split(".")[0]),
                   name if many else None) for name in names]


def _layers_of(path: Path, list_layers: Any) -> list[str]:
    if path.suffix.lower() not in _MULTI_TABLE:
        return [path.stem]
    names = list_layers(path)
    if not names:
        raise SourceError("; ".join([f"{path} holds no vector layers", *left_out(path)]))
    return names


_MULTI_TABLE = {".gpkg", ".sqlite"}
_RASTER_TABLES = {"tiles": "a tile pyramid", "2d-gridded-coverage": "a gridded coverage"}


def left_out(path: Path) -> list[str]:
    """What a GeoPackage (or SQLite) source holds besides its vector layers, and why it is not
    ingested with them: one sentence per kind of table, naming every table.

    Example:
        >>> left_out(Path("bubenec.gpkg"))[0].split(": ")[1]  # doctest: +SKIP
        'ingest it on its own, as a raster (cim ingest CITY bubenec.gpkg --source-layer dtm)'
    """
    from gis.vector import list_tables

    if path.suffix.lower() not in _MULTI_TABLE:
        return []
    tables = [(name, kind) for name, kind in list_tables(path) if kind != "features"]
    notes = []
    rasters = [(name, kind) for name, kind in tables if kind in _RASTER_TABLES]
    if rasters:
        what = ", ".join(f"{name} ({_RASTER_TABLES[kind]})" for name, kind in rasters)
        first = rasters[0][0]
        verb = "is a raster" if len(rasters) == 1 else f"are {len(rasters)} rasters"
        notes.append(f"{what} {verb}, not ingested with the vector layers: ingest "
                     f"{'it' if len(rasters) == 1 else 'each'} on its own, as a raster (cim ingest CITY {path.name} "
                     f"--source-layer {first})")
    attributes = [name for name, kind in tables if kind == "attributes"]
    if attributes:
        notes.append(f"{len(attributes)} attribute table{'s' if len(attributes) > 1 else ''} without geometry "
                     f"{'were' if len(attributes) > 1 else 'was'} not ingested (only tables with geometry become "
                     f"layers): {', '.join(attributes)}")
    others = [f"{name} ({kind})" for name, kind in tables if kind not in _RASTER_TABLES and kind != "attributes"]
    if others:
        notes.append(f"not ingested (not a table of features): {', '.join(others)}")
    return notes


def read_vector_layer(path: Path, options: VectorOptions, target: Target, ctx: ReadContext) -> SourceLayer:
    """One layer of a vector source as features in the city CRS: checked, repaired, ids and names
    drawn from its attributes, rejects reported by source row.

    Example:
        >>> read_vector_layer(Path("zoning.shp"), VectorOptions(encoding="GB18030"),
        ...                   Target("zoning"), ReadContext("EPSG:4549"))  # doctest: +SKIP
    """
    from gis.crs import crs_label
    from gis.vector import read_vector, require_crs

    layer = target.layer
    ctx.progress(f"{layer}: reading {path.name}", 0.05)
    datum = _web_datum(options.source_crs)
    data = read_vector(path, layer=target.part, encoding=options.encoding,
                       source_crs=None if datum else options.source_crs, wkt_column=options.wkt_column,
                       x_column=options.x_column, y_column=options.y_column)
    src_crs = _lonlat_of(path, data) if datum else require_crs(data)
    out = SourceLayer(target, kind="vector", source_crs=datum or crs_label(src_crs), read=data.table.num_rows)
    if datum:
        out.notes.append(f"{datum} coordinates moved to WGS 84 before reprojection")
    elif src_crs.is_geographic and (named := _named_web_datum(path)):
        out.notes.append(f"the name {path.name} says {named}, but its coordinates were read as WGS 84 (what "
                         f"the file declares, or nothing): if they are {named}, they lie a few hundred metres "
                         f"off — ingest it again with --source-crs {named}")
    ctx.progress(f"{layer}: checking and repairing {out.read:,} geometries", 0.3)
    wkb, keep = _checked_geometries(ctx.city_crs, data, src_crs, out, datum=datum)
    ctx.progress(f"{layer}: preparing {len(wkb):,} features", 0.6)
    attrs = data.table.drop_columns(["geometry"]).filter(pa.array(keep))
    attrs, binary = binary_as_base64(attrs)
    if binary:
        out.notes.append(f"{path.name}, layer {data.layer}: binary (BLOB) values of {', '.join(binary)} are kept "
                         "as base64 text")
    if options.source_layer is None and "left out" not in ctx.said:  # once per source, on the first layer read
        ctx.said.add("left out")
        out.notes += [f"{path.name}: {note}" for note in left_out(path)]
    out.profile, notes = layer_profile(attrs, layer=layer, options=options, source=path.name,
                                       geometry_type=data.geometry_type)
    out.notes += [f"profile: {note}" for note in notes]
    out.feature_class = out.profile.feature_class
    out.fields = [{"name": f.name, "type": str(f.type)} for f in attrs.schema]
    columns = {"id": feature_ids(attrs, layer=layer, rows=data.row_numbers[keep], id_field=options.id_field),
               **profile_columns(attrs, out.profile)}
    if options.parent:
        columns["parent"] = parent_ids(attrs, options.parent)
    columns["class"] = pa.repeat(pa.scalar(out.feature_class), len(wkb))
    columns["geom"] = wkb
    out.features, out.attributes = pa.table(columns), attrs
    return out


def _web_datum(source_crs: str | None) -> str | None:
    """'GCJ-02' or 'BD-09' when the user states one of China's web-map datums."""
    from gis.china import WEB_DATUMS

    return WEB_DATUMS.get((source_crs or "").strip().upper())


#: what a file's name may say of China's web-map datums (AMap and Tencent use GCJ-02, Baidu BD-09)
_NAMED_DATUMS = ((re.compile(r"gcj[-_ ]?0?2|amap|gaode|高德|火星", re.IGNORECASE), "GCJ-02"),
                 (re.compile(r"bd[-_ ]?0?9|baidu|百度", re.IGNORECASE), "BD-09"))


def _named_web_datum(path: Path) -> str | None:
    """'GCJ-02' or 'BD-09' when the file's name says so (``qingdao_districts_gcj02.geojson``): a file
    cannot declare these datums, so its name is often the only place that tells."""
    for pattern, datum in _NAMED_DATUMS:
        if pattern.search(path.stem):
            return datum
    return None


def _lonlat_of(path: Path, data: VectorData) -> Any:
    """GCJ-02/BD-09 sources are lon/lat: the file may say CRS84/EPSG:4326 or nothing, not more."""
    from gis.crs import parse_crs

    if data.crs is not None and not data.crs.is_geographic:
        raise CRSError(f"{path} is in {data.crs.name}, a projected CRS, so it cannot be GCJ-02/BD-09 lon/lat")
    return parse_crs("EPSG:4326")


#: rows from which a source's polygons are pre-checked by the compiled pass (``gis.valid``), so GEOS
#: tests the validity of the others only (and, in the city's CRS, parses only them): below it,
#: loading the compiled loops into a new process (numba, about 0.6 s) would cost more than it saves
PRECHECK_ROWS = 200_000


def _checked_geometries(city_crs: str, data: VectorData, src_crs: Any, out: SourceLayer,
                        *, datum: str | None = None) -> tuple[pa.Array, np.ndarray]:
    """2D WKB in the city CRS of the rows kept, and the mask of source rows kept; rejects reported.

    When nothing needs changing (same CRS, no repairs, already 2D) the source WKB passes through
    untouched: re-encoding a million polygons costs seconds.
    """
    from gis.crs import parse_crs, reproject, same_crs
    from gis.geometry import check_and_repair

    source_wkb = data.table.column("geometry")
    untouched = same_crs(src_crs, parse_crs(city_crs)) and not datum  # the WKB may pass as it is
    vouched = None
    if len(source_wkb) >= PRECHECK_ROWS:
        from gis.valid import certainly_valid

        vouched = certainly_valid(source_wkb)
    if vouched is not None and untouched:
        passed = _passed_through(source_wkb, vouched, data, out)
        if passed is not None:
            return passed
    checked = check_and_repair(source_wkb, valid=vouched)
    keep = np.ones(out.read, dtype=bool)
    _reject(checked.rejected, np.arange(out.read), data, out, keep)
    source = str(data.source)
    out.repaired = int(np.count_nonzero(checked.repaired & keep))
    kept_rows = np.flatnonzero(keep)
    geoms = checked.geoms[keep]
    has_z = bool(shapely.has_z(geoms).any()) if len(geoms) else False
    if untouched and not out.repaired and not has_z:
        return _as_is(source_wkb, keep), keep
    if datum:
        from gis.china import to_wgs84

        geoms = shapely.transform(geoms, lambda c: to_wgs84(datum, c))
    geoms, kept_rows = _inside_area_of_use(geoms, kept_rows, keep, src_crs, city_crs, data, out)
    geoms = reproject(geoms, src_crs, parse_crs(city_crs))
    bad = ~(_finite(geoms) & ~shapely.is_missing(geoms))
    for index in kept_rows[bad]:
        out.reject(source, int(data.row_numbers[index]),
                   f"coordinates cannot be reprojected from {out.source_crs} to the city CRS {city_crs}")
    keep[kept_rows[bad]] = False
    geoms = geoms[~bad]
    if has_z:
        geoms = shapely.force_2d(geoms)
    return pa.array(shapely.to_wkb(geoms), pa.binary()), keep


def _passed_through(source_wkb: pa.ChunkedArray, vouched: np.ndarray, data: VectorData,
                    out: SourceLayer) -> tuple[pa.Array, np.ndarray] | None:
    """The source's WKB as it is, when it needs no change (its CRS is the city's): the polygons
    ``vouched`` for as certainly valid (``gis.valid``: one compiled pass) pass untouched and GEOS
    checks only the others, rejecting as the full check would. None when a geometry needs
    changing (a repair, a Z to drop): the caller then checks every row with GEOS."""
    from gis._wkb import wkb_types
    from gis.geometry import check_and_repair

    if wkb_types(source_wkb)[1].any():
        return None
    rest = np.flatnonzero(~vouched)
    checked = check_and_repair(source_wkb.take(pa.array(rest))) if rest.size else None
    if checked is not None and checked.repaired.any():
        return None
    keep = np.ones(out.read, dtype=bool)
    _reject(checked.rejected if checked is not None else [], rest, data, out, keep)
    out.repaired = 0
    return _as_is(source_wkb, keep), keep


def _reject(rejected: list[tuple[int, str]], rows: np.ndarray, data: VectorData, out: SourceLayer,
            keep: np.ndarray) -> None:
    """Report the rows the geometry check rejected (``rejected`` indexes ``rows``, the source rows it
    was given) and take them out of ``keep``."""
    source = str(data.source)
    for index, reason in rejected:
        keep[rows[index]] = False
        out.reject(source, int(data.row_numbers[rows[index]]), reason)


def _as_is(source_wkb: pa.ChunkedArray, keep: np.ndarray) -> pa.Array:
    """The source's own WKB of the rows kept (re-encoding a million polygons costs seconds)."""
    return source_wkb.filter(pa.array(keep)).combine_chunks().cast(pa.binary())


def _inside_area_of_use(geoms: np.ndarray, kept_rows: np.ndarray, keep: np.ndarray, src_crs: Any, city_crs: str,
                        data: VectorData, out: SourceLayer) -> tuple[np.ndarray, np.ndarray]:
    """Reject the shapes lying wholly outside the area the city's CRS is defined for (projected
    there, their shape and size would be wrong with no error); say how many reach beyond it in part."""
    from gis.crs import beyond_area_of_use

    found = beyond_area_of_use(geoms, src_crs, city_crs)
    if found is None:
        return geoms, kept_rows
    far, part = found.far, found.part
    source, crs_name = str(data.source), f"the city CRS {city_crs}"
    for index in kept_rows[far]:
        out.reject(source, int(data.row_numbers[index]),
                   f"lies {found.wholly_outside(crs_name)}: projected there its shape and size would be wrong; "
                   "keep it in a city whose CRS covers it")
    keep[kept_rows[far]] = False
    if part.any():
        count = int(np.count_nonzero(part))
        out.notes.append(f"{count} feature{'s reach' if count > 1 else ' reaches'} {found.beyond(crs_name)}: "
                         f"{'their parts' if count > 1 else 'its part'} out there are stored distorted")
    return geoms[~far], kept_rows[~far]


def _finite(geoms: np.ndarray) -> np.ndarray:
    coords_ok = np.ones(len(geoms), dtype=bool)
    if len(geoms):
        bounds = shapely.bounds(geoms)
        coords_ok = np.isfinite(bounds).all(axis=1)
    return coords_ok
