"""The one place that picks an HTTP transport: the engine's, for the run it is about to make.

The seam (:mod:`sla_runner.engine.http`) knows none of its implementations; this module
knows all three and hands the HTTP/1.1 ones their HTTP/2 side, an httpx transport made on
the first ``http2`` endpoint.
"""

from __future__ import annotations

from sla_runner.engine.http.session import HttpTransport, TransportBase
from sla_runner.spec.models import Target

ENGINES = ("raw", "aiohttp", "httpx")


def resolve_engine(target: Target, engine: str | None = None) -> str:
    """The HTTP/1.1 engine that will send the requests: ``engine``, else the spec's."""
    return engine or target.engine


def make_transport(target: Target, *, engine: str | None = None) -> HttpTransport:
    """The transport for ``engine`` (default: ``target.engine``): ``raw``, ``aiohttp`` or ``httpx``.

    No transport keeps cookies (stateless, like wrk and vegeta, which saves work on every
    request); format 2's ``target.cookies`` gives each user a jar that its sends carry
    (:class:`sla_runner.engine.cookies.CookieJar`), the same on every engine.
    """
    chosen = resolve_engine(target, engine)

    def http2() -> TransportBase:
        from sla_runner.engine.http.httpx import HttpxTransport  # noqa: PLC0415

        return HttpxTransport(target)

    if chosen == "raw":
        from sla_runner.engine.http.raw import RawTransport  # noqa: PLC0415

        return RawTransport(target, http2=http2)
    if chosen == "aiohttp":
        from sla_runner.engine.http.aiohttp import AiohttpTransport  # noqa: PLC0415

        return AiohttpTransport(target, http2=http2)
    if chosen == "httpx":
        return http2()  # it serves its http2 endpoints itself
    raise ValueError(f"unknown HTTP engine {chosen!r}; expected one of {', '.join(ENGINES)}")
