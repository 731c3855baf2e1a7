"""Open IFC files with clear errors, and read every IfcProduct as a flat, Arrow-friendly record.

Why: the city model stores one feature per IfcProduct (GlobalId as the stable id) with its class,
name, type, material, place in the spatial structure, property and quantity sets and CIM level.
Reading is cheap (no geometry); geometry streams separately (`bim.geometry`).

Example:
    >>> model = open_ifc("AC20-FZK-Haus.ifc")  # doctest: +SKIP
    >>> walls = [e for e in read_elements(model) if e.ifc_class.startswith("IfcWall")]  # doctest: +SKIP
    >>> walls[0].storey_id, walls[0].properties["Pset_WallCommon"]["IsExternal"]  # doctest: +SKIP
    ('2eyxpyOx95m90jmsXLOuR0', True)
"""

from __future__ import annotations

import json
import math
import re
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from bim._compat import ifcopenshell
from bim.cim_levels import base_level, refine
from bim.errors import InvalidIFC

__all__ = ["IfcElement", "SUPPORTED_SCHEMAS", "elements_table", "open_ifc", "read_elements", "source_name"]

SUPPORTED_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3")
_MAGIC = b"ISO-10303-21;"
_END = b"END-ISO-10303-21;"
_SCHEMA_RE = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", re.IGNORECASE)
_SOURCES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def source_name(model: Any) -> str:
    """The file a model was opened from (for error messages), or '<in-memory IFC>'."""
    try:
        return _SOURCES.get(model, "<in-memory IFC>")
    except TypeError:
        return "<in-memory IFC>"


def open_ifc(path: str | Path) -> ifcopenshell.file:
    """Open an IFC-SPF file, refusing bad input with `InvalidIFC` naming the file.

    Checks, before the parser sees the file: it exists and is not empty, starts with the STEP
    magic (else: ifcZIP/ifcXML/other), ends with END-ISO-10303-21; (else: truncated), and
    declares a supported schema (IFC2X3, IFC4, IFC4X3*). IFC4X3 drafts (IFC4X3, _TC1, _ADD1)
    are read with ifcopenshell's IFC4X3_ADD2 schema.

    Example:
        >>> open_ifc("empty.ifc")  # doctest: +SKIP
        Traceback (most recent call last):
        bim.errors.InvalidIFC: empty.ifc: the file is empty (0 bytes)
    """
    path = Path(path)
    name = str(path)
    head, tail = _read_ends(path)
    _check_magic(head, name)
    if _END not in tail.upper():
        raise InvalidIFC(
            f"{name}: the file is truncated or corrupt: it does not end with END-ISO-10303-21; "
            "(was the download or export interrupted?)",
            path=name,
        )
    declared, parse_as = _schema_of(head, name)
    model = _parse(path, declared, parse_as)
    if not model.by_type("IfcProject"):
        raise InvalidIFC(f"{name}: the file has no IfcProject, so it is not an IFC model", path=name)
    _SOURCES[model] = name
    return model


def _read_ends(path: Path) -> tuple[bytes, bytes]:
    name = str(path)
    if not path.is_file():
        raise InvalidIFC(f"{name}: no such file", path=name)
    size = path.stat().st_size
    if size == 0:
        raise InvalidIFC(f"{name}: the file is empty (0 bytes)", path=name)
    with path.open("rb") as fh:
        head = fh.read(65536)
        fh.seek(max(0, size - 4096))
        tail = fh.read()
    return head, tail


def _check_magic(head: bytes, name: str) -> None:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(_MAGIC):
        return
    if start.startswith(b"PK"):
        hint = "it is a zip archive (ifcZIP?): unzip it and give the .ifc inside"
    elif start.startswith(b"<"):
        hint = "it looks like XML (ifcXML?), which is not supported: export IFC-SPF (.ifc)"
    else:
        hint = "it does not start with ISO-10303-21; (the STEP header of every .ifc file)"
    raise InvalidIFC(f"{name}: not an IFC file: {hint}", path=name)


def _schema_of(head: bytes, name: str) -> tuple[str, str]:
    match = _SCHEMA_RE.search(head)
    if not match:
        raise InvalidIFC(f"{name}: the header has no FILE_SCHEMA, so the file is corrupt", path=name)
    declared = match.group(1).decode("ascii", "replace").strip().upper()
    if declared.startswith("IFC4X3"):
        return declared, "IFC4X3_ADD2"
    if declared.startswith("IFC2X3"):
        return declared, "IFC2X3"
    if declared == "IFC4" or re.fullmatch(r"IFC4_(ADD\d|TC\d)(_TC\d)?", declared):
        return declared, "IFC4"
    raise InvalidIFC(
        f"{name}: schema {declared!r} is not supported; supported schemas: "
        "IFC2X3, IFC4, IFC4X3 (IFC4X3_ADD2 and its drafts)",
        path=name,
    )


