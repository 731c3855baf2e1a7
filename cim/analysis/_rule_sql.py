"""SQL of each planning rule: one SELECT per rule, all with the same result columns.

Every rule gives, per subject (a building or a parcel): status (pass / fail / no_data), the value
measured, the limit it was held against, and a reason in Chinese and in English that carries both
numbers. The SELECTs read CTEs built by ``cim.analysis.compliance``: ``p`` (parcels with limits),
``b`` (buildings), ``bp`` (buildings with their parcel), ``ind`` (parcel indicators), ``rr`` (roads
with width and required setback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cim.analysis._common import sql_text

#: tolerance (metres, or ratio) below which a value is not counted as over its limit
TOL = 1e-6


@dataclass(frozen=True)
class Texts:
    """Reason templates (printf with value, limit) for a rule."""

    fail_zh: str
    pass_zh: str
    fail_en: str
    pass_en: str
    fmt: str = "%.1f"


def result_columns(rule: str, names: tuple[str, str], unit: str) -> str:
    """The constant columns of a rule's results."""
    return (f"{sql_text(rule)} AS rule, {sql_text(names[0])} AS rule_name, {sql_text(names[1])} AS rule_name_en, "
            f"{sql_text(unit)} AS unit")


def verdict(value: str, limit: str, *, upper: bool, texts: Texts, missing: str, missing_zh: str,
            missing_en: str) -> str:
    """status, reason_zh, reason_en for ``value`` held against an upper (or lower) ``limit``.

    ``missing`` is a SQL condition under which the rule cannot be judged (reasons given).
    """
    status, zh, en = verdict_parts(value, limit, upper=upper, texts=texts, missing=missing, missing_zh=missing_zh,
                                   missing_en=missing_en)
    return f"{status} AS status, {zh} AS reason_zh, {en} AS reason_en"


def verdict_parts(value: str, limit: str, *, upper: bool, texts: Texts, missing: str, missing_zh: str,
                  missing_en: str) -> tuple[str, str, str]:
    """The three expressions of ``verdict``, unnamed (for a rule that wraps them in a case of its own)."""
    bad = f"{value} > {limit} + {TOL}" if upper else f"{value} < {limit} - {TOL}"
    args = f"{value}, {limit}"
    f = texts.fmt

    def text(template: str) -> str:
        return f"printf({sql_text(template.replace('{v}', f).replace('{l}', f))}, {args})"

    return (f"CASE WHEN {missing} THEN 'no_data' WHEN {bad} THEN 'fail' ELSE 'pass' END",
            f"CASE WHEN {missing} THEN {missing_zh} WHEN {bad} THEN {text(texts.fail_zh)} "
            f"ELSE {text(texts.pass_zh)} END",
            f"CASE WHEN {missing} THEN {missing_en} WHEN {bad} THEN {text(texts.fail_en)} "
            f"ELSE {text(texts.pass_en)} END")


def _no_limit(limit: str, what_zh: str, what_en: str, subject: str = "b") -> tuple[str, str, str]:
    """missing condition and reasons for a building rule that needs its parcel and a limit."""
    cond = f"{subject}.parcel IS NULL OR {limit} IS NULL"
    zh = f"CASE WHEN {subject}.parcel IS NULL THEN '建筑不在任何地块内' ELSE '地块无{what_zh}指标' END"
    en = (f"CASE WHEN {subject}.parcel IS NULL THEN 'the building stands on no parcel' "
          f"ELSE 'the parcel has no {what_en}' END")
    return cond, zh, en


