"""serving.features.filters: CQL2 → SQL in which no client value appears in the SQL text."""

from __future__ import annotations

from datetime import datetime

import pytest

from cim.errors import QueryError
from serving.features.filters import compile_filter, queryables

FIELDS = [{"name": "floors", "type": "int64"}, {"name": "use", "type": "large_string"},
          {"name": "built", "type": "timestamp[us, tz=UTC]"}, {"name": "diameter_mm", "type": "double"}]
ALLOWED = queryables(FIELDS)


def sql_of(text: str, lang: str = "cql2-text", **kw):
    return compile_filter(text, lang, kw.pop("allowed", ALLOWED), city_crs="EPSG:4549", **kw)


@pytest.mark.parametrize("text, value", [
    ("use = 'x''); DROP TABLE features; --'", None),
    ("name = 'Robert'", "Robert"),
    ("floors > 12345", 12345),
    ("use LIKE 'a%b'", "a%b"),
])
def test_values_are_parameters_never_sql_text(text, value):
    try:
        where = sql_of(text)
    except QueryError:
        return  # refused outright is fine too
    if value is not None:
        assert str(value) not in where.sql
        assert value in where.params or any(str(value) in str(p) for p in where.params)
    assert ";" not in where.sql and "--" not in where.sql


def test_property_names_come_from_the_catalogue_and_paths_are_parameters():
    where = sql_of("floors >= 3 AND use = '住宅'")
    assert '$."floors"' in where.params and '$."use"' in where.params
    assert "BIGINT" in where.sql and "VARCHAR" in where.sql


def test_like_translates_wildcards_and_escapes_sql_ones():
    where = sql_of("use LIKE 'a_b%'", allowed=ALLOWED)
    assert where.params[-1] == "a_b%"
    json_where = sql_of('{"op": "like", "args": [{"property": "use"}, "100\\\\%"]}', "cql2-json")
    assert json_where.params[-1] in ("100\\%", "100%")


def test_temporal_predicates_bind_their_instants():
    where = sql_of("built T_AFTER TIMESTAMP('2020-01-01T00:00:00Z')")
    assert any(isinstance(p, datetime) for p in where.params) and " > ?" in where.sql
    during = sql_of('{"op": "t_during", "args": [{"property": "built"}, '
                    '{"interval": ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]}]}', "cql2-json")
    assert "BETWEEN ? AND ?" in during.sql and len([p for p in during.params if isinstance(p, datetime)]) == 2


def test_spatial_literals_are_reprojected_wkb_parameters():
    where = sql_of("S_INTERSECTS(geometry, POINT(120.17 35.95))")
    assert where.sql == "ST_Intersects(geom, ST_GeomFromWKB(?))"
    import shapely

    point = shapely.from_wkb(where.params[0])
    assert 500_000 < point.x < 530_000 and 3_970_000 < point.y < 3_990_000


def test_coarse_view_filters_see_the_coarsened_geometry_and_only_open_fields():
    allowed = queryables(FIELDS, view="coarse")
    assert "diameter_mm" not in allowed and "geometry" in allowed
    where = sql_of("S_INTERSECTS(geometry, POINT(120.17 35.95))", allowed=allowed, view="coarse")
    assert "ST_ReducePrecision(geom" in where.sql
    with pytest.raises(QueryError, match="unknown property"):
        sql_of("diameter_mm > 1", allowed=allowed, view="coarse")


@pytest.mark.parametrize("text", ["floors > 'ten'", "use > 3", "nope = 1", "LOWER(use) = 'x' OR f(1) = 2",
                                  "floors = NaN", "S_DWITHIN(geometry, POINT(120 35), 100, parsecs)",
                                  "x" * 20_001])
def test_malformed_or_ill_typed_filters_are_query_errors(text):
    with pytest.raises(QueryError):
        sql_of(text)


@pytest.mark.parametrize("text, lang", [
    ("S_DWITHIN(geometry, POINT(120.17 35.95), 250)", "cql2-text"),
    ("s_dwithin(geometry, POINT(120.17 35.95), 0.25, kilometers)", "cql2-text"),
    ('{"op": "s_dwithin", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [120.17, 35.95]}, 250]}',
     "cql2-json"),
])
def test_s_dwithin_in_both_encodings_binds_a_distance_in_metres(text, lang):
    where = sql_of(text, lang)
    assert where.sql.startswith("ST_DWithin(geom, ST_GeomFromWKB(?), ?)") and where.params[-1] == 250.0


def test_s_dbeyond_is_the_negated_distance_and_strings_that_spell_it_stay_text():
    assert sql_of("S_DBEYOND(geometry, POINT(120.17 35.95), 10)").sql == "(NOT ST_DWithin(geom, ST_GeomFromWKB(?), ?))"
    where = sql_of("use = 'S_DWITHIN(a, b, 1)'")
    assert where.params[-1] == "S_DWITHIN(a, b, 1)" and "DWithin" not in where.sql


def test_like_patterns_that_backtrack_without_end_are_refused():
    with pytest.raises(QueryError, match="wildcards"):
        sql_of("use LIKE '%_%_%_%_%_%_%_%_%_%_~'")
    assert sql_of("use LIKE '%a%b%'").params[-1] == "%a%b%"


def test_a_run_of_like_wildcards_is_written_without_backtracking():
    assert sql_of("use LIKE '%_%_%_%_~'").params[-1] == "____%~"
    assert sql_of("use LIKE '_%%_x'").params[-1] == "__%x"
    assert sql_of("use LIKE '%a_b%c%'").params[-1] == "%a_b%c%"  # '_' inside a word costs nothing


def test_a_like_pattern_whose_cost_grows_with_a_power_of_the_text_is_refused():
    with pytest.raises(QueryError, match="power of the text's length"):
        sql_of("use LIKE '%ab_%ab_~'")
    assert sql_of("use LIKE '%ab_'").params[-1] == "%ab_"  # one '%': linear
