"""A filled request's bytes built from parts encoded once (the raw transport's ``WirePlan``)
are exactly what encoding the filled request from scratch gives, for every shape of
endpoint the plan takes; an endpoint it cannot encode exactly gets no plan, and the one
request a static endpoint compiles to carries no per-send bytes."""

from __future__ import annotations

import random

import pytest

from sla_runner.engine.http.raw_wire import Wire, encode, wire_plan
from sla_runner.engine.http.request import HttpRequest
from sla_runner.engine.render import RequestMaker, UnsendableError, compile_endpoint
from sla_runner.spec.document import load_document_text
from sla_runner.spec.format2 import SpecV2
from sla_runner.spec.templates import RenderState

SPEC = """\
version: 2
name: wire
sla_version: 1.0.0
target:
  base_url: "http://127.0.0.1:8080/api/v1"
  headers: {X-Team: shop, Accept: application/json}
endpoints:
  login: {path: /login, extract: {token: {json: token}, sku: {json: sku}}}
  path-value: {path: "/orders/{{ token }}"}
  query-in-path: {path: "/hello.txt?user={{ $user }}"}
  header-value:
    path: /items
    headers: {Authorization: "Bearer {{ token }}", X-Trace: "t-{{ $pass }}-x"}
  both-and-query:
    path: "/items/{{ token }}.json"
    query: {page: 2, who: "{{ $user }}", q: "a b&c"}
    headers: {Authorization: "Bearer {{ token }}"}
  json-body:
    method: POST
    path: /orders
    json: {sku: "{{ sku }}", qty: "{{ $pass }}", note: "é ü"}
  text-body:
    method: PUT
    path: "/notes/{{ $user }}"
    body: "note for {{ token }}"
  static-body-dynamic-path:
    method: POST
    path: "/carts/{{ $user }}"
    json: {fixed: true}
  post-no-body: {method: POST, path: "/ping/{{ $user }}"}
  head: {method: HEAD, path: "/items/{{ token }}"}
  own-host-and-length:
    method: POST
    path: "/raw/{{ $user }}"
    headers: {Host: "example.test", User-Agent: "probe", Content-Length: "2"}
    body: "{{ token }}"
  value-with-slash: {path: "/orders/{{ sku }}"}
  space-in-path: {path: "/a b/{{ token }}"}
  whole-url: {url: "http://127.0.0.1:8081/x/{{ token }}"}
  static: {path: /static}
scenarios:
  s:
    load: {stages: [{duration: 1s, users: 1}]}
    flow: [login]
"""

PLANNED = [
    "path-value",
    "query-in-path",
    "header-value",
    "both-and-query",
    "json-body",
    "text-body",
    "static-body-dynamic-path",
    "post-no-body",
    "head",
    "own-host-and-length",
    "value-with-slash",
]


@pytest.fixture(scope="module")
def spec() -> SpecV2:
    loaded = load_document_text(SPEC, "wire.yaml", env={})
    assert isinstance(loaded.spec, SpecV2)
    return loaded.spec


def state() -> RenderState:
    variables = {"token": "tok-ü 1/2", "sku": "A1/b?#"}
    return RenderState(7, random.Random(1), lambda: 1, pass_number=3, variables=variables)


def planned(request: HttpRequest) -> Wire | None:
    """The bytes the raw transport builds from the request's shape (None: no plan)."""
    if request.shape is None:
        return None
    plan = wire_plan(request.shape)
    return None if plan is None else plan.wire(request.url, request.headers, request.body)


def maker_of(spec: SpecV2, name: str) -> RequestMaker:
    made = compile_endpoint(name, spec.endpoints[name], spec.target)
    assert isinstance(made, RequestMaker)
    return made


@pytest.mark.parametrize("name", PLANNED)
def test_the_planned_bytes_are_what_encoding_the_filled_request_gives(
    spec: SpecV2, name: str
) -> None:
    request = maker_of(spec, name).make(state())
    assert request.fresh
    wire = planned(request)
    assert wire is not None, "this endpoint's bytes are built from parts encoded once"
    assert wire == encode(request.method, request.url, request.headers, request.body)


def test_values_change_only_the_filled_parts(spec: SpecV2) -> None:
    maker = maker_of(spec, "both-and-query")
    one, two = state(), state()
    two.variables["token"], two.user = "other", 12
    first, second = maker.make(one), maker.make(two)
    assert first.shape is second.shape
    wire, other = planned(first), planned(second)
    assert wire is not None
    assert other is not None
    assert b"/api/v1/items/tok-%C3%BC%201%2F2.json?page=2&who=7&q=a+b%26c " in wire.data
    assert b"Authorization: Bearer tok-\xc3\xbc 1/2\r\n" in wire.data
    assert b"/api/v1/items/other.json?page=2&who=12&q=a+b%26c " in other.data
    assert other == encode(second.method, second.url, second.headers, second.body)


@pytest.mark.parametrize("name", ["space-in-path", "whole-url"])
def test_an_endpoint_the_plan_cannot_encode_exactly_is_encoded_per_send(
    spec: SpecV2, name: str
) -> None:
    request = maker_of(spec, name).make(state())
    assert request.fresh
    assert planned(request) is None


def test_a_static_endpoint_is_one_cached_request_without_per_send_bytes(spec: SpecV2) -> None:
    made = compile_endpoint("static", spec.endpoints["static"], spec.target)
    assert isinstance(made, HttpRequest)
    assert not made.fresh
    assert made.shape is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (  # two filled among the target's: each in its place
            "header-value",
            (
                ("X-Team", "shop"),
                ("Accept", "application/json"),
                ("Authorization", "Bearer tok-ü 1/2"),
                ("X-Trace", "t-3-x"),
            ),
        ),
        (  # one filled after the target's (the one-header filler)
            "both-and-query",
            (
                ("X-Team", "shop"),
                ("Accept", "application/json"),
                ("Authorization", "Bearer tok-ü 1/2"),
            ),
        ),
        ("path-value", (("X-Team", "shop"), ("Accept", "application/json"))),  # none filled
    ],
)
def test_the_filled_headers_keep_the_spec_s_order_and_values(
    spec: SpecV2, name: str, expected: tuple[tuple[str, str], ...]
) -> None:
    assert maker_of(spec, name).make(state()).headers == expected


def test_a_filled_header_with_a_line_break_is_not_sent_and_its_value_not_named(
    spec: SpecV2,
) -> None:
    broken = state()
    broken.variables["token"] = "abc\r\nX-Evil: 1"
    for name in ("header-value", "both-and-query"):  # two filled; the one-header filler
        with pytest.raises(UnsendableError, match=r"^header Authorization: ") as caught:
            maker_of(spec, name).make(broken)
        assert "abc" not in str(caught.value)
