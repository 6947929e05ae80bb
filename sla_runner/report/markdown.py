"""The Markdown summary (``--summary-md``): GitHub-flavoured Markdown for
``$GITHUB_STEP_SUMMARY`` or a merge-request comment.

The status and why; a table of the thresholds (result, threshold, window, observed, limit,
margin, samples), or, for a run that could not be carried out, as the console has it, the
cause once, then one line for the thresholds it left unjudged; the top findings; a
comparison with a baseline when there is one; one line of provenance. Every value from
the verdict is redacted and escaped: each character that could change the document's
structure (``|`` would end a table cell, a backtick open code, ``<`` start HTML, ``*`` ``_``
``~`` emphasis, ``[`` ``]`` a link, ``&`` an entity, ``$`` GitHub's maths, a backslash an
escape) is backslash-escaped, and line breaks become spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sla_runner import numbers
from sla_runner.comparison import Comparison
from sla_runner.redact import effective, masked
from sla_runner.report.comparison import status_line as comparison_status
from sla_runner.report.console import (
    LABELS,
    not_judged,
    result_key,
    status_line,
    threshold_label,
    validity_items,
    window_name,
)
from sla_runner.report.files import write_atomic
from sla_runner.verdict import Verdict
from sla_runner.verdict_provenance import commit_text

TOP_FINDINGS = 5
_ICONS = {
    "pass": "✅",
    "fail": "❌",
    "no_data": "❌",
    "warn": "⚠️",
    "skipped": "⏭️",
    "invalid": "❔",
    "error": "❌",
    "aborted": "⏹️",
    "regressed": "❌",
    "held": "✅",
    "improved": "✅",
}
_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|~&$])")


def md(text: str) -> str:
    """``text`` as literal Markdown text: punctuation escaped, on one line."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def verdict_markdown(
    verdict: Verdict,
    *,
    secrets: frozenset[str] = frozenset(),
    comparison: Comparison | None = None,
) -> str:
    masks = effective(secrets)

    def esc(text: str) -> str:
        return md(masked(text, masks))

    v = verdict
    lines = [
        f"### {_ICONS[v.status]} {esc(v.status.upper())}: {esc(v.spec.name)} "
        f"{esc(v.spec.sla_version)}",
        "",
        esc(status_line(v, reasons="below")),
    ]
    if v.status == "error":
        # As the console: the status line is the cause, said once; what it left unjudged is
        # one line, not a table of SKIP rows (the JUnit and JSON reports list each one).
        if v.thresholds:
            lines += ["", esc(not_judged(v))]
    elif v.message:
        lines += ["", f"**Why:** {esc(v.message)}"]
    invalid = validity_items(v) if not v.validity.valid else []
    if invalid:
        lines += ["", "**Run invalid:**", *(f"- {esc(r)}" for r in invalid)]
    if v.thresholds and v.status != "error":
        lines += [
            "",
            "| result | threshold | window | observed | limit | margin | n |",
            "|---|---|---|--:|--:|--:|--:|",
        ]
        for t in v.thresholds:
            key = result_key(v, t)
            observed = "-" if t.observed is None else numbers.observed(t.observed, t.limit, t.unit)
            margin = "-" if t.margin is None else numbers.value(t.margin, t.unit)
            if t.margin is not None and t.margin >= 0:
                margin = "+" + margin
            cells = [
                f"{_ICONS[key]} {LABELS[key][0]}",
                threshold_label(t) + (" (warn)" if t.severity == "warn" else ""),
                window_name(t),
                observed,
                f"{t.op} {numbers.value(t.limit, t.unit)}",
                margin,
                numbers.count(t.samples),
            ]
            lines.append("| " + " | ".join(esc(c) for c in cells) + " |")
    if v.findings:
        lines += ["", "**Findings**", *(f"- {esc(f)}" for f in v.findings[:TOP_FINDINGS])]
        if len(v.findings) > TOP_FINDINGS:
            lines.append(f"- and {len(v.findings) - TOP_FINDINGS} more in the full report")
    if comparison is not None:
        lines += ["", *comparison_lines(comparison, esc)]
    run = v.run
    origin = [f"commit {commit_text(v.spec.git)}"] if v.spec.git else []
    origin += [run.ci.describe()] if run.ci else []
    lines += [
        "",
        f"<sub>{esc(v.spec.path)} · sha256 {esc(v.spec.sha256[:12])} · "
        + "".join(f"{esc(part)} · " for part in origin)
        + f"started {esc(run.started_at or 'unknown')} · "
        f"{esc(numbers.number(run.duration_s))} s · segment {esc(run.segment)} · "
        f"sla-runner {esc(run.runner_version)}</sub>",
    ]
    return "\n".join(lines) + "\n"


def comparison_lines(comparison: Comparison, esc: Callable[[str], str] = md) -> list[str]:
    """The comparison: its status, then a table of the figures that did not hold (all of
    them when none changed beyond the tolerance would be a long table of "held")."""
    c = comparison
    lines = [
        f"#### {_ICONS['regressed' if c.regressed else 'held']} Against the baseline",
        "",
        esc(comparison_status(c)),
        "",
        f"Baseline {esc(c.baseline.path)} ({esc(c.baseline.status)}, "
        f"{esc(c.baseline.started_at or 'time unknown')}); tolerance "
        f"{esc(numbers.number(c.tolerance_pct))}%, noise floor "
        f"{esc(numbers.number(c.noise_floor_ms))} ms.",
    ]
    lines += [f"- compared although {esc(d)}" for d in c.spec_changes]
    lines += [f"- {esc(n)}" for n in c.notes]
    shown = [f for f in c.figures if f.status != "held"]
    if shown:
        lines += ["", "| result | figure | baseline | new | change |", "|---|---|--:|--:|--:|"]
        for f in shown:
            change = numbers.value(f.change, f.unit)
            change = change if f.change < 0 else "+" + change
            if f.change_pct is not None:
                change += f" ({f.change_pct:+.1f}%)"
            cells = [
                f"{_ICONS[f.status]} {f.status}",
                f.name,
                numbers.value(f.baseline, f.unit),
                numbers.value(f.new, f.unit),
                change,
            ]
            lines.append("| " + " | ".join(esc(x) for x in cells) + " |")
    return lines


def comparison_markdown(comparison: Comparison, *, secrets: frozenset[str] = frozenset()) -> str:
    masks = effective(secrets)
    return "\n".join(comparison_lines(comparison, lambda t: md(masked(t, masks)))) + "\n"


def write_markdown(path: Path | str, text: str) -> Path:
    return write_atomic(path, text)
