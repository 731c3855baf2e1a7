"""On PostGIS a statement reading several properties of each feature parses its JSON once per row:
the values must be exactly those read one property at a time, whatever the JSON holds."""

from __future__ import annotations

import pytest

import cim
from cim.model.relations import json_path, prop
from cim.store.dialect import to_postgres

LONG = "长" * 30  # 90 bytes: longer than a PostgreSQL identifier
KEYS = ["a", "height", "id", "限高", 'q"uote', "missing", LONG]
ROWS = {
    "plain": '{"a": "x", "height": 12.5, "id": 7, "限高": "24", "q\\"uote": true}',
    "escaped": '{"a": "tab\\tand \\"quote\\" \\u9ad8", "height": "1e2", "id": null}',
    "nested": '{"a": {"b": [1, 2]}, "height": [3], "id": {"c": null}}',
    "duplicates": '{"a": 1, "a": 2, "height": 1.50, "height": "3"}',
    "long": '{"' + LONG + '": "kept", "a": "-0"}',
    "array": "[1, 2, 3]",
    "scalar": "5",
    "empty": "{}",
}


@pytest.fixture
def store(postgis_server):
    city = cim.create(postgis_server.database())
    for i, (fid, props) in enumerate(ROWS.items()):
        city.store.execute(
            "INSERT INTO features (id, layer, class, phase, classification, version, valid_from, height, properties) "
            "VALUES (?, 'odd', 'Thing', 'manage', 'public', 1, now(), ?, CAST(? AS JSON))", [fid, float(i), props])
    yield city.store
    city.close()


def _text(name: str) -> str:
    return f"json_extract_string(properties, '{json_path(name)}')"


def test_several_properties_read_together_equal_each_read_alone(store):
    together = f"SELECT id, {', '.join(_text(k) + f' AS c{i}' for i, k in enumerate(KEYS))} FROM features ORDER BY id"
    assert "json_to_record" in to_postgres(together).lower()
    rows = store.rows(together)
    assert [r[0] for r in rows] == sorted(ROWS)
    for i, key in enumerate(KEYS):
        alone = store.rows(f"SELECT id, {_text(key)} FROM features ORDER BY id")
        assert "json_to_record" not in to_postgres(f"SELECT id, {_text(key)} FROM features").lower()
        assert [(r[0], r[i + 1]) for r in rows] == alone, key


def test_a_property_named_like_a_column_does_not_shadow_the_column(store):
    rows = store.rows(f"SELECT id, height, {prop('height')} AS h, {_text('id')} AS i FROM features ORDER BY id")
    assert [r[1] for r in rows] == [float(list(ROWS).index(r[0])) for r in rows]
    assert dict((r[0], r[2]) for r in rows)["plain"] == store.scalar(
        f"SELECT {prop('height')} FROM features WHERE id = 'plain'")


def test_typed_properties_and_filters_on_them_agree_with_reading_one_at_a_time(store):
    sql = (f"SELECT id, {prop('height')} AS h, {prop('id', 'BIGINT')} AS n FROM features "
           f"WHERE {prop('height')} IS NOT NULL ORDER BY id")
    got = store.rows(sql)
    one = [(r[0], r[1]) for r in store.rows(f"SELECT id, {prop('height')} FROM features ORDER BY id")
           if r[1] is not None]
    assert [(r[0], r[1]) for r in got] == one
    assert dict((r[0], r[2]) for r in got) == {
        r[0]: r[1] for r in store.rows(f"SELECT id, {prop('id', 'BIGINT')} FROM features ORDER BY id")
        if r[0] in {g[0] for g in got}}
