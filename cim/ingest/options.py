"""What each kind of source takes on ingest: one frozen dataclass per reader, help text on every field.

Why: the options a source kind accepts are declared once, here. ``city.ingest(path, **kw)`` checks
``kw`` against the class of the file's kind, and ``cim ingest`` builds its flags (and their help)
from the same fields, so the Python API, the command line and the docs cannot drift apart.

Example:
    >>> options_for("ifc", {"anchor": "515000,3980000"}, source="tower.ifc").phase
    'build'
    >>> options_for("vector", {"anchor": "1,2"}, source="p.geojson")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cim.errors.ValidationError: --anchor does not apply to vector sources like p.geojson; ...
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.errors import ValidationError
from cim.model.profile import parse_height, parse_map
from cim.model.vocabulary import check_classification, check_layer_name, check_phase
from cim.people.profile import load_profile, table


def option(default: Any = None, *, help: str, flag: str | None = None, shapes: bool = True,  # noqa: A002
           cli_type: Any = None) -> Any:
    """A field of an options class: ``help`` for ``--help``, ``flag`` when it is not ``--name``,
    ``shapes=False`` for options that do not change what is stored (so not part of the checksum),
    ``cli_type`` when the command line takes it as another type (``list[str]`` for a repeated flag)."""
    return field(default=default, metadata={"help": help, "flag": flag, "shapes": shapes, "cli_type": cli_type})


@dataclass(frozen=True, kw_only=True)
class Options:
    """Options every source takes."""

    layer: str | None = option(help="Target layer name (default: from the file or its layers).")
    phase: str = option("plan", help="plan | build | manage | operate.")
    classification: str = option("public", help="Who may see the layer: public | internal | restricted.")

    def __post_init__(self) -> None:
        if self.layer is not None:
            check_layer_name(self.layer)
        check_phase(self.phase)
        check_classification(self.classification)

    def checksum_items(self) -> dict[str, Any]:
        """The options that shape what is stored, for the source checksum (``layer`` names the target)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.metadata.get("shapes", True) and f.name != "layer"}


@dataclass(frozen=True, kw_only=True)
class GeoOptions(Options):
    """Options of sources with coordinates of their own (vector, raster, CityJSON)."""

    source_crs: str | None = option(help="CRS of a source that declares none (or a raster only a local one), e.g. "
                                         "EPSG:4490; GCJ-02 or BD-09 for Chinese web-map lon/lat.")


