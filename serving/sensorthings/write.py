"""Observations posted in SensorThings 1.1 JSON: single entities, arrays of them, and the DataArray
form of the ``CreateObservations`` extension.

Each element is checked on its own and refused with its position (``[3]``, ``[0].dataArray[5]``)
and a reason; the rest of the batch is written in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.errors import ValidationError
from cim.iot.lookup import Datastreams, load_datastreams
from cim.iot.report import ObservationReport
from cim.iot.times import as_number, parse_times
from cim.iot.write import write_observations

if TYPE_CHECKING:
    from cim.city import City

MAX_OBSERVATIONS = 100_000


def create_observations(city: City, payload: Any, *, datastream: int | str | None = None,
                        actor: str | None = None, source: str = "http") -> tuple[ObservationReport, list[str]]:
    """Write posted observations; returns the report and, per observation, its id or ``error: why``.

    ``payload`` is an Observation (``{"phenomenonTime", "result", "Datastream": {"@iot.id"}}``),
    a list of them, or a list of DataArray blocks (``{"Datastream", "components", "dataArray"}``).
    ``datastream`` is the default for entities that name none (``POST Datastreams(7)/Observations``).

    Example:
        >>> create_observations(city, [{"Datastream": {"@iot.id": 1}, "components":
        ...     ["phenomenonTime", "result"], "dataArray": [["2026-05-01T08:00:00Z", 41.5]]}])  # doctest: +SKIP
    """
    streams = load_datastreams(city)
    default = streams.resolve(datastream) if datastream is not None else None
    if datastream is not None and default is None:
        raise ValidationError(f"no datastream {datastream!r}")
    labels, refs, times, values, rejects = _flatten(payload, default, streams)
    if len(labels) > MAX_OBSERVATIONS:
        raise ValidationError(f"{len(labels)} observations in one request, more than {MAX_OBSERVATIONS}: "
                              "split the batch")
    micros, bad_times = parse_times(times)
    for i, why in bad_times.items():
        rejects.setdefault(i, why)
    keep = np.array([i not in rejects for i in range(len(labels))], dtype=bool)
    rows = np.flatnonzero(keep)
    ds = np.array(refs, dtype=np.int64) if refs else np.zeros(0, dtype=np.int64)
    batch = pa.table({"datastream_id": pa.array(ds[keep], pa.int64()),
                      "phenomenon_time": pa.array(micros[keep], pa.timestamp("us", tz="UTC")),
                      "result": pa.array(np.array(values, dtype=np.float64)[keep] if values else [], pa.float64())})
    report = write_observations(city, batch, source=source, kind="http", actor=actor,
                                where=lambda idx: [labels[rows[i]] for i in idx],
                                rejected=[(labels[i], why) for i, why in sorted(rejects.items())])
    refused = dict(report.rejects)
    outcomes = [f"error: {refused[label]}" if label in refused else f"{ds[i]}-{micros[i]}"
                for i, label in enumerate(labels)]
    return report, outcomes


def _flatten(payload: Any, default: int | None,
             streams: Datastreams) -> tuple[list[str], list[int], list[Any], list[float], dict[int, str]]:
    items = payload if isinstance(payload, list) else [payload]
    labels: list[str] = []
    refs: list[int] = []
    times: list[Any] = []
    values: list[float] = []
    rejects: dict[int, str] = {}

    def add(label: str, ds: int | None, time: Any, result: Any, why: str | None = None) -> None:
        number = as_number(result)
        i = len(labels)
        labels.append(label)
        refs.append(ds if ds is not None else -1)
        times.append(time)
        values.append(number if number is not None else np.nan)
        if why:
            rejects[i] = why
        elif ds is None:
            rejects[i] = "unknown or missing datastream"
        elif number is None:
            rejects[i] = f"non-numeric result {result!r}"

    for k, item in enumerate(items):
        where = f"[{k}]" if isinstance(payload, list) else "observation"
        if not isinstance(item, dict):
            add(where, None, None, None, f"expected an object, got {type(item).__name__}")
        elif "dataArray" in item:
            _data_array(item, where, default, streams, add)
        else:
            add(where, _datastream_of(item, default, streams), item.get("phenomenonTime"), item.get("result"))
    return labels, refs, times, values, rejects


def _data_array(item: dict[str, Any], where: str, default: int | None, streams: Datastreams, add: Any) -> None:
    ds = _datastream_of(item, default, streams)
    components = item.get("components")
    rows = item.get("dataArray")
    if not isinstance(components, list) or "phenomenonTime" not in components or "result" not in components:
        add(f"{where}.components", ds, None, None, "components must list phenomenonTime and result")
        return
    if not isinstance(rows, list):
        add(f"{where}.dataArray", ds, None, None, "dataArray must be an array of rows")
        return
    ti, ri = components.index("phenomenonTime"), components.index("result")
    for j, row in enumerate(rows):
        label = f"{where}.dataArray[{j}]"
        if not isinstance(row, list) or len(row) != len(components):
            add(label, ds, None, None, f"row must be an array of {len(components)} values")
        else:
            add(label, ds, row[ti], row[ri])


def _datastream_of(item: dict[str, Any], default: int | None, streams: Datastreams) -> int | None:
    ref = item.get("Datastream")
    if isinstance(ref, dict) and "@iot.id" in ref:
        return streams.resolve(ref["@iot.id"])
    return default
