"""What the people, land and housing tables hold: their fields, each field's type and level, and the
column mapping that reads a spreadsheet's own headers (Chinese or English) into them.

Three tables, each a layer of the model with a parent chain resident → unit → building → parcel:

=========  ===========  =====================================================================
table      class        fields
=========  ===========  =====================================================================
units      HousingUnit  unit_id, building (parent), unit_number, floor, area, use, tenure
residents  Resident     resident_id, name, id_number, phone, birth_year, household, hukou,
                        unit (parent), moved_in, moved_out
land       LandRight    right_id, parcel (parent), holder, term_start, term_end, use
=========  ===========  =====================================================================

A profile (YAML, ``--profile``) names the table, maps source columns to fields and may change a
field's level::

    table: residents
    columns: {姓名: name, 公民身份号码: id_number, 房屋编号: unit}
    levels: {phone: secret}

Personal fields are ``restricted`` by default (see ``cim.access`` for what each role sees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cim.access import check_field_level
from cim.errors import ValidationError


@dataclass(frozen=True)
class Field:
    """One field of a people table: its name, value type (for masking), level, and header synonyms."""

    name: str
    kind: str  # name | id_number | phone | year | date | region | address | code | number | text
    level: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One of the people tables: its class, classification, key, parent field and fields."""

    name: str
    feature_class: str
    layer: str
    classification: str
    key: str
    parent: str
    parent_layer: str | None
    fields: tuple[Field, ...]
    label: str | None = None  # field shown as the feature's name

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (None when the table has none)."""
        return next((f for f in self.fields if f.name == name), None)


_F = Field
TABLES: dict[str, Table] = {
    "units": Table(
        "units", "HousingUnit", "units", "restricted", "unit_id", "building", None, (
            _F("unit_id", "code", "internal", ("房屋编号", "房屋代码", "id", "unit id")),
            _F("building", "code", "internal", ("楼栋", "楼栋编号", "建筑", "建筑编号", "building_id")),
            _F("unit_number", "code", "internal", ("房号", "门牌号", "室号", "number")),
            _F("floor", "number", "public", ("楼层", "所在层", "层")),
            _F("area", "number", "public", ("面积", "建筑面积", "area_m2")),
            _F("use", "text", "public", ("用途", "房屋用途")),
            _F("tenure", "text", "internal", ("产权", "产权性质", "权属", "tenure_type")),
        ), label="unit_number"),
    "residents": Table(
        "residents", "Resident", "residents", "secret", "resident_id", "unit", "units", (
            _F("resident_id", "code", "internal", ("人员编号", "序号", "id", "person_id")),
            _F("name", "name", "restricted", ("姓名", "名字", "full_name")),
            _F("id_number", "id_number", "restricted", ("身份证号", "身份证号码", "公民身份号码", "证件号码",
                                                        "id_card")),
            _F("phone", "phone", "restricted", ("电话", "联系电话", "手机", "手机号", "mobile")),
            _F("birth_year", "year", "restricted", ("出生年份", "出生年", "born")),
            _F("household", "code", "internal", ("户号", "家庭编号", "household_id")),
            _F("hukou", "region", "restricted", ("户籍", "户籍地", "户籍地址", "registration")),
            _F("unit", "address", "restricted", ("房屋编号", "房屋", "住址", "unit_id")),
            _F("moved_in", "date", "internal", ("迁入日期", "入住日期", "move_in")),
            _F("moved_out", "date", "internal", ("迁出日期", "离开日期", "move_out")),
        )),
    "land": Table(
        "land", "LandRight", "land_rights", "restricted", "right_id", "parcel", None, (
            _F("right_id", "code", "public", ("不动产单元号", "宗地号", "宗地编号", "id")),
            _F("parcel", "code", "public", ("地块", "地块编号", "parcel_id")),
            _F("holder", "name", "restricted", ("权利人", "使用权人", "owner")),
            _F("term_start", "date", "internal", ("起始日期", "使用期限起", "start")),
            _F("term_end", "date", "internal", ("终止日期", "使用期限止", "end")),
            _F("use", "text", "public", ("用途", "土地用途", "land_use")),
        ), label="right_id"),
}


def table(name: str) -> Table:
    """The people table called ``name``, or a ValidationError naming the tables there are."""
    if name not in TABLES:
        raise ValidationError(f"unknown people table {name!r}: use one of {', '.join(TABLES)}")
    return TABLES[name]


@dataclass(frozen=True)
class PeopleProfile:
    """How one source fills a people table: source column → field, and field levels."""

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = table(self.table)
        names = {f.name for f in t.fields}
        for source, target in self.columns.items():
            if target not in names:
                raise ValidationError(f"column {source!r} maps to {target!r}, which the {self.table} table has "
                                      f"no field for; fields: {', '.join(sorted(names))}")
        for name, level in self.levels.items():
            if name not in names:
                raise ValidationError(f"level given for {name!r}, which the {self.table} table has no field for")
            check_field_level(level)

    def field_levels(self) -> dict[str, str]:
        """Field → level: the table's defaults with this profile's changes."""
        return {f.name: self.levels.get(f.name, f.level) for f in table(self.table).fields}

    def field_kinds(self) -> dict[str, str]:
        """Field → value type (what its mask looks like)."""
        return {f.name: f.kind for f in table(self.table).fields}

    def mapping(self, headers: list[str]) -> dict[str, int]:
        """Field → column position, from the profile's columns, then the field's name, then its synonyms."""
        t = table(self.table)
        positions = {h.strip(): i for i, h in enumerate(headers) if h is not None}
        lowered = {h.lower(): i for h, i in positions.items()}
        out: dict[str, int] = {}
        for source, target in self.columns.items():
            if source not in positions:
                raise ValidationError(f"column {source!r} (mapped to {target}) is not in the source; its columns: "
                                      f"{', '.join(positions)}")
            out[target] = positions[source]
        for f in t.fields:
            if f.name in out:
                continue
            for candidate in (f.name, *f.synonyms):
                if candidate in positions or candidate.lower() in lowered:
                    out[f.name] = positions.get(candidate, lowered.get(candidate.lower(), -1))
                    break
        needed = [n for n in (t.parent,) if n not in out]
        if needed:
            raise ValidationError(f"the source has no column for {needed[0]!r} (the {t.parent} each row belongs "
                                  f"to): map one with --column SOURCE={needed[0]} or a profile's columns:")
        return out

    def to_json(self) -> dict[str, Any]:
        """Plain data for the catalogue (``properties.people``)."""
        return {"table": self.table, "levels": self.field_levels(), "kinds": self.field_kinds(),
                "columns": dict(self.columns)}


def load_profile(path: str | Path | None, *, table_name: str | None = None,
                 columns: tuple[tuple[str, str], ...] | None = None,
                 levels: tuple[tuple[str, str], ...] | None = None) -> PeopleProfile:
    """A profile from a YAML file and/or flags (flags win)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValidationError(f"cannot read the profile {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValidationError(f"{path}: a profile is a mapping with table:, columns: and levels:")
    name = table_name or data.get("table")
    if not name:
        raise ValidationError("say which table the source fills: --table units|residents|land (or table: in the "
                              "profile)")
    return PeopleProfile(str(name), {**{str(k): str(v) for k, v in (data.get("columns") or {}).items()},
                                     **dict(columns or ())},
                         {**{str(k): str(v) for k, v in (data.get("levels") or {}).items()}, **dict(levels or ())})


__all__ = ["Field", "Table", "TABLES", "table", "PeopleProfile", "load_profile"]
