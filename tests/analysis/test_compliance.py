"""Compliance with planning rules: the engine agrees with an independent geopandas reading; reasons have numbers."""

from __future__ import annotations

import pytest
import shapely

from cim.analysis import check_compliance, load_rules
from cim.errors import ValidationError
from tests.analysis import reference

GEOMETRY_RULES = ["height", "far", "density", "green", "setback", "road_red_line", "spacing"]


@pytest.fixture(scope="module")
def results(demo_path):
    import cim

    with cim.open(demo_path, read_only=True) as c:
        return (check_compliance(c, only=GEOMETRY_RULES, output="pandas"), c.features("buildings"),
                c.features("parcels"))


def test_the_height_rule_fails_exactly_the_buildings_a_geopandas_reading_finds_too_tall(results):
    r, buildings, parcels = results
    expected = reference.height_breakers(buildings, parcels)
    found = set(r.loc[(r.rule == "height") & (r.status == "fail"), "subject"])
    assert expected and found == expected


def test_the_setback_rule_fails_exactly_the_buildings_shapely_measures_too_close(results):
    r, buildings, parcels = results
    gaps = reference.setback_gaps(buildings, parcels)
    expected = {bid for bid, (gap, need) in gaps.items() if gap < need - 1e-6}
    failed = r[(r.rule == "setback") & (r.status == "fail")].set_index("subject")
    assert expected and set(failed.index) == expected
    for building in expected:
        assert failed.loc[building, "value"] == pytest.approx(gaps[building][0], abs=1e-6)


def test_the_far_rule_fails_exactly_the_parcels_geopandas_finds_over_their_limit(results):
    r, buildings, parcels = results
    found = set(r.loc[(r.rule == "far") & (r.status == "fail"), "subject"])
    assert found == reference.far_breakers(buildings, parcels)


def test_each_building_gets_one_result_per_building_rule(results):
    r, buildings, _ = results
    for rule in ("height", "setback", "road_red_line", "spacing"):
        rows = r[r.rule == rule]
        assert sorted(rows["subject"]) == sorted(buildings["id"]), rule


def test_failures_carry_value_limit_and_reasons_in_both_languages(results):
    r, _, _ = results
    fail = r[(r.rule == "height") & (r.status == "fail")].iloc[0]
    assert fail["value"] > fail["limit"]
    assert f"{fail['value']:.1f}" in fail["reason_zh"] and "超过限高" in fail["reason_zh"]
    assert f"{fail['limit']:.1f}" in fail["reason_en"] and "exceeds" in fail["reason_en"]
    assert fail["rule_name"] == "限高" and fail["unit"] == "m"


def test_parcel_rules_compare_the_parcel_indicators_with_its_own_limits(demo, results):
    from cim.analysis import indicators

    r, _, _ = results
    ind = indicators(demo, output="pandas").set_index("parcel")
    far = r[r.rule == "far"].set_index("subject")
    over = ind.index[ind["far"] > ind["far_limit"] + 1e-6]
    assert set(far.index[far.status == "fail"]) == set(over)
    assert (far["value"] - ind.loc[far.index, "far"]).abs().max() < 1e-12


def test_spacing_flags_pairs_closer_than_the_fire_spacing(results):
    r, buildings, _ = results
    import numpy as np

    geoms = buildings.geometry.values
    h = buildings["height"].to_numpy(dtype=float)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=13.0)
    keep = i != j
    i, j = i[keep], j[keep]
    need = np.where((h[i] > 24) & (h[j] > 24), 13.0, np.where((h[i] > 24) | (h[j] > 24), 9.0, 6.0))
    close = shapely.distance(geoms[i], geoms[j]) < need - 1e-6
    expected = set(buildings["id"].to_numpy()[np.unique(i[close])])
    assert set(r.loc[(r.rule == "spacing") & (r.status == "fail"), "subject"]) == expected


def test_only_failures_and_parcel_filter_narrow_the_results(demo, results):
    r, _, _ = results
    parcel = r.loc[(r.rule == "height") & (r.status == "fail"), "parcel"].iloc[0]
    rows = check_compliance(demo, only=["height", "far"], parcels=[parcel], only_failures=True, output="pandas")
    assert set(rows["parcel"]) == {parcel} and (rows["status"] == "fail").all()
    assert "height" in set(rows["rule"])


def test_a_rule_switched_off_in_the_rules_is_not_run(demo):
    rules = load_rules({"rules": {"sunlight": None, "spacing": None}})
    assert "spacing" not in rules.enabled() and "height" in rules.enabled()


def test_limits_fall_back_to_the_rule_default_when_parcels_lack_the_field(demo):
    rules = load_rules({"rules": {"height": {"field": "no_such_field", "default": 30.0}}})
    r = check_compliance(demo, rules=rules, only=["height"], output="pandas")
    assert (r["limit"] == 30.0).all()
    assert set(r.loc[r.status == "fail", "subject"]) == set(r.loc[r["value"] > 30.0, "subject"])


def test_unknown_rules_and_bad_rule_files_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ValidationError, match="unknown rule"):
        load_rules({"rules": {"heigth": {"field": "x"}}})
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  height: [1, 2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_rules(bad)
    with pytest.raises(ValidationError, match="not found"):
        load_rules(tmp_path / "missing.yaml")
