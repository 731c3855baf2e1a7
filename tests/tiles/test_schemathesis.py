"""Property-based requests generated from the OpenAPI document find no server errors.

Every operation gets a bounded number of generated requests (anonymous and with an admin key),
so this stays well under two minutes; any 5xx is collected with the request that caused it.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.tiles.conftest import headers

#: streams that never end are not for a request generator
STREAMS = ("/api/events",)
EXAMPLES = 8
#: generated layer names are almost never real; these make the other parameters reach the handlers
REAL_LAYERS = ("buildings", "pipes")


def _exercise(operation, failures: list[str]) -> int:
    calls = 0

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case) -> None:
        nonlocal calls
        generated = dict(case.headers or {})
        variants = [("as generated", generated)]
        clean = {k: v for k, v in generated.items() if k.lower() != "x-api-key"}
        variants += [(role, {**clean, **headers(role)}) for role in ("anonymous", "admin")]
        layers = [None] + (list(REAL_LAYERS) if "layer" in (case.path_parameters or {}) else [])
        for layer in layers:
            if layer is not None:
                case.path_parameters["layer"] = layer
            for who, hdrs in variants:
                calls += 1
                try:
                    response = case.call(headers=hdrs)
                except Exception as exc:  # noqa: BLE001 - the ASGI transport re-raises server errors
                    failures.append(f"500 {case.method} {case.formatted_path} query={case.query} ({who}): "
                                    f"{type(exc).__name__}: {str(exc)[:160]}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {case.method} {case.formatted_path} "
                                    f"query={case.query} ({who}): {response.text[:200]}")

    run()
    return calls


def test_generated_requests_never_get_a_server_error(app, demo_copy):
    from tiles import create_app

    # schemathesis runs the app's lifespan itself and keeps it for the process: give it its own
    # app over its own copy of the city (on the session's backend) so the session app's city stays open
    own = create_app(app.state.settings.model_copy(update={"city": demo_copy()}))
    schema = schemathesis.openapi.from_asgi("/api", own)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMS:
            continue
        calls += _exercise(operation, failures)
    assert calls > 500
    assert not failures, "\n".join(failures[:20])
