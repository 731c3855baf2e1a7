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
