"""Known data for the verdict tests: specs and recordings built with the real Recorder."""

from __future__ import annotations

from typing import Any

from sla_runner.judge.verdicts import RunInfo, error_verdict, judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.models import SpecV1
from sla_runner.timeunits import NS_PER_MS, NS_PER_S
from sla_runner.verdict import Verdict

SECRET = "s3cr3t-t0ken-value"
STARTED_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def make_spec(
    thresholds: list[Any], *, stages: list[dict[str, Any]] | None = None, process: bool = True
) -> SpecV1:
    target: dict[str, Any] = {
        "base_url": "http://127.0.0.1:8000",
        "headers": {"Authorization": f"Bearer {SECRET}"},
    }
    if process:
        target["process"] = {"port": 8000}
    # Channels live with virtual users: an open-model spec declares none.
    open_model = any("rate" in stage for stage in stages or [])
    return SpecV1.model_validate(
        {
            "version": 1,
            "name": "checkout-api",
            "sla_version": "2.3.0",
            "owner": "team-checkout",
            "labels": {"tier": "1", "service": "checkout"},
            "target": target,
            "endpoints": {
                "list-items": {"path": "/items", "weight": 3},
                "create-order": {"method": "POST", "path": "/orders"},
            },
            "channels": {} if open_model else {"prices": {"path": "/ws/prices", "send": "ping"}},
            "load": {
                "stages": stages
                or [
                    {"name": "ramp", "duration": "2s", "users": 10},
                    {"name": "steady", "duration": "2s", "users": 10},
                ]
            },
            "thresholds": thresholds,
        }
    )


def run_info(**changes: Any) -> RunInfo:
    base: dict[str, Any] = {
        "spec_path": "specs/checkout.yaml",
        "spec_sha256": "ab" * 32,
        "runner_version": "0.1.0",
        "host": "ci-runner-1",
        "base_url": "http://127.0.0.1:8000",
        "engine": "raw",
        "started_at": STARTED_AT,
        "finished_at": STARTED_AT + 4,
    }
    base.update(changes)
    return RunInfo(**base)


def recorder(spec: SpecV1, segment: Segment | None = None) -> Recorder:
    return Recorder(build_plan(spec, segment or Segment()))


def close(rec: Recorder, *, elapsed_s: float = 4.0, aborted: bool = False) -> Recording:
    return rec.close(
        elapsed_ns=int(elapsed_s * NS_PER_S),
        started_at=STARTED_AT,
        finished_at=STARTED_AT + elapsed_s,
        aborted=aborted,
    )


def http(rec: Recorder, scope: str, latency_ms: float | None, t_s: float, key: str = "ok") -> None:
    """One HTTP request due at ``t_s`` that took ``latency_ms`` (None: no response)."""
    start = int(t_s * NS_PER_S)
    latency = None if latency_ms is None else int(latency_ms * NS_PER_MS)
    rec.request("http", scope, key, latency, start, start + (latency or 0))


def known_run(
    spec: SpecV1, rec: Recorder | None = None, *, part: int = 0, parts: int = 1
) -> Recorder:
    """A fixed, varied run: 4 s, 10 users, two endpoints, a channel, gauges, some errors.

    With ``parts`` > 1 only every ``parts``-th event (offset ``part``) is recorded, so the
    parts of one run add up to the whole exactly.
    """
    rec = rec or recorder(spec)
    i = 0
    for second in range(4):
        users = 5 * (second + 1) if second < 2 else 10
        share = users // parts + (1 if part < users % parts else 0)
        rec.users(share, second * NS_PER_S)
        for k in range(50):
            t = second + k / 50
            scope = "create-order" if k % 4 == 0 else "list-items"
            latency = (300 + 10 * k) if scope == "create-order" else (20 + k + 5 * second)
            key = "status_503" if k in (7, 13) else ("timeout" if k == 21 else "ok")
            if i % parts == part:
                http(rec, scope, latency, t, key)
                if k % 10 == 0:
                    start = int(t * NS_PER_S)
                    rec.request(
                        "ws", "prices", "ok", (5 + k) * NS_PER_MS, start, start + 5 * NS_PER_MS
                    )
                if k == 49:
                    start = int(t * NS_PER_S)
                    rec.request("http", "create-order", "connect_error", None, start, start)
            i += 1
        if part == 0:
            rec.gauge("process.rss", 200 * 1024**2 + second * 30 * 1024**2, second * NS_PER_S + 1)
            rec.gauge("process.cpu", 40.0 + 10 * second, second * NS_PER_S + 2)
            rec.generator_cpu(30.0)
            rec.loop_lag(2 * NS_PER_MS)
    return rec


RATE_99, RATE_93 = "success_rate(http) > 99%", "success_rate(http) > 93%"
THRESHOLDS: list[Any] = [
    "p95(http) < 200ms",
    "p99(http.create-order) < 400ms",
    "p95(ws.prices) < 50ms",
    RATE_99,
    "users >= 10",
    "max(process.rss) < 512MB",
    {"expr": "p95(http) < 150ms", "during": "steady", "severity": "warn"},
    "rate(http) > 10/s",
]


def verdict_of(status: str, secrets: frozenset[str] = frozenset({SECRET})) -> Verdict:
    """A verdict of each status, from known data; every one mentions the secret somewhere."""
    leaky = run_info(
        base_url=f"https://user:{SECRET}@example.test/api?token={SECRET}",
        warnings=(f"TLS verification is off (header Bearer {SECRET})",),
    )
    if status == "pass":
        spec = make_spec(["p95(ws.prices) < 50ms", "users >= 10", "max(process.rss) < 512MB"])
        return judge(spec, close(known_run(spec)), leaky, secrets=secrets)
    spec = make_spec(THRESHOLDS)
    if status == "fail":
        return judge(spec, close(known_run(spec)), leaky, secrets=secrets)
    if status == "invalid":
        # 92.2% of the requests succeeded; counting the 4 timeouts, which a saturated
        # generator may cause, as successes gives 94.1%: the failure does not stand.
        spec = make_spec([RATE_93 if t == RATE_99 else t for t in THRESHOLDS])
        rec = known_run(spec)
        for _ in range(20):
            rec.generator_cpu(99.5)
        return judge(spec, close(rec), leaky, secrets=secrets)
    if status == "aborted":
        rec = recorder(spec)
        for k in range(40):
            rec.users(5, k * NS_PER_S // 40)
            http(rec, "list-items", 30 + k, k / 40)
        return judge(spec, close(rec, elapsed_s=1.5, aborted=True), leaky, secrets=secrets)
    if status == "error":
        failed = run_info(error=f"cannot connect to https://{SECRET}@example.test: refused")
        return error_verdict(spec, failed, secrets=secrets)
    raise ValueError(status)


STATUSES = ("pass", "fail", "invalid", "aborted", "error")
