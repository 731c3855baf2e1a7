"""Store a layer's features as a new version, atomically: the one writer of ``features`` versions.

The ingest pipeline (``cim.ingest.pipeline``) locks the layers it writes (``lock_layers``), learns
where they stand, and commits each new version here (``commit_version``), so versioning, history
and reject reports behave the same whatever the source. A changed profile makes a version from the
current one without any source (``revise_layer``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.model.relations import features, literal
from cim.model.vocabulary import check_classification, check_layer_name, check_phase

if TYPE_CHECKING:
    from cim.city import City
    from cim.ingest.report import IngestReport
    from cim.model.profile import LayerProfile

#: columns a features table handed to ``commit_version`` may carry; ``id``, ``class`` and ``geom``
#: (WKB in the city CRS) are required, the rest default to NULL.
FEATURE_COLUMNS = {
    "id": pa.string(),
    "class": pa.string(),
    "name": pa.string(),
    "cim_level": pa.int8(),
    "lod": pa.string(),
    "geom": pa.binary(),
    "z_min": pa.float64(),
    "z_max": pa.float64(),
    "height": pa.float64(),
    "properties": pa.string(),  # JSON text
    "parent": pa.string(),
}


@dataclass
class LayerSpec:
    """Catalogue facts about a layer being written."""

    name: str
    kind: str
    phase: str = "plan"
    classification: str = "public"
    feature_class: str | None = None
    source: str | None = None
    source_crs: str | None = None
    checksum: str | None = None
    fields: list[dict[str, str]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_layer_name(self.name)
        check_phase(self.phase)
        check_classification(self.classification)


@dataclass(frozen=True)
class LayerState:
    """Where a layer stands for a writer holding its lock: its current version (0: no layer yet),
    the checksum of the source that made it, and the number the next version gets."""

    version: int
    checksum: str | None
    next_version: int


def lock_layers(city: City, names: list[str]) -> dict[str, LayerState]:
    """Inside a transaction: queue behind other writers of these layers, then read where each stands.

    Locks are taken in name order, so two writers of overlapping sets of layers cannot deadlock
    (PostGIS: transaction-scoped advisory locks; DuckDB has one writer and needs none).
    """
    store = city.store
    out = {}
    for name in sorted(set(names)):
        store.lock(f"layer:{name}")
        row = store.rows("SELECT version, checksum FROM layers WHERE name = ?", [name])
        last = store.scalar("SELECT max(version) FROM layer_versions WHERE layer = ?", [name])
        version, checksum = (int(row[0][0]), row[0][1]) if row else (0, None)
        out[name] = LayerState(version, checksum, int(last or 0) + 1)
    return out


def commit_version(city: City, spec: LayerSpec, version: int, features: pa.Table, report: IngestReport,
                   *, attributes: pa.Table | None = None) -> IngestReport:
    """Write ``features`` as version ``version`` of ``spec.name`` (call inside the writer's transaction,
    holding the layer's lock: ``lock_layers``).

    The previous version's rows get ``valid_to = now`` (so ``as_of`` still reads them); a failure
    anywhere leaves the city as it was. ``attributes`` (same length as ``features``) become each
    feature's ``properties`` JSON inside the database, which is much faster than building JSON
    text in Python. The catalogue, the version's counts, its rejects and the history are written
    in the same transaction.
    """
    store = city.store
    table = _normalise(features, skip={"properties"} if attributes is not None else set())
    now = datetime.now(UTC)
    with store.transaction():
        store.execute("UPDATE features SET valid_to = ? WHERE layer = ? AND valid_to IS NULL", [now, spec.name])
        table = _with_layer_columns(table, spec, version, now)
        store.insert_arrow("features", table, geometry=["geom"],
                           json_objects={"properties": attributes} if attributes is not None else None)
        bbox = store.rows(
            "SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom)) "
            "FROM features WHERE layer = ? AND version = ?", [spec.name, version])[0]
        _upsert_layer(city, spec, version, table.num_rows, bbox, now)
        report.version, report.stored = version, table.num_rows
        store.execute(
            "INSERT INTO layer_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [spec.name, version, spec.checksum, spec.source, report.read, table.num_rows,
             report.repaired, report.rejected, None, now])
        _insert_rejects(city, spec.name, version, report)
        city.record("ingest", layer=spec.name, version=version, details=report.as_dict())
    return report


def _insert_rejects(city: City, layer: str, version: int, report: IngestReport) -> None:
    if not report.rejects:
        return
    n = len(report.rejects)
    city.store.insert_arrow("rejects", pa.table({
        "layer": [layer] * n,
        "version": pa.array([version] * n, pa.int32()),
        "source": [r.source for r in report.rejects],
        "row_ref": [r.row for r in report.rejects],
        "reason": [r.reason for r in report.rejects],
    }))


def _normalise(features: pa.Table, skip: set[str]) -> pa.Table:
    missing = {"id", "class", "geom"} - set(features.column_names)
    if missing:
        raise ValueError(f"features table lacks required columns {sorted(missing)}")
    columns = {}
    for name, type_ in FEATURE_COLUMNS.items():
        if name in skip:
            continue
        if name in features.column_names:
            columns[name] = features.column(name).cast(type_)
        else:
            columns[name] = pa.nulls(features.num_rows, type_)
    return pa.table(columns)


def _with_layer_columns(table: pa.Table, spec: LayerSpec, version: int, now: datetime) -> pa.Table:
    n = table.num_rows
    constants = {
        "layer": pa.scalar(spec.name, pa.string()),
        "phase": pa.scalar(spec.phase, pa.string()),
        "classification": pa.scalar(spec.classification, pa.string()),
        "version": pa.scalar(version, pa.int32()),
        "valid_from": pa.scalar(now, pa.timestamp("us", tz="UTC")),
    }
    for name, value in constants.items():
        table = table.append_column(name, pa.repeat(value, n))
    return table


def _upsert_layer(city: City, spec: LayerSpec, version: int, count: int, bbox: tuple, now: datetime) -> None:
    store = city.store
    created = store.scalar("SELECT created_at FROM layers WHERE name = ?", [spec.name]) or now
    store.execute("DELETE FROM layers WHERE name = ?", [spec.name])
    store.execute(
        "INSERT INTO layers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [spec.name, spec.kind, spec.phase, spec.classification, spec.feature_class, spec.source,
         spec.source_crs, spec.checksum, version, count, *bbox,
         json.dumps(spec.fields, ensure_ascii=False), json.dumps(spec.properties, ensure_ascii=False),
         created, now])


#: the columns of ``features``, in the order the table declares them
_TABLE_COLUMNS = ("id", "layer", "class", "name", "cim_level", "lod", "phase", "geom", "z_min", "z_max", "height",
                  "properties", "parent", "classification", "version", "valid_from", "valid_to")


def revise_layer(city: City, name: str, profile: LayerProfile) -> int:
    """A new version of a layer with the same features and the columns ``profile`` decides (class,
    CIM level, name, z range, height in metres) recomputed from their stored properties — the
    source is not read again. The old version stays readable with ``as_of``. Returns the version.
    """
    store = city.store
    with store.transaction():
        state = lock_layers(city, [name])[name]
        row = city.layer(name)
        version, now = state.next_version, datetime.now(UTC)
        computed = profile.column_sql()
        select = ", ".join(computed.get(c, c) for c in _TABLE_COLUMNS[:14])
        relation = features(layers=[name], columns=f"{select}, {literal(version)}, {literal(now)}, NULL")
        store.execute(f"INSERT INTO features ({', '.join(_TABLE_COLUMNS)}) {relation}")
        store.execute("UPDATE features SET valid_to = ? WHERE layer = ? AND valid_to IS NULL AND version <> ?",
                      [now, name, version])
        count = int(store.scalar("SELECT count(*) FROM features WHERE layer = ? AND version = ?", [name, version]))
        properties = {k: v for k, v in (row.get("properties") or {}).items()} | {"profile": profile.to_json()}
        spec = LayerSpec(name=name, kind=row["kind"], phase=row["phase"], classification=row["classification"],
                         feature_class=profile.feature_class or row["feature_class"], source=row["source"],
                         source_crs=row["source_crs"], checksum=row["checksum"], fields=row.get("fields") or [],
                         properties=properties)
        _upsert_layer(city, spec, version, count, (row["minx"], row["miny"], row["maxx"], row["maxy"]), now)
        store.execute("INSERT INTO layer_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [name, version, row["checksum"], row["source"], count, count, 0, 0, None, now])
        city.record("edit", layer=name, version=version,
                    details={"profile": profile.to_json(), "features": count, "from_version": state.version})
    return version