def height_sql(names: tuple[str, str]) -> str:
    """限高: building height against its parcel's height limit (no_data, saying so, for a building
    whose height is unknown)."""
    cond, zh, en = _no_limit("p.height_limit", "限高", "height limit")
    cond += " OR b.height IS NULL"
    zh = (f"CASE WHEN b.parcel IS NOT NULL AND b.height IS NULL THEN CASE WHEN p.height_limit IS NULL "
          "THEN '建筑高度未知（无高度、无层数），地块亦无限高指标' ELSE '建筑高度未知（无高度、无层数）' END "
          f"ELSE {zh} END")
    en = (f"CASE WHEN b.parcel IS NOT NULL AND b.height IS NULL THEN CASE WHEN p.height_limit IS NULL "
          "THEN 'the building has no height (nor storeys), and the parcel has no height limit' "
          f"ELSE 'the building has no height (nor storeys)' END ELSE {en} END")
    texts = Texts("建筑高度 {v} m 超过限高 {l} m", "建筑高度 {v} m，未超过限高 {l} m",
                  "height {v} m exceeds the {l} m height limit", "height {v} m is within the {l} m height limit")
    return (f"SELECT b.id AS subject, 'Building' AS subject_class, b.parcel, {result_columns('height', names, 'm')}, "
            f"b.height AS value, p.height_limit AS \"limit\", "
            f"{verdict('b.height', 'p.height_limit', upper=True, texts=texts, missing=cond, missing_zh=zh, missing_en=en)}, "  # noqa: E501
            "b.geom FROM bp b LEFT JOIN p ON p.id = b.parcel")


def setback_sql(names: tuple[str, str]) -> str:
    """建筑退线: distance from the building to its parcel's boundary (0 when it crosses it)."""
    cond, zh, en = _no_limit("p.setback_limit", "退线", "setback")
    dist = "(CASE WHEN ST_Within(b.geom, p.geom) THEN ST_Distance(ST_Boundary(p.geom), b.geom) ELSE 0.0 END)"
    texts = Texts("距用地边界 {v} m，小于退线要求 {l} m", "距用地边界 {v} m，满足退线 {l} m",
                  "{v} m from the parcel boundary, less than the {l} m setback",
                  "{v} m from the parcel boundary, meets the {l} m setback")
    return (f"SELECT b.id AS subject, 'Building' AS subject_class, b.parcel, {result_columns('setback', names, 'm')}, "
            f"{dist} AS value, p.setback_limit AS \"limit\", "
            f"{verdict(dist, 'p.setback_limit', upper=False, texts=texts, missing=cond, missing_zh=zh, missing_en=en)}, "  # noqa: E501
            "b.geom FROM bp b LEFT JOIN p ON p.id = b.parcel")


def parcel_ratio_sql(rule: str, names: tuple[str, str], *, column: str, limit: str, upper: bool,
                     texts: Texts, skip_when: str | None = None, skip_zh: str = "", skip_en: str = "") -> str:
    """A parcel rule on an indicator column of ``rows`` (容积率, 建筑密度, 绿地率)."""
    missing = f"{limit} IS NULL OR {column} IS NULL"
    zh = f"'地块无{names[0]}指标'"
    en = f"'the parcel has no {names[1]}'"
    if skip_when:
        missing = f"{missing} OR {skip_when}"
        zh = f"CASE WHEN {limit} IS NULL THEN {zh} ELSE {sql_text(skip_zh)} END"
        en = f"CASE WHEN {limit} IS NULL THEN {en} ELSE {sql_text(skip_en)} END"
    return (f"SELECT parcel AS subject, 'Parcel' AS subject_class, parcel, {result_columns(rule, names, '')}, "
            f"{column} AS value, {limit} AS \"limit\", "
            f"{verdict(column, limit, upper=upper, texts=texts, missing=missing, missing_zh=zh, missing_en=en)}, "
            "geom FROM ind")


