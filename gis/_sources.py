"""Which format a source file is, judged by suffix *and* content, with clear refusals.

Why: GDAL's own message for a PNG renamed ``.gpkg`` or a half-copied GeoPackage is cryptic
("file is not a database", "unable to open"); users need to hear what the file really is.
"""

from __future__ import annotations

from pathlib import Path

from gis.errors import SourceError

SUPPORTED = (
    "GeoPackage (.gpkg), Shapefile (.shp, or a .zip holding one), GeoJSON (.geojson, .json), "
    "FlatGeobuf (.fgb), GeoParquet (.parquet), CSV with a WKT or lon/lat columns (.csv), "
    "OGR SQLite (.sqlite)"
)

_SUFFIXES = {
    ".gpkg": "gpkg", ".sqlite": "sqlite", ".shp": "shapefile", ".zip": "shapezip",
    ".geojson": "geojson", ".json": "geojson", ".fgb": "fgb", ".parquet": "parquet",
    ".geoparquet": "parquet", ".csv": "csv",
}

KIND_NAMES = {
    "gpkg": "GeoPackage", "sqlite": "SQLite database", "shapefile": "Shapefile",
    "shapezip": "zipped Shapefile", "geojson": "GeoJSON file", "fgb": "FlatGeobuf file",
    "parquet": "GeoParquet file", "csv": "CSV text file",
}

_SQLITE = b"SQLite format 3\x00"
_MAGIC = [
    (_SQLITE, "an SQLite database"), (b"fgb\x03", "a FlatGeobuf file"), (b"PAR1", "a Parquet file"),
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"), (b"\x00\x00\x27\x0a", "a Shapefile .shp"),
    (b"CDF\x01", "a NetCDF file"), (b"CDF\x02", "a NetCDF file"), (b"\x89HDF", "an HDF5/NetCDF4 file"),
]


def detect_format(path: Path) -> str:
    """Return one of the keys of ``KIND_NAMES`` for ``path``, or raise ``SourceError``.

    Example:
        >>> detect_format(Path("no/such/file.gpkg"))  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        gis.errors.SourceError: no/such/file.gpkg does not exist
    """
    check_file(path)
    size = path.stat().st_size
    if size == 0:
        raise SourceError(f"{path} is empty (0 bytes): copy it again from its source")
    with path.open("rb") as fh:
        head = fh.read(4096)
    kind = _SUFFIXES.get(path.suffix.lower()) or _kind_from_content(path, head)
    _check_content(path, kind, head, size)
    return kind


def check_file(path: Path) -> None:
    """Refuse a missing path or a directory with a message that says which."""
    if not path.exists():
        raise SourceError(f"{path} does not exist: check the path (and that the disk is mounted)")
    if path.is_dir():
        raise SourceError(f"{path} is a directory, not a file: give one file inside it. "
                          f"Supported: {SUPPORTED}")


def describe_content(head: bytes) -> str:
    """What the first bytes of a file look like, for messages ("a PNG image", "text")."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    sample = head[:1024]
    if b"\x00" in sample:
        return "unrecognised binary data"
    return "text" if sample.strip() else "blank text"


def _kind_from_content(path: Path, head: bytes) -> str:
    if head.startswith(_SQLITE):
        return "gpkg"
    if head.startswith(b"fgb\x03"):
        return "fgb"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "geojson"
    raise SourceError(
        f"{path.name}: unsupported format '{path.suffix or '(no suffix)'}' "
        f"(content looks like {describe_content(head)}). Supported: {SUPPORTED}"
    )


def _check_content(path: Path, kind: str, head: bytes, size: int) -> None:
    ok = {
        "gpkg": head.startswith(_SQLITE), "sqlite": head.startswith(_SQLITE),
        "fgb": head.startswith(b"fgb\x03"), "parquet": head.startswith(b"PAR1"),
        "shapefile": head.startswith(b"\x00\x00\x27\x0a"), "shapezip": head.startswith(b"PK\x03\x04"),
        "geojson": b"\x00" not in head and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")),
        "csv": b"\x00" not in head[:1024],
    }[kind]
    if kind == "geojson" and b'"CityJSON"' in head:
        raise SourceError(f"{path.name} is CityJSON, not GeoJSON: ingest it as a 3D city model, not as a "
                          "vector layer")
    if not ok:
        raise SourceError(
            f"{path.name} is not a {KIND_NAMES[kind]}: its content looks like {describe_content(head)}. "
            f"Rename it to the right suffix or convert it. Supported: {SUPPORTED}"
        )
    if kind in ("gpkg", "sqlite"):
        _check_sqlite_size(path, head, size)
    elif kind == "shapefile":
        _check_shp_size(path, head, size)
    elif kind == "parquet":
        _check_parquet_tail(path, size)


def _check_sqlite_size(path: Path, head: bytes, size: int) -> None:
    """The SQLite header records page size and page count: a shorter file was cut off."""
    if len(head) < 100:
        raise truncated(path, "the SQLite header is incomplete")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    header_valid = head[24:28] == head[92:96]
    has_wal = path.with_name(path.name + "-wal").exists()
    expected = pages * page_size if header_valid and not has_wal else 0
    if page_size < 512 or size % page_size or size < expected:
        detail = f"the header promises {expected} bytes but the file has {size}" if expected else (
            f"its size {size} is not a multiple of the page size {page_size}")
        raise truncated(path, detail)


def _check_shp_size(path: Path, head: bytes, size: int) -> None:
    declared = int.from_bytes(head[24:28], "big") * 2
    if len(head) < 100 or size < declared:
        raise truncated(path, f"the .shp header promises {declared} bytes but the file has {size}")


def _check_parquet_tail(path: Path, size: int) -> None:
    with path.open("rb") as fh:
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if size < 12 or tail != b"PAR1":
        raise truncated(path, "the Parquet footer is missing")


def truncated(path: Path, detail: str) -> SourceError:
    """The one wording for a cut-off or damaged file."""
    return SourceError(f"{path.name} is truncated or corrupt ({detail}): copy it again from its source")
