"""What each analysis reads, found by what the city's layers hold — never by a layer's name.

Why: a bureau's footprints may be called ``pand``, ``建筑物`` or ``3dbag_b2``; its parcels may not
exist at all. An analysis asks for a *role* — parcels, buildings, roads, green space — and gets the
features of every layer that holds features of the role's class (a CityJSON layer can hold
buildings, roads and plant cover at once), or the layers a rules file names for it. A role nothing
fills is reported as missing, with what to ingest, so an analysis can refuse or say ``no_data``
instead of answering silently wrong.

Example:
    >>> inputs = find_inputs(city)                              # doctest: +SKIP
    >>> inputs["buildings"].layers                              # doctest: +SKIP
    ('buildings', 'delft')
    >>> inputs["parcels"].missing_reason()                      # doctest: +SKIP
    'needs parcels (地块): no layer holds features of class Parcel; ...'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cim.errors import LayerNotFound, ValidationError
from cim.model.catalog import all_layers, class_census
from cim.model.profile import ZONING_KEYS
from cim.model.relations import features, literal, prop

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.profile import LayerProfile


@dataclass(frozen=True)
class Role:
    """A kind of input: the feature classes that fill it and the geometry it needs."""

    name: str
    label_zh: str
    classes: tuple[str, ...]
    dimension: int  # 0 points, 1 lines, 2 polygons
    #: layer kinds whose features fill the role when found by class (a BIM model is a design, possibly
    #: one of several for a site, and the city's footprints usually hold the same building already:
    #: its IfcBuilding fills a role only when a rules file names its layer)
    kinds: tuple[str, ...] = ("vector", "cityjson")

    def hint(self) -> str:
        """How a user gives the city this input."""
        return (f"ingest one with `cim ingest CITY FILE --class {self.classes[0]}`, set the class of a layer "
                f"with `cim layers set CITY LAYER --class {self.classes[0]}`, or name its layers under "
                f"`layers: {{{self.name}: [...]}}` in the rules file")


ROLES: dict[str, Role] = {r.name: r for r in (
    Role("parcels", "地块", ("Parcel",), 2),
    Role("buildings", "建筑", ("Building",), 2),
    Role("roads", "道路中心线", ("Road",), 1),
    Role("green_space", "绿地", ("GreenSpace", "PlantCover", "Park"), 2),
)}


@dataclass(frozen=True)
class Input:
    """The features that fill one role: which layers, and which classes of their rows (None: every row)."""

    role: Role
    layers: tuple[str, ...]
    classes: tuple[str, ...] | None
    #: False when every chosen row already has the role's geometry dimension (no per-row test needed)
    check_dimension: bool = True
    #: each layer's profile (what its fields mean), in the order of ``layers``
    profiles: tuple[LayerProfile | None, ...] = ()
    #: layers holding features of the role's class that cannot fill it (no geometry, another dimension)
    unusable: tuple[str, ...] = ()
    #: BIM layers holding features of the role's class and shape (used only when a rules file names them)
    bim: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        """True when some layer fills the role."""
        return bool(self.layers)

    def relation(self, columns: str, *, alias: str | None = None, with_geometry: bool = True,
                 where: str | None = None) -> str:
        """The role's current features as SQL (see ``cim.model.relations.features``)."""
        parts = [f"ST_Dimension(geom) = {self.role.dimension}"] if self.check_dimension else []
        parts += [f"({where})"] if where else []
        return features(layers=self.layers, classes=self.classes, columns=columns, alias=alias,
                        with_geometry=with_geometry, where=" AND ".join(parts) or None)

    def source_field(self, key: str) -> dict[str, str]:
        """Per layer, the field playing ``key`` ("floors", or a zoning key such as "height_limit"): the
        field its profile names (``层数``, ``限高`` …), else the field called ``key``."""
        out = {}
        for layer, profile in zip(self.layers, self.profiles or (None,) * len(self.layers), strict=True):
            named = None
            if profile is not None and key == "floors":
                named = profile.floors_field
            elif profile is not None and key in ZONING_KEYS:  # other fields a rules file names are read as named
                named = profile.zoning_field(key)
            out[layer] = named or key
        return out

    def field_sql(self, key: str, sql_type: str = "DOUBLE") -> str:
        """A property playing ``key`` as a typed SQL value, read from each layer's own field for it."""
        names = self.source_field(key)
        distinct = set(names.values()) or {key}
        if len(distinct) == 1:
            return prop(distinct.pop(), sql_type)
        cases = " ".join(f"WHEN {literal(layer)} THEN {prop(field, sql_type)}" for layer, field in names.items())
        return f"(CASE layer {cases} END)"

    def missing_reason(self) -> str:
        """Why the role is empty, and what to do about it."""
        r = self.role
        shape = {0: "points", 1: "lines", 2: "polygons"}[r.dimension]
        kinds = " or ".join("CityJSON" if k == "cityjson" else k for k in r.kinds) if self.bim else ""
        why = f"no {kinds + ' ' if kinds else ''}layer holds features of class {' or '.join(r.classes)}"
        if self.unusable:
            why += (f" as {shape} ({', '.join(self.unusable)} hold{'s' if len(self.unusable) == 1 else ''} them "
                    "only in other shapes or without geometry)")
        if self.bim:
            listed = ", ".join(self.bim)
            why += (f"; BIM layer{'s' if len(self.bim) > 1 else ''} {listed} hold{'' if len(self.bim) > 1 else 's'} "
                    f"{' or '.join(r.classes)} {shape}, which are designs and count only when named: "
                    f"`layers: {{{r.name}: [{listed}]}}` in the rules file")
        return f"needs {r.name} ({r.label_zh}): {why}; " + r.hint()

    def require(self, purpose: str) -> Input:
        """Itself, or LayerNotFound saying which analysis needed what."""
        if not self.present:
            raise LayerNotFound(f"{purpose} {self.missing_reason()}")
        return self