def far_sql(names: tuple[str, str], texts: Texts) -> str:
    """容积率: the parcel's FAR against its limit. Buildings on the parcel whose storeys and height
    are both unknown count as one storey, so the FAR is a lower bound: over the limit it fails, else
    it is no_data naming those buildings (a pass would be a guess)."""
    unknown = ("SELECT parcel, count(*) AS n, string_agg(id, ', ' ORDER BY id) AS ids FROM bp "
               "WHERE parcel IS NOT NULL AND NOT storeys_known GROUP BY parcel")
    rows = (f"SELECT ind.*, u.n AS unknown_n, u.ids AS unknown_ids FROM ind "
            f"LEFT JOIN ({unknown}) u ON u.parcel = ind.parcel")
    status, zh, en = verdict_parts("far", "far_limit", upper=True, texts=texts,
                                   missing="far_limit IS NULL OR far IS NULL", missing_zh=f"'地块无{names[0]}指标'",
                                   missing_en=f"'the parcel has no {names[1]}'")
    guess = f"far_limit IS NOT NULL AND far IS NOT NULL AND unknown_n IS NOT NULL AND far <= far_limit + {TOL}"
    guess_zh = ("printf('容积率至少 %.2f：%d 栋建筑层数与高度均未知（%s），按 1 层计；无法判定是否超过上限 %.2f', "
                "far, unknown_n, unknown_ids, far_limit)")
    guess_en = ("printf('FAR at least %.2f: %d buildings of unknown storeys and height (%s) counted as one storey; "
                "cannot tell whether it exceeds the limit %.2f', far, unknown_n, unknown_ids, far_limit)")
    return (f"SELECT parcel AS subject, 'Parcel' AS subject_class, parcel, {result_columns('far', names, '')}, "
            f"far AS value, far_limit AS \"limit\", CASE WHEN {guess} THEN 'no_data' ELSE {status} END AS status, "
            f"CASE WHEN {guess} THEN {guess_zh} ELSE {zh} END AS reason_zh, "
            f"CASE WHEN {guess} THEN {guess_en} ELSE {en} END AS reason_en, geom FROM ({rows}) AS ind")


def road_red_line_sql(names: tuple[str, str], reach: float) -> str:
    """退道路红线: clearance from each road's red line (centre line ± width/2), worst road counts."""
    texts = Texts("距{road}红线 {v} m，小于退让要求 {l} m", "距最近道路红线 {v} m，满足退让要求 {l} m",
                  "red line of {road} is {v} m away, less than the required {l} m",
                  "{v} m from the nearest road red line, meets the required {l} m")
    worst = ("SELECT b.id, arg_min(ST_Distance(b.geom, r.geom) - r.width / 2, "
             "ST_Distance(b.geom, r.geom) - r.width / 2 - r.need) AS clearance, "
             "arg_min(r.need, ST_Distance(b.geom, r.geom) - r.width / 2 - r.need) AS need, "
             "arg_min(COALESCE(r.name, r.id), ST_Distance(b.geom, r.geom) - r.width / 2 - r.need) AS road "
             f"FROM b JOIN rr r ON ST_DWithin(b.geom, r.geom, {reach}) GROUP BY b.id")
    bad = f"w.clearance < w.need - {TOL}"

    def text(t: str) -> str:
        return (f"printf({sql_text(t.replace('{road}', '%s').replace('{v}', '%.1f').replace('{l}', '%.1f'))}, "
                + ("w.road, " if "{road}" in t else "") + "w.clearance, w.need)")

    return (f"SELECT b.id AS subject, 'Building' AS subject_class, b.parcel, "
            f"{result_columns('road_red_line', names, 'm')}, w.clearance AS value, w.need AS \"limit\", "
            f"CASE WHEN w.id IS NULL THEN 'pass' WHEN {bad} THEN 'fail' ELSE 'pass' END AS status, "
            f"CASE WHEN w.id IS NULL THEN '{reach:.0f} m 内无道路红线' WHEN {bad} THEN {text(texts.fail_zh)} "
            f"ELSE {text(texts.pass_zh)} END AS reason_zh, "
            f"CASE WHEN w.id IS NULL THEN 'no road red line within {reach:.0f} m' "
            f"WHEN {bad} THEN {text(texts.fail_en)} "
            f"ELSE {text(texts.pass_en)} END AS reason_en, "
            f"b.geom FROM bp b LEFT JOIN ({worst}) w ON w.id = b.id")


#: how a spacing reason names a neighbour that is the building itself, held by another layer
SAME_BUILDING_EN = "the same building in another layer"


