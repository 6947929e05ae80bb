"""The parts both spec formats share: target, requests, channels, threshold rules.

Format 1 (:mod:`sla_runner.spec.models`) and format 2 (:mod:`sla_runner.spec.format2`) build
their specs from these; each format adds what is its own (v1: an endpoint's ``weight``; v2:
``extract``, JSON-field checks, ``target.cookies``, a threshold's ``scenario``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from pydantic.json_schema import WithJsonSchema

from sla_runner.spec.checks import CheckedModel, Fields, Problem
from sla_runner.spec.fields import (
    THRESHOLD_EXPR_SCHEMA,
    DurationField,
    Flag,
    FrozenModel,
    Name,
    ThresholdExpr,
    ThresholdExprV2,
)
from sla_runner.spec.units import Duration

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Validation context key: when true, a spec leaves its checks across the spec to the caller
# (the loader), who collects every problem with its own position.
DEFER_REFERENCES = "defer_references"
MAX_USERS = 1_000_000


class ProcessSelector(CheckedModel):
    """The service process to sample for memory and CPU: exactly one way of finding it."""

    port: int | None = Field(
        None, ge=1, le=65535, description="the process listening on this TCP port"
    )
    pid: int | None = Field(None, ge=1)
    pid_file: str | None = Field(None, description="a file holding the pid")
    name: str | None = Field(None, description="matched against the process name or command line")
    interval: DurationField = Field(Duration.parse("250ms"), description="sampling interval")

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        given = [k for k in ("port", "pid", "pid_file", "name") if k in fields.given]
        if len(given) != 1:
            got = f" (got {', '.join(given)})" if given else ""
            problems.append(((), f"give exactly one of port, pid, pid_file, name{got}"))
        interval = fields["interval"]
        if isinstance(interval, Duration) and interval.ns < 10_000_000:
            problems.append((("interval",), f"must be at least 10ms, got {interval}"))
        return problems


class Target(FrozenModel):
    base_url: str = Field(description="http:// or https:// URL that endpoint paths are joined to")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every request")
    timeout: DurationField = Field(
        Duration.parse("10s"), description="per request, unless an endpoint says otherwise"
    )
    connect_timeout: DurationField = Field(Duration.parse("5s"))
    verify_tls: Flag = Field(
        True, description="verify TLS certificates; false is printed as a warning"
    )
    engine: Literal["raw", "aiohttp", "httpx"] = Field(
        "raw",
        description="HTTP/1.1 transport: raw (asyncio + httptools), aiohttp or httpx; "
        "endpoints with http2: true always use httpx",
    )
    follow_redirects: Flag = True
    allowed_hosts: list[str] = Field(
        default_factory=list, description="other hosts redirects may lead to (default: none)"
    )
    process: ProcessSelector | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")


StatusCode = Annotated[int, Field(ge=100, le=599)]


class Expect(FrozenModel):
    status: StatusCode | list[StatusCode] | None = Field(
        None, description="expected status code(s); default: any 2xx or 3xx"
    )
    body_contains: str | None = None


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
QueryValue = str | int | float | bool


class EndpointBase(CheckedModel):
    """What an endpoint of either format sends: the fields both formats write first."""

    method: HttpMethod = "GET"
    path: str | None = Field(None, description="joined to target.base_url")
    url: str | None = Field(None, description="a full URL instead of path")
    query: dict[str, QueryValue] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json", description="a JSON body")
    body: str | None = Field(None, description="a text body")

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems = where_problems(fields, r"^https?://[^/\s]+", "an http:// or https://")
        if {"json_body", "body"} <= fields.given:
            problems.append(((), "give json or body, not both"))
        return problems


def where_problems(fields: Fields, url_pattern: str, schemes: str) -> list[Problem]:
    """An endpoint's or a channel's place: exactly one of a path or a full URL."""
    problems: list[Problem] = []
    if ("path" in fields.given) == ("url" in fields.given):
        problems.append(((), "give exactly one of path or url"))
    path, url = fields["path"], fields["url"]
    if isinstance(path, str) and not path.startswith("/"):
        problems.append((("path",), f"must start with '/', got {path!r}"))
    if isinstance(url, str) and not re.match(url_pattern, url):
        problems.append((("url",), f"must be {schemes} URL, got {url!r}"))
    return problems


class ChannelExpect(CheckedModel):
    contains: str | None = Field(None, description="the reply contains this text")
    json_fields: dict[str, Any] | None = Field(
        None,
        alias="json",
        description="the reply is JSON and these dotted fields have these values",
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        if not {"contains", "json_fields"} & fields.given:
            return [((), "give contains or json")]
        return []


class Channel(CheckedModel):
    path: str | None = None
    url: str | None = Field(None, description="a full ws:// or wss:// URL instead of path")
    subprotocols: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    send: str | dict[str, Any] | list[Any] = Field(description="text, or JSON (a mapping or list)")
    expect: ChannelExpect | None = Field(
        None, description="the reply that completes a round trip; default: the next message"
    )
    interval: DurationField = Field(
        Duration.parse("1s"), description="between messages on one connection"
    )
    timeout: DurationField = Field(
        Duration.parse("5s"), description="for a reply, and for connecting"
    )
    compression: Flag = Field(
        False, description="permessage-deflate; off by default because it changes the figures"
    )
    reconnect: int = Field(
        3, ge=0, le=1000, description="reconnect attempts after a drop, per user"
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        return where_problems(fields, r"^wss?://[^/\s]+", "a ws:// or wss://")


class ThresholdRule(FrozenModel):
    expr: ThresholdExpr
    during: Name | None = Field(None, description="judge only this stage")
    severity: Literal["fail", "warn"] = "fail"
    description: str | None = None


class ThresholdRuleV2(FrozenModel):
    """A format-2 threshold: a format-1 rule that may also name a scenario and flow metrics."""

    expr: ThresholdExprV2
    scenario: Name | None = Field(
        None,
        description="judge only this scenario's traffic (for users: this scenario's users)",
    )
    during: Name | None = Field(None, description="judge only this stage (of any scenario)")
    severity: Literal["fail", "warn"] = "fail"
    description: str | None = None


def as_rule(value: Any) -> Any:
    """A threshold written as a bare expression is a rule's ``expr``."""
    return {"expr": value} if isinstance(value, str) else value


# A threshold is written either as a bare expression or as a rule with options; both load
# as a ThresholdRule, and the JSON Schema says "string or object".
ThresholdItem = Annotated[
    ThresholdRule,
    BeforeValidator(
        as_rule,
        json_schema_input_type=Annotated[str, WithJsonSchema(THRESHOLD_EXPR_SCHEMA)]
        | ThresholdRule,
    ),
]
