"""Operate-mode figures for the viewer: sensors online, alerts by level, stale sensors, readings.

Picked up by ``cim.analysis.kpis`` (``PROVIDER_MODULES``); only sensors the role may see are counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from cim.analysis.kpis import kpi

if TYPE_CHECKING:
    from cim.city import City


def kpis(city: City, mode: str, role: str) -> list[dict[str, Any]]:
    """The IoT figures of ``mode`` (only operate has any)."""
    if mode != "operate" or not city.store.scalar("SELECT count(*) FROM iot_datastreams"):
        return []
    from cim.iot.alerts import list_alerts
    from cim.iot.queries import latest

    status = latest(city, role=role).column("status")
    total = len(status)
    stale = pc.sum(pc.equal(status, "stale")).as_py() or 0
    online = total - stale
    share = online / total if total else 1.0
    alerts = list_alerts(city, state="open", role=role, limit=100_000)
    alarms = sum(1 for a in alerts if a["level"] == "alarm")
    warns = sum(1 for a in alerts if a["level"] == "warn")
    since = datetime.now(UTC) - timedelta(hours=24)
    readings = city.store.scalar("SELECT count(*) FROM iot_observations WHERE phenomenon_time >= ?", [since])
    return [
        kpi("sensors_online", "在线传感器", "Sensors online", online, f"/ {total}",
            "ok" if share >= 0.95 else "warn" if share >= 0.8 else "alarm"),
        kpi("alerts_alarm", "告警", "Alarms", alarms, None, "alarm" if alarms else "ok"),
        kpi("alerts_warn", "预警", "Warnings", warns, None, "warn" if warns else "ok"),
        kpi("sensors_stale", "离线/无数据", "Stale sensors", stale, None, "warn" if stale else "ok"),
        kpi("readings_24h", "24小时读数", "Readings (24 h)", int(readings or 0)),
    ]
