"""The parts both spec formats share: target, requests, channels, threshold rules.

Format 1 (:mod:`sla_runner.spec.models`) and format 2 (:mod:`sla_runner.spec.format2`) build
their specs from these; each format adds what is its own (v1: an endpoint's ``weight``; v2:
``extract``, JSON-field checks, ``target.cookies``, a threshold's ``scenario``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

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
from sla_runner.spec.series import SeriesField
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS, Threshold
from sla_runner.spec.units import Duration
from sla_runner.timeunits import NS_PER_S

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Validation context key: when true, a spec leaves its checks across the spec to the caller
# (the loader), who collects every problem with its own position.
DEFER_REFERENCES = "defer_references"
MAX_USERS = 1_000_000


HTTP_URL_PATTERN = r"^https?://[^/\s]+"
MIN_SAMPLING_NS = 10_000_000
PROCESS_SOURCES = ("port", "pid", "pid_file", "name", "metrics_url", "cgroup")


class ProcessSelector(CheckedModel):
    """The service to sample for memory and CPU: exactly one way of finding it.

    A local process (``port``, ``pid``, ``pid_file``, ``name``: read with psutil), a
    Prometheus endpoint (``metrics_url``: the service's own process metrics, wherever it
    runs), or a cgroup v2 directory (``cgroup``: a container or a systemd unit)."""

    port: int | None = Field(
        None, ge=1, le=65535, description="the process listening on this TCP port"
    )
    pid: int | None = Field(None, ge=1)
    pid_file: str | None = Field(None, description="a file holding the pid")
    name: str | None = Field(None, description="matched against the process name or command line")
    metrics_url: str | None = Field(
        None,
        description="a Prometheus /metrics URL of the service: process_resident_memory_bytes "
        "is process.rss, process_cpu_seconds_total (as a rate; 100% = one core) process.cpu",
    )
    cgroup: str | None = Field(
        None,
        description="a cgroup v2 directory (a container's or a systemd unit's): memory.current "
        "(or memory.stat's anon) is process.rss, cpu.stat's usage_usec (as a rate) process.cpu",
    )
    memory: Literal["current", "anon"] = Field(
        "current",
        description="cgroup only: process.rss is memory.current (all the cgroup's memory, page "
        "cache included) or memory.stat's anon (its processes' own memory: a working set)",
    )
    interval: DurationField = Field(Duration.parse("250ms"), description="sampling interval")

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems: list[Problem] = []
        given = [k for k in PROCESS_SOURCES if k in fields.given]
        if len(given) != 1:
            got = f" (got {', '.join(given)})" if given else ""
            problems.append(((), f"give exactly one of {', '.join(PROCESS_SOURCES)}{got}"))
        url, cgroup = fields["metrics_url"], fields["cgroup"]
        if isinstance(url, str) and not re.match(HTTP_URL_PATTERN, url):
            problems.append((("metrics_url",), f"expected an http:// or https:// URL, got {url!r}"))
        if isinstance(cgroup, str) and not cgroup.startswith("/"):
            problems.append(
                (
                    ("cgroup",),
                    f"must be an absolute path to a cgroup v2 directory, got {cgroup!r}",
                )
            )
        if fields["memory"] == "anon" and "cgroup" not in fields.given:
            problems.append(
                (("memory",), "only a cgroup source reads memory.stat; remove it or give cgroup")
            )
        problems += _interval_problems(fields)
        return problems


def _interval_problems(fields: Fields) -> list[Problem]:
    interval = fields["interval"]
    if isinstance(interval, Duration) and interval.ns < MIN_SAMPLING_NS:
        return [(("interval",), f"must be at least 10ms, got {interval}")]
    return []


class MetricsSource(CheckedModel):
    """Series scraped from a Prometheus endpoint, each judged as ``metric.<alias>``."""

    url: str = Field(description="the /metrics URL (Prometheus text or OpenMetrics)")
    interval: DurationField = Field(Duration.parse("1s"), description="scrape interval")
    series: dict[Name, SeriesField] = Field(
        description='alias → series: name or name{label="value"}; a counter is judged as its '
        "per-second rate, a gauge as its value",
    )

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        problems = _interval_problems(fields)
        url, series = fields["url"], fields["series"]
        if isinstance(url, str) and not re.match(HTTP_URL_PATTERN, url):
            problems.append((("url",), f"expected an http:// or https:// URL, got {url!r}"))
        if isinstance(series, dict) and not series:
            problems.append((("series",), "give at least one series"))
        return problems


def series_aliases(target: Any) -> frozenset[str] | None:
    """The aliases of ``target.metrics.series`` as written: empty without target.metrics,
    None where they cannot be read."""
    if not isinstance(target, dict):
        return None
    metrics = target.get("metrics")
    if metrics is None:
        return frozenset()
    series = metrics.get("series") if isinstance(metrics, dict) else None
    return frozenset(k for k in series if isinstance(k, str)) if isinstance(series, dict) else None


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
    metrics: MetricsSource | None = Field(
        None, description="other series of a Prometheus endpoint, judged as metric.<alias>"
    )

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


_V2_ONLY = (
    "{key} is format 2's (a threshold over windows): write version: 2 "
    "(sla-runner migrate writes a version-1 file's format-2 equivalent)"
)


class ThresholdRule(FrozenModel):
    moved_fields: ClassVar[dict[str, str]] = {
        key: _V2_ONLY.format(key=key) for key in ("window", "for", "warmup")
    }

    expr: ThresholdExpr
    during: Name | None = Field(None, description="judge only this stage")
    severity: Literal["fail", "warn"] = "fail"
    description: str | None = None


# What a threshold over windows judges: a statistic of requests, round trips, connects or
# passes through a flow, each window's (or second's) own, from its own histogram and counts.
WINDOW_STATS = ("min", "max", "mean", "success_rate", "error_rate", "rate")
WINDOW_OPTIONS = {"window": "window", "for_": "for", "warmup": "warmup"}


class ThresholdRuleV2(CheckedModel):
    """A format-2 threshold: a format-1 rule that may also name a scenario and flow metrics,
    and be judged over windows of its span (``window``, ``for``, ``warmup``)."""

    expr: ThresholdExprV2
    scenario: Name | None = Field(
        None,
        description="judge only this scenario's traffic (for users: this scenario's users)",
    )
    during: Name | None = Field(None, description="judge only this stage (of any scenario)")
    window: DurationField | None = Field(
        None,
        description="hold in every tumbling window of this length over the threshold's span "
        "(the run, the scenario's or the during stage's): one window that misses fails it. "
        "Whole seconds",
    )
    for_: DurationField | None = Field(
        None,
        alias="for",
        description="fail only when each second's own value misses the limit for this long in "
        "a row (a sustained breach, not a spike). Whole seconds",
    )
    warmup: DurationField | None = Field(
        None,
        description="leave the first seconds of the threshold's span out of its judgement. "
        "Whole seconds",
    )
    severity: Literal["fail", "warn"] = "fail"
    description: str | None = None

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:
        return window_problems(fields)

    @property
    def windowed(self) -> bool:
        """Whether it is judged from the per-second histograms (window, for or warmup)."""
        return (self.window, self.for_, self.warmup) != (None, None, None)


def reads_seconds(rules: Iterable[ThresholdRuleV2], warmups_ns: Iterable[int]) -> bool:
    """Whether judging ``rules`` reads a run's per-second histograms: a threshold over windows
    (window, for or warmup), or a stage with a warmup (each span leaves those seconds out).
    The one rule for what keeps them: a verdict's recording keeps them only then, and a worker
    sends them to its parent only then."""
    return any(warmups_ns) or any(rule.windowed for rule in rules)


def window_problems(fields: Fields) -> list[Problem]:
    """A window, for or warmup must be whole seconds of at least 1s, not both window and
    for, and only on the statistics a window can judge (:data:`WINDOW_STATS`)."""
    problems: list[Problem] = []
    given = [name for name in WINDOW_OPTIONS if name in fields.given]
    for name in given:
        value = fields[name]
        if isinstance(value, Duration) and (value.ns < NS_PER_S or value.ns % NS_PER_S):
            key = WINDOW_OPTIONS[name]
            problems.append(((key,), f"must be whole seconds, at least 1s, got {value}"))
    if {"window", "for_"} <= set(given):
        problems.append(
            (
                ("for",),
                "give window or for, not both: window judges each tumbling window, "
                "for a breach sustained second after second",
            )
        )
    expr = fields["expr"]
    if given and isinstance(expr, Threshold):
        why = window_stat_problem(expr)
        if why is not None:
            problems.append(((WINDOW_OPTIONS[given[0]],), why))
    return problems


def window_stat_problem(t: Threshold) -> str | None:
    """Why ``t`` cannot be judged over windows; None when it can."""
    head = f"{t.stat}({t.selector})" if t.metric != "users" else t.selector
    if t.metric not in (*LATENCY_METRICS, FLOW_METRIC):
        if t.metric == "users":
            what = "users is the load the plan holds: judge it over a stage with during"
        else:
            what = (
                f"{t.selector} is sampled, not counted per second: judge it over the run or a stage"
            )
        return (
            f"{head}: {what}; window, for and warmup judge requests, round trips, "
            "connects and flow passes"
        )
    if t.stat == "count":
        return (
            f"{head}: a count depends on the window's length: judge the rate per window "
            f"(rate({t.selector}) ...)"
        )
    if t.percentile is None and t.stat not in WINDOW_STATS:  # pragma: no cover - grammar
        return f"{head}: {t.stat} cannot be judged over windows"
    return None


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