def find_inputs(city: City, overrides: Mapping[str, Any] | None = None) -> dict[str, Input]:
    """Every role's input: named layers from ``overrides`` (a rules file's ``layers:``; their rows of the
    role's class when they hold any, else all their rows), else found by class."""
    census = class_census(city)
    infos = all_layers(city)
    kinds = {name: info.kind for name, info in infos.items()}
    out = {}
    for name, role in ROLES.items():
        named = (overrides or {}).get(name)
        if named:
            layers = _named_layers(named, kinds, name)
            has_class = any(cls in role.classes for layer in layers for cls, _ in census.get(layer, {}))
            found = Input(role, layers, role.classes if has_class else None)  # else: every row is one
        else:
            found = _by_class(role, census, kinds)
        out[name] = replace(found, profiles=tuple(infos[layer].profile for layer in found.layers))
    return out


def _by_class(role: Role, census: dict[str, dict[tuple[str, int], int]], kinds: dict[str, str]) -> Input:
    layers = tuple(sorted(layer for layer, counts in census.items()
                          if kinds.get(layer) in role.kinds
                          and any(cls in role.classes and dim == role.dimension for cls, dim in counts)))
    rows = [(cls, dim) for layer in layers for cls, dim in census[layer]]
    pure = all(cls in role.classes for cls, _ in rows)  # every row of those layers is of the role's class
    exact = all(dim == role.dimension for cls, dim in rows if cls in role.classes)
    unusable = tuple(sorted(layer for layer, counts in census.items() if layer not in layers
                            and kinds.get(layer) in role.kinds and any(cls in role.classes for cls, _ in counts)))
    bim = tuple(sorted(layer for layer, counts in census.items() if kinds.get(layer) == "bim"
                       and any(cls in role.classes and dim == role.dimension for cls, dim in counts)))
    return Input(role, layers, None if pure else role.classes, check_dimension=not exact, unusable=unusable,
                 bim=bim)


def _named_layers(named: Any, kinds: dict[str, str], role: str) -> tuple[str, ...]:
    names = (named,) if isinstance(named, str) else tuple(named)
    for layer in names:
        if layer not in kinds:
            have = ", ".join(sorted(kinds)) or "none"
            raise LayerNotFound(f"the rules name layer {layer!r} for {role}, but the city has no such layer "
                                f"(layers: {have})")
        if kinds[layer] == "raster":
            raise ValidationError(f"the rules name raster layer {layer!r} for {role}: {role} are features")
    return names


__all__ = ["Role", "ROLES", "Input", "find_inputs"]
