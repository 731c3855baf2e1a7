"""``cim iot`` as a user types it: register, load, rules, latest, series, alerts, acknowledge."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from tests.conftest import sample


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cim", "iot", *args], capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_register_load_rules_alerts_and_acknowledge_from_the_command_line(iot_template, tmp_path):
    city = str(tmp_path / "city.duckdb")
    shutil.copy(iot_template, city)
    (tmp_path / "sensors.yaml").write_text(
        "things:\n"
        "  - key: ws2\n    name: 扬尘监测\n    feature: parcels.P2\n"
        "    datastreams:\n      - {key: ws2.pm10, property: pm10, unit: ug/m3}\n", encoding="utf-8")
    assert "registered 1 things and 1 datastreams" in run("register", city, str(tmp_path / "sensors.yaml")).stdout
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: dust, kind: above, property: pm10, threshold: 150, clear: 120, level: alarm}\n")
    assert "1 rules" in run("rules", city, str(tmp_path / "rules.yaml")).stdout
    (tmp_path / "obs.csv").write_text(
        "time,PM10\n2026-05-01 08:00,90\n2026-05-01 09:00,180\n2026-05-01 10:00,NA\n", encoding="utf-8")
    refused = run("load", city, str(tmp_path / "obs.csv"), "--column", "PM10=ws2.pm10", ok=False)
    assert refused.returncode == 1 and "--timezone" in refused.stderr and "Traceback" not in refused.stderr
    out = run("load", city, str(tmp_path / "obs.csv"), "--timezone", "Asia/Shanghai",
              "--column", "PM10=ws2.pm10:ug/m3").stdout
    assert "read 3, stored 2, duplicates 0, rejected 1" in out and "missing value" in out
    alerts = run("alerts", city, "--state", "open").stdout
    assert "alarm" in alerts and "dust" in alerts
    alert_id = alerts.split()[0]
    assert "acknowledged (by wang)" in run("ack", city, alert_id, "--by", "wang").stdout
    latest = [json.loads(line) for line in run("latest", city).stdout.splitlines()]
    mine = next(r for r in latest if r["key"] == "ws2.pm10")
    assert mine["value"] == 180.0 and mine["status"] == "alarm"
    series = run("series", city, "ws2.pm10", "--bucket", "1h").stdout.splitlines()
    assert series[0] == "time,value,min,max,count" and len(series) == 3
    assert "ws2.pm10" in run("datastreams", city).stdout


def test_the_prsa_sample_loads_from_the_command_line(tmp_path):
    import pandas as pd

    stations = pd.read_csv(sample("iot/prsa_stations.csv"))
    city = str(tmp_path / "bj.duckdb")
    subprocess.run([sys.executable, "-m", "cim", "init", city, "--crs", "EPSG:4547"], check=True, capture_output=True)
    (tmp_path / "stations.csv").write_text(
        "station,wkt\n" + "".join(f"{s},POINT ({x} {y})\n" for s, x, y in
                                  zip(stations.station, stations.lon, stations.lat, strict=True)))
    subprocess.run([sys.executable, "-m", "cim", "ingest", city, str(tmp_path / "stations.csv"), "--layer",
                    "stations", "--id-field", "station", "--source-crs", "EPSG:4326"], check=True, capture_output=True)
    (tmp_path / "sensors.yaml").write_text(
        "things:\n  - key: dongsi\n    feature: stations.Dongsi\n    datastreams:\n"
        "      - {key: dongsi.co, property: co, unit: mg/m3}\n", encoding="utf-8")
    run("register", city, str(tmp_path / "sensors.yaml"))
    out = run("load", city, str(sample("iot/PRSA_Data_Dongsi_20130301-20170228.csv")), "--timezone", "Asia/Shanghai",
              "--time-parts", "year,month,day,hour", "--column", "CO=dongsi.co:ug/m3").stdout
    assert "read 35064, stored 31867, duplicates 0, rejected 3197" in out
