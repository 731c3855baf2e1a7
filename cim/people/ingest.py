"""The ingest pipeline's reader for people, land and housing: CSV or Excel rows into a people table.

Rows are read with the source's own headers mapped onto the table's fields (``cim.people.profile``),
checked, and turned into features: a housing unit stands at a point of its building and has the
building as parent; a resident has the unit as parent (and its point); a land-use right has its
parcel's shape and the parcel as parent. Refused rows are listed with the sheet row (the header is
row 1) and the reason; ID numbers never appear unmasked in a reason.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from cim.access import mask_id_number
from cim.errors import SourceError
from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import PeopleOptions
from cim.people.idcard import birth_date, id_number_problem, id_number_problems
from cim.people.profile import PeopleProfile, Table, table

#: suffixes the reader takes
SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}


def plan_people(path: Path, options: PeopleOptions) -> list[Target]:
    """One target layer: ``--layer`` or the table's own (units, residents, land_rights)."""
    if path.suffix.lower() not in SUFFIXES:
        raise SourceError(f"{path}: people, land and housing are read from CSV or Excel (.xlsx), not "
                          f"'{path.suffix or 'no suffix'}'")
    return [Target(options.layer or table(str(options.table)).layer)]


def read_rows(path: Path, *, sheet: str | None = None,
              encoding: str | None = None) -> tuple[list[str], list[list[Any]]]:
    """Headers and data rows of a CSV or the sheet of an .xlsx workbook (cells as read: text, numbers, dates)."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _xlsx_rows(path, sheet)
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding or "utf-8-sig")
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"{path}: cannot decode as {encoding or 'UTF-8'} ({exc}); "
                          "give --encoding, e.g. GB18030") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SourceError(f"{path} has no header row")
    return [h.strip() for h in rows[0]], [r for r in rows[1:] if any(c.strip() for c in r)]


def _xlsx_rows(path: Path, sheet: str | None) -> tuple[list[str], list[list[Any]]]:
    try:
        import openpyxl  # optional extra cim[people]: only Excel sources need it
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SourceError(f"{path}: reading .xlsx needs openpyxl: pip install 'cim[people]'") from exc
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise SourceError(f"{path} is no readable Excel workbook: {exc}") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise SourceError(f"{path} has no sheet {sheet!r}; its sheets: {', '.join(book.sheetnames)}")
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    if not rows:
        raise SourceError(f"{path}: sheet {sheet or 'one'} is empty")
    headers = ["" if h is None else str(h).strip() for h in rows[0]]
    return headers, [r for r in rows[1:] if any(c not in (None, "") for c in r)]


def read_people(path: Path, options: PeopleOptions, target: Target, ctx: ReadContext) -> SourceLayer:
    """One people table read from ``path``, checked row by row (see the module doc)."""
    profile = PeopleProfile(str(options.table), dict(options.columns or ()), dict(options.levels or ()))
    spec = table(profile.table)
    ctx.progress(f"{target.layer}: reading {path.name}", 0.05)
    headers, rows = read_rows(path, sheet=options.sheet, encoding=options.encoding)
    mapping = profile.mapping(headers)
    out = SourceLayer(target, kind="vector", feature_class=spec.feature_class, read=len(rows))
    records = [_record(row, mapping) for row in rows]
    parent_layer = options.parent_layer or spec.parent_layer
    parents = [_parent_id(r.get(spec.parent), parent_layer) for r in records]
    if ctx.lookup is None:
        raise RuntimeError("the people reader needs the city's features to link rows to")
    ctx.progress(f"{target.layer}: linking {len(rows):,} rows", 0.3)
    known = ctx.lookup(sorted({p for p in parents if p}), point=spec.name != "land")
    check = {"units": _check_unit, "residents": _check_resident, "land": _check_land}[spec.name]
    if spec.name == "residents":  # the ID numbers checked at once (GB 11643), then each row's other facts
        numbers = [None if r.get("id_number") is None else _text(r["id_number"]).upper() for r in records]
        found = id_number_problems([n or "" for n in numbers])
        for record, number, problem in zip(records, numbers, found, strict=True):
            record["id_number"], record["_id_problem"] = number, problem
    keep: list[int] = []
    seen: dict[str, int] = {}
    stays: dict[str, list[tuple[date, date, str, int]]] = defaultdict(list)
    for i, (record, parent) in enumerate(zip(records, parents, strict=True)):
        row_no = i + 2  # the header is row 1
        reason = _check_parent(spec, parent, known) or check(record)
        key = _key(spec, record, row_no)
        if reason is None and key in seen:
            reason = f"{spec.key} {key!r} repeats row {seen[key]}"
        if reason is None and spec.name == "residents":
            reason = _check_stay(record, parent or "", row_no, stays)
        if reason is not None:
            out.reject(path.name, row_no, reason)
            continue
        seen[key] = row_no
        keep.append(i)
    ctx.progress(f"{target.layer}: preparing {len(keep):,} features", 0.7)
    _features(out, spec, target.layer, records, parents, keep, known)
    out.fields = [{"name": f.name, "type": _ARROW[f.kind]} for f in spec.fields]
    out.properties["people"] = profile.to_json()
    out.extra["people_table"] = spec.name
    return out


_ARROW = {"number": "double", "year": "int64"}
_ARROW = defaultdict(lambda: "string", _ARROW)


def _record(row: list[Any], mapping: dict[str, int]) -> dict[str, Any]:
    out = {}
    for name, i in mapping.items():
        value = row[i] if 0 <= i < len(row) else None
        if isinstance(value, str):
            value = value.strip() or None
        out[name] = value
    return out


def _parent_id(value: Any, layer: str | None) -> str | None:
    if value is None:
        return None
    text = _text(value)
    if layer and not text.startswith(f"{layer}."):
        return f"{layer}.{text}"
    return text


def _text(value: Any) -> str:
    """Cell text; whole numbers that Excel keeps as floats lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _key(spec: Table, record: dict[str, Any], row_no: int) -> str:
    value = record.get(spec.key)
    return _text(value) if value is not None else str(row_no)


