"""Changing what a vector layer is — its profile — without reading its source again.

Why: a profile is often only known to be wrong once the layer is in the city (the tower that
stands 74 m high). ``set_profile`` makes a new layer version with the same features and the
columns the profile decides (class, CIM level, name, z range, height in metres) recomputed from
their stored properties; ``as_of`` still reads the old version.

Example:
    >>> set_profile(city, "buildings", height="层数:floors", floors="层数")  # doctest: +SKIP
    LayerProfile(feature_class='Building', ..., height_field='层数', height_unit='floors', ...)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cim.errors import ValidationError
from cim.ingest.properties import FLOORS_FIELDS, HEIGHT_FIELDS, NAME_FIELDS, Z_MAX_FIELDS, Z_MIN_FIELDS, find_field
from cim.model.profile import LayerProfile, parse_height, parse_map
from cim.model.versions import revise_layer

if TYPE_CHECKING:
    from cim.city import City

#: the ingest options that are profile facts, in the order ``cim layers set`` lists them
PROFILE_OPTIONS = ("feature_class", "cim_level", "name_field", "height", "floors", "floor_height", "base_field",
                   "roof_field", "zoning")


def set_profile(city: City, layer: str, **changes: Any) -> LayerProfile:
    """Change a vector layer's profile (``changes`` are ingest's profile options: ``feature_class``,
    ``height="FIELD:UNIT"``, ``floors``, ``name_field``, ``zoning={"限高": "height_limit"}`` …).

    A change that leaves the profile as it is writes nothing. Returns the layer's profile.
    """
    unknown = [k for k in changes if k not in PROFILE_OPTIONS]
    if unknown:
        raise ValidationError(f"{', '.join(unknown)}: not a profile fact; change {', '.join(PROFILE_OPTIONS)}")
    info = city.layer(layer)
    if info["kind"] != "vector":
        raise ValidationError(f"{layer} is a {info['kind']} layer: profiles describe vector layers (re-ingest "
                              "a BIM, CityJSON or raster source to change it)")
    fields = [f["name"] for f in info.get("fields") or []]
    current = info.get("profile") or profile_from_fields(info["feature_class"], fields)
    wanted = _changes(current, {k: v for k, v in changes.items() if v is not None})
    _check_fields(layer, wanted, fields)
    profile = current.changed(**wanted)
    if profile != current:
        revise_layer(city, layer, profile)
    return profile


def _changes(current: LayerProfile, given: dict[str, Any]) -> dict[str, Any]:
    """Ingest's option names → profile attributes (``height="层数:floors"`` → field and unit)."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key == "height":
            out["height_field"], out["height_unit"] = parse_height(value)
        elif key == "floors":
            out["floors_field"] = value
        elif key == "zoning":
            out["zoning"] = dict(current.zoning) | dict(parse_map(value))
        else:
            out[key] = value
    floors_given = "floors_field" in out
    if out.get("height_unit") == "floors" and not (floors_given or current.floors_field):
        out["floors_field"] = out["height_field"]  # a height counted in storeys is the floors too
    elif out.get("height_unit") == "m" and not floors_given and current.floors_field == out["height_field"]:
        out["floors_field"] = None  # it was read as storeys; now it holds metres
    return out


def _check_fields(layer: str, wanted: dict[str, Any], fields: list[str]) -> None:
    named = {k: v for k, v in wanted.items() if k.endswith("_field") and v}
    named.update({f"zoning {k}": v for k, v in dict(wanted.get("zoning") or {}).items()})
    for role, name in named.items():
        if name not in fields:
            raise ValidationError(f"{role.replace('_', ' ')} {name!r} is not a field of layer {layer}; its fields: "
                                  f"{', '.join(fields) or '(none)'}")


def profile_from_fields(feature_class: str | None, fields: list[str]) -> LayerProfile:
    """The profile of a layer stored before profiles were kept: what its field names suggest
    (heights in metres, as ingest read them then)."""
    floors = find_field(fields, FLOORS_FIELDS)
    return LayerProfile(feature_class=feature_class, cim_level=2, name_field=find_field(fields, NAME_FIELDS),
                        height_field=find_field(fields, HEIGHT_FIELDS), floors_field=floors,
                        base_field=find_field(fields, Z_MIN_FIELDS), roof_field=find_field(fields, Z_MAX_FIELDS))


__all__ = ["set_profile", "profile_from_fields", "PROFILE_OPTIONS"]
