"""engine="dask": the same indicators and compliance results from a dask.distributed LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cim.analysis import check_compliance, indicators

pytest.importorskip("dask_geopandas")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def _assert_same(a, b):
    assert a.schema.names == b.schema.names and a.num_rows == b.num_rows
    for name in a.schema.names:
        x, y = a[name].to_pylist(), b[name].to_pylist()
        if name == "geom":
            assert all(shapely.from_wkb(p).equals(shapely.from_wkb(q)) for p, q in zip(x, y, strict=True))
        elif a.schema.field(name).type in ("double", "float"):
            np.testing.assert_allclose(np.array(x, dtype=float), np.array(y, dtype=float), rtol=1e-9, atol=1e-9)
        else:
            assert x == y, name


@pytest.mark.parametrize("by", ["parcel", "district"])
def test_dask_indicators_equal_the_duckdb_indicators(demo, client, by):
    duck = indicators(demo, by=by, output="arrow")
    dask = indicators(demo, by=by, engine="dask", client=client, output="arrow")
    assert duck.schema.equals(dask.schema, check_metadata=False)
    _assert_same(duck, dask)


def test_dask_compliance_equals_the_duckdb_compliance(demo, client):
    rules = ["far", "density", "green", "height"]
    duck = check_compliance(demo, only=rules, output="arrow")
    dask = check_compliance(demo, only=rules, engine="dask", client=client, output="arrow")
    _assert_same(duck, dask)
