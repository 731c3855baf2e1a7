"""A vector layer's profile on ingest: what the options declare, inferred where they do not, said aloud.

Why: a 74-storey tower must not stand 74 m high because its ``height`` counted storeys. Ingest
takes what the user declares (``--class``, ``--height 层数:floors``, ``--floors``, ``--name-field``,
``--map 限高=height_limit`` …), infers the rest from field names and values, and returns a note
for every inferred fact saying how to override it, which ``cim ingest`` prints.

Example:
    >>> import pyarrow as pa
    >>> attrs = pa.table({"名称": ["A", "B", "C"], "height": [3, 6, 5]})
    >>> profile, notes = layer_profile(attrs, layer="buildings", options=VectorOptions(), source="b.geojson")
    >>> profile.height_source
    'height × 3 m'
    >>> notes[-1]
    "height from 'height' read as storeys × 3 m: whole numbers, median 5 (override: --height height:m)"
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import ValidationError
from cim.ingest.options import VectorOptions
from cim.ingest.properties import (
    FLOORS_FIELDS,
    HEIGHT_FIELDS,
    NAME_FIELDS,
    Z_MAX_FIELDS,
    Z_MIN_FIELDS,
    ZONING_FIELDS,
    find_field,
    infer_feature_class,
    numbers,
)
from cim.model.profile import DEFAULT_FLOOR_HEIGHT, LayerProfile, parse_height

#: classes whose height may be given in storeys (footprints of buildings)
BUILDING_CLASSES = ("Building", "BuildingPart")

#: a building height field whose values are all whole numbers with a median below this counts storeys
STOREYS_MEDIAN_BELOW = 10


def layer_profile(attrs: pa.Table, *, layer: str, options: VectorOptions, source: str,
                  geometry_type: str | None = None) -> tuple[LayerProfile, list[str]]:
    """The layer's profile and one note per inferred fact (what was inferred, how to override it)."""
    _check_declared(attrs, options, source)
    notes: list[str] = []
    inferred: list[str] = []
    feature_class = options.feature_class or infer_feature_class(layer, geometry_type)
    if not options.feature_class:
        inferred.append("class")
        notes.append(f"class {feature_class} from the layer name (override: --class CLASS)"
                     if feature_class != "Feature" else "class Feature: the layer name does not say what its "
                     "features are (set it: --class Building, Parcel, Road …)")
    fields = {
        "name": _field(attrs, options.name_field, NAME_FIELDS, "--name-field", "names", inferred, notes),
        "floors": _field(attrs, options.floors, FLOORS_FIELDS, "--floors", "floors", inferred, notes),
        "base": _field(attrs, options.base_field, Z_MIN_FIELDS, "--base-field", "base elevations", inferred, notes),
        "roof": _field(attrs, options.roof_field, Z_MAX_FIELDS, "--roof-field", "roof elevations", inferred, notes),
    }
    floor_height = options.floor_height or DEFAULT_FLOOR_HEIGHT
    height_field, unit = _height(attrs, options, feature_class, fields["floors"], floor_height, inferred, notes)
    zoning = options.zoning if options.zoning is not None else _zoning(attrs, inferred, notes)
    profile = LayerProfile(feature_class=feature_class, cim_level=options.cim_level or 2, name_field=fields["name"],
                           height_field=height_field, height_unit=unit, floor_height=floor_height,
                           floors_field=fields["floors"] or (height_field if unit == "floors" else None),
                           base_field=fields["base"], roof_field=fields["roof"], zoning=zoning,
                           inferred=tuple(inferred))
    return profile, notes


