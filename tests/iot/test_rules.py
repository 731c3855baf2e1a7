"""Alert rules evaluated on ingest: hysteresis, rates, stale sensors, per class/property, lifecycle."""

from __future__ import annotations

import pytest

from cim.errors import ValidationError
from cim.iot import (
    Rule,
    acknowledge_alert,
    add_rules,
    check_stale,
    close_alert,
    datastream_id,
    list_alerts,
    load_rules,
    write_observations,
)
from tests.iot.conftest import at
from tests.iot.test_write import obs


def feed(city, key: str, values: list[float], start: float = 0, step: float = 1):
    ds = datastream_id(city, key)
    return write_observations(city, obs([(ds, at(start + i * step), v) for i, v in enumerate(values)]))


def test_threshold_with_hysteresis_raises_once_and_clears_only_below_the_clear_level(iot_city):
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    report = feed(iot_city, "ws.dust", [100, 160, 140, 155, 130, 119, 125])
    alerts = list_alerts(iot_city)
    assert len(alerts) == 1 and report.alerts_opened == [alerts[0]["id"]]
    alert = alerts[0]
    assert alert["opened_at"] == at(1) and alert["cleared_at"] == at(5)
    assert alert["value"] == 160


def test_an_alert_whose_condition_ended_is_closed_at_the_observation_time_it_ended(iot_city):
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    feed(iot_city, "ws.dust", [100, 160, 140, 155, 130, 119, 125])
    (alert,) = list_alerts(iot_city)
    assert (alert["active"], alert["state"]) == (False, "closed")
    assert alert["closed_at"] == alert["cleared_at"] == at(5)
    assert alert["closed_by"].startswith("system")
    assert list_alerts(iot_city, state="open") == [] and list_alerts(iot_city, current=True) == []


def test_an_alert_is_current_only_between_its_opening_and_its_end(iot_city):
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
    feed(iot_city, "ws.dust", [100, 160, 140, 155, 130, 119, 125])
    (alert,) = list_alerts(iot_city)
    assert list_alerts(iot_city, at=at(0.5)) == []
    assert [a["id"] for a in list_alerts(iot_city, at=at(1))] == [alert["id"]]
    assert [a["id"] for a in list_alerts(iot_city, at=at(4.9))] == [alert["id"]]
    assert list_alerts(iot_city, at=at(5)) == []


def test_an_alert_stays_active_across_batches_until_the_value_clears(iot_city):
    add_rules(iot_city, [Rule("dust", "above", "warn", datastream="ws.dust", threshold=150, clear=120)])
    feed(iot_city, "ws.dust", [100, 170], start=0)
    feed(iot_city, "ws.dust", [140, 135], start=10)
    assert [a["active"] for a in list_alerts(iot_city)] == [True]
    report = feed(iot_city, "ws.dust", [110], start=20)
    assert report.alerts_cleared == [list_alerts(iot_city)[0]["id"]]
    assert list_alerts(iot_city, active=True) == []


def test_two_incidents_in_one_batch_open_two_alerts(iot_city):
    add_rules(iot_city, [Rule("load", "above", "alarm", property="crane_load", threshold=8)])
    feed(iot_city, "ws.crane", [5, 9, 5, 9.5, 9.6])
    alerts = sorted(list_alerts(iot_city), key=lambda a: a["id"])
    assert [(a["opened_at"], a["active"]) for a in alerts] == [(at(1), False), (at(3), True)]


def test_below_rule_fires_on_low_pipe_pressure_per_feature_class(iot_city):
    add_rules(iot_city, [Rule("low-pressure", "below", "alarm", feature_class="Pipe", threshold=200, clear=250)])
    feed(iot_city, "pipe.p", [300, 240, 190, 230, 260])
    (alert,) = list_alerts(iot_city)
    assert alert["opened_at"] == at(2) and alert["cleared_at"] == at(4)
    assert alert["feature_id"] == "pipes.W1"
    feed(iot_city, "ws.dust", [1, 2, 3])  # other classes are not watched
    assert len(list_alerts(iot_city)) == 1


def test_rate_of_change_counts_from_the_last_stored_value(iot_city):
    add_rules(iot_city, [Rule("flood", "rate", "alarm", datastream="tunnel.level", threshold=0.05)])
    feed(iot_city, "tunnel.level", [0.10, 0.11], start=0)
    assert list_alerts(iot_city) == []
    feed(iot_city, "tunnel.level", [0.30], start=2)  # +0.19 m in 1 min, against the stored 0.11
    (alert,) = list_alerts(iot_city)
    assert alert["value"] == pytest.approx(0.19)


