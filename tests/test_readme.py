"""The README's Python example runs as written against a demo city."""

from __future__ import annotations

import re
from pathlib import Path

from cim.demo import build_demo

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_python_example_runs_against_a_demo_city(tmp_path, monkeypatch):
    city_path = tmp_path / "demo" / "city.duckdb"
    build_demo(city_path, scale=400).close()
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - the docs are the test
    city = namespace["city"]
    assert len(namespace["parcels"]) > 0
    assert namespace["table"].num_rows >= 0
    city.close()
