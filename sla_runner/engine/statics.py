"""Endpoints and channels whose every request is the same: compiled once, sent as they are.

In format 2 the text of an endpoint or a channel is a template (``{{ token }}``); one that
reads nothing renders to the same text every time (``{{{{`` being a literal ``{{``, as a
version-1 file's text is escaped when it is converted). Such an endpoint, without
``extract`` and JSON checks, is sent through the hot path exactly as version 1 sent it: an
:class:`~sla_runner.engine.http.request.HttpRequest` compiled once before the clock
starts. Such a channel is compiled once and shared by every user. Everything else is the
step layer's (templates filled per request, values extracted, JSON checked).
"""

from __future__ import annotations

from typing import Any

from sla_runner.spec.format2 import EndpointV2
from sla_runner.spec.models import Channel, Endpoint
from sla_runner.spec.templated import map_sites, sites
from sla_runner.spec.templates import TemplateError, parse_template

__all__ = ["plain_endpoint", "static_channel", "static_text"]


def static_text(text: str) -> str | None:
    """The text a template that reads nothing always renders to; None when it reads a value."""
    try:
        template = parse_template(text)
    except TemplateError:
        return None
    if not template.is_static:
        return None
    return "".join(p for p in template.parts if isinstance(p, str))


def _rendered(kind: str, written: dict[str, Any]) -> dict[str, Any] | None:
    if any(static_text(text) is None for _, text in sites(kind, written)):
        return None
    return map_sites(kind, written, lambda text: static_text(text) or "")


def plain_endpoint(endpoint: EndpointV2) -> Endpoint | None:
    """``endpoint`` as the request version 1 sends (its templates rendered), when every
    request of it is the same and it needs nothing of the response: no templates that read
    a value, no ``extract``, no ``expect.json``. None otherwise."""
    if endpoint.extract or endpoint.expect.json_fields is not None:
        return None
    written = endpoint.model_dump(by_alias=True, exclude_unset=True, exclude={"extract"})
    rendered = _rendered("endpoints", written)
    if rendered is None:
        return None
    expect = rendered.get("expect")
    if isinstance(expect, dict):
        rendered["expect"] = {k: v for k, v in expect.items() if k != "json"}
    return Endpoint.model_validate(rendered)


def static_channel(channel: Channel) -> Channel | None:
    """``channel`` with its templates rendered, when they read nothing; None otherwise."""
    written = channel.model_dump(by_alias=True, exclude_unset=True)
    rendered = _rendered("channels", written)
    return None if rendered is None else Channel.model_validate(rendered)