def _parse(path: Path, declared: str, parse_as: str) -> ifcopenshell.file:
    name = str(path)
    try:
        if declared == parse_as:
            return ifcopenshell.open(str(path))
        text = path.read_bytes().decode("utf-8", "replace")
        text = re.sub(r"FILE_SCHEMA\s*\(\s*\(\s*'[^']*'", f"FILE_SCHEMA(('{parse_as}'", text, count=1)
        return ifcopenshell.file.from_string(text)
    except (ifcopenshell.Error, RuntimeError, OSError) as exc:
        raise InvalidIFC(f"{name}: the file cannot be parsed as {declared}: {exc}", path=name) from exc


@dataclass
class IfcElement:
    """One IfcProduct (element or spatial structure) as a flat record.

    storey_id / building_id / site_id are the GlobalIds of the enclosing storey, building and
    site; for a spatial element they include itself (a storey's storey_id is its own GlobalId), so
    "everything in building B" is simply building_id == B. parent_id follows
    element -> aggregate (assembly, host of an opening) -> storey -> building -> site.
    `properties` holds every property and quantity set ({set name: {name: value}}).
    `elevation` is a storey's elevation in model metres. `material` joins several names with " | ".
    """

    global_id: str
    ifc_class: str
    name: str | None
    type_name: str | None
    material: str | None
    storey_id: str | None
    building_id: str | None
    site_id: str | None
    parent_id: str | None
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    cim_level: int = 6
    lod: str = "LOD3.0"
    elevation: float | None = None
    predefined_type: str | None = None

    def to_record(self) -> dict[str, Any]:
        """A flat dict with `properties` as a JSON string (Chinese text kept as is)."""
        rec = asdict(self)
        rec["properties"] = json.dumps(self.properties, ensure_ascii=False, sort_keys=True)
        return rec


ELEMENT_SCHEMA = pa.schema(
    [
        ("global_id", pa.string()),
        ("ifc_class", pa.string()),
        ("name", pa.string()),
        ("type_name", pa.string()),
        ("material", pa.string()),
        ("storey_id", pa.string()),
        ("building_id", pa.string()),
        ("site_id", pa.string()),
        ("parent_id", pa.string()),
        ("properties", pa.string()),
        ("cim_level", pa.int8()),
        ("lod", pa.string()),
        ("elevation", pa.float64()),
        ("predefined_type", pa.string()),
    ]
)


def elements_table(elements: list[IfcElement]) -> pa.Table:
    """Elements as an Arrow table (properties as JSON text), ready for DuckDB or Parquet."""
    return pa.Table.from_pylist([e.to_record() for e in elements], schema=ELEMENT_SCHEMA)


def read_elements(model: ifcopenshell.file) -> list[IfcElement]:
    """Every IfcProduct of `model` (spatial structure included) as `IfcElement` records.

    Example:
        >>> [e.ifc_class for e in read_elements(model)][:3]  # doctest: +SKIP
        ['IfcSite', 'IfcBuilding', 'IfcBuildingStorey']
    """
    unit = ifcopenshell.util.unit.calculate_unit_scale(model)
    parents = _parent_links(model)
    products = model.by_type("IfcProduct")
    by_id = {p.id(): p for p in products}
    levels: dict[str, int] = {}
    psets = _PsetReader()
    return [_element(p, parents, by_id, unit, levels, psets) for p in products]


def _element(product: Any, parents: dict[int, int], by_id: dict[int, Any], unit: float,
             levels: dict[str, int], psets: _PsetReader) -> IfcElement:
    ifc_class = product.is_a()
    spatial = _spatial_ids(_ancestors(product, parents, by_id))
    element_type = ifcopenshell.util.element.get_type(product)
    properties = psets.read(product, element_type)
    predefined = _text(getattr(product, "PredefinedType", None))
    if ifc_class not in levels:
        levels[ifc_class] = base_level(product.is_a)
    level, lod = refine(levels[ifc_class], product.is_a, predefined_type=predefined, properties=properties)
    parent = by_id.get(parents.get(product.id(), -1))
    return IfcElement(
        global_id=product.GlobalId,
        ifc_class=ifc_class,
        name=_text(product.Name),
        type_name=_text(element_type.Name) if element_type is not None else None,
        material=_material(product),
        storey_id=spatial.get("IfcBuildingStorey"),
        building_id=spatial.get("IfcBuilding"),
        site_id=spatial.get("IfcSite"),
        parent_id=parent.GlobalId if parent is not None else None,
        properties=properties,
        cim_level=level,
        lod=lod,
        elevation=_elevation(product, unit),
        predefined_type=predefined,
    )


