"""Bulk loading observation files: the real PRSA and VMM samples, long-form CSV and Parquet."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from shapely.geometry import Point

from cim.errors import SourceError, ValidationError
from cim.iot import datastream_id, register_sensors
from cim.iot.load import load_observations
from tests.conftest import sample

PRSA = "iot/PRSA_Data_Dongsi_20130301-20170228.csv"
#: missing ("NA") cells per column of the Dongsi file, from the dataset manifest
DONGSI_NA = {"PM2.5": 750, "PM10": 553, "SO2": 663, "NO2": 1601, "CO": 3197, "O3": 664}
ROWS = 35064


@pytest.fixture
def beijing(new_city, tmp_path):
    """A city in CGCS2000 / GK CM 117E with the three PRSA stations as features and their sensors,
    on each backend in turn."""
    stations = pd.read_csv(sample("iot/prsa_stations.csv"))
    city = new_city(crs="EPSG:4547")
    frame = gpd.GeoDataFrame(stations, geometry=[Point(xy) for xy in zip(stations.lon, stations.lat, strict=True)],
                             crs="EPSG:4326")
    frame.to_parquet(tmp_path / "stations.parquet")
    city.ingest(tmp_path / "stations.parquet", layer="stations", feature_class="AirStation", id_field="station")
    props = {"PM2.5": "pm2_5", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "O3": "o3"}
    register_sensors(city, [{
        "key": s.lower(), "name": s, "feature": f"stations.{s}",
        "datastreams": [{"key": f"{s.lower()}.{c.lower()}", "property": p, "unit": "ug/m3"} for c, p in props.items()]
        + [{"key": f"{s.lower()}.co", "property": "co", "unit": "mg/m3"},
           {"key": f"{s.lower()}.temp", "property": "temperature", "unit": "Cel"}],
    } for s in stations.station])
    return city


def dongsi_columns() -> dict[str, str]:
    return {c: f"dongsi.{c.lower()}" for c in DONGSI_NA}


def count(city) -> int:
    return city.store.scalar("SELECT count(*) FROM iot_observations")


def test_prsa_without_a_stated_zone_is_refused_and_nothing_is_stored(beijing):
    with pytest.raises(ValidationError, match="--timezone Asia/Shanghai"):
        load_observations(beijing, sample(PRSA), time_parts=["year", "month", "day", "hour"],
                          columns=dongsi_columns())
    assert count(beijing) == 0


def test_prsa_loads_with_its_zone_reports_every_na_and_converts_co(beijing):
    report = load_observations(beijing, sample(PRSA), timezone="Asia/Shanghai",
                               time_parts=["year", "month", "day", "hour"], columns=dongsi_columns(),
                               units={"CO": "ug/m3"})
    assert report.read == ROWS * len(DONGSI_NA)
    assert report.rejected == sum(DONGSI_NA.values())
    assert report.reasons() == {"missing value": sum(DONGSI_NA.values())}
    assert report.stored == report.read - report.rejected and report.reconciles
    first = datetime(2013, 2, 28, 16, tzinfo=UTC)  # 2013-03-01 00:00 Beijing time
    pm10 = datastream_id(beijing, "dongsi.pm10")
    co = datastream_id(beijing, "dongsi.co")
    values = dict(beijing.store.rows("SELECT datastream_id, result FROM iot_observations WHERE phenomenon_time = ?",
                                     [first]))
    assert values[pm10] == 9.0
    assert values[co] == pytest.approx(0.3)  # 300 ug/m3 in the file
    co_rejects = [w for w, _ in report.rejects if w.endswith("column CO")]
    assert len(co_rejects) == DONGSI_NA["CO"] and co_rejects[0].startswith("row ")
    again = load_observations(beijing, sample(PRSA), timezone="Asia/Shanghai",
                              time_parts=["year", "month", "day", "hour"], columns=dongsi_columns(),
                              units={"CO": "ug/m3"})
    assert (again.stored, again.duplicates) == (0, report.stored)


def test_a_unit_of_another_kind_is_refused(beijing):
    with pytest.raises(ValidationError, match="does not fit"):
        load_observations(beijing, sample(PRSA), timezone="Asia/Shanghai",
                          time_parts=["year", "month", "day", "hour"], columns={"CO": "dongsi.co"},
                          units={"CO": "dB"})
    assert count(beijing) == 0


def test_a_text_column_mapped_as_values_is_rejected_cell_by_cell(beijing):
    report = load_observations(beijing, sample(PRSA), timezone="Asia/Shanghai",
                               time_parts=["year", "month", "day", "hour"], columns={"wd": "dongsi.temp"})
    assert report.stored == 0 and report.rejected == ROWS
    assert "non-numeric result 'NNW'" in report.rejects[0][1]


def test_vmm_flow_file_with_empty_cells_and_negative_readings(new_city, tmp_path):
    city = new_city(crs="EPSG:31370")
    frame = gpd.GeoDataFrame({"code": ["L06_347", "LS06_347", "LS06_348"]},
                             geometry=[Point(100000 + 100 * i, 170000) for i in range(3)], crs="EPSG:31370")
    frame.to_parquet(tmp_path / "gauges.parquet")
    city.ingest(tmp_path / "gauges.parquet", layer="gauges", feature_class="Gauge", id_field="code")
    codes = list(frame.code)
    register_sensors(city, [{"key": c, "feature": f"gauges.{c}",
                             "datastreams": [{"key": f"{c}.q", "property": "discharge", "unit": "m3/s"}]}
                            for c in codes])
    path = sample("iot/vmm_flowdata.csv")
    with pytest.raises(ValidationError, match="no time zone"):
        load_observations(city, path, columns={c: f"{c}.q" for c in codes})
    report = load_observations(city, path, timezone="Europe/Brussels", columns={c: f"{c}.q" for c in codes})
    missing = {"L06_347": 1, "LS06_347": 272, "LS06_348": 1008}
    rows = 11697
    assert report.reasons() == {"missing value": sum(missing.values())}
    assert report.stored == 3 * rows - report.rejected and report.reconciles
    # negative discharges are sensor artefacts, not unreadable values: they are kept as measured
    assert city.store.scalar("SELECT count(*) FROM iot_observations WHERE result < 0") == 44


def test_long_form_file_with_units_unknown_datastreams_and_zoneless_rows(iot_city, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(
        "datastream,time,result,unit\n"
        "ws.dust,2026-05-01T08:00:00+08:00,40,ug/m3\n"
        "ws.dust,2026-05-01T08:05:00+08:00,0.05,mg/m3\n"
        "ws.dust,2026-05-01T08:10:00+08:00,7,dB\n"
        "nope,2026-05-01T08:15:00+08:00,1,ug/m3\n"
        "ws.dust,2026-05-01 08:20:00,1,ug/m3\n"
        "ws.dust,2026-05-01T08:25:00Z,abc,ug/m3\n", encoding="utf-8")
    report = load_observations(iot_city, path)
    assert report.stored == 2 and report.reconciles
    reasons = dict(report.rejects)
    assert "wrong unit 'dB'" in reasons["row 3"]
    assert reasons["row 4"] == "unknown datastream 'nope'"
    assert "without a zone" in reasons["row 5"]
    assert "non-numeric" in reasons["row 6"]
    assert sorted(r[0] for r in iot_city.store.rows("SELECT result FROM iot_observations")) == [40.0, 50.0]


def test_parquet_long_form_with_typed_columns(iot_city, tmp_path):
    dust = datastream_id(iot_city, "ws.dust")
    times = pa.array([datetime(2026, 5, 1, h, tzinfo=UTC) for h in range(24)], pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table({"datastream_id": [dust] * 24, "phenomenon_time": times,
                             "result": [float(h) for h in range(24)]}), tmp_path / "obs.parquet")
    report = load_observations(iot_city, tmp_path / "obs.parquet")
    assert report.stored == 24


def test_missing_and_unknown_files_are_refused(iot_city, tmp_path):
    with pytest.raises(SourceError, match="no file"):
        load_observations(iot_city, tmp_path / "nothing.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(SourceError, match="unknown observation file type"):
        load_observations(iot_city, tmp_path / "x.xlsx")
