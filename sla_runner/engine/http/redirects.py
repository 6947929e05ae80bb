"""The redirect policy: which redirects are followed, and what the next hop sends.

Redirects go only to the target's own host or to ``target.allowed_hosts``; 303 (and 301/302
after POST) become GET without a body; credentials are not carried to another host. The one
loop that applies it sits above the transports: ``RoutingSession`` in ``session.py``.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urljoin, urlsplit

from sla_runner.engine.http.outcome import Outcome, Result
from sla_runner.engine.http.request import HttpRequest
from sla_runner.spec.models import Target

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


class RedirectPolicy:
    """Where a redirect may lead: the target's own host, or ``target.allowed_hosts``.

    An entry of ``allowed_hosts`` is a host name (any port) or ``host:port`` (that port).
    """

    __slots__ = ("_hosts", "_netlocs", "follow")

    def __init__(self, target: Target) -> None:
        self.follow = target.follow_redirects
        base = urlsplit(target.base_url)
        self._hosts = {(base.hostname or "").lower()}
        self._netlocs: set[str] = set()
        for given in target.allowed_hosts:
            entry = given.strip().lower()
            with_port = "]:" in entry if entry.startswith("[") else entry.count(":") == 1
            if with_port:
                self._netlocs.add(entry)
            else:
                self._hosts.add(entry.strip("[]"))

    def after(
        self, hop: HttpRequest, status: int, location: str | None
    ) -> HttpRequest | Result | None:
        """Where a response to ``hop`` leads: the next request to send when it is a redirect
        to follow, a Result when the redirect may not be followed, ``None`` when the response
        is the final one."""
        if not (self.follow and location and status in REDIRECT_STATUSES):
            return None
        following = self.next_url(hop.url, location)
        if following is None:
            return Result(Outcome.REDIRECT_BLOCKED, status, f"redirect to {location}")
        if hop.redirects >= MAX_REDIRECTS:
            return Result(Outcome.REDIRECT_BLOCKED, detail=f"more than {MAX_REDIRECTS} redirects")
        method, headers, keep = redirect_hop(status, hop.method, hop.headers, hop.url, following)
        return dataclasses.replace(
            hop,
            method=method,
            url=following,
            headers=headers,
            body=hop.body if keep else None,
            redirects=hop.redirects + 1,
            shape=None,
        )

    def next_url(self, current: str, location: str) -> str | None:
        """The absolute URL to follow, or ``None`` when the policy forbids it."""
        url = urljoin(current, location)
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        return url if self.allows(url) else None

    def allows(self, url: str) -> bool:
        """Whether ``url`` (any scheme) is on a host requests may go to."""
        parts = urlsplit(url)
        return (
            parts.hostname or ""
        ).lower() in self._hosts or parts.netloc.lower() in self._netlocs


_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


def redirect_hop(
    status: int, method: str, headers: tuple[tuple[str, str], ...], current: str, following: str
) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    """Method, headers and whether to keep the body for the next hop, as browsers do.

    303 (and 301/302 after POST) become GET without a body; credentials are not carried to
    another host, even an allowed one.
    """
    keep_body = True
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, keep_body = "GET", False
    same_host = urlsplit(current).netloc.lower() == urlsplit(following).netloc.lower()
    drop = (set() if same_host else _CREDENTIALS) | (set() if keep_body else _BODY_HEADERS)
    if drop:
        headers = tuple((k, v) for k, v in headers if k.lower() not in drop)
    return method, headers, keep_body
