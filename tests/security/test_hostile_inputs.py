"""A hostile-input corpus against a real ``cim serve`` (uvicorn in its own process), on each backend,
with one API key per role.

Every path parameter of the API × traversal, null bytes, overlong and odd values; CQL2 filters ×
injection and backtracking; bbox and CRS × NaN, infinity, huge, inverted, malformed; writes × role ×
body shape, size and time. For every request: no 5xx, no traceback or server path in the body, an
answer within 5 s (a client timeout, not a measure of speed), and nothing the role may not see —
the exact coordinates of a restricted feature or sensor, or the name of a layer hidden from it
(unless the request itself named it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import shapely

import cim
from cim.access import COARSE_GRID_M, ROLES, may_read_people, view_of
from cim.testing import cim_serve
from gis.crs import transformer

ROOT = Path(__file__).resolve().parents[2]
KEYS = {f"{role}-corpus-key-1": role for role in ROLES[1:]}
PER_REQUEST_S = 5.0

#: values put in place of each path parameter in turn (already percent-encoded where needed)
HOSTILE_PATH = ["..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%00", "x%00.js", "A" * 3000, "%FF%FE", "pipes",
                "'%20OR%20'1'%3D'1", "99999999999999999999999"]

CQL2_TEXT = [
    "name = 'x'; DROP TABLE features; --", "name = 'x' OR 1=1", "name = 'a'') OR (''1''=''1", "1=1",
    "name LIKE '%_%_%_%_%_%_%_%_%_%_~'", "name LIKE '%a_%b_%c_%'", "id LIKE '" + "%_" * 60 + "'",
    "(" * 300 + "name = 'a'" + ")" * 300, "NOT " * 300 + "name = 'a'",
    " OR ".join(f"name = 'n{i}'" for i in range(600)), "name IN (" + ",".join(f"'{i}'" for i in range(2000)) + ")",
    "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))", "S_INTERSECTS(geometry, POINT(NaN NaN))",
    "S_INTERSECTS(geometry, POINT(1e400 0))", "S_DWITHIN(geometry, POINT(120.17 35.95), 1e308, meters)",
    "S_DWITHIN(geometry, POINT(120.17 35.95), -1, meters)", "height = 1e309", "height > 'abc'", "diameter_mm > 0",
    "material = 'PE'", "depth < -1.5", "properties = 'x'", "geom = 'x'", "casei(name) LIKE casei('%路%')",
    "T_AFTER(valid_from, TIMESTAMP('9999-12-31T23:59:59Z'))", "T_AFTER(valid_from, TIMESTAMP('abc'))",
    "valid_from > '0001-01-01T00:00:00Z'", "\x00", "name = '\x00'", "名字 = '青岛'", "unknown_fn(name) = 1",
]
CQL2_JSON = [
    '{"op": "=", "args": [{"property": "name"}, "x"]}',
    '{"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [1e400, 0]}]}',
    '{"op": "and", "args": ' + "[" * 500 + "]" * 500 + "}", "not json at all", "[]", "null",
    '{"op": "like", "args": [{"property": "name"}, "%_%_%_%_%_%_%_%_%_~"]}',
]
BBOXES = ["nan,nan,nan,nan", "inf,-inf,inf,inf", "-inf,-inf,inf,inf", "1e300,1e300,1e300,1e300",
          "-1e300,-1e300,1e300,1e300", "1e-300,1e-300,2e-300,2e-300", "121,36,120,35", "120,36,121,35", "1,2,3",
          "1,2,3,4,5", "", ",,,", "a,b,c,d", "0x10,0,1,1", ",".join(["1"] * 99)]
CRSES = [None, "http://www.opengis.net/def/crs/EPSG/0/3857", "http://www.opengis.net/def/crs/EPSG/0/4549",
         "EPSG:99999", "http://evil.example/crs", "EPSG:4326\x00", "../../etc/passwd", "+proj=longlat +datum=WGS84"]
TIMES = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2262-04-12T00:00:00Z", "1969-12-31T23:59:59Z", "now",
         "2026-13-45T25:61:61Z", "", "1" * 400]
#: what a body must never hold: a traceback, a place on the server's disk, a driver's own words
INTERNALS = ["Traceback", 'File "', str(ROOT), "site-packages", "/tmp/", "postgresql://", "psycopg", "_duckdb",
             "duckdb.", "pydantic.dev"]


@dataclass
class Secrets:
    """What each role must not learn, read from the city before it is served."""

    hidden: dict[str, set[str]]                       # role → names of layers hidden from it
    exact: set[tuple[float, float]] = field(default_factory=set)       # lon, lat (5 decimals) of restricted
    exact_city: set[tuple[float, float]] = field(default_factory=set)  # the same in the city CRS, both orders


def _off_grid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vertices a coarse view could not show by chance: more than 2 m from every grid node."""
    def far(v: np.ndarray) -> np.ndarray:
        r = np.mod(v, COARSE_GRID_M)
        return np.minimum(r, COARSE_GRID_M - r) > 2.0
    return far(x) | far(y)


