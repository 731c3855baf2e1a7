"""IoT in the city model: SensorThings-shaped sensors bound to city features, observations at city
scale, alert rules evaluated on ingest, and the MQTT listener.

Example:
    >>> from cim.iot import register_sensors, write_observations, latest, add_rules, Rule
    >>> register_sensors(city, [{"key": "ws.dust.1", "feature": "parcels.P0042",
    ...     "datastreams": [{"key": "ws.dust.1.pm10", "property": "pm10", "unit": "ug/m3"}]}])  # doctest: +SKIP
"""

from cim.iot.alerts import acknowledge_alert, check_stale, close_alert, get_alert, list_alerts
from cim.iot.lookup import datastream_id, load_datastreams
from cim.iot.queries import latest, parse_bucket, sensors_near, sensors_within, series, values_as_of
from cim.iot.register import add_property, register_sensors
from cim.iot.report import ObservationReport
from cim.iot.rules import Rule, add_rules, list_rules, load_rules
from cim.iot.units import UNITS, allow_unit, check_unit, conversion
from cim.iot.write import write_observations

__all__ = [
    "acknowledge_alert",
    "add_property",
    "add_rules",
    "allow_unit",
    "check_stale",
    "check_unit",
    "close_alert",
    "conversion",
    "datastream_id",
    "get_alert",
    "latest",
    "list_alerts",
    "list_rules",
    "load_datastreams",
    "load_rules",
    "ObservationReport",
    "parse_bucket",
    "register_sensors",
    "Rule",
    "sensors_near",
    "sensors_within",
    "series",
    "UNITS",
    "values_as_of",
    "write_observations",
]
