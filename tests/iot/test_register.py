"""Registering sensors: bound to features, units checked against the property, all or nothing."""

from __future__ import annotations

import pytest

from cim.errors import FeatureNotFound, ValidationError
from cim.iot import allow_unit, register_sensors


def count(city, table: str) -> int:
    return city.store.scalar(f"SELECT count(*) FROM {table}")


def test_a_thing_on_a_line_stands_along_it_and_takes_the_feature_class(iot_city):
    row = iot_city.store.rows(
        "SELECT t.feature_class, t.layer, t.classification, ST_X(l.geom), ST_Y(l.geom) FROM iot_things t "
        "JOIN iot_locations l ON l.thing_id = t.id WHERE t.key = 'pipe'")[0]
    assert row[:3] == ("Pipe", "pipes", "public")
    assert row[3] == pytest.approx(515150.0) and row[4] == pytest.approx(3979980.0)


@pytest.mark.parametrize("unit, message", [
    ("dB", "measures sound_level, but .* is a mass_concentration"),
    ("ugm3", "unknown unit"),
    ("UG/M3", "did you mean 'ug/m3'"),
])
def test_a_wrong_unit_for_the_property_is_refused_and_nothing_is_written(iot_city, unit, message):
    before = count(iot_city, "iot_datastreams")
    with pytest.raises(ValidationError, match=message):
        register_sensors(iot_city, [
            {"key": "ok", "feature": "parcels.P2", "datastreams": [{"property": "noise", "unit": "dB{A}"}]},
            {"key": "bad", "feature": "parcels.P2", "datastreams": [{"property": "pm10", "unit": unit}]}])
    assert count(iot_city, "iot_datastreams") == before and count(iot_city, "iot_things") == 3


def test_binding_to_a_feature_the_city_lacks_is_refused(iot_city):
    with pytest.raises(FeatureNotFound, match="parcels.NOPE"):
        register_sensors(iot_city, [{"feature": "parcels.NOPE", "datastreams": []}])


def test_a_thing_without_a_feature_is_refused(iot_city):
    with pytest.raises(ValidationError, match="bound to a city feature"):
        register_sensors(iot_city, [{"name": "floating", "datastreams": []}])


def test_datastream_keys_are_unique_in_a_city(iot_city):
    with pytest.raises(ValidationError, match="taken"):
        register_sensors(iot_city, [{"feature": "parcels.P2", "datastreams": [{"key": "ws.dust", "property": "pm10"}]}])


def test_a_unit_outside_the_table_can_be_allowed_for_the_city(iot_city):
    with pytest.raises(ValidationError, match="unknown unit"):
        register_sensors(iot_city, [{"feature": "pipes.W1",
                                     "datastreams": [{"property": "pressure", "unit": "[psi]"}]}])
    allow_unit(iot_city, "[psi]", name="pound per square inch", dimension="pressure", factor=6894.757)
    made = register_sensors(iot_city, [{"feature": "pipes.W1", "location": {"lon": 120.17, "lat": 35.95},
                                        "datastreams": [{"key": "p.psi", "property": "pressure", "unit": "[psi]"}]}])
    assert made.datastreams == {"p.psi": 7}
    lon, lat = iot_city.store.rows("SELECT lon, lat FROM iot_locations WHERE thing_id = ?", [made.things[0]])[0]
    assert (lon, lat) == pytest.approx((120.17, 35.95))


def test_a_property_outside_the_list_needs_a_dimension(iot_city):
    with pytest.raises(ValidationError, match="unknown observed property 'radon'"):
        register_sensors(iot_city, [{"feature": "parcels.P2", "datastreams": [{"property": "radon", "unit": "1"}]}])
    made = register_sensors(iot_city, [{"feature": "parcels.P2", "datastreams": [{"property": "radon", "unit": "1"}]}],
                            properties=[{"key": "radon", "name": "Radon share", "dimension": "ratio"}])
    assert len(made.datastream_ids) == 1