def read_secrets(location: str | Path) -> Secrets:
    """Exact positions of restricted features and sensors, and hidden layer names per role."""
    with cim.open(location) as city:
        layers = list(zip(city.layers["name"], city.layers["classification"], strict=True))
        # person-level layers (secret) are read through /api/people by the roles with person access
        hidden = {role: {n for n, c in layers if view_of(c, role) is None
                         and not (c == "secret" and may_read_people(role))} for role in ROLES}
        points = []
        for name, classification in layers:
            if classification == "restricted":
                geoms = np.asarray(city.features(name).geometry.values, dtype=object)
                points.append(shapely.get_coordinates(geoms))
        rows = city.store.rows("SELECT l.lon, l.lat FROM iot_locations l JOIN iot_things t ON t.id = l.thing_id "
                               "WHERE coalesce(t.classification, 'restricted') = 'restricted'")
        to_city = transformer("EPSG:4326", city.crs)
        if rows:
            lon, lat = np.array(rows, dtype=float).T
            points.append(np.column_stack(to_city.transform(lon, lat)))
        xy = np.vstack(points)
        xy = xy[_off_grid(xy[:, 0], xy[:, 1])]
        lon, lat = transformer(city.crs, "EPSG:4326").transform(xy[:, 0], xy[:, 1])
    secrets = Secrets(hidden)
    secrets.exact = {(round(a, 5), round(b, 5)) for a, b in zip(lon, lat, strict=True)}
    for x, y in xy:
        secrets.exact_city |= {(round(x, 1), round(y, 1)), (round(y, 1), round(x, 1))}
    assert len(secrets.exact) > 100, "the demo city should hold restricted pipes and sensors"
    return secrets


@pytest.fixture(scope="module")
def served(demo_copy, tmp_path_factory) -> Iterator[tuple[str, Secrets, dict[str, Any]]]:
    """``cim serve`` over a fresh copy of the demo city; the secrets read before it started."""
    folder = tmp_path_factory.mktemp("corpus")
    location = demo_copy()
    secrets = read_secrets(location)
    with cim.open(location) as city:
        ids = {"feature": city.store.scalar("SELECT min(id) FROM features WHERE layer = 'buildings'"),
               "restricted_stream": city.store.scalar(
                   "SELECT min(d.id) FROM iot_datastreams d JOIN iot_things t ON t.id = d.thing_id "
                   "WHERE t.classification = 'restricted'"),
               "stream": city.store.scalar("SELECT min(id) FROM iot_datastreams")}
    keys = folder / "keys.json"
    keys.write_text(json.dumps(KEYS), encoding="utf-8")
    env = {"CIM_PREPARE_TILES": "false", "CIM_MAX_BODY_BYTES": "65536", "CIM_QUERY_TIMEOUT_S": "4"}
    with cim_serve([str(location), "--api-keys", str(keys), "--log-level", "warning"], folder / "serve.log",
                   env=env) as base:
        yield base, secrets, ids


def _key(role: str) -> dict[str, str]:
    keys = [k for k, r in KEYS.items() if r == role]
    return {"X-API-Key": keys[0]} if keys else {}


_PAIR = re.compile(r"(-?\d+\.\d+)\s*,\s*(-?\d+\.\d+)")


def problems(resp: httpx.Response, role: str, sent: str, secrets: Secrets) -> list[str]:
    """What is wrong with one answer (empty when nothing is)."""
    found = []
    if resp.status_code >= 500:
        found.append(f"status {resp.status_code}")
    kind = resp.headers.get("content-type", "")
    if not any(t in kind for t in ("json", "text", "xml", "html")) and resp.status_code < 400:
        return found  # tiles, glb, images: binary
    text = resp.text
    found += [f"internal detail {word!r}" for word in INTERNALS if word in text and word not in sent]
    if view_of("restricted", role) != "full":
        for a, b in _PAIR.findall(text):
            pair = (float(a), float(b))
            if (round(pair[0], 5), round(pair[1], 5)) in secrets.exact \
                    or (round(pair[0], 1), round(pair[1], 1)) in secrets.exact_city:
                found.append(f"exact restricted position {a}, {b}")
                break
    for name in secrets.hidden[role]:
        if name not in sent and re.search(rf"\b{re.escape(name)}\b", text):
            found.append(f"hidden layer {name!r}")
    return found


