"""What ``sla-runner capacity`` prints: a line per step as it ends, then the curve as a
table (by level) and the outcome."""

from __future__ import annotations

from sla_runner import numbers
from sla_runner.capacity.document import CapacityDocument, Step
from sla_runner.capacity.outcome import shown_level

__all__ = ["capacity_summary", "step_line", "step_start"]

_COLUMNS = (
    "level",
    "phase",
    "outcome",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "success",
    "done/s",
    "rss",
    "cpu",
)


def _cell(value: float | None, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "%":
        return f"{numbers.number(value)}%"
    if kind == "B":
        return numbers.size(value)
    return numbers.number(value)


def step_start(level: int, unit: str, step_s: float, warmup_s: float) -> str:
    return (
        f"step {shown_level(level, unit)}: {numbers.number(step_s)}s, the first "
        f"{numbers.number(warmup_s)}s not judged"
    )


def step_line(step: Step, unit: str) -> str:
    """One step as it ended: its outcome, its p95, and what broke or why it is not judged."""
    p95 = "no p95" if step.p95_ms is None else f"p95 {_cell(step.p95_ms)} ms"
    line = f"  {shown_level(step.level, unit)}: {step.outcome}, {p95}"
    broken = [
        t.message
        for t in step.thresholds
        if t.severity == "fail" and t.status in ("fail", "no_data")
    ]
    if step.outcome == "broke" and broken:
        line += f"; {broken[0]}"
    elif step.reasons:
        line += f"; {step.reasons[0]}"
    return line


def capacity_summary(document: CapacityDocument) -> str:
    unit = document.search.unit
    rows = [list(_COLUMNS)]
    for s in sorted(document.steps, key=lambda s: s.level):
        rows.append(
            [
                shown_level(s.level, unit),
                s.phase,
                s.outcome,
                _cell(s.p50_ms),
                _cell(s.p95_ms),
                _cell(s.p99_ms),
                _cell(s.success_rate_pct, "%"),
                _cell(s.throughput_per_s),
                _cell(s.rss_max_bytes, "B"),
                _cell(s.cpu_max_pct, "%"),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    steps = len(document.steps)
    measured = (
        f"{numbers.count(steps)} step{'' if steps == 1 else 's'} of "
        f"{numbers.number(document.search.step_duration_s)}s"
        if steps
        else "no step was measured"  # the error says why: no curve of headings alone
    )
    lines = [
        f"capacity search of {document.spec.name} {document.spec.sla_version}, scenario "
        f"{document.search.scenario!r}: {measured}"
    ]
    if steps:
        lines += [
            "  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows
        ]
    lines.append("")
    lines += [f"- {finding}" for finding in document.findings]
    if document.promise is not None:
        lines.append(f"- promise: {document.promise.message}")
    lines += [f"- not judged: {reason}" for reason in document.not_judged]
    lines.append(f"{document.status.upper()} (exit code {document.exit_code}): {document.message}")
    return "\n".join(lines)
