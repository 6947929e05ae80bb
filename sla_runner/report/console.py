"""The final summary on the console: thresholds, per endpoint/channel figures, findings, status.

Drawn with ``rich``; on a terminal in colour, elsewhere (CI logs, pipes, files) as plain
ASCII text without escape codes. Every text is redacted.

Each threshold's result reads as the JUnit case does: ``PASS``, ``FAIL``, ``NO DATA``,
``WARN`` (a warn threshold that missed), ``SKIP`` (not judged; the reason is listed under
the table), ``INVALID`` (a result of an invalid run that is not a fact about the service).
The status line closes the summary, except for a run that could not be carried out (status
``error``): its cause comes first, and its thresholds, none judged, are one line.
A ``severity: warn`` threshold is marked ``(warn)`` after its expression, whether it held
or not. A threshold over windows shows its worst window (or longest breach) in its observed
value, and its message, naming that window, under ``Windows:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sla_runner import numbers
from sla_runner.redact import effective, masked
from sla_runner.verdict import ThresholdResult, Verdict, threshold_id

PLAIN_WIDTH = 120
LABELS = {
    "pass": ("PASS", "green"),
    "fail": ("FAIL", "bold red"),
    "warn": ("WARN", "yellow"),
    "skipped": ("SKIP", "dim"),
    "no_data": ("NO DATA", "bold red"),
    "invalid": ("INVALID", "magenta"),
}
_STATUS_STYLE = {
    "pass": "bold green",
    "fail": "bold red",
    "invalid": "bold magenta",
    "error": "bold red",
    "aborted": "bold yellow",
}


def console_for(out: Console | TextIO | None) -> Console:
    """A Console on ``out``: colour on a terminal, plain text otherwise."""
    if isinstance(out, Console):
        return out
    probe = Console(file=out, highlight=False)
    if probe.is_terminal:
        return probe
    return Console(
        file=out, highlight=False, no_color=True, width=PLAIN_WIDTH, emoji=False, color_system=None
    )


def print_summary(
    verdict: Verdict,
    out: Console | TextIO | None = None,
    *,
    secrets: frozenset[str] = frozenset(),
    models: Mapping[str, str] | None = None,
) -> None:
    """Print the summary of ``verdict`` to ``out`` (a Console, a text file; stdout by default).
    ``models``: each scenario's model, from the plan; by default the ones the verdict
    recorded (none in verdicts written before they were)."""
    console = console_for(out)
    plain = not console.is_terminal
    table_box = box.ASCII2 if plain else box.SIMPLE_HEAVY

    masks = effective(secrets)

    def text(value: str, style: str = "") -> Text:
        return Text(masked(value, masks), style="" if plain else style)

    spec = verdict.spec
    console.print(
        text(f"{spec.name} {spec.sla_version} ({spec.path}, sha256 {spec.sha256[:12]})", "bold")
    )
    status = text(status_line(verdict), _STATUS_STYLE[verdict.status])
    if verdict.status == "error":
        # The cause comes first, and what it left unjudged is one line, not a table of SKIP
        # rows (the JUnit and JSON reports list each threshold, skipped, with the reason).
        console.print(status, soft_wrap=plain)
        if verdict.thresholds:
            console.print(text(not_judged(verdict), "dim"), soft_wrap=plain)
    elif verdict.thresholds:
        console.print(_thresholds_table(verdict, table_box, text))
    metrics = _metrics_table(verdict, table_box, text)
    if metrics is not None:
        console.print(metrics)
    models = models or verdict.scenario_models
    kinds = load_kinds(verdict, models)
    if verdict.scenarios:
        console.print(_scenarios_table(verdict, table_box, text, kinds, models))
    gauges = _gauges_line(verdict, kinds)
    if gauges:
        console.print(text(gauges))
    backoffs = verdict.validity.backoffs
    if backoffs:
        console.print(
            text(
                f"users backed off {numbers.count(backoffs)} time{'s' if backoffs != 1 else ''} "
                "after a refused or reset connection"
            ),
            soft_wrap=plain,
        )
    skipped = [_skip(t) for t in verdict.thresholds if t.status == "skipped"]
    windows = [f"{t.id}: {t.message}" for t in verdict.thresholds if t.windows]
    for heading, items, style in (
        ("Windows", windows, ""),
        (_validity_heading(verdict), validity_items(verdict), "magenta"),
        ("Skipped", skipped if verdict.status != "error" else [], "dim"),
        ("Findings", verdict.findings, ""),
        ("Warnings", verdict.run.warnings, "yellow"),
        ("Notes", verdict.notes, "dim"),
    ):
        if items:
            console.print(text(f"{heading}:", f"bold {style}".strip()))
            for item in items:
                console.print(text(f"  - {item}", style), soft_wrap=plain)
    if verdict.status != "error":
        console.print(status, soft_wrap=plain)


def not_judged(verdict: Verdict) -> str:
    """``7 thresholds not judged: the run never started``: a run that could not be carried
    out, in one line (the run never started when nothing was measured)."""
    n = len(verdict.thresholds)
    measured = verdict.metrics or verdict.timeline
    why = "the run could not be carried out" if measured else "the run never started"
    return f"{n} threshold{'s' if n != 1 else ''} not judged: {why}"


def _skip(t: ThresholdResult) -> str:
    """``p95(http) < 150ms (during steady): why``: the heading already says skipped."""
    label = threshold_label(t) + (f" (during {t.during})" if t.during else "")
    return f"{label}: {t.message.removeprefix(f'{t.expr}: skipped: ')}"


def _standing(verdict: Verdict) -> int:
    """How many failures stand although the run is invalid (0 for a valid run)."""
    if verdict.validity.valid:
        return 0
    return sum(not verdict.untrusted(t) for t in verdict.failed)


def _validity_heading(verdict: Verdict) -> str:
    if verdict.status == "fail" and _standing(verdict):
        return "Run invalid, but the failures marked FAIL stand (no generator causes them)"
    return "Run invalid"


def validity_items(verdict: Verdict) -> list[str]:
    """The validity reasons; none for a run that could not be carried out (the ERROR line
    says why, and :func:`not_judged` what it left unjudged)."""
    return [] if verdict.status == "error" else verdict.validity.reasons


def status_line(verdict: Verdict, *, reasons: Literal["above", "below"] = "above") -> str:
    """``FAIL: 2 of 7 thresholds failed (exit code 1)`` and the like. ``reasons``: where the
    report lists an invalid run's reasons (the console, above its status line; the HTML
    report and the Markdown summary, below it)."""
    results = verdict.thresholds
    n = len(results)
    failed = sum(not verdict.untrusted(t) for t in verdict.failed)
    held = sum(t.status == "pass" and not verdict.untrusted(t) for t in results)
    # A warn threshold that missed, or had no data to be judged on: reported, not failed.
    warned = sum(t.severity == "warn" and t.passed is False for t in results)
    skipped = sum(t.status == "skipped" for t in results)
    tail = f" (exit code {verdict.exit_code})"
    notes = (f", {warned} warning{'s' if warned != 1 else ''}" if warned else "") + (
        f", {skipped} skipped" if skipped else ""
    )
    if verdict.status == "pass":
        return f"PASS: {held} of {n} thresholds held{notes}{tail}"
    if verdict.status == "fail" and _standing(verdict):
        unjudged = sum(_invalid(verdict, t) for t in results)
        return (
            f"FAIL: {failed} of {n} thresholds failed on the service's own answers; run "
            f"invalid, {unjudged} not judged{tail}"
        )
    if verdict.status == "fail" and not failed and verdict.message:
        # Stopped early (--fail-fast): no threshold says why it failed, the message does.
        return f"FAIL: {verdict.message}; 0 of {n} thresholds failed{notes}{tail}"
    if verdict.status == "fail":
        return f"FAIL: {failed} of {n} thresholds failed{notes}{tail}"
    if verdict.status == "invalid":
        return f"INVALID RUN: its figures cannot judge the service (reasons {reasons}){tail}"
    if verdict.status == "aborted":
        return (
            f"ABORTED: judged on what was measured; {failed} failed, {skipped} skipped of {n}{tail}"
        )
    return f"ERROR: {verdict.message or 'the run could not be carried out'}{tail}"


def _thresholds_table(verdict: Verdict, table_box: box.Box, text: _TextFn) -> Table:
    table = Table(box=table_box, title=None, show_edge=False)
    for name, justify in (
        ("threshold", "left"),
        ("during", "left"),
        ("observed", "right"),
        ("limit", "right"),
        ("n", "right"),
        ("result", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in verdict.thresholds:
        label, style = LABELS[result_key(verdict, t)]
        observed = "-" if t.observed is None else numbers.observed(t.observed, t.limit, t.unit)
        table.add_row(
            text(threshold_label(t) + (" (warn)" if t.severity == "warn" else "")),
            text(window_name(t)),
            text(observed),
            text(f"{t.op} {numbers.value(t.limit, t.unit)}"),
            text(numbers.count(t.samples)),
            text(label, style),
        )
    return table


def threshold_label(t: ThresholdResult) -> str:
    """The expression, and its window, for and warmup (``p95(http) < 200ms (window 30s)``):
    the scenario and stage have their own column."""
    return threshold_id(t.expr, window=t.window, for_=t.for_, warmup=t.warmup)


def window_name(t: ThresholdResult) -> str:
    """What a threshold judged: ``run``, a stage, or one scenario's (``api: run``,
    ``api: steady``)."""
    return f"{t.scenario}: {t.during or 'run'}" if t.scenario else t.during or "run"


def result_key(verdict: Verdict, t: ThresholdResult) -> str:
    """The key of a result's label in :data:`LABELS`: its status, or ``invalid`` for a
    result of an invalid run that is not a fact about the service."""
    return "invalid" if _invalid(verdict, t) else t.status


def _invalid(verdict: Verdict, t: ThresholdResult) -> bool:
    return t.status != "skipped" and verdict.untrusted(t)


def _metrics_table(verdict: Verdict, table_box: box.Box, text: _TextFn) -> Table | None:
    rows = [
        (name, m)
        for name, m in verdict.metrics.items()
        if name.split(".", 1)[0] in ("http", "ws", "ws_connect", "flow")
    ]
    if not rows:
        return None
    table = Table(box=table_box, show_edge=False)
    flows = any(name.startswith("flow.") for name, _m in rows)
    table.add_column("endpoint / channel" + (" / flow" if flows else ""))
    for name in ("count", "rps", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(name, justify="right")
    for name, m in rows:
        lat = m.latency_ms
        cells = [numbers.number(v) for v in (lat.p50, lat.p95, lat.p99, lat.max)] if lat else []
        errors = sum(m.errors.values())
        table.add_row(
            text(name, "bold" if "." not in name else ""),
            text(numbers.count(m.count)),
            text(numbers.number(m.rate) if m.rate is not None else "-"),
            text(numbers.count(errors), "red" if errors else ""),
            *(text(c) for c in cells or ["-"] * 4),
        )
    return table


def load_kinds(verdict: Verdict, models: Mapping[str, str] | None = None) -> frozenset[str] | None:
    """The models of the run's scenarios (``closed``, ``open``): ``models`` (from the plan)
    or the ones the verdict recorded; in verdicts written before they were, None when it
    cannot tell: several scenarios, some open (no planned arrivals: every one closed)."""
    models = models or verdict.scenario_models
    if models:
        return frozenset(models.values())
    if verdict.validity.planned is None:
        return frozenset({"closed"})
    return None if verdict.scenarios else frozenset({"open"})


def _scenarios_table(
    verdict: Verdict,
    table_box: box.Box,
    text: _TextFn,
    kinds: frozenset[str] | None,
    models: Mapping[str, str],
) -> Table:
    """Each scenario's own figures: its HTTP requests, and the most users it held (closed
    model) or requests it had in flight (open model), over its window."""
    table = Table(box=table_box, show_edge=False)
    table.add_column("scenario")
    for name in ("requests", "rps", "errors", "p95 ms"):
        table.add_column(name, justify="right")
    # One column per model the run has; with models unknown, one column for either.
    held = [k for k in ("closed", "open") if k in kinds] if kinds is not None else [None]
    for kind in held:
        heading = {"closed": "users", "open": "in flight", None: "users / in flight"}[kind]
        table.add_column(f"{heading} max", justify="right")
    for name, figures in verdict.scenarios.items():
        http, users = figures.get("http"), figures.get("users")
        lat = http.latency_ms if http is not None else None
        errors = sum(http.errors.values()) if http is not None else 0
        most = users.values.max if users is not None and users.values is not None else None
        mine = models.get(name) if kinds is not None and len(held) > 1 else None
        table.add_row(
            text(name, "bold"),
            text(numbers.count(http.count) if http is not None else "-"),
            text(numbers.number(http.rate) if http is not None and http.rate is not None else "-"),
            text(numbers.count(errors), "red" if errors else ""),
            text(numbers.number(lat.p95) if lat is not None else "-"),
            *(
                text(numbers.number(most) if most is not None and mine in (None, k) else "-")
                for k in held
            ),
        )
    return table


def _gauges_line(verdict: Verdict, kinds: frozenset[str] | None) -> str:
    parts = []
    rss = verdict.metrics.get("process.rss")
    if rss is not None and rss.values is not None:
        parts.append(f"service memory max {numbers.size(rss.values.max)}")
    cpu = verdict.metrics.get("process.cpu")
    if cpu is not None and cpu.values is not None:
        parts.append(f"service CPU p95 {numbers.number(cpu.values.p95)}%")
    users = verdict.metrics.get("users")
    if users is not None and users.values is not None:
        # An open-model run has no users: what it counts is the requests in flight; a run
        # of both kinds of scenario counts the two together.
        held = {"closed": "users held", "open": "in flight"}.get(
            next(iter(kinds)) if kinds is not None and len(kinds) == 1 else "",
            "users + in flight",
        )
        parts.append(f"{held} max {numbers.number(users.values.max)}")
    return "; ".join(parts)


class _TextFn(Protocol):
    def __call__(self, value: str, style: str = "") -> Text: ...
