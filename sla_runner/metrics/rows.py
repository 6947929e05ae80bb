"""A recording's per-second rows and the generator's own figures: what each second of the
run completed (:class:`TimelineRow`, with :class:`SecondFigures` per metric and
endpoint/channel), and how well the generator kept up (:class:`GeneratorStats`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from hdrh.histogram import HdrHistogram

from sla_runner.metrics.histogram import gauge_histogram, latency_histogram


@dataclass
class SecondFigures:
    """What one metric (``http``) or endpoint/channel (``http.list-items``) completed in one
    second: a count, the outcomes other than ok by kind, and percentiles of the latencies."""

    count: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    def merge(self, other: SecondFigures) -> None:
        """Counts add; percentiles take the worse of the two — what can be said without the
        second's histograms (:meth:`Recording.merge` makes them exact when both recordings
        carry them)."""
        self.count += other.count
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        for name in ("p50_ms", "p95_ms", "p99_ms"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None and (mine is None or theirs > mine):
                setattr(self, name, theirs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "errors": dict(sorted(self.errors.items())),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SecondFigures:
        return cls(
            count=int(data["count"]),
            errors={k: int(v) for k, v in data["errors"].items()},
            p50_ms=data["p50_ms"],
            p95_ms=data["p95_ms"],
            p99_ms=data["p99_ms"],
        )


@dataclass
class TimelineRow:
    """One second of the run (``second`` counts from the start)."""

    second: int
    stage: int
    users: int = 0  # most concurrent users held during the second
    requests: int = 0  # HTTP requests completed
    errors: int = 0  # HTTP requests and WS round trips not ok
    ws_round_trips: int = 0
    p50_ms: float | None = None  # of the HTTP requests completed in the second
    p95_ms: float | None = None
    p99_ms: float | None = None
    rss_bytes: int | None = None
    cpu_pct: float | None = None
    dropped: int = 0
    late: int = 0
    arrivals: int = 0  # open model: arrivals started (not dropped) in the second
    # Per metric and per endpoint/channel, as the verdict's metrics name them ("http",
    # "http.list-items", "ws.prices"…): what completed in the second. Empty in recordings
    # written before it was kept.
    series: dict[str, SecondFigures] = field(default_factory=dict)
    # Most users (or requests in flight) of each scenario during the second; empty for a
    # run of one scenario, whose users are ``users``.
    scenario_users: dict[str, int] = field(default_factory=dict)

    def merge(self, other: TimelineRow) -> None:
        """Counts and users add; percentiles, memory and CPU take the worse of the two (the
        percentiles made exact by :meth:`Recording.merge` when it can)."""
        for name in ("users", "requests", "errors", "ws_round_trips", "dropped", "late"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.arrivals += other.arrivals
        for scenario, held in other.scenario_users.items():
            self.scenario_users[scenario] = self.scenario_users.get(scenario, 0) + held
        for name in ("p50_ms", "p95_ms", "p99_ms", "rss_bytes", "cpu_pct"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None and (mine is None or theirs > mine):
                setattr(self, name, theirs)
        for selector, figures in other.series.items():
            self.series.setdefault(selector, SecondFigures()).merge(figures)

    def take_http(self) -> None:
        """The row's own HTTP percentiles, kept for readers of older verdicts: its ``http``
        series' (left as they are in a row without one)."""
        http = self.series.get("http")
        if http is not None:
            self.p50_ms, self.p95_ms, self.p99_ms = http.p50_ms, http.p95_ms, http.p99_ms

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["series"] = {k: v.to_dict() for k, v in sorted(self.series.items())}
        if not self.scenario_users:
            del out["scenario_users"]  # a run of one scenario writes its rows as before
        else:
            out["scenario_users"] = dict(self.scenario_users)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimelineRow:
        """A row as :meth:`to_dict` wrote it, or as a recording written before ``series``
        and ``arrivals`` (or ``scenario_users``) were kept."""
        given = {k: v for k, v in data.items() if k != "series"}
        series = {k: SecondFigures.from_dict(v) for k, v in data.get("series", {}).items()}
        return cls(**given, series=series)

    def users_of(self, scenario: str | None) -> int:
        """The users of one scenario (of the run's only one, or of every one: None)."""
        if scenario is None or not self.scenario_users:
            return self.users
        return self.scenario_users.get(scenario, 0)


@dataclass
class GeneratorStats:
    """How well the generator itself kept up."""

    cpu_pct: HdrHistogram = field(default_factory=gauge_histogram)  # hundredths of a percent
    loop_lag_us: HdrHistogram = field(default_factory=latency_histogram)
    send_lateness_us: HdrHistogram = field(default_factory=latency_histogram)  # open model
    planned: int = 0  # open model: arrivals the plan asked for up to the end of the run
    dropped: int = 0  # open model: arrivals not started (too many in flight)
    late: int = 0  # open model: arrivals started later than the lateness bound
    # closed model: pauses users made before their next request after a refused or reset
    # connection (0 in recordings written before it was counted)
    backoffs: int = 0
