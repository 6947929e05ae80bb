"""The pure parts of the I/O seams: compiling requests and channels, scanning, redirect rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.redirects import MAX_REDIRECTS, RedirectPolicy, redirect_hop
from sla_runner.engine.http.request import BodyScanner, HttpRequest, compile_request
from sla_runner.engine.transports import make_transport, resolve_engine
from sla_runner.engine.ws import compile_channel
from sla_runner.spec.jsonpath import JsonFields
from sla_runner.spec.models import Channel, Endpoint, Target


def target(**fields: Any) -> Target:
    return Target.model_validate({"base_url": "http://svc.test:8000/", **fields})


def test_compile_request_joins_merges_and_encodes() -> None:
    endpoint = Endpoint.model_validate(
        {
            "method": "POST",
            "path": "/orders",
            "query": {"q": "a b", "n": 3, "on": True},
            "headers": {"authorization": "Bearer endpoint"},
            "json": {"item": 42},
            "timeout": "250ms",
            "expect": {"status": [200, 201], "body_contains": "created"},
        }
    )
    request = compile_request("create", endpoint, target(headers={"Authorization": "Bearer t"}))
    assert request.url == "http://svc.test:8000/orders?q=a+b&n=3&on=true"
    assert dict(request.headers) == {
        "authorization": "Bearer endpoint",
        "Content-Type": "application/json",
    }
    assert request.body == b'{"item":42}'
    assert request.timeout_s == 0.25
    assert request.body_contains == b"created"
    assert [request.status_ok(s) for s in (200, 201, 204)] == [True, True, False]


def test_compile_request_defaults() -> None:
    request = compile_request(
        "x", Endpoint.model_validate({"url": "http://o.test/a?x=1"}), target()
    )
    assert (request.url, request.method, request.body, request.timeout_s) == (
        "http://o.test/a?x=1", "GET", None, 10.0,
    )  # fmt: skip
    assert [request.status_ok(s) for s in (199, 200, 302, 399, 400)] == [
        False, True, True, True, False,
    ]  # fmt: skip


def test_result_keys() -> None:
    assert Result(Outcome.STATUS, 503).key == "status_503"
    assert Result(Outcome.TIMEOUT).key == "timeout"
    assert Result(Outcome.OK, 200).key == "ok"


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="aiohttp, httpx"):
        make_transport(target(), engine="curl")


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=12), st.data())
def test_body_scanner_finds_needles_across_any_chunking(
    body: bytes, needle: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    scanner = BodyScanner(needle)
    for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True):
        scanner.feed(body[start:end])
    assert scanner.found == (needle in body)


def test_credentials_in_the_url_become_basic_auth_and_leave_the_url() -> None:
    ok = Endpoint.model_validate({"path": "/a"})
    with_auth = compile_request("a", ok, target(base_url="http://us%3Ar:p%40ss@svc.test:8000"))
    assert with_auth.url == "http://svc.test:8000/a"
    assert dict(with_auth.headers) == {"Authorization": "Basic dXM6cjpwQHNz"}  # us:r:p@ss
    bare = compile_request("a", ok, target(base_url="http://@svc.test:8000"))
    assert (bare.url, bare.headers) == ("http://svc.test:8000/a", ())
    spec_wins = compile_request(
        "a", ok, target(base_url="http://u:p@svc.test", headers={"authorization": "Bearer t"})
    )
    assert dict(spec_wins.headers) == {"authorization": "Bearer t"}


def test_engine_resolution() -> None:
    assert resolve_engine(target()) == "raw"
    assert resolve_engine(target(engine="httpx")) == "httpx"
    assert resolve_engine(target(engine="httpx"), "aiohttp") == "aiohttp"


def test_redirect_policy() -> None:
    policy = RedirectPolicy(target(allowed_hosts=["cdn.test", "auth.test:9443", "::1", "[::2]:81"]))
    assert policy.next_url("http://svc.test:8000/a", "/b") == "http://svc.test:8000/b"
    assert policy.next_url("http://svc.test:8000/a", "https://SVC.test/b") == "https://SVC.test/b"
    assert policy.next_url("http://svc.test:8000/a", "http://cdn.test:1/x") == "http://cdn.test:1/x"
    assert policy.next_url("http://svc.test:8000/a", "https://auth.test:9443/") is not None
    assert policy.next_url("http://svc.test:8000/a", "https://auth.test/") is None
    assert policy.next_url("http://svc.test:8000/a", "http://evil.test/") is None
    assert policy.next_url("http://svc.test:8000/a", "file:///etc/passwd") is None
    assert policy.allows("http://[::1]:5/")
    assert policy.allows("ws://[::2]:81/")
    assert not policy.allows("http://[::2]:82/")


def test_redirect_hop_drops_body_and_credentials_as_browsers_do() -> None:
    headers = (("Authorization", "x"), ("Content-Type", "application/json"), ("X-Id", "1"))
    same, other = "http://a.test/1", "http://b.test/2"
    assert redirect_hop(307, "POST", headers, same, "http://a.test/2") == ("POST", headers, True)
    assert redirect_hop(303, "POST", headers, same, "http://a.test/2") == (
        "GET", (("Authorization", "x"), ("X-Id", "1")), False,
    )  # fmt: skip
    assert redirect_hop(302, "GET", headers, same, other) == (
        "GET", (("Content-Type", "application/json"), ("X-Id", "1")), True,
    )  # fmt: skip


def test_redirect_policy_after_walks_the_hops_and_stops_them() -> None:
    policy = RedirectPolicy(target())
    endpoint = Endpoint.model_validate(
        {"method": "POST", "path": "/a", "json": {"n": 1}, "headers": {"Authorization": "x"}}
    )
    first = compile_request("a", endpoint, target())
    assert policy.after(first, 200, "/elsewhere") is None  # not a redirect status
    assert policy.after(first, 302, None) is None  # a redirect without Location is final
    hop = policy.after(first, 303, "/b?c=1")
    assert isinstance(hop, HttpRequest)
    assert (hop.method, hop.url, hop.body, hop.redirects) == (
        "GET", "http://svc.test:8000/b?c=1", None, 1,
    )  # fmt: skip
    assert dict(hop.headers) == {"Authorization": "x"}  # same host: credentials kept
    assert policy.after(first, 302, "http://evil.test/") == Result(
        Outcome.REDIRECT_BLOCKED, 302, "redirect to http://evil.test/"
    )
    for _ in range(MAX_REDIRECTS - 1):
        follow = policy.after(hop, 307, "/again")
        assert isinstance(follow, HttpRequest)
        hop = follow
    assert hop.redirects == MAX_REDIRECTS
    assert policy.after(hop, 307, "/again") == Result(
        Outcome.REDIRECT_BLOCKED, detail=f"more than {MAX_REDIRECTS} redirects"
    )
    assert RedirectPolicy(target(follow_redirects=False)).after(first, 302, "/b") is None


def test_judge_checks_status_before_body() -> None:
    endpoint = Endpoint.model_validate({"path": "/", "expect": {"body_contains": "ok"}})
    request = compile_request("a", endpoint, target())
    assert request.body_scanner(500) is None
    scanner = request.body_scanner(200)
    assert scanner is not None
    assert request.judge(200, scanner) == Result(Outcome.BODY_MISMATCH, 200)
    scanner.feed(b"all ok")
    assert request.judge(200, scanner) == Result(Outcome.OK, 200)
    assert request.judge(500, None).key == "status_500"


def test_compile_channel() -> None:
    spec = Channel.model_validate(
        {"path": "/ws/prices", "send": {"op": "ping"}, "expect": {"json": {"op": "pong"}},
         "headers": {"X-A": "1"}, "interval": "200ms"}
    )  # fmt: skip
    ch = compile_channel("prices", spec, target(base_url="https://svc.test", headers={"X-B": "2"}))
    assert ch.url == "wss://svc.test/ws/prices"
    assert ch.message == '{"op":"ping"}'
    assert dict(ch.headers) == {"X-B": "2", "X-A": "1"}
    assert (ch.interval_s, ch.timeout_s, ch.compression, ch.reconnect) == (0.2, 5.0, False, 3)
    assert ch.matches is not None
    assert ch.matches('{"op":"pong","price":1.5}')
    assert not ch.matches('{"op":"tick"}')
    plain = compile_channel("e", Channel.model_validate({"path": "/ws", "send": "hi"}), target())
    assert (plain.url, plain.matches) == ("ws://svc.test:8000/ws", None)


def test_json_fields_matcher() -> None:
    match = JsonFields({"data.items.0.id": 7, "ok": True})
    assert match('{"ok": true, "data": {"items": [{"id": 7}]}}')
    assert not match('{"ok": 1, "data": {"items": [{"id": 7}]}}')  # 1 is not true
    assert not match('{"ok": true, "data": {"items": []}}')
    assert not match("not json")
    assert not match(b"\xff")