def test_stale_sensor_opens_an_alert_and_new_data_clears_it(iot_city):
    add_rules(iot_city, [Rule("silent", "stale", "warn", property="noise", minutes=30)])
    feed(iot_city, "ws.noise", [60, 61])
    assert check_stale(iot_city, now=at(20)) == []
    (opened,) = check_stale(iot_city, now=at(45))
    assert check_stale(iot_city, now=at(50)) == []  # once, not again while active
    report = feed(iot_city, "ws.noise", [62], start=60)
    assert report.alerts_cleared == [opened]


def test_acknowledge_records_who_and_closes_once_the_condition_cleared(iot_city):
    add_rules(iot_city, [Rule("gas", "above", "alarm", property="methane", threshold=20, clear=10)])
    feed(iot_city, "tunnel.gas", [5, 25])
    (alert,) = list_alerts(iot_city, state="open")
    acked = acknowledge_alert(iot_city, alert["id"], by="operator:wang")
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "operator:wang"
    feed(iot_city, "tunnel.gas", [8], start=5)
    closed = list_alerts(iot_city, ids=[alert["id"]])[0]
    assert closed["state"] == "closed" and closed["closed_by"].startswith("system")
    with pytest.raises(ValidationError, match="already closed"):
        acknowledge_alert(iot_city, alert["id"], by="operator:li")


def test_close_by_hand_records_who(iot_city):
    add_rules(iot_city, [Rule("gas", "above", "alarm", property="methane", threshold=20)])
    feed(iot_city, "tunnel.gas", [25])
    alert = close_alert(iot_city, list_alerts(iot_city)[0]["id"], by="admin")
    assert (alert["state"], alert["closed_by"], alert["active"]) == ("closed", "admin", False)


def test_rules_load_from_yaml_and_update_by_name(iot_city, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: dust, kind: above, property: pm10, threshold: 150, level: alarm}\n")
    (rule_id,) = load_rules(iot_city, path)
    path.write_text("rules:\n  - {name: dust, kind: above, property: pm10, threshold: 100, level: warn}\n")
    assert load_rules(iot_city, path) == [rule_id]
    assert iot_city.store.rows("SELECT threshold, level FROM iot_rules") == [(100.0, "warn")]


@pytest.mark.parametrize("rule, message", [
    ({"name": "x", "kind": "above"}, "what it watches"),
    ({"name": "x", "kind": "above", "property": "pm10"}, "needs a threshold"),
    ({"name": "x", "kind": "above", "property": "pm10", "threshold": 5, "clear": 9}, "clear"),
    ({"name": "x", "kind": "stale", "property": "pm10"}, "minutes"),
    ({"name": "x", "kind": "sideways", "property": "pm10"}, "unknown kind"),
    ({"name": "x", "kind": "above", "property": "pm10", "threshold": 5, "colour": "red"}, "unknown field"),
    ({"name": "x", "kind": "above", "property": "radon", "threshold": 5}, "unknown observed property"),
    ({"name": "x", "kind": "above", "datastream": "nope", "threshold": 5}, "no datastream"),
])
def test_bad_rules_are_refused_with_the_reason(iot_city, rule, message):
    from cim.errors import CIMError

    with pytest.raises(CIMError, match=message):
        add_rules(iot_city, [rule])
    assert iot_city.store.rows("SELECT count(*) FROM iot_rules") == [(0,)]


def test_alert_messages_read_the_same_on_every_backend(iot_city):
    add_rules(iot_city, [
        Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120),
        Rule("flood", "rate", "alarm", datastream="tunnel.level", threshold=0.05,
             message="{rule}: {name} rose {value} {unit}/min (limit {threshold})"),
        Rule("silent", "stale", "warn", property="noise", minutes=30)])
    feed(iot_city, "ws.dust", [100, 160.25])
    feed(iot_city, "tunnel.level", [0.10, 0.30])
    feed(iot_city, "ws.noise", [60], start=1.5)
    check_stale(iot_city, now=at(45))
    messages = sorted(a["message"] for a in list_alerts(iot_city))
    assert messages == ["flood: tunnel.level rose 0.2 m/min (limit 0.05)",
                        "ws.dust: 160.2 ug/m3 above 150 ug/m3",
                        "ws.noise: no data since 2026-05-01 00:01 UTC"]
