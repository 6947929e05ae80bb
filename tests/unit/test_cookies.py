"""The per-user cookie jar: RFC 6265 parsing, domain and path matching, expiry, order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.engine.cookies import (
    CookieJar,
    SetCookie,
    default_path,
    domain_match,
    parse_set_cookie,
    path_match,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:  # January 2027
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("sid=abc", SetCookie("sid", "abc", {})),
        (" sid = a b ; Path=/x; secure; HttpOnly",
         SetCookie("sid", "a b", {"path": "/x", "secure": "", "httponly": ""})),
        ("a=b=c; Max-Age=5; max-age=7", SetCookie("a", "b=c", {"max-age": "7"})),
        ('q="quoted"', SetCookie("q", '"quoted"', {})),
        ("empty=", SetCookie("empty", "", {})),
        ("novalue", None),
        ("=x", None),
        ("", None),
    ],
)  # fmt: skip
def test_parse_set_cookie(text: str, parsed: SetCookie | None) -> None:
    assert parse_set_cookie(text) == parsed


def test_matching_rules() -> None:
    assert domain_match("a.shop.test", "shop.test")
    assert domain_match("shop.test", "shop.test")
    assert not domain_match("evilshop.test", "shop.test")
    assert not domain_match("10.0.0.1", "0.0.1")  # an IP address only matches itself
    assert path_match("/a", "/a")
    assert path_match("/a/b", "/a")
    assert path_match("/a/b", "/a/")
    assert not path_match("/ab", "/a")
    assert not path_match("/", "/a")
    assert [default_path(p) for p in ("", "/", "/login", "/a/b/c", "/a/")] == [
        "/", "/", "/", "/a/b", "/a",
    ]  # fmt: skip


def test_host_only_and_domain_cookies() -> None:
    jar = CookieJar()
    jar.receive("http://api.shop.test/login", ["host=1", "dom=2; Domain=.Shop.Test"])
    assert jar.header("http://api.shop.test/x") == "host=1; dom=2"
    assert jar.header("http://shop.test/x") == "dom=2"
    assert jar.header("http://www.shop.test:8080/x") == "dom=2"  # ports play no part
    assert jar.header("http://other.test/x") is None
    jar.receive(
        "http://api.shop.test/", ["bad=3; Domain=other.test", "bad=4; Domain=a.api.shop.test"]
    )
    assert len(jar) == 2  # a host may not set cookies for a domain it is not in


def test_ip_hosts_get_host_only_cookies() -> None:
    jar = CookieJar()
    jar.receive("http://127.0.0.1:8000/login", ["sid=s1", "x=1; Domain=0.0.1"])
    assert jar.header("http://127.0.0.1:9000/orders/1") == "sid=s1"
    assert jar.header("http://localhost:8000/") is None


def test_paths_default_to_the_request_directory() -> None:
    jar = CookieJar()
    jar.receive(
        "http://h.test/a/b/login?x=1",
        ["dflt=1", "root=2; Path=/", "deep=3; Path=/a/b/c", "rel=4; Path=x"],
    )
    assert jar.header("http://h.test/a/b") == "dflt=1; rel=4; root=2"
    assert jar.header("http://h.test/a/b/c/d") == "deep=3; dflt=1; rel=4; root=2"
    assert jar.header("http://h.test/a/bc") == "root=2"
    assert jar.header("http://h.test") == "root=2"


def test_order_is_longest_path_then_oldest() -> None:
    jar = CookieJar()
    jar.receive("http://h.test/", ["b=1; Path=/", "a=2; Path=/", "c=3; Path=/p"])
    jar.receive("http://h.test/", ["b=9; Path=/"])  # a replaced cookie keeps its age
    assert jar.header("http://h.test/p/q") == "c=3; b=9; a=2"


def test_same_name_on_different_paths_and_domains_are_different_cookies() -> None:
    jar = CookieJar()
    jar.receive("http://a.h.test/", ["n=root; Path=/", "n=sub; Path=/s", "n=dom; Domain=h.test"])
    assert jar.header("http://a.h.test/s/1") == "n=sub; n=root; n=dom"
    assert jar.get("n") == "sub"
    assert jar.get("n", "http://h.test/") == "dom"
    assert jar.get("missing") is None


def test_secure_cookies_go_over_tls_only() -> None:
    jar = CookieJar()
    jar.receive("https://h.test/", ["s=1; Secure", "p=2"])
    assert jar.header("http://h.test/") == "p=2"
    assert jar.header("https://h.test/") == "s=1; p=2"
    assert jar.header("wss://h.test/ws") == "s=1; p=2"


def test_max_age_and_expires() -> None:
    clock = Clock()
    jar = CookieJar(clock)
    jar.receive(
        "http://h.test/",
        [
            "short=1; Max-Age=10",
            "both=2; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=100",  # Max-Age wins
            "dated=3; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
            "session=4; Max-Age=soon; Expires=not a date",  # both ignored
        ],
    )
    assert jar.header("http://h.test/") == "short=1; both=2; dated=3; session=4"
    clock.now += 10
    assert jar.header("http://h.test/") == "both=2; dated=3; session=4"  # the cache expired too
    clock.now += 100
    assert jar.header("http://h.test/") == "dated=3; session=4"
    jar.receive(
        "http://h.test/", ["dated=x; Max-Age=0", "session=; Expires=Wed, 21-Oct-2015 07:28:00 GMT"]
    )
    assert jar.header("http://h.test/") is None
    assert len(jar) == 0


@pytest.mark.parametrize(
    "date",
    [
        "Wed, 21 Oct 2037 07:28:00 GMT",
        "Wednesday, 21-Oct-37 07:28:00 GMT",
        "Wed Oct 21 07:28:00 2037",
    ],
)
def test_every_http_date_format_is_read(date: str) -> None:
    clock = Clock(2_139_722_879)  # 2037-10-21 07:27:59 UTC
    jar = CookieJar(clock)
    jar.receive("http://h.test/", [f"c=1; Expires={date}"])
    assert jar.header("http://h.test/") == "c=1"
    clock.now += 1
    assert jar.header("http://h.test/") is None


def test_a_changed_jar_is_not_served_from_the_cache() -> None:
    jar = CookieJar()
    assert jar.header("http://h.test/") is None
    jar.receive("http://h.test/", ["a=1"])
    assert jar.header("http://h.test/") == "a=1"
    jar.receive("http://h.test/", ["a=2"])
    assert jar.header("http://h.test/") == "a=2"
    jar.clear()
    assert jar.header("http://h.test/") is None


@given(st.lists(st.text(max_size=40), max_size=5), st.text(max_size=20))
def test_any_set_cookie_text_is_taken_or_ignored_never_raises(values: list[str], path: str) -> None:
    jar = CookieJar()
    jar.receive(f"http://h.test/{path}", values)
    header = jar.header("http://h.test/")
    assert header is None or isinstance(header, str)