def run(base: str, secrets: Secrets, requests: list[tuple[str, str, str, dict[str, Any]]]) -> list[str]:
    """Send every (role, method, url, options); the failures, each with what was sent."""
    failures = []
    with httpx.Client(base_url=base, timeout=PER_REQUEST_S) as client:
        for role, method, url, options in requests:
            sent = url + repr(options.get("params", "")) + str(options.get("content", ""))[:20_000]
            try:
                resp = client.request(method, url, headers={**_key(role), **options.pop("headers", {})}, **options)
            except httpx.TimeoutException:
                failures.append(f"{role} {method} {url[:200]}: no answer within {PER_REQUEST_S:g} s")
                continue
            except httpx.TransportError as exc:
                failures.append(f"{role} {method} {url[:200]}: the connection broke ({type(exc).__name__})")
                continue
            failures += [f"{role} {method} {url[:200]} {sent[len(url):][:200]}: {p}"
                         for p in problems(resp, role, sent, secrets)]
    return failures


# -- the corpus ----------------------------------------------------------------------------------
BENIGN = {"layer": "buildings", "z": "0", "x": "0", "y": "0", "tileMatrixSetId": "WebMercatorQuad", "key": "0_0_0",
          "fmt": "png", "entity_id": "1", "datastream_id": "1", "alert_id": "1", "style": "default",
          "tileMatrixSet": "WebMercatorQuad", "tileMatrix": "0", "tileRow": "0", "tileCol": "0", "ext": "png",
          "process_id": "compliance", "job_id": "x", "path": "index.html"}


