"""Stream element meshes of an IFC model in city coordinates, and their footprints per building.

Why: geometry is where the time goes (PERF-NOTES: tens of seconds for a few MB of IFC), so it is
streamed: ifcopenshell's geometry iterator yields one shape at a time, we place it in the map CRS
and hand it on; nothing keeps all meshes in memory.

- The iterator runs in local coordinates, so that elements sharing a representation (IFC mapped
  items: doors, windows, furniture of one type) are meshed once and reused; each element's
  placement matrix is applied here (numpy), giving the same triangles as the iterator's world
  coordinates (within 1e-14 m on the samples; a few walls come with more duplicated vertices).

- `workers` > 1 splits the elements into that many disjoint shares (elements sharing a
  representation stay together, groups dealt out largest first) and meshes each share in a
  forked process with its own iterator; meshes come back as they are made. The iterator's own threads do not scale (on 2
  cores, 2 threads burn twice the CPU of 1 for the same shapes; docs/bim.md), processes do. Each
  element's mesh, footprint and colour depend on that element alone, so the output is the same
  whichever process made it; only the order in which meshes arrive differs.

- Elements whose geometry fails are yielded as `GeometryFailure` (GlobalId, class, reason) after
  the meshes, not raised: the rest of the model still goes in.
- By default `IfcOpeningElement` (voids, already cut out of their hosts), `IfcSpace` (room volumes
  that would hide the building inside them), `IfcGrid` and `IfcAnnotation` (curves, no surfaces)
  are not meshed. Pass `exclude=()` to mesh them too.
- Each mesh carries a cheap 2D footprint: the convex hull of its vertices, or for slab-like classes
  (slabs, roofs, coverings, sites, proxies, footings) the union of its projected triangles, so that
  an L-shaped floor stays L-shaped (`bim.footprints`). `BuildingShape` there unions them per building
  while streaming.

Example:
    >>> from bim.footprints import BuildingShape
    >>> shapes = BuildingShape()
    >>> for item in iter_meshes(model, georef, threads=2):  # doctest: +SKIP
    ...     if isinstance(item, ElementMesh):
    ...         shapes.add(item, building_of[item.global_id])
    >>> shapes.result()  # doctest: +SKIP
    {'2hQBAVPOr5VxhS3Jl0O47h': BuildingFootprint(...)}
"""

from __future__ import annotations

import json
import math
import multiprocessing
import multiprocessing.connection
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from bim._compat import ifcopenshell
from bim.errors import AbsurdCoordinates
from bim.footprints import element_footprint
from bim.georef import Georeference
from bim.reader import source_name

__all__ = [
    "DEFAULT_EXCLUDE",
    "ElementMesh",
    "GeometryFailure",
    "iter_meshes",
]

DEFAULT_EXCLUDE: tuple[str, ...] = ("IfcOpeningElement", "IfcSpace", "IfcGrid", "IfcAnnotation")
_MAX_PLANAR_M = 4.0e7
_MAX_HEIGHT_M = 1.0e5
_LOG_DRAIN_EVERY = 512
_MIN_SHARE = 8  # fewer elements than this per worker are not worth a process
_SEND_EVERY = 8  # meshes a worker sends at once


@dataclass
class ElementMesh:
    """One element's triangle mesh in the map CRS (metres, float64), with z range and footprint.

    `color` is the RGBA (0–1) of the element's dominant surface style, or None.
    """

    global_id: str
    ifc_class: str
    vertices: np.ndarray
    faces: np.ndarray
    z_min: float
    z_max: float
    footprint: BaseGeometry | None = None
    color: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class GeometryFailure:
    """An element whose geometry could not be built, and why (from ifcopenshell's log)."""

    global_id: str
    ifc_class: str
    reason: str


def iter_meshes(
    model: ifcopenshell.file,
    georef: Georeference,
    *,
    threads: int = 1,
    workers: int = 1,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    include: Sequence[Any] | None = None,
) -> Iterator[ElementMesh | GeometryFailure]:
    """Yield an `ElementMesh` per meshed element, then a `GeometryFailure` per element that failed.

    `include` (products or class names) restricts the run to those, e.g. for a quick preview.
    `workers` processes (forked, so the parsed model is shared, not re-read) each mesh every
    `workers`-th element with an iterator of `threads` threads; 1 meshes in this process.
    Raises AbsurdCoordinates when an element lands off the earth (a unit/placement error).

    Example:
        >>> items = list(iter_meshes(model, georef, threads=1))  # doctest: +SKIP
    """
    forkable = not multiprocessing.current_process().daemon  # a daemonic process may not have children
    shares = _shares(model, exclude, include, workers) if workers > 1 and forkable else []
    if len(shares) > 1:
        yield from _iter_workers(model, georef, threads, shares)
    else:
        yield from _iter_here(model, georef, threads, exclude, include)