def spacing_sql(names: tuple[str, str], *, shapes: Sequence[str], high: float, low_low: float, high_low: float,
                high_high: float, same_overlap: float = 0.9) -> str:
    """建筑间距: distance to each neighbour against 6 / 9 / 13 m by high-rise class; worst counts.

    ``shapes`` are the buildings' footprints (``building_shapes``), each joined on its own, with
    the neighbour's height from ``b`` by id: PostGIS has no spatial index to probe in CTE ``b``, nor
    through a UNION ALL with a temporary table. The building itself is left out by a CASE, not by
    ``a.id <> o.id``: DuckDB 1.5.5 took that inequality as the join condition and planned a nested
    loop instead of its SPATIAL_JOIN. A neighbour whose footprint is essentially the building's own
    (intersection over union ≥ ``same_overlap``: the same building held by two layers, e.g. a
    footprint layer and a CityJSON model) is not a neighbour; the reason names it instead.
    """
    need = (f"(CASE WHEN a.height > {high} AND o.height > {high} THEN {high_high} "
            f"WHEN a.height > {high} OR o.height > {high} THEN {high_low} ELSE {low_low} END)")
    same = (f"(CASE WHEN ST_Distance(a.geom, o.geom) > 0 THEN false ELSE ST_Area(ST_Intersection(a.geom, o.geom)) "
            f">= {float(same_overlap)} * ST_Area(ST_Union(a.geom, o.geom)) END)")
    reach = max(low_low, high_low, high_high)
    pairs = " UNION ALL ".join(
        f"SELECT a.id, o.id AS other, ST_Distance(a.geom, o.geom) AS gap, {need} AS need, {same} AS same "
        f"FROM b a JOIN ({rel}) n ON ST_DWithin(a.geom, n.geom, {reach}) JOIN b o ON o.id = n.id "
        "WHERE CASE WHEN a.id = o.id THEN false ELSE true END" for rel in shapes)
    key = "CASE WHEN same THEN NULL ELSE gap - need END"  # arg_min skips a NULL key: copies are no neighbours
    worst = (f"SELECT id, arg_min(gap, {key}) AS gap, arg_min(need, {key}) AS need, arg_min(other, {key}) AS other, "
             "sum(CASE WHEN same THEN 1 ELSE 0 END) AS copies, min(CASE WHEN same THEN other END) AS copy "
             f"FROM ({pairs}) AS pairs GROUP BY id")
    bad = f"w.gap < w.need - {TOL}"
    copy_zh = ("CASE WHEN w.copies > 0 THEN printf('；%s 与本建筑为同一建筑（另一图层，轮廓重合），不计间距', w.copy) "
               "ELSE '' END")
    copy_en = (f"CASE WHEN w.copies > 0 THEN printf('; %s is {SAME_BUILDING_EN} (footprints coincide), "
               "not counted as a neighbour', w.copy) ELSE '' END")
    return (f"SELECT b.id AS subject, 'Building' AS subject_class, b.parcel, "
            f"{result_columns('spacing', names, 'm')}, w.gap AS value, w.need AS \"limit\", "
            f"CASE WHEN w.gap IS NULL THEN 'pass' WHEN {bad} THEN 'fail' ELSE 'pass' END AS status, "
            f"(CASE WHEN w.gap IS NULL THEN '{reach:.0f} m 内无其他建筑' WHEN {bad} THEN "
            "printf('与 %s 间距 %.1f m，小于要求 %.1f m', w.other, w.gap, w.need) "
            f"ELSE printf('最近建筑间距 %.1f m，满足要求 %.1f m', w.gap, w.need) END) || {copy_zh} AS reason_zh, "
            f"(CASE WHEN w.gap IS NULL THEN 'no other building within {reach:.0f} m' WHEN {bad} THEN "
            "printf('%.1f m from %s, less than the required %.1f m', w.gap, w.other, w.need) "
            "ELSE printf('nearest building %.1f m away, meets the required %.1f m', w.gap, w.need) END) "
            f"|| {copy_en} AS reason_en, "
            "b.geom FROM bp b LEFT JOIN (" + worst + ") w ON w.id = b.id")