@dataclass(frozen=True, kw_only=True)
class VectorOptions(GeoOptions):
    """GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV, SQLite."""

    source_layer: str | None = option(help="Only this layer of a multi-layer source (GeoPackage); a GeoPackage's "
                                           "raster table (e.g. GPKG:city.gpkg:dem) is ingested as a raster.")
    encoding: str | None = option(help="Text encoding of a shapefile's or CSV's attributes, e.g. GB18030.")
    feature_class: str | None = option(flag="--class", help="Class of the features (Parcel, Building …).")
    id_field: str | None = option(help="Attribute holding a stable unique id.")
    parent: str | None = option(help="LAYER.FIELD: the field names each feature's parent in LAYER "
                                     "(e.g. parcels.parcel_id links buildings to their parcel).")
    wkt_column: str | None = option(help="CSV column holding WKT geometry (default: wkt/geometry/geom).")
    x_column: str | None = option(help="CSV column holding x / longitude (with --y-column).")
    y_column: str | None = option(help="CSV column holding y / latitude (with --x-column).")
    cim_level: int | None = option(help="CIM level 1–7 of the features (CJJ/T 315; default 2).")
    name_field: str | None = option(help="Field holding the features' names (default: name/名称 if present).")
    height: str | None = option(help="FIELD:UNIT holding the height, UNIT m or floors (storeys × --floor-height), "
                                     "e.g. 层数:floors (default: inferred from height/高度).")
    floors: str | None = option(help="Field holding the number of floors (default: floors/层数/building:levels).")
    floor_height: float | None = option(help="Metres per storey when a height counts floors (default 3).")
    base_field: str | None = option(help="Field holding the base elevation, metres (default: z_min/bottom).")
    roof_field: str | None = option(help="Field holding the roof elevation, metres (default: z_max/top).")
    zoning: tuple[tuple[str, str], ...] | None = option(
        flag="--map", cli_type=list[str],
        help="SOURCE=RULE_FIELD: a zoning field playing a planning-rule field (height_limit, far_limit, "
             "density_limit, green_min, setback, land_use), e.g. --map 限高=height_limit; repeatable.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.zoning is not None:
            object.__setattr__(self, "zoning", parse_map(self.zoning))
        if self.height is not None:
            parse_height(self.height)
        if self.cim_level is not None and not 1 <= int(self.cim_level) <= 7:
            raise ValidationError(f"--cim-level {self.cim_level!r} must be 1–7 (CJJ/T 315)")
        if self.floor_height is not None and self.floor_height <= 0:
            raise ValidationError(f"--floor-height {self.floor_height!r} must be a positive number of metres")


@dataclass(frozen=True, kw_only=True)
class RasterOptions(GeoOptions):
    """GeoTIFF, NetCDF, VRT, a GeoPackage's raster table: stored as a Cloud-Optimised GeoTIFF beside the city."""

    source_layer: str | None = option(help="The raster table of a GeoPackage (default: its only one).")
    role: str | None = option(help="dem | image (default: dem when the layer name says elevation: "
                                            "dem, dtm, srtm, elevation, terrain, 高程, 地形).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.role not in (None, "dem", "image"):
            raise ValidationError(f"unknown raster role {self.role!r}: use dem or image")


@dataclass(frozen=True, kw_only=True)
class IfcOptions(Options):
    """IFC2X3, IFC4, IFC4X3 models."""

    phase: str = option("build", help="plan | build | manage | operate.")
    classification: str = option("internal", help="Who may see the layer: public | internal | restricted.")
    anchor: str | None = option(help="IFC without georeferencing: x,y[,z] in --anchor-crs.")
    rotation: float | None = option(help="IFC anchor rotation: degrees counter-clockwise from grid east to "
                                          "the model's x axis.")
    anchor_crs: str | None = option(help="CRS of --anchor (default: the city's).")
    threads: int = option(1, shapes=False, help="Threads of ifcopenshell's geometry iterator in each worker "
                                                "(its threads do not scale; workers do).")
    workers: int = option(2, shapes=False, help="Processes meshing the IFC geometry, each on its own share of the "
                                                "elements (1 = in the ingesting process); same meshes either way.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.anchor is None and (self.rotation is not None or self.anchor_crs is not None):
            raise ValidationError("--rotation and --anchor-crs go with --anchor x,y[,z]")
        if self.threads < 1 or self.workers < 1:
            raise ValidationError(f"--threads and --workers take 1 or more (got {self.threads} and {self.workers})")


@dataclass(frozen=True, kw_only=True)
class CityJSONOptions(GeoOptions):
    """CityJSON 1.1 / 2.0 files and CityJSONSeq."""

    phase: str = option("manage", help="plan | build | manage | operate.")


@dataclass(frozen=True, kw_only=True)
class PeopleOptions(Options):
    """People, land and housing from CSV or Excel (.xlsx): housing units, residents, land-use rights."""

    table: str | None = option(help="units | residents | land: the table the rows fill (or table: in --profile).")
    phase: str = option("manage", help="plan | build | manage | operate.")
    classification: str | None = option(  # type: ignore[assignment]
        help="Who may see the layer on the map and in listings (default: units and land restricted, residents "
             "secret — read only through `cim people`).")
    profile: str | None = option(help="YAML profile: table:, columns: {SOURCE: FIELD} and levels: {FIELD: LEVEL}.")
    columns: tuple[tuple[str, str], ...] | None = option(
        flag="--column", cli_type=list[str],
        help="SOURCE=FIELD: the source column holding a field, e.g. --column 公民身份号码=id_number; repeatable.")
    levels: tuple[tuple[str, str], ...] | None = option(
        flag="--level", cli_type=list[str],
        help="FIELD=LEVEL: a field's level (public | internal | restricted | secret), e.g. --level phone=secret.")
    parent_layer: str | None = option(help="Layer the parent ids belong to when they are not full feature ids "
                                           "(buildings for units, parcels for land; residents: units).")
    sheet: str | None = option(help="Sheet of an .xlsx workbook (default: the first).")
    encoding: str | None = option(help="Text encoding of a CSV, e.g. GB18030 (default UTF-8, with or without BOM).")

    def __post_init__(self) -> None:
        # resolved here, so the checksum covers the profile's content, not only its path
        resolved = load_profile(self.profile, table_name=self.table, columns=_pairs(self.columns, "--column"),
                                levels=_pairs(self.levels, "--level"))
        object.__setattr__(self, "table", resolved.table)
        object.__setattr__(self, "columns", tuple(resolved.columns.items()) or None)
        object.__setattr__(self, "levels", tuple(resolved.levels.items()) or None)
        if self.classification is None:
            object.__setattr__(self, "classification", table(resolved.table).classification)
        super().__post_init__()


def _pairs(items: Any, flag_name: str) -> tuple[tuple[str, str], ...] | None:
    """``["a=b", …]`` or ``(("a", "b"), …)`` as pairs; a ValidationError for an item without ``=``."""
    if items is None:
        return None
    out = []
    for item in items:
        if isinstance(item, str):
            if "=" not in item:
                raise ValidationError(f"{flag_name} {item!r}: write SOURCE=FIELD (or FIELD=LEVEL for --level)")
            left, right = item.split("=", 1)
            out.append((left.strip(), right.strip()))
        else:
            left, right = item
            out.append((str(left), str(right)))
    return tuple(out)


#: source kind → the options it takes
OPTIONS: dict[str, type[Options]] = {
    "vector": VectorOptions,
    "raster": RasterOptions,
    "ifc": IfcOptions,
    "cityjson": CityJSONOptions,
    "people": PeopleOptions,
}


def flag(name: str, cls: type[Options] | None = None) -> str:
    """The command-line flag of an option (``feature_class`` → ``--class``)."""
    for f in dataclasses.fields(cls or _union_class(name)):
        if f.name == name and f.metadata.get("flag"):
            return str(f.metadata["flag"])
    return "--" + name.replace("_", "-")


def _union_class(name: str) -> type[Options]:
    return next((cls for cls in OPTIONS.values() if name in {f.name for f in dataclasses.fields(cls)}),
                VectorOptions)


def options_for(kind: str, given: dict[str, Any], *, source: str | Path) -> Options:
    """``given`` (None values meaning "not given") as the options of ``kind``; anything the kind does
    not take is refused in one line that names the kind and what it takes."""
    cls = OPTIONS[kind]
    names = [f.name for f in dataclasses.fields(cls)]
    given = {k: v for k, v in given.items() if v is not None}
    known = {f.name for c in OPTIONS.values() for f in dataclasses.fields(c)}
    unknown = [k for k in given if k not in known]
    if unknown:  # a Python keyword that is no option at all (e.g. map= for zoning=)
        raise ValidationError(f"unknown ingest option {unknown[0]!r} for {Path(source).name}; {kind} sources take "
                              f"{', '.join(f'{n} ({flag(n, cls)})' for n in names)}")
    wrong = [k for k in given if k not in names]
    if wrong:
        flags = ", ".join(flag(w) for w in wrong)
        raise ValidationError(f"{flags} {'does' if len(wrong) == 1 else 'do'} not apply to {kind} sources like "
                              f"{Path(source).name}; {kind} sources take {', '.join(flag(n, cls) for n in names)}")
    try:
        return cls(**given)
    except TypeError as exc:  # a value of the wrong type reached a check
        raise ValidationError(f"bad option for {Path(source).name}: {exc}") from exc


#: the kinds ``cim ingest`` tells by a file's name (people tables go through ``cim people ingest``)
FILE_KINDS = ("vector", "raster", "ifc", "cityjson")


def describe_options(kinds: tuple[str, ...] = FILE_KINDS) -> dict[str, dict[str, Any]]:
    """Every option of these kinds: name → {type, help, flag, kinds, defaults by kind} (for the CLI)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        cls = OPTIONS[kind]
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind_type = f.metadata.get("cli_type") or _plain_type(hints[f.name])
            entry = out.setdefault(f.name, {"type": kind_type, "help": f.metadata["help"],
                                            "flag": flag(f.name, cls), "kinds": [], "defaults": {}})
            entry["kinds"].append(kind)
            if f.default is not None and f.default is not dataclasses.MISSING:
                entry["defaults"][kind] = f.default
    return out


def _plain_type(hint: Any) -> Any:
    """``str | None`` → ``str``: the type of the value when it is given."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args and type(None) in typing.get_args(hint) else hint


__all__ = ["Options", "GeoOptions", "VectorOptions", "RasterOptions", "IfcOptions", "CityJSONOptions", "PeopleOptions",
           "OPTIONS", "FILE_KINDS",
           "option", "options_for", "describe_options", "flag"]
