"""Turning a source's attribute table into feature columns: ids, parents, and what the profile reads.

The field names recognised here (case-insensitive) are what ingest infers a layer's profile from
when the user does not declare it (``cim.ingest.profiles``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import ValidationError
from cim.model.profile import LayerProfile

ID_FIELDS = ("id", "fid", "gid", "objectid", "uid", "编号")
NAME_FIELDS = ("name", "名称", "名字")
HEIGHT_FIELDS = ("height", "高度", "building_height", "建筑高度")
FLOORS_FIELDS = ("floors", "层数", "楼层数", "building:levels", "storeys", "stories", "num_floors", "floor_count",
                 "levels")
Z_MIN_FIELDS = ("z_min", "zmin", "bottom")
Z_MAX_FIELDS = ("z_max", "zmax", "top")
#: rule field → names a source may give it (the rule field's own name first)
ZONING_FIELDS = {
    "height_limit": ("height_limit", "限高", "建筑限高", "max_height"),
    "far_limit": ("far_limit", "容积率", "容积率上限", "far", "plot_ratio"),
    "density_limit": ("density_limit", "建筑密度", "建筑密度上限", "density"),
    "green_min": ("green_min", "绿地率", "绿地率下限", "green_ratio"),
    "setback": ("setback", "建筑退线", "退线", "setback_limit"),
    "land_use": ("land_use", "用地性质", "用地代码", "landuse"),
}

_CLASS_BY_WORD = {
    "parcel": "Parcel", "地块": "Parcel", "block": "Block", "zoning": "Zone", "zone": "Zone",
    "road": "Road", "street": "Road", "道路": "Road", "building": "Building", "footprint": "Building",
    "pand": "Building", "建筑": "Building", "pipe": "Pipe", "管线": "Pipe", "tunnel": "UtilityTunnel",
    "green": "GreenSpace", "park": "GreenSpace", "parking": "ParkingLot", "district": "District",
    "water": "WaterBody",
}


def infer_feature_class(layer: str, geometry_type: str | None = None) -> str:
    """A class for a layer's features from its name (``parcels`` → Parcel), else ``Feature``."""
    lowered = layer.lower()
    for word, cls in _CLASS_BY_WORD.items():
        if word in lowered:
            return cls
    return "Feature"


def find_field(columns: pa.Table | Sequence[str], candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` that is a column (case-insensitive), by the column's own name."""
    names = columns.column_names if isinstance(columns, pa.Table) else columns
    lowered = {name.lower(): name for name in names}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def numbers(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as float64, NULL where a value is missing or not a number (as SQL ``TRY_CAST``)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(column, pa.float64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        import pandas as pd

        values = pd.to_numeric(pd.Series(column.to_pylist(), dtype=object).str.strip(), errors="coerce")
        return pa.array(values.to_numpy(dtype=float), pa.float64(), from_pandas=True)
    return pa.nulls(len(column), pa.float64())


def feature_ids(attrs: pa.Table, *, layer: str, rows: np.ndarray, id_field: str | None) -> pa.Array:
    """Ids ``<layer>.<value of the id field>`` when the source has a unique id field, else
    ``<layer>.<row number>``: stable across re-ingests of the same source."""
    field = id_field or find_field(attrs, ID_FIELDS)
    if id_field and id_field not in attrs.column_names:
        raise ValidationError(f"--id-field {id_field!r} is not a field of the source; fields: "
                              f"{', '.join(attrs.column_names)}")
    ids = None
    if field is not None:
        values = pc.cast(attrs.column(field), pa.string())
        if values.null_count == 0 and pc.count_distinct(values).as_py() == len(values):
            ids = values
        elif id_field:
            raise ValidationError(f"--id-field {id_field!r} has empty or repeated values; ids must be unique")
    if ids is None:
        ids = pc.cast(pa.array(rows), pa.string())
    return pc.binary_join_element_wise(pa.repeat(pa.scalar(layer), len(ids)), ids, ".")


def profile_columns(attrs: pa.Table, profile: LayerProfile) -> dict[str, pa.Array]:
    """The feature columns a profile decides, from the attributes: name, z range, height in metres.

    The same values as ``LayerProfile.column_sql`` computes inside the database when a layer's
    profile changes later.
    """
    n = attrs.num_rows
    columns: dict[str, pa.Array] = {"cim_level": pa.repeat(pa.scalar(profile.cim_level or 2, pa.int8()), n)}
    if profile.name_field:
        columns["name"] = pc.cast(attrs.column(profile.name_field), pa.string())
    if profile.base_field:
        columns["z_min"] = numbers(attrs.column(profile.base_field))
    if profile.roof_field:
        columns["z_max"] = numbers(attrs.column(profile.roof_field))
    if profile.height_field:
        height = numbers(attrs.column(profile.height_field))
        if profile.height_unit == "floors":
            height = pc.multiply(height, pa.scalar(float(profile.floor_height)))
        elif profile.floors_field and profile.floors_field != profile.height_field:
            # a building measured in metres but missing one: its storeys × the floor height
            storeys = pc.multiply(numbers(attrs.column(profile.floors_field)), pa.scalar(float(profile.floor_height)))
            height = pc.coalesce(height, storeys)
        columns["height"] = height
    return columns


def binary_as_base64(attrs: pa.Table) -> tuple[pa.Table, list[str]]:
    """The attributes with every binary (BLOB) column as standard base64 text, and those columns' names.

    Why: a feature's properties are JSON, which has no bytes; a GeoPackage BLOB (an image, a
    document) would otherwise be stored as null. ``base64.b64decode`` gives the bytes back.

    Example:
        >>> binary_as_base64(pa.table({"blob": pa.array([b"cim", None])}))[0].column("blob").to_pylist()
        ['Y2lt', None]
    """
    names = []
    for i, f in enumerate(attrs.schema):
        kind = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind)):
            continue
        values = attrs.column(i).to_pylist()
        text = pa.array([None if v is None else base64.b64encode(v).decode("ascii") for v in values], pa.string())
        attrs = attrs.set_column(i, pa.field(f.name, pa.string()), text)
        names.append(f.name)
    return attrs, names


def parent_ids(attrs: pa.Table, parent: str) -> pa.Array:
    """Parent feature ids from ``parent="layer.field"``: each row's field value names its parent.

    ``parent="parcels.parcel_id"`` links a building whose ``parcel_id`` is P1 to ``parcels.P1``
    (the id that layer's rows got from their own id field).
    """
    layer, _, field = parent.partition(".")
    if not layer or not field:
        raise ValidationError(f"--parent {parent!r}: give LAYER.FIELD, e.g. --parent parcels.parcel_id")
    if field not in attrs.column_names:
        raise ValidationError(f"--parent {parent!r}: {field!r} is not a field of the source; fields: "
                              f"{', '.join(attrs.column_names)}")
    values = pc.cast(attrs.column(field), pa.string())
    return pc.binary_join_element_wise(pa.repeat(pa.scalar(layer), len(values)), values, ".")
