"""Generated requests to the SensorThings and IoT endpoints never get a server error."""

from __future__ import annotations

import json

import pytest

from tests.iot.conftest import iot_city, iot_location, iot_pg_template, iot_template  # noqa: F401 - fixtures
from tests.tiles.test_sensorthings import KEYS

EXAMPLES = 15


def test_generated_iot_requests_never_get_a_server_error(iot_city):  # noqa: F811
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    from cim.iot import datastream_id, write_observations
    from tests.iot.conftest import at
    from tests.iot.test_write import obs
    from tiles import create_app

    dust = datastream_id(iot_city, "ws.dust")
    write_observations(iot_city, obs([(dust, at(m), float(m)) for m in range(30)]))
    app = create_app(iot_city, api_keys=json.dumps(KEYS), prepare_tiles=False)
    schema = schemathesis.openapi.from_asgi("/api", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(("/sta/", "/api/sensors", "/api/alerts")):
            continue

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            for key in (None, "operator-key-0001", "admin-key-000001"):
                hdrs = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
                if key:
                    hdrs["X-API-Key"] = key
                try:
                    response = case.call(headers=hdrs)
                except Exception as exc:  # noqa: BLE001 - the transport re-raises server errors
                    failures.append(f"{case.method} {case.formatted_path} {case.query}: {type(exc).__name__} {exc}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {case.method} {case.formatted_path} {case.query}: "
                                    f"{response.text[:200]}")

        run()
    assert not failures, "\n".join(failures[:20])
