"""One call to read an IFC model for the city: `read_model` -> `BimModel`.

Why: the city model's ingest needs, in this order, everything that can refuse the file (parse,
schema, georeferencing, absurd coordinates, no geometry) *before* it writes anything, and then a
stream of meshes it can store one by one. `read_model` does the cheap, refusing part (elements,
georeference: well under a second for a few MB); `BimModel.iter_meshes()` streams geometry and,
as it goes, collects failures and per-building footprints and z ranges, which are complete once
the stream is exhausted.

Example:
    >>> model = read_model("AC20-FZK-Haus.ifc", threads=2)  # doctest: +SKIP
    >>> model.georef.method  # doctest: +SKIP
    'IfcSite RefLatitude/RefLongitude'
    >>> for mesh in model.iter_meshes():  # doctest: +SKIP
    ...     store(mesh.global_id, to_glb([mesh], origin=...))
    >>> model.buildings, model.failures, model.counts()  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from bim._compat import ifcopenshell
from bim.errors import NoGeometry
from bim.footprints import BuildingFootprint, BuildingShape
from bim.geometry import (
    DEFAULT_EXCLUDE,
    ElementMesh,
    GeometryFailure,
    iter_meshes,
)
from bim.georef import Anchor, Georeference, resolve_georeference
from bim.reader import IfcElement, elements_table, open_ifc, read_elements

__all__ = ["BimModel", "read_model"]


@dataclass
class BimModel:
    """A read IFC model: schema, georeference, elements, and a geometry stream.

    `buildings`, `failures` and `mesh_count` fill while `iter_meshes()` runs and are complete
    when `geometry_done` is True.
    """

    path: str
    schema: str
    georef: Georeference
    elements: list[IfcElement]
    threads: int = 1
    workers: int = 1
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    failures: list[GeometryFailure] = field(default_factory=list)
    buildings: dict[str | None, BuildingFootprint] = field(default_factory=dict)
    mesh_count: int = 0
    geometry_done: bool = False
    _ifc: Any = field(default=None, repr=False)

    @property
    def georef_method(self) -> str:
        """Which georeferencing was used (see `bim.georef`)."""
        return self.georef.method

    @property
    def ifc(self) -> ifcopenshell.file:
        """The open ifcopenshell file (for callers that need more than the records)."""
        return self._ifc

    def iter_meshes(self, *, include: Sequence[Any] | None = None) -> Iterator[ElementMesh]:
        """Stream element meshes in the map CRS; failures go to `self.failures`.

        Raises NoGeometry at the end if elements had geometry but none could be meshed.
        """
        building_of = {e.global_id: e.building_id for e in self.elements}
        shapes, failures, count = BuildingShape(), [], 0
        for item in iter_meshes(self._ifc, self.georef, threads=self.threads, workers=self.workers,
                                exclude=self.exclude, include=include):
            if isinstance(item, GeometryFailure):
                failures.append(item)
                continue
            count += 1
            shapes.add(item, building_of.get(item.global_id))
            yield item
        self.failures, self.mesh_count = failures, count
        self.buildings = {bid: fp for bid, fp in shapes.result().items() if bid is not None}
        self.geometry_done = True
        if count == 0 and failures:
            first = "; ".join(f"{f.global_id} ({f.ifc_class}): {f.reason}" for f in failures[:3])
            raise NoGeometry(f"{self.path}: none of {len(failures)} elements could be meshed, e.g. {first}",
                             path=self.path)

    def run_geometry(self) -> BimModel:
        """Consume the mesh stream without keeping meshes (footprints, z ranges, failures only)."""
        for _ in self.iter_meshes():
            pass
        return self

    def elements_table(self) -> pa.Table:
        """The elements as an Arrow table (see `bim.reader.elements_table`)."""
        return elements_table(self.elements)

    def counts(self) -> dict[str, Any]:
        """Counts that reconcile: products, by class and CIM level; meshes + failures once meshed."""
        out: dict[str, Any] = {
            "products": len(self.elements),
            "storeys": sum(e.ifc_class == "IfcBuildingStorey" for e in self.elements),
            "buildings": sum(e.ifc_class == "IfcBuilding" for e in self.elements),
            "by_cim_level": dict(sorted(Counter(e.cim_level for e in self.elements).items())),
            "by_class": dict(Counter(e.ifc_class for e in self.elements).most_common()),
        }
        if self.geometry_done:
            out.update(meshes=self.mesh_count, failures=len(self.failures),
                       with_geometry=self.mesh_count + len(self.failures))
        return out

    def summary(self) -> str:
        """A few human lines: file, schema, georeferencing, counts, buildings."""
        c = self.counts()
        g = self.georef
        lines = [
            f"{self.path}: {self.schema}, {c['products']} products, {c['storeys']} storeys, {c['buildings']} buildings",
            f"georeference: {g.method} -> {g.crs} at E {g.eastings:.3f} N {g.northings:.3f} "
            f"H {g.orthogonal_height:.3f}, rotation {g.rotation_deg:.3f} deg"
            + (f" (file offers {g.source})" if g.source else ""),
        ]
        if self.geometry_done:
            lines.append(f"geometry: {c['meshes']} meshes, {c['failures']} failures")
            for bid, b in self.buildings.items():
                area = b.footprint.area if b.footprint is not None else 0.0
                lines.append(f"building {bid}: footprint {area:.1f} m2, z {b.z_min:.2f}..{b.z_max:.2f} m")
        return "\n".join(lines)


def read_model(
    path: str | Path,
    *,
    anchor: Anchor | None = None,
    threads: int = 1,
    workers: int = 1,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
) -> BimModel:
    """Open, georeference and read the elements of an IFC file; geometry streams later.

    Geometry is meshed by `workers` processes (see `bim.geometry.iter_meshes`), each running
    ifcopenshell's iterator with `threads` threads.

    Raises InvalidIFC, NoGeoreference, AbsurdCoordinates or NoGeometry before anything is
    returned, so a caller that stores nothing until this returns is never left half-done.

    Example:
        >>> m = read_model("ISSUE_021_Mini_Project.ifc",
        ...                anchor=Anchor(527000, 4010000, crs="EPSG:4549"))  # doctest: +SKIP
        >>> m.georef.method  # doctest: +SKIP
        'anchor'
    """
    path = Path(path)
    ifc = open_ifc(path)
    georef = resolve_georeference(ifc, anchor)
    _require_geometry(ifc, exclude, str(path))
    return BimModel(
        path=str(path),
        schema=ifc.schema_identifier,
        georef=georef,
        elements=read_elements(ifc),
        threads=threads,
        workers=workers,
        exclude=tuple(exclude),
        _ifc=ifc,
    )


def _require_geometry(ifc: ifcopenshell.file, exclude: Sequence[str], name: str) -> None:
    """Raise NoGeometry when no product outside `exclude` has a representation."""
    for product in ifc.by_type("IfcProduct"):
        if product.Representation is not None and not any(product.is_a(c) for c in exclude):
            return
    raise NoGeometry(
        f"{name}: no element has 3D geometry (no IfcProduct with a Representation), so there is nothing to "
        "place in the city; export the model with geometry ('Body' representations)",
        path=name,
    )
