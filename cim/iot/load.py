"""Bulk-load observations from CSV or Parquet: long form (datastream, time, value) or wide form
(a time and one column per datastream, like the PRSA air-quality and VMM flow files).

Times must say their zone. A file of local times without one is refused unless the caller states
the zone they were recorded in (``timezone="Asia/Shanghai"``); a time that does not exist or is
ambiguous in that zone (daylight-saving changes) is rejected. Values are converted when the file's
unit differs from the datastream's but measures the same thing (CO in ug/m3 into mg/m3); a unit of
another kind is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cim.errors import SourceError, ValidationError, first_line
from cim.iot.lookup import Datastreams, load_datastreams
from cim.iot.report import ObservationReport
from cim.iot.settings import window_for
from cim.iot.units import conversion
from cim.iot.write import write_observations

if TYPE_CHECKING:
    from cim.city import City

NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "-"]
_TIME_NAMES = ("phenomenonTime", "phenomenon_time", "time", "Time", "timestamp", "datetime", "t")
_DS_NAMES = ("datastream", "datastream_id", "Datastream", "ds")
_VALUE_NAMES = ("result", "value", "Value", "v")


def load_observations(city: City, path: str | Path, *, timezone: str | None = None, time: str | None = None,
                      time_parts: Sequence[str] | None = None, datastream: str | None = None,
                      value: str | None = None, unit: str | None = None,
                      columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
                      actor: str | None = None, time_floor: Any = None, max_skew: Any = None) -> ObservationReport:
    """Load a CSV or Parquet file of observations in one transaction; returns the report.

    Long form: one row per observation with ``datastream`` (id or key), a time and a ``result``
    column (and optionally a per-row ``unit`` column). Wide form: pass ``columns`` mapping file
    columns to datastreams (``{"PM10": "dongsi.pm10"}``) and ``units`` for the file's units.
    ``time_floor`` / ``max_skew`` replace the city's plausibility window for this file (a historic
    archive older than the floor: ``time_floor="1900-01-01"``); rows outside it are rejected.

    Example:
        >>> load_observations(city, "PRSA_Data_Dongsi.csv", timezone="Asia/Shanghai",
        ...     time_parts=["year", "month", "day", "hour"],
        ...     columns={"PM10": "dongsi.pm10", "CO": "dongsi.co"}, units={"CO": "ug/m3"})  # doctest: +SKIP
    """
    path = Path(path)
    window = window_for(city, time_floor=time_floor, max_skew=max_skew)
    table = read_table(path)
    if table.num_rows == 0:
        raise SourceError(f"{path}: no rows to load")
    streams = load_datastreams(city)
    times, time_rejects = _times(table, path, timezone, time, time_parts)
    if columns:
        batch, rejects, where = _wide(city, table, times, time_rejects, columns, units or {}, streams, path)
    else:
        batch, rejects, where = _long(city, table, times, time_rejects, streams, datastream, value, unit, path)
    report = write_observations(city, batch, source=str(path), kind="file", actor=actor, where=where,
                                rejected=rejects, window=window)
    with city.store.transaction():
        city.record("iot-load", details=report.as_dict(), actor=actor)
    return report


def read_table(path: Path) -> pa.Table:
    """A CSV (any line endings, ``NA`` and empty cells as missing) or Parquet file as Arrow."""
    if not path.is_file():
        raise SourceError(f"no file {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq", ".geoparquet"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in (".csv", ".txt", ".tsv"):
            import pyarrow.csv as csv

            parse = csv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            convert = csv.ConvertOptions(null_values=NULLS, strings_can_be_null=True)
            return csv.read_csv(path, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"cannot read {path}: {first_line(exc)}") from exc
    raise SourceError(f"{path}: unknown observation file type {suffix!r}: use .csv or .parquet")


def _times(table: pa.Table, path: Path, timezone: str | None, time: str | None,
           parts: Sequence[str] | None) -> tuple[pa.Array, dict[int, str]]:
    """Aware UTC times for every row, and rows whose time is unusable (index → reason)."""
    if parts:
        missing = [p for p in parts if p not in table.column_names]
        if missing:
            raise ValidationError(f"{path}: no column(s) {missing} for the time parts; columns are "
                                  f"{', '.join(table.column_names)}")
        names = ["year", "month", "day", "hour", "minute", "second"][:len(parts)]
        frame = pd.DataFrame({n: table.column(p).to_pandas() for n, p in zip(names, parts, strict=True)})
        naive = pd.to_datetime(frame, errors="coerce")
        label = f"{'/'.join(parts)} columns"
    else:
        name = time or next((n for n in _TIME_NAMES if n in table.column_names), None)
        if name is None or name not in table.column_names:
            raise ValidationError(f"{path}: no time column ({time or ', '.join(_TIME_NAMES)}): name it with "
                                  "--time COLUMN or --time-parts year,month,day,hour")
        column = table.column(name)
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            return column.cast(pa.timestamp("us", tz="UTC")), {}
        naive = _parse_text_times(column)
        if naive is None:  # text with zones
            return _aware_text(column)
        label = f"column {name!r}"
    return _localise(naive, path, timezone, label)


def _parse_text_times(column: pa.ChunkedArray) -> pd.Series | None:
    series = column.to_pandas()
    if pa.types.is_timestamp(column.type):
        return pd.to_datetime(series)
    text = series.astype("string")
    zoned = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)\s*$", regex=True, na=False)
    if zoned.any():
        return None
    return pd.to_datetime(text, errors="coerce", format="mixed")


def _aware_text(column: pa.ChunkedArray) -> tuple[pa.Array, dict[int, str]]:
    text = column.to_pandas().astype("string")
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    zoned = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)\s*$", regex=True, na=False).to_numpy()
    rejects = {}
    for i in np.flatnonzero(~zoned | parsed.isna().to_numpy()):
        raw = text.iloc[i]
        rejects[int(i)] = ("missing time" if pd.isna(raw) else
                           f"time without a zone: {raw!r}" if not zoned[i] else f"unreadable time {raw!r}")
    parsed[~zoned] = pd.NaT
    return pa.array(parsed, pa.timestamp("us", tz="UTC")), rejects


def _localise(naive: pd.Series, path: Path, timezone: str | None, label: str) -> tuple[pa.Array, dict[int, str]]:
    if timezone is None:
        first = naive.dropna()
        example = f" (first: {first.iloc[0]})" if len(first) else ""
        raise ValidationError(
            f"{path}: times in {label} have no time zone{example}: state the zone they were recorded in, "
            "e.g. --timezone Asia/Shanghai (Beijing time, UTC+8)")
    try:
        aware = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    except Exception as exc:
        raise ValidationError(f"unknown time zone {timezone!r}: use an IANA name such as Asia/Shanghai") from exc
    rejects = {}
    bad = aware.isna().to_numpy()
    for i in np.flatnonzero(bad):
        rejects[int(i)] = ("missing or unreadable time" if pd.isna(naive.iloc[i])
                           else f"time {naive.iloc[i]} does not exist or is ambiguous in {timezone}")
    return pa.array(aware.dt.tz_convert("UTC"), pa.timestamp("us", tz="UTC")), rejects


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64 (NaN when missing) and a mask of cells that were text but not numbers."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
        return np.array(column.cast(pa.float64()).to_numpy(), dtype=np.float64), np.zeros(len(column), dtype=bool)
    if pa.types.is_boolean(column.type):
        return column.cast(pa.float64()).to_numpy(), np.zeros(len(column), dtype=bool)
    text = column.cast(pa.string()).to_pandas()
    values = np.array(pd.to_numeric(text, errors="coerce"), dtype=np.float64)
    return values, np.isnan(values) & text.notna().to_numpy()


def _wide(city: City, table: pa.Table, times: pa.Array, time_rejects: dict[int, str],
          columns: Mapping[str, str], units: Mapping[str, str], streams: Datastreams,
          path: Path) -> tuple[pa.Table, Any, Callable[[Any], list[str]]]:
    """One observation per (row, mapped column); cells laid out column after column."""
    bad_time = np.zeros(table.num_rows, dtype=bool)
    bad_time[list(time_rejects)] = True
    ids, values, rows, cols, rejects = [], [], [], [], []
    for c, (source, target) in enumerate(columns.items()):
        if source not in table.column_names:
            raise ValidationError(f"{path}: no column {source!r}; columns are {', '.join(table.column_names)}")
        ds = streams.resolve(target)
        if ds is None:
            raise ValidationError(f"{path}: column {source!r} maps to datastream {target!r}, which the city "
                                  "does not have: register it first (cim iot register)")
        v, text = _numbers(table.column(source))
        v = _convert(city, v, units.get(source), streams.unit[ds], f"{path} column {source!r}")
        for i in np.flatnonzero(text & ~bad_time):
            rejects.append((f"row {i + 1}, column {source}",
                            f"non-numeric result {table.column(source)[int(i)].as_py()!r}"))
        rejects += [(f"row {i + 1}, column {source}", why) for i, why in sorted(time_rejects.items())]
        idx = np.flatnonzero(~text & ~bad_time)
        ids.append(np.full(len(idx), ds, dtype=np.int64))
        values.append(v[idx])
        rows.append(idx)
        cols.append(np.full(len(idx), c))
    rows_at, cols_at, names = np.concatenate(rows), np.concatenate(cols), list(columns)
    batch = pa.table({"datastream_id": pa.array(np.concatenate(ids), pa.int64()),
                      "phenomenon_time": times.take(pa.array(rows_at)),
                      "result": pa.array(np.concatenate(values), pa.float64())})
    return batch, rejects, lambda idx: [f"row {rows_at[i] + 1}, column {names[cols_at[i]]}" for i in idx]


def _long(city: City, table: pa.Table, times: pa.Array, time_rejects: dict[int, str], streams: Datastreams,
          datastream: str | None, value: str | None, unit: str | None,
          path: Path) -> tuple[pa.Table, Any, Callable[[Any], list[str]]]:
    ds_col = _pick(table, datastream, _DS_NAMES, "datastream", path)
    v_col = _pick(table, value, _VALUE_NAMES, "value", path)
    refs = table.column(ds_col).to_pylist()
    uniq = {r: streams.resolve(r) for r in set(refs) if r is not None}
    ids = np.array([-1 if r is None or uniq[r] is None else uniq[r] for r in refs], dtype=np.int64)
    v, text = _numbers(table.column(v_col))
    rejects = {i: f"non-numeric result {table.column(v_col)[i].as_py()!r}" for i in np.flatnonzero(text)}
    rejects.update({i: f"unknown datastream {refs[i]!r}" for i in np.flatnonzero(ids < 0) if refs[i] is not None})
    rejects.update(time_rejects)
    if unit is not None or "unit" in table.column_names:
        rejects.update(_row_units(city, table, unit, ids, v, streams))
    keep = np.ones(len(ids), dtype=bool)
    keep[list(rejects)] = False
    rows = np.flatnonzero(keep)
    batch = pa.table({"datastream_id": pa.array(ids[keep], pa.int64()),
                      "phenomenon_time": times.take(pa.array(rows)), "result": pa.array(v[keep], pa.float64())})
    pre = [(f"row {i + 1}", why) for i, why in sorted(rejects.items())]
    return batch, pre, lambda idx: [f"row {rows[i] + 1}" for i in idx]


def _row_units(city: City, table: pa.Table, unit: str | None, ids: np.ndarray, v: np.ndarray,
               streams: Datastreams) -> dict[int, str]:
    """Convert per-row units in place (file unit → datastream unit); rows with a wrong unit are rejected."""
    given = (np.full(len(ids), unit, dtype=object) if unit is not None
             else np.asarray(table.column("unit").to_pylist(), dtype=object))
    rejects = {}
    frame = pd.DataFrame({"ds": ids, "u": given})
    for (ds, u), idx in frame.groupby(["ds", "u"], dropna=True).indices.items():
        if ds < 0 or u == streams.unit[ds]:
            continue
        try:
            scale, offset = conversion(str(u), streams.unit[ds], city)
        except ValidationError as exc:
            for i in idx:
                rejects[int(i)] = f"wrong unit {u!r} for datastream {ds} ({streams.unit[ds]}): {exc}"
            continue
        v[idx] = v[idx] * scale + offset
    return rejects


def _convert(city: City, v: np.ndarray, given: str | None, target: str, where: str) -> np.ndarray:
    if given is None or given == target:
        return v
    try:
        scale, offset = conversion(given, target, city)
    except ValidationError as exc:
        raise ValidationError(f"{where}: unit {given!r} does not fit the datastream's {target!r}: {exc}") from exc
    return v * scale + offset


def _pick(table: pa.Table, chosen: str | None, names: Sequence[str], what: str, path: Path) -> str:
    if chosen is not None:
        if chosen not in table.column_names:
            raise ValidationError(f"{path}: no {what} column {chosen!r}; columns are {', '.join(table.column_names)}")
        return chosen
    for name in names:
        if name in table.column_names:
            return name
    raise ValidationError(f"{path}: no {what} column (looked for {', '.join(names)}); for a wide file map its "
                          "columns to datastreams with --column SRC=DATASTREAM")
