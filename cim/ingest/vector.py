"""Vector sources (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV) into layers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.errors import CRSError, SourceError
from cim.ingest.properties import feature_columns, infer_feature_class, parent_ids
from cim.ingest.report import IngestReport, Progress, quiet
from cim.ingest.source import checksum, layer_name_for
from cim.model.versions import LayerSpec, commit_layer, is_unchanged

if TYPE_CHECKING:
    from cim.city import City
    from gis.vector import VectorData



def ingest_vector(
    city: City,
    path: str | Path,
    *,
    layer: str | None = None,
    source_layer: str | None = None,
    source_crs: str | None = None,
    encoding: str | None = None,
    phase: str = "plan",
    classification: str = "public",
    feature_class: str | None = None,
    id_field: str | None = None,
    parent: str | None = None,
    wkt_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    progress: Progress = quiet,
) -> list[IngestReport]:
    """Ingest one vector source; every layer of a GeoPackage unless ``source_layer`` picks one.

    All layers of the source commit together or not at all. Returns one report per layer.

    Example:
        >>> ingest_vector(city, "zoning.shp", encoding="GB18030", phase="plan")  # doctest: +SKIP
    """
    from gis.vector import list_layers

    path = Path(path)
    names = [source_layer] if source_layer else _layers_of(path, list_layers)
    if layer and len(names) > 1:
        raise SourceError(
            f"{path} holds {len(names)} layers ({', '.join(names)}); --layer names one target layer, "
            "so pick the source layer with --source-layer"
        )
    reports = []
    with city.store.transaction():
        for name in names:
            reports.append(_ingest_one(
                city, path, source_layer=name if len(names) > 1 or source_layer else None,
                layer=layer or layer_name_for(name if len(names) > 1 else path.stem.split(".")[0]),
                source_crs=source_crs, encoding=encoding, phase=phase, classification=classification,
                feature_class=feature_class, id_field=id_field, parent=parent,
                csv={"wkt_column": wkt_column, "x_column": x_column, "y_column": y_column},
                progress=progress,
            ))
    return reports


def _layers_of(path: Path, list_layers: Any) -> list[str]:
    if path.suffix.lower() not in {".gpkg", ".sqlite"}:
        return [path.stem]
    names = list_layers(path)
    if not names:
        raise SourceError(f"{path} holds no vector layers")
    return names


def _ingest_one(city: City, path: Path, *, source_layer: str | None, layer: str, source_crs: str | None,
                encoding: str | None, phase: str, classification: str, feature_class: str | None,
                id_field: str | None, csv: dict[str, str | None], progress: Progress,
                parent: str | None = None) -> IngestReport:
    from gis.crs import crs_label
    from gis.vector import read_vector, require_crs

    options = {"layer": source_layer, "encoding": encoding, "source_crs": source_crs, "parent": parent, **csv}
    spec = LayerSpec(name=layer, kind="vector", phase=phase, classification=classification,
                     source=str(path), checksum=checksum(path, options))
    report = IngestReport(layer=layer, source=str(path), kind="vector")
    if is_unchanged(city, spec, report):
        return report
    progress(f"{layer}: reading {path.name}", 0.05)
    datum = _web_datum(source_crs)
    data = read_vector(path, layer=source_layer, encoding=encoding, source_crs=None if datum else source_crs,
                       **csv)
    src_crs = _lonlat_of(path, data) if datum else require_crs(data)
    spec.source_crs = report.source_crs = datum or crs_label(src_crs)
    if datum:
        report.notes.append(f"{datum} coordinates moved to WGS 84 before reprojection")
    report.read = data.table.num_rows
    progress(f"{layer}: checking and repairing {report.read:,} geometries", 0.3)
    wkb, keep = _checked_geometries(city, data, src_crs, report, datum=datum)
    progress(f"{layer}: preparing {len(wkb):,} features", 0.6)
    attrs = data.table.drop_columns(["geometry"]).filter(pa.array(keep))
    spec.feature_class = feature_class or infer_feature_class(layer, data.geometry_type)
    spec.fields = [{"name": f.name, "type": str(f.type)} for f in attrs.schema]
    columns = feature_columns(attrs, layer=layer, rows=data.row_numbers[keep], id_field=id_field)
    if parent:
        columns["parent"] = parent_ids(attrs, parent)
    columns["class"] = pa.repeat(pa.scalar(spec.feature_class), len(wkb))
    columns["geom"] = wkb
    columns["cim_level"] = pa.repeat(pa.scalar(2, pa.int8()), len(wkb))
    progress(f"{layer}: writing {len(wkb):,} features", 0.75)
    return commit_layer(city, spec, pa.table(columns), report, attributes=attrs)


def _web_datum(source_crs: str | None) -> str | None:
    """'GCJ-02' or 'BD-09' when the user states one of China's web-map datums."""
    from gis.china import WEB_DATUMS

    return WEB_DATUMS.get((source_crs or "").strip().upper())


def _lonlat_of(path: Path, data: VectorData) -> Any:
    """GCJ-02/BD-09 sources are lon/lat: the file may say CRS84/EPSG:4326 or nothing, not more."""
    from gis.crs import parse_crs

    if data.crs is not None and not data.crs.is_geographic:
        raise CRSError(f"{path} is in {data.crs.name}, a projected CRS, so it cannot be GCJ-02/BD-09 lon/lat")
    return parse_crs("EPSG:4326")


def _checked_geometries(city: City, data: VectorData, src_crs: Any, report: IngestReport,
                        *, datum: str | None = None) -> tuple[pa.Array, np.ndarray]:
    """2D WKB in the city CRS of the rows kept, and the mask of source rows kept; rejects reported.

    When nothing needs changing (same CRS, no repairs, already 2D) the source WKB passes through
    untouched: re-encoding a million polygons costs seconds.
    """
    from gis.crs import parse_crs, reproject, same_crs
    from gis.geometry import check_and_repair

    source_wkb = data.table.column("geometry")
    checked = check_and_repair(source_wkb)
    keep = np.ones(report.read, dtype=bool)
    for index, reason in checked.rejected:
        keep[index] = False
        report.reject(int(data.row_numbers[index]), reason)
    report.repaired = int(np.count_nonzero(checked.repaired & keep))
    kept_rows = np.flatnonzero(keep)
    geoms = checked.geoms[keep]
    has_z = bool(shapely.has_z(geoms).any()) if len(geoms) else False
    if same_crs(src_crs, parse_crs(city.crs)) and not report.repaired and not has_z and not datum:
        return source_wkb.filter(pa.array(keep)).combine_chunks().cast(pa.binary()), keep
    if datum:
        from gis.china import to_wgs84

        geoms = shapely.transform(geoms, lambda c: to_wgs84(datum, c))
    geoms = reproject(geoms, src_crs, parse_crs(city.crs))
    bad = ~(_finite(geoms) & ~shapely.is_missing(geoms))
    for index in kept_rows[bad]:
        report.reject(int(data.row_numbers[index]),
                      f"coordinates cannot be reprojected from {report.source_crs} to the city CRS {city.crs}")
    keep[kept_rows[bad]] = False
    geoms = geoms[~bad]
    if has_z:
        geoms = shapely.force_2d(geoms)
    return pa.array(shapely.to_wkb(geoms), pa.binary()), keep


def _finite(geoms: np.ndarray) -> np.ndarray:
    coords_ok = np.ones(len(geoms), dtype=bool)
    if len(geoms):
        bounds = shapely.bounds(geoms)
        coords_ok = np.isfinite(bounds).all(axis=1)
    return coords_ok
