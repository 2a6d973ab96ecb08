"""nst serve's API under property-based requests (Hypothesis), generated from the app's own description: every path,
method, path and query parameter and request body of app.openapi(), a run's settings from the schemas GET
/api/options publishes for them, and malformed variants of each (wrong types, huge numbers, NaN-like strings,
nested junk, bytes that are no JSON, unknown fields, foreign Host and Origin headers, methods a path does not take).
Whatever comes, the answer is below 500, and a refusal (4xx) is {"detail": one line}.

The app runs in this process (FastAPI's test client) over a data folder in tmp_path, with no worker slot
(max_runs 0): a run the fuzzer creates is queued, never trained, and is stopped after each request so that its
event stream ends."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from serve_helpers import require_serve

require_serve()
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from common.serve import store  # noqa: E402
from common.serve.app import create_app  # noqa: E402

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
NAN_LIKE = ("NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "0x10", "", " ", "1_000", "١٢")
HUGE = (2**63, -(2**63), 10**30, 1e308, -1e308, 5e-324, 0, -1, 20001, 10**9)
FUZZ = settings(
    max_examples=300,
    derandomize=True,  # the same examples on every run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def png(size: tuple[int, int] = (40, 32)) -> bytes:
    """A small valid PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class Api:
    """The app under test: its client, its OpenAPI description, the settings' schemas, and ids that exist."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.openapi = client.app.openapi()
        self.options = client.get("/api/options").json()
        self.manager = client.app.state.manager
        self.known: tuple[str, ...] = ()
        self.settle()

    def settle(self) -> None:
        """Stop every run that is not over (no worker ever takes it: max_runs 0), so that its stream ends; make
        an upload and a run again if a request deleted them (self.known: ids that exist, and the samples)."""
        for run in self.manager.listing():
            if not run["terminal"]:
                self.manager.stop(run["id"])
        upload_id, run_id = self.known[:2] or (None, None)
        if run_id not in {run["id"] for run in self.manager.listing()}:
            body = {"backends": ["torch"], "settings": {"size": [32, 48], "steps": 1}}
            run = self.client.post("/api/runs", json=body)
            assert run.status_code == 201, run.text
            run_id = run.json()["id"]
            self.manager.stop(run_id)
        if upload_id is None or not store.upload_path(self.manager.data_dir, upload_id).is_file():
            upload = self.client.post("/api/uploads?role=content&name=a.png", content=png())
            assert upload.status_code == 201, upload.text
            upload_id = upload.json()["id"]
        self.known = (upload_id, run_id, *self.options["samples"])

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema with its $ref followed."""
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = {**self.openapi["components"]["schemas"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every (path, method, operation) the description lists."""
        return [
            (path, method.upper(), op)
            for path, item in sorted(self.openapi["paths"].items())
            for method, op in sorted(item.items())
            if method.upper() in METHODS
        ]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The app over tmp_path/data, with no worker slot, and what the fuzzer needs of it."""
    app = create_app(tmp_path / "data", max_runs=1, threads=1)
    app.state.manager.max_runs = 0  # runs are created and queued, never trained
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client)


# ---- values from a JSON schema, well-formed and not


def junk() -> st.SearchStrategy:
    """Any JSON value, nested, with the numbers and texts that break readers."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(HUGE),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(NAN_LIKE),
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


def from_schema(api: Api, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy:
    """Values a JSON schema describes (its bounds and enums honoured), now and then one just outside it."""
    schema = api.resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of([from_schema(api, s, depth + 1) for s in schema.get("anyOf", schema.get("oneOf"))])
    kind = schema.get("type")
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.integers(low, high) | st.sampled_from([v for v in (low, high) if v is not None] or [0])
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        return st.floats(low, schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        return st.text(max_size=20)
    if kind == "array":
        item = from_schema(api, schema.get("items", {}), depth + 1)
        return st.lists(item, min_size=schema.get("minItems", 0), max_size=schema.get("maxItems", 4))
    if kind == "object" and depth < 3:
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {name: from_schema(api, s, depth + 1) for name, s in props.items() if name in required}
        optional = {name: from_schema(api, s, depth + 1) for name, s in props.items() if name not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    return junk()


def run_body(api: Api) -> st.SearchStrategy:
    """A body for POST /api/runs: RunRequest's fields, with settings drawn from the schemas /api/options gives."""
    schema = api.resolve(
        api.openapi["paths"]["/api/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    fields = {name: from_schema(api, s) for name, s in schema["properties"].items() if name != "settings"}
    fields["content"] = st.sampled_from([f"sample:{s}" for s in api.options["samples"]] + list(api.known[:1]))
    fields["style"] = fields["content"] | st.text(max_size=12)
    small = {"size": st.just([32, 48]), "steps": st.integers(1, 3)}  # most runs stay small: none is trained anyway
    settings_ = {name: from_schema(api, s["schema"]) for name, s in api.options["settings"].items()}
    chosen = st.fixed_dictionaries({}, optional={**settings_, **small})
    return st.fixed_dictionaries({}, optional={**fields, "settings": chosen})


def parameter_value(api: Api, parameter: dict[str, Any]) -> st.SearchStrategy:
    """A path or query parameter's text: mostly from its schema (an id that exists, for an id), else any text."""
    schema = api.resolve(parameter.get("schema", {}))
    value = from_schema(api, schema).map(lambda v: v if isinstance(v, str) else json.dumps(v))
    ids = {"run_id": api.known[1:2], "upload_id": api.known[:1], "name": api.known[2:]}.get(parameter["name"])
    likely = value if "enum" in schema or "anyOf" in schema else st.sampled_from(ids or api.known)
    return st.one_of(likely, likely, likely, value, st.text(max_size=30), st.sampled_from(NAN_LIKE))


# ---- requests


@st.composite
def requests(draw: st.DrawFn, api: Api, malformed: bool) -> dict[str, Any]:
    """One request to an operation of the description: method, URL, headers, body."""
    path, method, op = draw(st.sampled_from(api.operations()))
    if malformed and draw(st.booleans()):
        method = draw(st.sampled_from(METHODS))  # a method the path may not take
    url = path
    query: list[tuple[str, str]] = []
    for parameter in op.get("parameters", ()):
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", quote(draw(parameter_value(api, parameter)), safe=""))
        elif parameter["in"] == "query" and (parameter.get("required") or draw(st.booleans())):
            query.append((parameter["name"], draw(parameter_value(api, parameter))))
    if malformed and draw(st.booleans()):
        query.append((draw(st.text(min_size=1, max_size=8)), draw(st.text(max_size=8))))  # an unknown parameter
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    headers = draw(
        st.sampled_from(
            [{}, {}, {}, {"origin": "http://testserver"}, {"sec-fetch-site": "same-origin"}]
            + ([{"host": h} for h in ("evil.test", "testserver:99999", "[::1", "", "a@b")] if malformed else [])
            + ([{"origin": "null"}, {"origin": "http://"}, {"sec-fetch-site": "cross-site"}] if malformed else [])
        )
    )
    content: bytes | None = None
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body or (malformed and draw(st.booleans())):
        headers["content-type"] = "application/json"
        if not malformed:
            value = draw(run_body(api)) if path == "/api/runs" else draw(junk())
            content = json.dumps(value).encode()
        else:
            content = draw(malformed_json(api))
    elif "application/octet-stream" in body:
        content = draw(st.sampled_from([png(), png((8, 8)), png()[:60], b"", b"GIF89a"]) | st.binary(max_size=64))
    return {"method": method, "url": url, "headers": headers, "content": content}


@st.composite
def malformed_json(draw: st.DrawFn, api: Api) -> bytes:
    """A body that is no RunRequest: bytes that are no JSON, junk, unknown fields, settings of the wrong type."""
    names = [*api.options["settings"], "bogus", "output", "checkpoint", "resume", "__class__"]
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(
            st.sampled_from([b"{", b"\xff\xfe\x00", b'{"settings": NaN}', b"[]", b"null", b"1e999", b'{"a":}', b""])
            | st.binary(max_size=40)
        )
    if choice == 1:
        return json.dumps(draw(junk())).encode()
    if choice == 2:
        return json.dumps({"settings": draw(st.dictionaries(st.sampled_from(names), junk(), max_size=3))}).encode()
    if choice == 3:
        field = st.sampled_from(["content", "style", "backends", "preset", "settings", "unknown"])
        return json.dumps(draw(st.dictionaries(field, junk(), max_size=4))).encode()
    deep: Any = draw(junk())
    for _ in range(draw(st.integers(50, 400))):
        deep = [deep]  # nesting deep enough to trouble a recursive reader
    return json.dumps({"settings": {"steps": deep}}).encode()


def check(api: Api, request: dict[str, Any]) -> None:
    """Send a request: below 500, and a refusal is one line; then stop whatever run it left going."""
    response = api.client.request(**request)
    where = f"{request['method']} {request['url']} {request['headers']} {request['content']!r:.200}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    if 400 <= response.status_code < 500 and request["method"] != "HEAD":
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip() and "\n" not in detail, f"{where}: {response.text[:500]}"
    api.settle()


@FUZZ
@given(data=st.data())
def test_every_operation_of_the_api_description_answers_below_500(api, data) -> None:
    check(api, data.draw(requests(api, malformed=False)))


@FUZZ
@given(data=st.data())
def test_malformed_requests_get_a_one_line_4xx_never_a_500(api, data) -> None:
    check(api, data.draw(requests(api, malformed=True)))


def test_the_fuzzer_reaches_every_operation_and_its_refusals(api) -> None:
    """The description lists every route (so the fuzzer reaches them all), and each check refuses as it should."""
    operations = {(path, method) for path, method, _ in api.operations()}
    routes = {
        (route.path, method)
        for route in api.client.app.routes
        if getattr(route, "include_in_schema", False)
        for method in getattr(route, "methods", ()) or ()
        if method != "HEAD"
    }
    assert routes <= operations, routes - operations
    post = api.client.post
    run = f"/api/runs/{api.known[1]}/resume"
    assert post(run, headers={"origin": "http://evil.test"}).status_code == 403
    assert api.client.get("/api/options", headers={"host": "evil.test"}).status_code == 421
    assert post("/api/runs", content=b" " * (64 * 2**10 + 1)).status_code == 413
    r = post("/api/runs", json={"settings": {"steps": 20001}})
    assert r.status_code == 400 and re.match(r"Steps is 20001; the page takes at most 20000", r.json()["detail"])