def _parent_links(model: ifcopenshell.file) -> dict[int, int]:
    """child step id -> parent step id; aggregation first, then nesting, containment, voids, fills."""
    parents: dict[int, int] = {}
    for rel in model.by_type("IfcRelAggregates"):
        for obj in rel.RelatedObjects or ():
            parents.setdefault(obj.id(), rel.RelatingObject.id())
    for rel in model.by_type("IfcRelNests"):
        for obj in rel.RelatedObjects or ():
            parents.setdefault(obj.id(), rel.RelatingObject.id())
    for rel in model.by_type("IfcRelContainedInSpatialStructure"):
        for obj in rel.RelatedElements or ():
            parents.setdefault(obj.id(), rel.RelatingStructure.id())
    for rel in model.by_type("IfcRelVoidsElement"):
        parents.setdefault(rel.RelatedOpeningElement.id(), rel.RelatingBuildingElement.id())
    for rel in model.by_type("IfcRelFillsElement"):
        parents.setdefault(rel.RelatedBuildingElement.id(), rel.RelatingOpeningElement.id())
    return parents


def _ancestors(product: Any, parents: dict[int, int], by_id: dict[int, Any]) -> list[Any]:
    """The product itself, then its parents up to the top (cycle-safe)."""
    chain, seen, current = [product], {product.id()}, parents.get(product.id())
    while current is not None and current not in seen and current in by_id:
        seen.add(current)
        chain.append(by_id[current])
        current = parents.get(current)
    return chain


def _spatial_ids(chain: list[Any]) -> dict[str, str]:
    """Nearest storey / building / site GlobalId along an ancestor chain (none has subtypes)."""
    found: dict[str, str] = {}
    for item in chain:
        name = item.is_a()
        if name in ("IfcBuildingStorey", "IfcBuilding", "IfcSite") and name not in found:
            found[name] = item.GlobalId
    return found


class _PsetReader:
    """Property and quantity sets per product, like ifcopenshell's get_psets (type sets inherited,
    occurrence sets merged over them), converting each shared definition only once."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[str, dict[str, Any]]] = {}

    def read(self, product: Any, element_type: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        definitions = list(getattr(element_type, "HasPropertySets", None) or ()) if element_type else []
        for rel in getattr(product, "IsDefinedBy", None) or ():
            if rel.is_a("IfcRelDefinesByProperties"):
                definition = rel.RelatingPropertyDefinition
                if definition.is_a("IfcPropertySetDefinitionSet"):
                    definitions.extend(definition.wrappedValue)
                else:
                    definitions.append(definition)
        for definition in definitions:
            name, props = self._convert(definition)
            out.setdefault(name, {}).update(props)
        return out

    def _convert(self, definition: Any) -> tuple[str, dict[str, Any]]:
        key = definition.id()
        if key not in self._cache:
            props = ifcopenshell.util.element.get_property_definition(definition) or {}
            self._cache[key] = (str(definition.Name), {k: _plain(v) for k, v in props.items() if k != "id"})
        return self._cache[key]


def _plain(value: Any) -> Any:
    """Make a property value JSON-safe: tuples -> lists, entities -> str, NaN/inf -> None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k != "id"}
    return str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _material(product: Any) -> str | None:
    try:
        materials = ifcopenshell.util.element.get_materials(product)
    except (AttributeError, TypeError, RuntimeError):
        return None
    names = list(dict.fromkeys(m.Name for m in materials if getattr(m, "Name", None)))
    return " | ".join(names) if names else None


def _elevation(product: Any, unit: float) -> float | None:
    if not product.is_a("IfcBuildingStorey"):
        return None
    if product.Elevation is not None:
        return round(float(product.Elevation) * unit, 6)
    if product.ObjectPlacement is not None:
        matrix = ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement)
        return round(float(matrix[2, 3]) * unit, 6)
    return None
