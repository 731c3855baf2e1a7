"""Facts about a source file shared by every ingest path: kind, checksum, sidecars."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from cim.errors import SourceError, ValidationError

VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".parquet", ".geoparquet", ".csv",
                   ".sqlite", ".zip"}
RASTER_SUFFIXES = {".tif", ".tiff", ".nc", ".vrt"}
IFC_SUFFIXES = {".ifc"}
CITYJSON_SUFFIXES = {".jsonl"}
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")


def source_kind(path: Path, *, part: str | None = None) -> str:
    """'vector', 'raster', 'ifc' or 'cityjson', from the name and (for .json) the content; a
    GeoPackage is 'raster' when ``part`` (its ``source_layer``) names one of its raster tables."""
    check_readable(path)
    suffix = path.suffix.lower()
    if suffix in IFC_SUFFIXES:
        return "ifc"
    if suffix in RASTER_SUFFIXES or (suffix == ".gpkg" and part is not None and part in _raster_tables(path)):
        return "raster"
    if suffix in CITYJSON_SUFFIXES or path.name.lower().endswith(".city.json"):
        return "cityjson"
    if suffix == ".json" and _looks_like_cityjson(path):
        return "cityjson"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    supported = sorted(VECTOR_SUFFIXES | RASTER_SUFFIXES | IFC_SUFFIXES | CITYJSON_SUFFIXES)
    raise SourceError(
        f"{path}: cannot tell what kind of data a '{suffix or 'no suffix'}' file holds; "
        f"supported: {' '.join(supported)}"
    )


def split_gdal_name(path: str | Path, given: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """GDAL's name of one GeoPackage table, ``GPKG:city.gpkg:dtm``, as the file and ``source_layer``.

    Why: GIS users copy that name from gdalinfo or QGIS; it means the same as ``city.gpkg
    --source-layer dtm``. Any other path is returned as it is.

    Example:
        >>> file, given = split_gdal_name("GPKG:city.gpkg:dtm", {})
        >>> file.name, given
        ('city.gpkg', {'source_layer': 'dtm'})
    """
    text = str(path)
    if text[:5].upper() != "GPKG:" or ":" not in text[5:] or Path(text).exists():
        return Path(path), given
    file, table = text[5:].rsplit(":", 1)
    if not file or not table:
        raise SourceError(f"{text}: write a GeoPackage table as GPKG:FILE.gpkg:TABLE")
    named = given.get("source_layer")
    if named is not None and named != table:
        raise ValidationError(f"{text} names table {table!r} but --source-layer says {named!r}: give one of them")
    return Path(file), {**given, "source_layer": table}


def table_not_found(path: Path, name: str, *, vector: bool = True) -> SourceError:
    """The error for a ``--source-layer`` a GeoPackage does not hold, naming what it holds."""
    from gis.vector import list_layers

    rasters = _raster_tables(path)
    held = [f"its vector layers are: {', '.join(list_layers(path)) or '(none)'}"] if vector else []
    held.append(f"its raster tables are: {', '.join(rasters)}" if rasters else "it holds no raster tables")
    what = "layer" if vector else "raster table"
    return SourceError(f"{path.name} has no {what} {name!r}; {'; '.join(held)}")


def _raster_tables(path: Path) -> list[str]:
    from gis.raster import raster_tables

    return raster_tables(path)


def check_readable(path: Path) -> None:
    """A clear error for the usual mistakes: missing path, a directory, an empty file."""
    if not path.exists():
        raise SourceError(f"{path} does not exist: check the path")
    if path.is_dir():
        raise SourceError(f"{path} is a directory: give the data file inside it")
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is empty (0 bytes)")


def file_digest(path: Path) -> str:
    """SHA-256 of the file (and a shapefile's sidecars): read once per ingest, however many layers."""
    digest = hashlib.sha256()
    files = [path]
    if path.suffix.lower() == ".shp":
        files += [path.with_suffix(s) for s in _SHAPEFILE_SIDECARS if path.with_suffix(s).exists()]
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def checksum(file_digest: str, options: dict[str, Any] | None = None) -> str:
    """The checksum a layer records: the file's digest and the options that shape the result.

    The same file with the same options is "unchanged"; a different encoding, CRS or class is not.
    """
    digest = hashlib.sha256(file_digest.encode())
    for key in sorted(options or {}):
        digest.update(f"{key}={options[key]!r}".encode())  # type: ignore[index]
    return digest.hexdigest()


def layer_name_for(text: str) -> str:
    """A layer name users can type: lower-case letters, digits and '_' (CJK kept)."""
    name = re.sub(r"[^\w\-]+", "_", text.strip()).strip("_").lower()
    return (name or "layer")[:64]


def _looks_like_cityjson(path: Path) -> bool:
    """``"type": "CityJSON"`` may stand anywhere at the top level (often after the objects)."""
    marker, overlap = b'"CityJSON"', 16
    with path.open("rb") as handle:
        head = handle.read(4096)
        if b'"FeatureCollection"' in head and marker not in head:
            return False
        previous = head
        while marker not in previous:
            chunk = handle.read(1 << 20)
            if not chunk:
                return False
            previous = previous[-overlap:] + chunk
    return True