def path_requests(base: str, ids: dict[str, Any], roles: list[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every GET path of the API's own description × each hostile value in each parameter in turn."""
    paths = httpx.get(f"{base}/api", timeout=PER_REQUEST_S).json()["paths"]
    benign = {**BENIGN, "featureId": ids["feature"], "feature_id": ids["feature"]}
    out = []
    for template, operations in paths.items():
        names = re.findall(r"{(\w+)}", template)
        if "get" not in operations or not names or template == "/api/events":
            continue
        for name in names:
            for value in HOSTILE_PATH:
                url = template
                for other in names:
                    url = url.replace(f"{{{other}}}", value if other == name else str(benign.get(other, "1")))
                out += [(role, "GET", url, {}) for role in roles]
    return out


def query_requests(roles: list[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """CQL2 × injection and backtracking, bbox/CRS × NaN/inf/huge/inverted, on items and sensors."""
    out = []
    for role in roles:
        full_grid = role == "anonymous"  # every bbox × every CRS once; the other roles the bboxes alone
        for layer in ("buildings", "pipes") if role == "operator" else ("buildings",):
            out += [(role, "GET", f"/collections/{layer}/items", {"params": {"filter": f, "limit": "5"}})
                    for f in CQL2_TEXT]
            out += [(role, "GET", f"/collections/{layer}/items",
                     {"params": {"filter": f, "filter-lang": "cql2-json", "limit": "5"}}) for f in CQL2_JSON]
            out += [(role, "GET", f"/collections/{layer}/items", {"params": {"crs": c, "limit": "5"}})
                    for c in CRSES if c]
        for bbox in BBOXES:
            for crs in CRSES if full_grid else [None]:
                params = {"bbox": bbox, "limit": "5", **({"bbox-crs": crs} if crs else {})}
                out.append((role, "GET", "/collections/buildings/items", {"params": params}))
            out.append((role, "GET", "/collections/pipes/items", {"params": {"bbox": bbox, "limit": "5"}}))
            out.append((role, "GET", "/api/sensors/latest", {"params": {"bbox": bbox}}))
        out += [(role, "GET", "/sta/v1.1/Observations", {"params": {"$filter": f}}) for f in (
            "result gt 'abc'", "phenomenonTime gt 'abc'", "phenomenonTime ge 9999-12-31T00:00:00Z",
            "result eq 1e400", "result gt 1 and " * 40 + "result gt 1", "id gt 'abc'")]
        out += [(role, "GET", "/sta/v1.1/Things", {"params": {"$filter": "id gt 'abc'", "$count": "true"}}),
                (role, "GET", "/sta/v1.1/Locations", {"params": {"$top": "10000", "$count": "true"}}),
                (role, "GET", "/api/search", {"params": {"q": "%' OR 1=1 --"}}),
                (role, "GET", "/api/search", {"params": {"q": "W0"}}),
                (role, "GET", "/api/kpis", {"params": {"mode": "operate"}})]
        for t in TIMES:
            out += [(role, "GET", "/api/sensors/latest", {"params": {"at": t}}),
                    (role, "GET", "/api/kpis", {"params": {"mode": "operate", "at": t}}),
                    (role, "GET", "/api/alerts", {"params": {"at": t}}),
                    (role, "GET", "/api/sensors/1/series", {"params": {"start": t, "end": t}})]
    return out


def write_requests(ids: dict[str, Any], roles: list[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Writes × role × body shape, size and time."""
    json_type = {"Content-Type": "application/json"}
    stream, hidden = ids["stream"], ids["restricted_stream"]
    bodies: list[str | bytes] = ["{}", "[]", '"x"', "1", "null", "NaN", '{"result": 1}', "[" * 5000 + "]" * 5000,
                                 "{" * 3000, b"\xff\xfe\x00", "x" * 70_000,
                                 json.dumps({"phenomenonTime": "2026-05-01T08:00:00Z", "result": 1,
                                             "Datastream": {"@iot.id": hidden}}),
                                 json.dumps({"phenomenonTime": "2026-05-01T08:00:00Z", "result": 1,
                                             "Datastream": {"@iot.id": "1; DROP TABLE iot_observations"}}),
                                 json.dumps({"phenomenonTime": "2026-05-01T08:00:00Z", "result": 1e308,
                                             "Datastream": {"@iot.id": 2 ** 70}})]
    bodies += [json.dumps({"phenomenonTime": t, "result": 1, "Datastream": {"@iot.id": stream}}) for t in TIMES]
    bodies += [json.dumps([{"Datastream": {"@iot.id": stream}, "components": ["phenomenonTime", "result"],
                            "dataArray": [[t, 1] for t in TIMES] + [[1], [], None, "x"]}])]
    out = []
    for role in roles:
        for body in bodies:
            out.append((role, "POST", "/sta/v1.1/Observations", {"content": body, "headers": json_type}))
            out.append((role, "POST", "/sta/v1.1/CreateObservations", {"content": body, "headers": json_type}))
        out.append((role, "POST", f"/sta/v1.1/Datastreams({hidden})/Observations",
                    {"content": bodies[-2], "headers": json_type}))
        out.append((role, "POST", "/sta/v1.1/Observations",
                    {"content": iter([b"[" + b"1," * 40_000 + b"1]"]), "headers": json_type}))  # chunked, too big
        out += [(role, "POST", f"/api/alerts/{a}/acknowledge", {}) for a in ("1", "-1", "99999999999", "x%00")]
        out += [(role, "POST", "/processes/compliance/execution", {"content": b, "headers": json_type})
                for b in ('{"inputs": {"rules": "../../etc/passwd"}}', "[]", "{" * 2000, '{"inputs": null}')]
    return out


@pytest.mark.parametrize("part", ["paths", "queries", "writes"])
def test_hostile_inputs_get_clear_answers_and_reveal_nothing_a_role_may_not_see(served, part):
    base, secrets, ids = served
    roles = list(ROLES)
    if part == "paths":  # the most requests: the roles that see least and the one that sees coarse
        requests = path_requests(base, ids, ["anonymous", "operator"])
    elif part == "queries":
        requests = query_requests(roles)
    else:
        requests = write_requests(ids, roles)
    failures = run(base, secrets, requests)
    assert not failures, f"{len(failures)} of {len(requests)} answers went wrong:\n" + "\n".join(failures[:25])


def test_the_corpus_would_see_a_leak(served):
    """The checks are not blind: the admin's own answers hold what the others must not see."""
    base, secrets, _ = served
    with httpx.Client(base_url=base, timeout=PER_REQUEST_S) as client:
        admin = client.get("/collections/pipes/items", params={"limit": "50"}, headers=_key("admin"))
        operator = client.get("/collections/pipes/items", params={"limit": "50"}, headers=_key("operator"))
        anonymous_city = client.get("/api/city")
    assert any("exact restricted position" in p for p in problems(admin, "operator", "", secrets))
    assert not problems(operator, "operator", "", secrets)
    assert any("hidden layer 'pipes'" in p for p in problems(admin, "anonymous", "", secrets))
    assert not problems(anonymous_city, "anonymous", "", secrets)
