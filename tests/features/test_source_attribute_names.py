"""A source attribute whose name the model uses (``class``, ``id``, ``height`` …) stays visible as
``source:<name>`` in every feature output, and the model's own value keeps the plain name."""

from __future__ import annotations

import json

import pytest

import cim
from serving.features.filters import compile_filter, queryables
from serving.features.geojson import to_features
from serving.features.items import ItemsQuery, get_item, query_items
from tests.cim.helpers import square, write_geojson
from tests.conftest import sample


@pytest.fixture(scope="module")
def delft(tmp_path_factory: pytest.TempPathFactory):
    """delft.json in a Dutch city: 132 of its 570 city objects carry a ``class`` attribute of their own."""
    path = sample("cityjson/delft.json")
    city = cim.create(tmp_path_factory.mktemp("delft") / "delft.duckdb", crs="EPSG:28992",
                      timezone="Europe/Amsterdam")
    city.ingest(path)
    yield city
    city.close()


def _with_source_class(city) -> dict[str, tuple[str, str]]:
    """Feature id → (model class, the source's own ``class`` value), read from the stored rows."""
    rows = city.store.rows("SELECT id, class, json_extract_string(properties, '$.class') FROM features "
                           "WHERE valid_to IS NULL AND json_extract_string(properties, '$.class') IS NOT NULL")
    return {fid: (cls, own) for fid, cls, own in rows}


def test_an_item_shows_the_source_class_beside_the_model_class(delft):
    stored = _with_source_class(delft)
    assert stored, "delft.json has objects with a class attribute of their own"
    fid, (model_class, own_class) = sorted(stored.items())[0]
    feature = json.loads(to_features(get_item(delft, "delft", fid), city_crs=delft.crs)[0])
    assert feature["properties"]["class"] == model_class
    assert feature["properties"]["source:class"] == own_class


def test_every_page_of_items_keeps_each_source_class(delft):
    stored = _with_source_class(delft)
    page = query_items(delft, ItemsQuery(layer="delft", limit=1000))
    shown = {}
    for text in to_features(page.table, city_crs=delft.crs):
        feature = json.loads(text)
        if "source:class" in feature["properties"]:
            shown[feature["id"]] = (feature["properties"]["class"], feature["properties"]["source:class"])
    assert shown == stored


def test_a_cql2_filter_on_source_class_selects_the_source_value_not_the_model_class(delft):
    stored = _with_source_class(delft)
    own = sorted({v for _, v in stored.values()})[0]
    allowed = queryables([{"name": "class", "type": "string"}])
    assert "source:class" in allowed and allowed["class"] == "string"
    where = compile_filter(f"\"source:class\" = '{own}'", "cql2-text", allowed, city_crs=delft.crs)
    page = query_items(delft, ItemsQuery(layer="delft", where=where, limit=1000))
    assert sorted(page.table.column("id").to_pylist()) == sorted(f for f, (_, v) in stored.items() if v == own)


def test_city_features_give_a_field_named_class_as_a_source_class_column(city, tmp_path):
    path = write_geojson(tmp_path / "blocks.geojson", [
        {"code": f"b{i}", "class": kind, "id": f"own-{i}", "height": 10.0 + i,
         "geometry": {"type": "Polygon", "coordinates": [square(515000 + 100 * i, 3980000)]}}
        for i, kind in enumerate(["residential", "office", "residential"])])
    city.ingest(path, feature_class="Block", id_field="code")
    gdf = city.features("blocks").set_index("code")
    assert set(gdf["class"]) == {"Block"}
    assert gdf["source:class"].to_dict() == {"b0": "residential", "b1": "office", "b2": "residential"}
    assert gdf["source:id"].to_dict() == {"b0": "own-0", "b1": "own-1", "b2": "own-2"}
    office = city.features("blocks", where="\"source:class\" = 'office'")
    assert list(office["code"]) == ["b1"]


def test_a_cityjson_layer_lists_its_attributes_so_queries_name_them(delft):
    fields = {f["name"]: f["type"] for f in delft.layer("delft")["fields"]}
    assert fields["class"] == "string" and fields["measuredHeight"] == "double"  # ints and floats: double
    gdf = delft.features("delft").set_index("id")
    stored = _with_source_class(delft)
    assert gdf["source:class"].dropna().to_dict() == {fid: own for fid, (_, own) in stored.items()}
    tall = delft.features("delft", where='"measuredHeight" > 5')
    heights = delft.store.rows("SELECT id FROM features WHERE valid_to IS NULL AND layer = 'delft' AND "
                               "TRY_CAST(json_extract(properties, '$.measuredHeight') AS DOUBLE) > 5")
    assert sorted(tall["id"]) == sorted(r[0] for r in heights) and len(tall) > 0
