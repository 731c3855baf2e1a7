"""Turning a source's attribute table into feature columns: ids, names, heights, JSON properties."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import ValidationError

#: attribute names recognised (case-insensitive) for the feature's own columns
ID_FIELDS = ("id", "fid", "gid", "objectid", "uid", "编号")
NAME_FIELDS = ("name", "名称", "名字")
HEIGHT_FIELDS = ("height", "高度", "building_height")
Z_MIN_FIELDS = ("z_min", "zmin", "bottom")
Z_MAX_FIELDS = ("z_max", "zmax", "top")

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


def _find(table: pa.Table, candidates: tuple[str, ...]) -> str | None:
    lowered = {name.lower(): name for name in table.column_names}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    return None


def feature_columns(attrs: pa.Table, *, layer: str, rows: np.ndarray, id_field: str | None) -> dict:
    """id, name, height, z_min, z_max columns drawn from recognised attributes.

    Ids are ``<layer>.<value of the id field>`` when the source has a unique id field, else
    ``<layer>.<row number>``: stable across re-ingests of the same source.
    """
    columns: dict[str, pa.Array] = {}
    field = id_field or _find(attrs, ID_FIELDS)
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
        ids = pa.array(rows.astype(str), pa.string())
    columns["id"] = pc.binary_join_element_wise(pa.repeat(pa.scalar(layer), len(ids)), ids, ".")
    for target, candidates in (("name", NAME_FIELDS), ("height", HEIGHT_FIELDS),
                               ("z_min", Z_MIN_FIELDS), ("z_max", Z_MAX_FIELDS)):
        source = _find(attrs, candidates)
        if source is None:
            continue
        try:
            columns[target] = pc.cast(attrs.column(source), pa.string() if target == "name" else pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return columns


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