def _check_parent(spec: Table, parent: str | None, known: dict[str, Any]) -> str | None:
    if parent is None:
        return f"no {spec.parent} given"
    if parent not in known:
        return f"{spec.parent} {parent!r} is not in the city"
    return None


def _date(value: Any) -> date | None:
    """A date from a cell: a date/datetime, 2021-03-14, 2021/3/14 or 20210314; ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value).replace("/", "-").replace(".", "-")
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    year, month, day = (int(p) for p in text.split("-")[:3])
    return date(year, month, day)


def _number(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    try:
        record[name] = float(value)
    except (TypeError, ValueError):
        return f"{name} {value!r} is not a number"
    return None


def _check_unit(record: dict[str, Any]) -> str | None:
    for name in ("area", "floor"):
        if (reason := _number(record, name)) is not None:
            return reason
    if record.get("area") is not None and record["area"] <= 0:
        return f"area {record['area']} is not positive"
    return None


def _check_resident(record: dict[str, Any]) -> str | None:
    number = record.get("id_number")
    problem = record.pop("_id_problem", None) if "_id_problem" in record else id_number_problem(_text(number or ""))
    if number is None:
        return "no ID number"
    if problem is not None:
        return f"{problem}: {mask_id_number(number)}"
    born = birth_date(number)
    record["birth_year"] = born.year if born else None
    if record.get("phone") is not None:
        record["phone"] = _text(record["phone"])
    return _period(record, "moved_in", "moved_out", "moved out ({end}) before moving in ({start})")


def _check_stay(record: dict[str, Any], unit: str, row_no: int,
                stays: dict[str, list[tuple[date, date, str, int]]]) -> str | None:
    """A person lives in one unit at a time: a stay overlapping another of the same ID number is refused."""
    start = record["moved_in"] or date.min
    end = record["moved_out"] or date.max
    for other_start, other_end, other_unit, other_row in stays[record["id_number"]]:
        if start < other_end and other_start < end:
            where = "another unit" if other_unit != unit else "the same unit"
            return (f"person {mask_id_number(record['id_number'])} already lives in {where} ({other_unit}) "
                    f"at that time (row {other_row})")
    stays[record["id_number"]].append((start, end, unit, row_no))
    return None


def _check_land(record: dict[str, Any]) -> str | None:
    return _period(record, "term_start", "term_end", "the right ends ({end}) before it starts ({start})")


def _period(record: dict[str, Any], first: str, last: str, backwards: str) -> str | None:
    """Parse the dates ``first`` and ``last`` of ``record`` in place; why they are refused, or None.

    ``backwards`` (with ``{start}`` and ``{end}``) says what it means when the period ends before it starts.
    """
    for name in (first, last):
        try:
            record[name] = _date(record.get(name))
        except (ValueError, TypeError):
            return f"{name} {record.get(name)!r} is not a date (use 2021-03-14)"
    start, end = record[first], record[last]
    if start is not None and end is not None and end < start:
        return backwards.format(start=start, end=end)
    return None


def _features(out: SourceLayer, spec: Table, layer: str, records: list[dict[str, Any]], parents: list[str | None],
              keep: list[int], known: dict[str, Any]) -> None:
    kept = [records[i] for i in keep]
    ids = [f"{layer}.{_key(spec, records[i], i + 2)}" for i in keep]
    parent_ids = [parents[i] for i in keep]
    out.features = pa.table({
        "id": pa.array(ids, pa.string()),
        "class": pa.array([spec.feature_class] * len(keep), pa.string()),
        "name": pa.array([_text(r[spec.label]) if spec.label and r.get(spec.label) is not None else None
                          for r in kept], pa.string()),
        "geom": pa.array([known[p] for p in parent_ids], pa.binary()),
        "parent": pa.array(parent_ids, pa.string()),
    })
    columns: dict[str, pa.Array] = {}
    for f in spec.fields:
        values = [r.get(f.name) for r in kept]
        if f.name == spec.parent:
            values = parent_ids
        if f.kind == "number":
            columns[f.name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        elif f.kind == "year":
            columns[f.name] = pa.array([None if v is None else int(v) for v in values], pa.int64())
        else:
            columns[f.name] = pa.array([None if v is None else (v.isoformat() if isinstance(v, date) else _text(v))
                                        for v in values], pa.string())
    out.attributes = pa.table(columns)


__all__ = ["SUFFIXES", "plan_people", "read_people", "read_rows"]
