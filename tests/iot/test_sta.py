"""The SensorThings read model and posted observations (library level; HTTP in tests/tiles)."""

from __future__ import annotations

import pytest

from cim.errors import FeatureNotFound, QueryError, ValidationError
from cim.iot import datastream_id, write_observations
from serving.sensorthings.entities import read
from serving.sensorthings.write import create_observations
from tests.iot.conftest import at
from tests.iot.test_write import obs

BASE = "http://test/sta/v1.1"


@pytest.fixture
def dust_series(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(m), float(m)) for m in range(25)]))
    return dust


def test_things_carry_links_and_the_feature_they_are_bound_to(iot_city):
    things = read(iot_city, "Things", base_url=BASE, query={"$count": "true"})
    assert things["@iot.count"] == 3
    first = things["value"][0]
    assert first["@iot.selfLink"] == f"{BASE}/Things({first['@iot.id']})"
    assert first["properties"]["cim:feature"] == "parcels.P1"
    assert first["Datastreams@iot.navigationLink"].endswith("/Datastreams")


def test_datastream_observations_page_with_top_skip_and_next_link(iot_city, dust_series):
    page = read(iot_city, "Datastreams", entity_id=str(dust_series), navigation="Observations",
                query={"$top": "10", "$orderby": "phenomenonTime desc", "$count": "true"}, base_url=BASE)
    assert page["@iot.count"] == 25
    assert [o["result"] for o in page["value"]] == [float(m) for m in range(24, 14, -1)]
    assert "%24skip=10" in page["@iot.nextLink"]
    last = read(iot_city, "Datastreams", entity_id=str(dust_series), navigation="Observations",
                query={"$top": "10", "$skip": "20"}, base_url=BASE)
    assert len(last["value"]) == 5 and "@iot.nextLink" not in last


def test_filter_on_phenomenon_time_with_simple_comparisons(iot_city, dust_series):
    page = read(iot_city, "Observations", base_url=BASE, query={
        "$filter": f"phenomenonTime ge {at(10).isoformat()} and phenomenonTime lt '{at(13).isoformat()}'"})
    assert [o["result"] for o in page["value"]] == [10.0, 11.0, 12.0]
    above = read(iot_city, "Observations", base_url=BASE, query={"$filter": "result gt 22"})
    assert [o["result"] for o in above["value"]] == [23.0, 24.0]


def test_an_observation_is_addressable_by_its_id_and_navigates_to_its_datastream(iot_city, dust_series):
    first = read(iot_city, "Observations", base_url=BASE, query={"$top": "1"})["value"][0]
    again = read(iot_city, "Observations", entity_id=f"'{first['@iot.id']}'", base_url=BASE)
    assert again == first
    ds = read(iot_city, "Observations", entity_id=first["@iot.id"], navigation="Datastream", base_url=BASE)
    assert ds["@iot.id"] == dust_series and ds["unitOfMeasurement"]["symbol"] == "ug/m3"


@pytest.mark.parametrize("query, message", [
    ({"$filter": "phenomenonTime gt 2026-01-01T00:00:00Z or result gt 1"}, "unsupported"),
    ({"$filter": "secret eq 1"}, "cannot filter"),
    ({"$filter": "result gt 1; DROP TABLE iot_observations"}, "unsupported"),
    ({"$orderby": "name desc"}, "cannot order"),
    ({"$top": "100000"}, "\\$top"),
    ({"$expand": "Datastream"}, "not supported"),
    ({"$filter": "phenomenonTime gt 2026-01-01T00:00:00"}, "zone"),
])
def test_bad_query_options_are_refused_with_the_reason(iot_city, dust_series, query, message):
    with pytest.raises(QueryError, match=message):
        read(iot_city, "Observations", base_url=BASE, query=query)


def test_unknown_and_hidden_entities_are_not_found(iot_city):
    with pytest.raises(FeatureNotFound):
        read(iot_city, "Things", entity_id="999", base_url=BASE)
    tunnel_thing = iot_city.store.scalar("SELECT id FROM iot_things WHERE key = 'tunnel'")
    with pytest.raises(FeatureNotFound):  # bound to a restricted layer: anonymous may not see it
        read(iot_city, "Things", entity_id=str(tunnel_thing), base_url=BASE, role="anonymous")
    assert read(iot_city, "Things", entity_id=str(tunnel_thing), base_url=BASE, role="admin")["name"]


def test_posted_data_array_and_entities_are_written_with_per_row_outcomes(iot_city):
    dust = datastream_id(iot_city, "ws.dust")
    report, outcomes = create_observations(iot_city, [
        {"Datastream": {"@iot.id": dust}, "components": ["phenomenonTime", "result"],
         "dataArray": [["2026-05-01T08:00:00+08:00", 40], ["2026-05-01T08:05:00", 41], ["2026-05-01T00:10:00Z", "x"]]},
        {"Datastream": {"@iot.id": 9999}, "phenomenonTime": "2026-05-01T00:00:00Z", "result": 1},
        {"Datastream": {"@iot.id": dust}, "phenomenonTime": "2026-05-01T00:15:00Z", "result": 44.5},
    ])
    assert (report.read, report.stored, report.rejected) == (5, 2, 3)
    assert outcomes[0] == f"{dust}-1777593600000000"
    assert outcomes[1].startswith("error: time without a zone")
    assert outcomes[2].startswith("error: non-numeric result")
    assert outcomes[3].startswith("error: unknown")
    again, _ = create_observations(iot_city, {"phenomenonTime": "2026-05-01T00:15:00Z", "result": 44.5},
                                   datastream=dust)
    assert again.duplicates == 1


def test_posting_to_a_datastream_that_does_not_exist_is_refused(iot_city):
    with pytest.raises(ValidationError, match="no datastream"):
        create_observations(iot_city, {"phenomenonTime": "2026-05-01T00:00:00Z", "result": 1}, datastream=4242)
