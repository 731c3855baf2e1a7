"""OGC API Features over the demo city: collections, items, paging, bbox, CRS, datetime, CQL2."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.tiles.conftest import headers

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [f["id"] for f in resp.json()["features"]]


def test_collections_are_the_layers_an_anonymous_caller_may_see(client, served_city):
    names = {c["id"] for c in client.get("/collections").json()["collections"]}
    public = {r[0] for r in served_city.store.rows("SELECT name FROM layers WHERE classification = 'public'")}
    assert names == public
    assert "pipes" not in names and "inspections" not in names


def test_collection_describes_extent_crs_and_links(client):
    doc = client.get("/collections/buildings").json()
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    assert 119 < w < e < 121 and 35 < s < n < 37
    assert CRS84 in doc["crs"] and EPSG3857 in doc["crs"]
    assert doc["storageCrs"].endswith("/EPSG/0/4549")
    assert {"items", "self"} <= {link["rel"] for link in doc["links"]}


def test_items_page_through_the_whole_layer_with_next_links(client, served_city):
    total = served_city.store.scalar("SELECT count(*) FROM features WHERE layer = 'parcels' AND valid_to IS NULL")
    seen, url = [], "/collections/parcels/items?limit=50"
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"]) <= 50
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert len(seen) == total == len(set(seen))


def test_items_carry_geojson_geometry_in_lon_lat_and_the_layers_properties(client):
    feature = client.get("/collections/buildings/items?limit=1").json()["features"][0]
    lon, lat = feature["geometry"]["coordinates"][0][0]
    assert 119 < lon < 121 and 35 < lat < 37
    assert {"class", "name", "height", "floors", "parcel_id"} <= set(feature["properties"])


def test_single_item_and_its_404(client):
    first = ids(client.get("/collections/buildings/items?limit=1"))[0]
    resp = client.get(f"/collections/buildings/items/{first}")
    assert resp.status_code == 200 and resp.json()["id"] == first
    assert resp.headers["content-type"] == "application/geo+json"
    assert client.get("/collections/buildings/items/buildings.NOPE").status_code == 404
    assert client.get(f"/collections/parcels/items/{first}").status_code == 404  # not in that layer


def test_bbox_selects_what_the_city_selects(client, served_city):
    w, s, e, n = client.get("/collections/buildings").json()["extent"]["spatial"]["bbox"][0]
    box = (w, s, (w + e) / 2, (s + n) / 2)
    got = ids(client.get(f"/collections/buildings/items?limit=10000&bbox={','.join(map(str, box))}"))
    expected = served_city.features("buildings", bbox=box, bbox_crs="OGC:CRS84", output="pandas")["id"].tolist()
    assert sorted(got) == sorted(expected) and 0 < len(got) < 476


def test_bbox_crs_epsg4326_takes_lat_lon_order_and_gives_the_same_answer(client):
    w, s, e, n = client.get("/collections/buildings").json()["extent"]["spatial"]["bbox"][0]
    mid_x, mid_y = (w + e) / 2, (s + n) / 2
    lonlat = ids(client.get(f"/collections/buildings/items?limit=10000&bbox={w},{s},{mid_x},{mid_y}"))
    latlon = ids(client.get(f"/collections/buildings/items?limit=10000&bbox={s},{w},{mid_y},{mid_x}"
                            f"&bbox-crs={quote(EPSG4326)}"))
    assert lonlat and sorted(lonlat) == sorted(latlon)


@pytest.mark.parametrize("crs, check", [
    (EPSG4326, lambda x, y: 35 < x < 37 and 119 < y < 121),          # lat, lon
    (EPSG3857, lambda x, y: 1.3e7 < x < 1.4e7 and 4.2e6 < y < 4.4e6),
    ("http://www.opengis.net/def/crs/EPSG/0/4549", lambda x, y: 3.9e6 < x < 4.1e6 and 4e5 < y < 6e5),  # N, E
])
def test_crs_reprojects_the_response_in_that_crs_axis_order(client, crs, check):
    resp = client.get(f"/collections/buildings/items?limit=1&crs={quote(crs)}")
    assert resp.headers["Content-Crs"] == f"<{crs}>"
    x, y = resp.json()["features"][0]["geometry"]["coordinates"][0][0]
    assert check(x, y), (x, y)


def test_datetime_reads_the_city_as_it_was(client):
    assert ids(client.get("/collections/buildings/items?datetime=2001-01-01T00:00:00Z")) == []
    now = ids(client.get("/collections/buildings/items?limit=5&datetime=2001-01-01T00:00:00Z/.."))
    assert len(now) == 5


@pytest.mark.parametrize("cql, where", [
    ("floors > 20", "TRY_CAST(json_extract_string(properties, '$.floors') AS BIGINT) > 20"),
    ("floors BETWEEN 3 AND 5 AND use = '住宅'", "TRY_CAST(json_extract_string(properties, '$.floors') AS BIGINT) "
     "BETWEEN 3 AND 5 AND json_extract_string(properties, '$.use') = '住宅'"),
    ("name LIKE '%-1号楼'", "name LIKE '%-1号楼'"),
    ("floors >= 30 OR height > 100", "TRY_CAST(json_extract_string(properties, '$.floors') AS BIGINT) >= 30 "
     "OR height > 100"),
    ("use IN ('商业', '办公')", "json_extract_string(properties, '$.use') IN ('商业', '办公')"),
    ("NOT (floors < 10)", "NOT (TRY_CAST(json_extract_string(properties, '$.floors') AS BIGINT) < 10)"),
    ("CASEI(class) = 'building'", "lower(class) = 'building'"),
])
def test_cql2_text_filters_select_what_sql_selects(client, served_city, cql, where):
    got = ids(client.get(f"/collections/buildings/items?limit=10000&filter={quote(cql)}"))
    expected = [r[0] for r in served_city.store.rows(
        f"SELECT id FROM features WHERE layer = 'buildings' AND valid_to IS NULL AND ({where})")]
    assert sorted(got) == sorted(expected)


def test_cql2_json_filter_with_a_spatial_predicate(client, served_city):
    w, s, e, n = client.get("/collections/parcels").json()["extent"]["spatial"]["bbox"][0]
    poly = {"type": "Polygon", "coordinates": [[[w, s], [(w + e) / 2, s], [(w + e) / 2, (s + n) / 2], [w, s]]]}
    cql = {"op": "and", "args": [{"op": "s_intersects", "args": [{"property": "geometry"}, poly]},
                                 {"op": ">", "args": [{"property": "far_limit"}, 1.0]}]}
    url = f"/collections/parcels/items?limit=10000&filter-lang=cql2-json&filter={quote(json.dumps(cql))}"
    got = ids(client.get(url))
    import shapely

    from gis.crs import reproject
    geom = reproject([shapely.geometry.shape(poly)], "OGC:CRS84", served_city.crs)[0]
    expected = [r[0] for r in served_city.store.rows(
        "SELECT id FROM features WHERE layer = 'parcels' AND valid_to IS NULL AND ST_Intersects(geom, "
        "ST_GeomFromText(?)) AND TRY_CAST(json_extract_string(properties, '$.far_limit') AS DOUBLE) > 1.0",
        [geom.wkt])]
    assert sorted(got) == sorted(expected) and got


def test_queryables_list_the_layers_fields_with_json_schema_types(client):
    doc = client.get("/collections/buildings/queryables").json()
    props = doc["properties"]
    assert props["floors"]["type"] == "integer" and props["height"]["type"] == "number"
    assert props["use"]["type"] == "string"
    assert client.get("/collections/parcels/queryables").json()["properties"]["worksite"]["type"] == "boolean"
    assert props["geometry"]["format"] == "geometry-any"


INJECTIONS = [
    "name = 'x'; DROP TABLE features; --'",
    "name = 'x'' OR 1=1 --'",
    "name = 'x' OR id = (SELECT id FROM layers)",
    '"name; DROP TABLE features" = 1',
    "floors > 1 UNION SELECT * FROM history",
    "name = chr(39) || 'x'",
    "S_INTERSECTS(geometry, POINT(1 2)) ; DELETE FROM features",
]


@pytest.mark.parametrize("cql", INJECTIONS)
def test_cql2_injection_attempts_are_400_and_change_nothing(client, served_city, cql):
    before = served_city.store.scalar("SELECT count(*) FROM features")
    resp = client.get(f"/collections/buildings/items?filter={quote(cql)}")
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert "SELECT" not in resp.json()["detail"].upper().replace("SELECT *", "")
    assert served_city.store.scalar("SELECT count(*) FROM features") == before


def test_a_quote_inside_a_string_literal_is_just_data(client):
    cql = {"op": "=", "args": [{"property": "name"}, "x' OR '1'='1"]}
    assert ids(client.get("/collections/buildings/items?filter-lang=cql2-json&filter=" + quote(json.dumps(cql)))) == []


def test_unknown_property_is_400_listing_the_queryables(client):
    resp = client.get("/collections/buildings/items?filter=" + quote("secret_column = 1"))
    assert resp.status_code == 400
    assert "queryables" in resp.json()["detail"] and "floors" in resp.json()["detail"]


@pytest.mark.parametrize("query", [
    "bbox=nan,35,121,36", "bbox=120,35,inf,36", "bbox=1,2,3", "bbox=a,b,c,d", "bbox=121,35,120,36x",
    "bbox=120,36,121,35", "bbox=-200,35,121,36", "limit=1000000", "limit=0", "offset=-1",
    "crs=EPSG:9999", "bbox-crs=urn:nope", "datetime=yesterday", "datetime=2020-01-01T00:00:00",
    "filter-lang=sql&filter=1", "filter=" + quote("floors > 'ten'"), "filter=" + quote("use > 3"),
    "filter=" + quote("S_DWITHIN(geometry, POINT(120 35), -5, meters)"),
    "bbox=-180,-90,180,90",
])
def test_bad_item_queries_are_4xx_problems(client, query):
    resp = client.get(f"/collections/buildings/items?{query}")
    assert 400 <= resp.status_code < 500, (query, resp.status_code, resp.text)
    assert resp.headers["content-type"] == "application/problem+json"


def test_a_deeply_nested_filter_is_refused_not_crashed(client):
    cql = "NOT (" * 400 + "floors > 1" + ")" * 400
    resp = client.get("/collections/buildings/items?filter=" + quote(cql))
    assert resp.status_code == 400


def test_hidden_layers_answer_like_missing_ones(client):
    for role in ("anonymous", "viewer"):
        for path in ("/collections/pipes", "/collections/pipes/items", "/collections/pipes/queryables"):
            resp = client.get(path, headers=headers(role))
            assert resp.status_code == 404
            assert resp.json()["detail"] == client.get(path.replace("pipes", "nothing_here")).json()["detail"]\
                .replace("nothing_here", "pipes")


def test_cql2_temporal_filter_on_valid_from_runs_in_the_database(client, served_city):
    total = served_city.store.scalar("SELECT count(*) FROM features WHERE layer = 'buildings' AND valid_to IS NULL")
    after = client.get("/collections/buildings/items?limit=1&filter="
                       + quote("valid_from T_AFTER TIMESTAMP('2000-01-01T00:00:00Z')")).json()
    before = client.get("/collections/buildings/items?limit=1&filter="
                        + quote("valid_from T_BEFORE TIMESTAMP('2000-01-01T00:00:00Z')")).json()
    assert after["numberMatched"] == total and before["numberMatched"] == 0


def test_cql2_like_single_character_wildcard(client, served_city):
    name = served_city.store.scalar("SELECT name FROM features WHERE layer = 'buildings' AND valid_to IS NULL "
                                    "ORDER BY id LIMIT 1")
    pattern = name[:-2] + "_" + name[-1]
    got = ids(client.get("/collections/buildings/items?limit=10000&filter=" + quote(f"name LIKE '{pattern}'")))
    expected = [r[0] for r in served_city.store.rows(
        "SELECT id FROM features WHERE layer = 'buildings' AND valid_to IS NULL AND name LIKE ?", [pattern])]
    assert sorted(got) == sorted(expected) and got


def test_cql2_s_dwithin_selects_the_buildings_within_that_distance(client, served_city):
    import shapely

    from gis.crs import reproject
    w, s, e, n = client.get("/collections/buildings").json()["extent"]["spatial"]["bbox"][0]
    lon, lat = (w + e) / 2, (s + n) / 2
    cql = f"S_DWITHIN(geometry, POINT({lon} {lat}), 150, meters)"
    got = ids(client.get(f"/collections/buildings/items?limit=10000&filter={quote(cql)}"))
    centre = reproject([shapely.Point(lon, lat)], "OGC:CRS84", served_city.crs)[0]
    frame = served_city.features("buildings")
    expected = sorted(frame.loc[frame.geometry.distance(centre) <= 150, "id"])
    assert got and sorted(got) == expected