def _check_declared(attrs: pa.Table, options: VectorOptions, source: str) -> None:
    """Every field the options name must be a field of the source."""
    declared = {"--name-field": options.name_field, "--floors": options.floors, "--base-field": options.base_field,
                "--roof-field": options.roof_field,
                "--height": parse_height(options.height)[0] if options.height else None}
    declared.update({f"--map …={key}": field for key, field in options.zoning or ()})
    for flag, name in declared.items():
        if name is not None and name not in attrs.column_names:
            raise ValidationError(f"{flag} {name!r} is not a field of {source}; its fields: "
                                  f"{', '.join(attrs.column_names) or '(none)'}")


def _field(attrs: pa.Table, declared: str | None, candidates: tuple[str, ...], flag: str, what: str,
           inferred: list[str], notes: list[str]) -> str | None:
    if declared:
        return declared
    found = find_field(attrs, candidates)
    if found and flag != "--name-field" and not _all_numbers(attrs, found, flag, what, notes):
        return None
    if found:
        inferred.append({"--name-field": "name", "--floors": "floors", "--base-field": "base",
                         "--roof-field": "roof"}[flag])
        notes.append(f"{what} from '{found}' (override: {flag} FIELD)")
    return found


def _all_numbers(attrs: pa.Table, field: str, flag: str, what: str, notes: list[str]) -> bool:
    """True when every value of ``field`` reads as a number; else a note says why it is not used.

    Only a field the user names is read value by value (what is not a number becoming NULL); one
    ingest merely recognises by its name must hold numbers throughout.
    """
    column = attrs.column(field)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return True
    values = numbers(column)
    bad = pc.and_(pc.is_null(values), pc.is_valid(column)) if pa.types.is_string(kind) else None
    if bad is not None and not pc.any(bad).as_py():
        return True
    example = pc.filter(column, bad)[0].as_py() if bad is not None else str(kind)
    notes.append(f"'{field}' not read as {what}: it holds {example!r}, not a number "
                 f"(to read the values that are numbers: {flag} {field}{':m' if flag == '--height' else ''})")
    return False


def _height(attrs: pa.Table, options: VectorOptions, feature_class: str, floors: str | None, floor_height: float,
            inferred: list[str], notes: list[str]) -> tuple[str | None, str]:
    """(field, unit) of the height: declared, else a height field (storeys when its values say so),
    else the floors field × the floor height."""
    if options.height:
        return parse_height(options.height)
    field = find_field(attrs, HEIGHT_FIELDS)
    if field is None:
        if floors is None:
            return None, "m"
        inferred.append("height")
        notes.append(f"height from '{floors}' floors × {floor_height:g} m (override: --height FIELD:m)")
        return floors, "floors"
    if not _all_numbers(attrs, field, "--height", "heights", notes):
        return None, "m"
    inferred.append("height")
    median = _storeys_median(attrs.column(field)) if feature_class in BUILDING_CLASSES and floors is None else None
    if median is not None:
        notes.append(f"height from '{field}' read as storeys × {floor_height:g} m: whole numbers, median {median:g} "
                     f"(override: --height {field}:m)")
        return field, "floors"
    notes.append(f"height from '{field}' in metres (override: --height {field}:floors if it counts storeys)")
    return field, "m"


def _storeys_median(column: pa.ChunkedArray) -> float | None:
    """The median when every value is a whole number and the median is below the storeys limit."""
    values = numbers(column).to_numpy(zero_copy_only=False)
    values = values[np.isfinite(values)]
    if not len(values) or not np.all(values == np.round(values)):
        return None
    median = float(np.median(values))
    return median if median < STOREYS_MEDIAN_BELOW else None


def _zoning(attrs: pa.Table, inferred: list[str], notes: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for key, candidates in ZONING_FIELDS.items():
        found = find_field(attrs, candidates)
        if found:
            pairs.append((key, found))
            if found != key:
                notes.append(f"zoning: '{found}' read as {key} (override: --map FIELD={key})")
    if any(found != key for key, found in pairs):
        inferred.append("zoning")
    return tuple(pairs)


__all__ = ["layer_profile", "BUILDING_CLASSES", "STOREYS_MEDIAN_BELOW"]
