"""The cookie jar against a real server that sets cookies and reports the ones it receives.

Requests go to 127.0.0.1 with a ``Host`` header naming the host the jar is told about, so
host-only and domain cookies are checked across host names without any DNS.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from sla_runner.engine.cookies import CookieJar
from tests.support.shop import LiveShop, running_shop


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop([("ann", "pw-ann")]) as live:
        yield live


def send(
    shop: LiveShop, jar: CookieJar, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    """One request to the shop as if to ``url``, carrying the jar's cookies and feeding it."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc}
    if (cookie := jar.header(url)) is not None:
        headers["Cookie"] = cookie
    payload = None
    if body is not None:
        payload, headers["Content-Type"] = json.dumps(body), "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", shop.port, timeout=5)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=payload, headers=headers)
        response = connection.getresponse()
        data = json.loads(response.read())
        jar.receive(url, response.headers.get_all("Set-Cookie") or [])
        return response.status, data
    finally:
        connection.close()


def set_cookies(shop: LiveShop, jar: CookieJar, host: str, *values: str) -> None:
    query = urlencode([("c", v) for v in values])
    status, _ = send(shop, jar, "GET", f"http://{host}/cookies/set?{query}")
    assert status == 200


def received(shop: LiveShop, jar: CookieJar, url: str) -> str | None:
    """The Cookie header the server received for a request to ``url``."""
    status, body = send(shop, jar, "GET", url)
    assert status == 200
    assert body["host"] == urlsplit(url).netloc
    cookie: str | None = body["cookie"]
    return cookie


def test_the_login_session_cookie_goes_back_to_the_service(shop: LiveShop) -> None:
    jar = CookieJar()
    host = f"127.0.0.1:{shop.port}"
    assert send(shop, jar, "GET", f"http://{host}/whoami")[0] == 401
    login = send(shop, jar, "POST", f"http://{host}/login", {"user": "ann", "password": "pw-ann"})
    assert login[0] == 200
    assert send(shop, jar, "GET", f"http://{host}/whoami") == (200, {"user": "ann"})
    other = CookieJar()  # another user's jar holds no session
    assert send(shop, other, "GET", f"http://{host}/whoami")[0] == 401


def test_host_only_and_domain_cookies_reach_the_right_hosts(shop: LiveShop) -> None:
    jar, port = CookieJar(), shop.port
    set_cookies(
        shop, jar, f"api.shop.test:{port}",
        "host=1; Path=/", "dom=2; Domain=shop.test; Path=/", "foreign=3; Domain=other.test; Path=/",
    )  # fmt: skip
    assert received(shop, jar, f"http://api.shop.test:{port}/cookies/echo") == "host=1; dom=2"
    assert received(shop, jar, f"http://www.shop.test:{port}/cookies/echo") == "dom=2"
    assert received(shop, jar, f"http://shop.test:{port}/cookies/echo") == "dom=2"
    assert received(shop, jar, f"http://other.test:{port}/cookies/echo") is None


def test_paths_secure_and_deletion(shop: LiveShop) -> None:
    jar, host = CookieJar(), f"h.test:{shop.port}"
    set_cookies(
        shop, jar, host,
        "dflt=1", "sub=2; Path=/cookies/echo/sub", "tls=3; Path=/; Secure", "gone=4; Path=/",
    )  # fmt: skip
    # dflt's path is the directory of /cookies/set: /cookies (longer paths are sent first)
    assert received(shop, jar, f"http://{host}/cookies/echo") == "dflt=1; gone=4"
    assert received(shop, jar, f"http://{host}/cookies/echo/sub/x") == "sub=2; dflt=1; gone=4"
    assert received(shop, jar, f"http://{host}/cookies/echo/subway") == "dflt=1; gone=4"
    set_cookies(
        shop, jar, host, "gone=; Path=/; Max-Age=0", "dflt=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )
    assert received(shop, jar, f"http://{host}/cookies/echo") is None
    assert jar.get("tls") == "3"  # kept, but never sent over plain HTTP
