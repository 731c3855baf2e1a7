"""Catalogue caches belong to one store: a city opened after another closed never sees the old one's layers."""

from __future__ import annotations

import gc
import weakref

import cim
from cim.city import City
from cim.model.catalog import all_layers, class_census, model_version, store_cache
from tests.cim.helpers import parcels_geojson


def test_a_server_store_opened_after_another_closed_sees_only_its_own_layers(tmp_path):
    source = parcels_geojson(tmp_path / "parcels.geojson", n=2)
    tokens = set()
    for i in range(4):
        base = cim.create(tmp_path / f"city{i}.duckdb")
        base.ingest(source, layer=f"layer_{i}")
        base.close()
        city = City(cim.open(tmp_path / f"city{i}.duckdb").store.for_server())
        assert list(all_layers(city)) == [f"layer_{i}"]
        assert list(class_census(city)) == [f"layer_{i}"]
        tokens.add(model_version(city))
        city.close()
        del city
        gc.collect()
    assert len(tokens) > 1


def test_a_store_cache_is_its_own_and_goes_with_the_store(tmp_path):
    """Caches keyed by ``id(store)`` handed a freed store's entries to the next store at its address."""
    a, b = cim.create(tmp_path / "a.duckdb"), cim.create(tmp_path / "b.duckdb")
    store_cache(a.store, "figures")["x"] = 1
    assert store_cache(a.store, "figures") == {"x": 1}
    assert store_cache(b.store, "figures") == {}
    all_layers(a)
    gone = weakref.ref(a.store)
    a.close()
    del a
    gc.collect()
    assert gone() is None, "a cache kept a closed store alive"
    b.close()


def test_a_layer_ingested_through_the_city_a_server_was_made_from_reaches_the_server(tmp_path):
    """A notebook serves its city and goes on ingesting through the same ``City``: the server's
    catalogue and its items follow, though the write did not pass through its store."""
    from fastapi.testclient import TestClient

    from tiles.app import create_app

    source = parcels_geojson(tmp_path / "parcels.geojson", n=3)
    city = cim.create(tmp_path / "city.duckdb")
    city.ingest(source, layer="first")
    with TestClient(create_app(city)) as client:
        before = client.get("/collections").json()
        assert [c["id"] for c in before["collections"]] == ["first"]
        city.ingest(source, layer="second")
        after = client.get("/collections").json()
        assert sorted(c["id"] for c in after["collections"]) == ["first", "second"]
        assert client.get("/collections/second/items").json()["numberMatched"] == 3
    city.close()
