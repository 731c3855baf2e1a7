"""Operate-mode figures for the viewer: sensors online, alerts by level, stale sensors, readings.

Picked up by ``cim.analysis.kpis`` (``PROVIDER_MODULES``). Every figure counts only the datastreams
the role may see (``cim.iot.visibility``) and is taken at one time:

* sensors online / stale and alarms / warnings: at ``at`` (the viewer's slider time), else now;
* readings (24 h): the 24 hours up to ``at``, else up to the newest observation the role may see —
  so a city whose data stopped in 2017 shows its last day of readings, not zero.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from cim.analysis.kpis import kpi
from cim.iot.alerts import list_alerts
from cim.iot.queries import latest
from cim.iot.visibility import visible_datastreams_sql
from cim.model.reads import parse_time

if TYPE_CHECKING:
    from cim.city import City


def kpis(city: City, mode: str, role: str, *, at: Any = None) -> list[dict[str, Any]]:
    """The IoT figures of ``mode`` (only operate has any), at ``at`` (default now; see above)."""
    if mode != "operate" or not city.store.scalar("SELECT count(*) FROM iot_datastreams"):
        return []

    at = parse_time(at) if at is not None else None
    status = latest(city, role=role, at=at).column("status")
    total = len(status)
    stale = pc.sum(pc.equal(status, "stale")).as_py() or 0
    online = total - stale
    share = online / total if total else 1.0
    alerts = list_alerts(city, current=True, at=at, role=role, limit=100_000)
    alarms = sum(1 for a in alerts if a["level"] == "alarm")
    warns = sum(1 for a in alerts if a["level"] == "warn")
    readings = readings_before(city, role, at)
    return [
        kpi("sensors_online", "在线传感器", "Sensors online", online, f"/ {total}",
            "ok" if share >= 0.95 else "warn" if share >= 0.8 else "alarm"),
        kpi("alerts_alarm", "告警", "Alarms", alarms, None, "alarm" if alarms else "ok"),
        kpi("alerts_warn", "预警", "Warnings", warns, None, "warn" if warns else "ok"),
        kpi("sensors_stale", "离线/无数据", "Stale sensors", stale, None, "warn" if stale else "ok"),
        kpi("readings_24h", "24小时读数", "Readings (24 h)", readings),
    ]


def readings_before(city: City, role: str | None, at: datetime | None, span: timedelta = timedelta(hours=24)) -> int:
    """Observations of the datastreams ``role`` may see in the ``span`` up to ``at`` (else up to the
    newest of them)."""

    visible, allowed = visible_datastreams_sql(role)
    end = at or city.store.scalar(f"SELECT max(phenomenon_time) FROM iot_latest WHERE {visible}", allowed)
    if end is None:
        return 0
    count = city.store.scalar(f"SELECT count(*) FROM iot_observations WHERE phenomenon_time > ? AND "
                              f"phenomenon_time <= ? AND {visible}", [end - span, end, *allowed])
    return int(count or 0)