def _iter_here(
    model: Any, georef: Georeference, threads: int, exclude: Sequence[str], include: Sequence[Any] | None,
) -> Iterator[ElementMesh | GeometryFailure]:
    """Mesh in this process: one iterator, meshes as they come, then the failures."""
    name = source_name(model)
    it = _iterator(model, threads, exclude, include)
    ifcopenshell.get_log()  # drop older messages: the log is process-wide
    started = it.initialize()
    expected = _task_products(it)
    if not expected:
        return
    seen: set[int] = set()
    errors: list[tuple[int, str]] = []
    while started:
        shape = it.get()
        if shape.id not in seen:  # with an include filter a product of two tasks can come twice
            seen.add(shape.id)
            yield _to_mesh(shape, georef, name)
            if len(seen) % _LOG_DRAIN_EVERY == 0:
                errors.extend(_log_errors())
        if not it.next():
            break
    errors.extend(_log_errors())
    for step_id, product in expected.items():
        if step_id not in seen:
            yield GeometryFailure(product.GlobalId, product.is_a(), _reason(model, product, errors))


def _shares(model: Any, exclude: Sequence[str], include: Sequence[Any] | None, workers: int) -> list[list[int]]:
    """The step ids of the products to mesh, dealt out to at most `workers` shares.

    Products that share a representation (mapped items of one representation map) go to the
    same share, so that it is meshed once; groups go, largest first, to the share with fewest.

    Products are those with a representation, outside `exclude` (or inside `include`); the
    iterator of each share decides, as it would for the whole file, which of them have a body.
    """
    if include is not None:
        products: list[Any] = []
        for item in include:
            products.extend(model.by_type(item) if isinstance(item, str) else [item])
    else:
        products = [p for p in model.by_type("IfcProduct") if not any(p.is_a(c) for c in exclude)]
    groups: dict[Any, list[int]] = {}
    seen: set[int] = set()
    for p in products:
        if getattr(p, "Representation", None) is None or p.id() in seen:
            continue
        seen.add(p.id())
        groups.setdefault(_representation_key(p), []).append(p.id())
    n = max(1, min(int(workers), len(seen) // _MIN_SHARE))
    if n == 1:
        return [[step for group in groups.values() for step in group]]
    shares: list[list[int]] = [[] for _ in range(n)]
    for group in sorted(groups.values(), key=lambda g: (-len(g), g[0])):
        min(shares, key=len).extend(group)
    return [sorted(share) for share in shares]


def _representation_key(product: Any) -> Any:
    """What the iterator meshes once for several products: the representation maps they all map."""
    maps = []
    for representation in product.Representation.Representations or ():
        for item in representation.Items or ():
            if not item.is_a("IfcMappedItem"):
                return product.id()
            maps.append(item.MappingSource.id())
    return tuple(sorted(maps)) or product.id()


def _iter_workers(
    model: Any, georef: Georeference, threads: int, shares: list[list[int]],
) -> Iterator[ElementMesh | GeometryFailure]:
    """Mesh each share in a forked process; meshes as they arrive, then every share's failures."""
    context = multiprocessing.get_context("fork")  # the children share the parsed model
    processes, pipes = [], []
    try:
        for share in shares:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(model, georef, threads, share, send), daemon=True)
            process.start()
            send.close()
            processes.append(process)
            pipes.append(receive)
        failures: list[GeometryFailure] = []
        open_pipes = list(pipes)
        while open_pipes:
            for pipe in multiprocessing.connection.wait(open_pipes):
                kind, payload = _receive(pipe, processes[pipes.index(pipe)])  # type: ignore[arg-type]
                if kind == "meshes":
                    yield from payload
                elif kind == "failures":
                    failures.extend(payload)
                    open_pipes.remove(pipe)
                else:
                    raise payload
        order = {step: i for i, step in enumerate(step for share in shares for step in share)}
        failures.sort(key=lambda f: order.get(_step_of(model, f.global_id), -1))
        yield from failures
    finally:
        for pipe in pipes:
            pipe.close()
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _receive(pipe: multiprocessing.connection.Connection, process: Any) -> tuple[str, Any]:
    try:
        return pipe.recv()
    except EOFError:
        process.join(timeout=5)
        return "error", RuntimeError(
            f"an IFC geometry worker ended without an answer (exit code {process.exitcode}); "
            "the geometry kernel may have crashed on an element: try --workers 1 to find it")


def _step_of(model: Any, global_id: str) -> int:
    try:
        return model.by_guid(global_id).id()
    except RuntimeError:
        return -1


def _worker(model: Any, georef: Georeference, threads: int, share: list[int],
            send: multiprocessing.connection.Connection) -> None:
    """In the forked process: mesh `share`, send meshes in small batches, then the failures."""
    try:
        batch: list[ElementMesh] = []
        failures: list[GeometryFailure] = []
        include = [model.by_id(step) for step in share]
        for item in _iter_here(model, georef, threads, (), include):
            if isinstance(item, GeometryFailure):
                failures.append(item)
                continue
            batch.append(item)
            if len(batch) >= _SEND_EVERY:
                send.send(("meshes", batch))
                batch = []
        if batch:
            send.send(("meshes", batch))
        send.send(("failures", failures))
    except BaseException as exc:  # noqa: BLE001 - every error goes back to the parent, which raises it
        try:
            send.send(("error", exc))
        except Exception:  # noqa: BLE001 - an error that does not pickle goes back as text
            send.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()


def _iterator(model: Any, threads: int, exclude: Sequence[str], include: Sequence[Any] | None) -> Any:
    import ifcopenshell.geom as geom

    settings = geom.settings()  # local coordinates: shared representations are meshed once
    threads = max(1, int(threads))
    if include is not None:
        return geom.iterator(settings, model, threads, include=list(include))
    if exclude:
        return geom.iterator(settings, model, threads, exclude=list(exclude))
    return geom.iterator(settings, model, threads)


def _task_products(it: Any) -> dict[int, Any]:
    """Products the iterator will try to mesh (a product may appear in several tasks)."""
    tasks = ifcopenshell.ifcopenshell_wrapper.iterator.get_task_products(it)
    return {p.id(): p for task in tasks for p in task}


def _to_mesh(shape: Any, georef: Georeference, name: str) -> ElementMesh:
    geometry = shape.geometry
    local = np.frombuffer(geometry.verts_buffer, dtype=np.float64).reshape(-1, 3)
    faces = np.frombuffer(geometry.faces_buffer, dtype=np.int32).reshape(-1, 3).astype(np.uint32)
    vertices = georef.to_map(_placed(local, shape.transformation.matrix))
    z_min, z_max = (float(vertices[:, 2].min()), float(vertices[:, 2].max())) if len(vertices) else (0.0, 0.0)
    if len(vertices):
        _check_extent(vertices, shape, name)
    return ElementMesh(
        global_id=shape.guid,
        ifc_class=shape.type,
        vertices=vertices,
        faces=faces,
        z_min=z_min,
        z_max=z_max,
        footprint=element_footprint(vertices, faces, shape.type),
        color=_dominant_color(geometry),
    )


def _placed(local: np.ndarray, matrix: Sequence[float]) -> np.ndarray:
    """Vertices in the model's world coordinates: the element's 4x4 placement (column-major) applied."""
    m = np.asarray(matrix, dtype=np.float64).reshape(4, 4).T
    return local @ m[:3, :3].T + m[:3, 3]


def _check_extent(vertices: np.ndarray, shape: Any, name: str) -> None:
    xy = np.abs(vertices[:, :2]).max()
    z = np.abs(vertices[:, 2]).max()
    if xy > _MAX_PLANAR_M or z > _MAX_HEIGHT_M or not math.isfinite(xy + z):
        raise AbsurdCoordinates(
            f"{name}: element {shape.guid} ({shape.type}) lands at |x|,|y| up to {xy:.3g} m and |z| up "
            f"to {z:.3g} m, which is not on the earth; check its placement and the length unit",
            path=name,
        )


def _dominant_color(geometry: Any) -> tuple[float, float, float, float] | None:
    materials = geometry.materials
    if not materials:
        return None
    ids = np.frombuffer(geometry.material_ids_buffer, dtype=np.int32)
    index = int(np.bincount(ids[ids >= 0]).argmax()) if (ids >= 0).any() else 0
    style = materials[min(index, len(materials) - 1)]
    try:
        d = style.diffuse
        alpha = 1.0 - float(style.transparency) if style.has_transparency() else 1.0
        rgba = (float(d.r()), float(d.g()), float(d.b()), alpha)
    except (AttributeError, TypeError, RuntimeError):
        return None
    return tuple(min(1.0, max(0.0, c)) if math.isfinite(c) else 1.0 for c in rgba)  # type: ignore[return-value]


_INSTANCE_RE = re.compile(r"#(\d+)\s*=")


def _log_errors() -> list[tuple[int, str]]:
    """(step id, message) of error entries in ifcopenshell's log since the last call (JSON or text)."""
    out: list[tuple[int, str]] = []
    text = ifcopenshell.get_log() or ""
    for block in re.split(r"\n(?=[\[{])", text):
        entry = _parse_log_entry(block)
        if entry is not None:
            out.append(entry)
    return out


def _parse_log_entry(block: str) -> tuple[int, str] | None:
    block = block.strip()
    if block.startswith("{"):
        try:
            data = json.loads(block)
        except ValueError:
            return None
        if data.get("level") != "error":
            return None
        instance = str(data.get("instance") or data.get("product") or "")
        message, step = str(data.get("message", "")), _INSTANCE_RE.search(instance)
    else:
        if not block.startswith("[error]"):
            return None
        first, _, instance = block.partition("\n")
        message = re.sub(r"^(\[[^\]]*\]\s*)+", "", first)
        step = _INSTANCE_RE.search(instance)
    return (int(step.group(1)) if step else -1, f"{message.strip()} {instance.strip()}".strip())


def _reason(model: Any, product: Any, errors: list[tuple[int, str]]) -> str:
    """The first logged error about `product` or anything in its representation, or a default."""
    ids = {product.id()}
    if getattr(product, "Representation", None) is not None:
        ids.update(e.id() for e in model.traverse(product.Representation))
    for step, message in errors:
        if step in ids:
            return message
    return "the geometry kernel produced no mesh for this element"
