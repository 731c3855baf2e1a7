"""IoT in the city model: SensorThings-shaped sensors bound to city features, observations at city
scale, alert rules evaluated on ingest, and the MQTT listener.

Example:
    >>> from cim.iot import register_sensors, write_observations, latest, add_rules, Rule
    >>> register_sensors(city, [{"key": "ws.dust.1", "feature": "parcels.P0042",
    ...     "datastreams": [{"key": "ws.dust.1.pm10", "property": "pm10", "unit": "ug/m3"}]}])  # doctest: +SKIP
"""

from cim.iot.alerts import acknowledge_alert, check_stale, close_alert, get_alert, list_alerts
from cim.iot.backfill import BackfillReport, backfill_rules
from cim.iot.lookup import datastream_id, load_datastreams
from cim.iot.mqtt_auth import MqttAuth, read_password
from cim.iot.queries import latest, sensors_near, sensors_within, values_as_of
from cim.iot.register import add_property, register_sensors
from cim.iot.report import ObservationReport
from cim.iot.rules import Rule, add_rules, list_rules, load_rules
from cim.iot.series import data_period, parse_bucket, series
from cim.iot.settings import IotSettings, TimeWindow, city_timezone, configure, iot_settings
from cim.iot.units import UNITS, allow_unit, check_unit, conversion
from cim.iot.write import write_observations

__all__ = [
    "acknowledge_alert",
    "add_property",
    "add_rules",
    "allow_unit",
    "backfill_rules",
    "BackfillReport",
    "check_stale",
    "check_unit",
    "city_timezone",
    "close_alert",
    "configure",
    "conversion",
    "data_period",
    "datastream_id",
    "get_alert",
    "iot_settings",
    "IotSettings",
    "latest",
    "list_alerts",
    "list_rules",
    "load_datastreams",
    "load_rules",
    "MqttAuth",
    "ObservationReport",
    "parse_bucket",
    "read_password",
    "register_sensors",
    "Rule",
    "sensors_near",
    "sensors_within",
    "series",
    "TimeWindow",
    "UNITS",
    "values_as_of",
    "write_observations",
]
