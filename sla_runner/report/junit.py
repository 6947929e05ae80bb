"""JUnit XML: one ``<testsuite>`` per spec, one ``<testcase>`` per threshold.

Valid against the JUnit XSD the Jenkins xUnit plugin reads (``junit-10.xsd``); GitLab and
GitHub test reporters read the same shape.

Each case is named by its expression, with `` (during STAGE)`` when it judges one stage
(`` (scenario NAME)``, ``(scenario NAME, during STAGE)`` for one scenario's traffic), and
its ``window``, ``for`` and ``warmup`` when it is judged over windows (`` (window 30s)``,
`` (during steady, for 10s, warmup 5s)``): the JSON result's ``id``.

- a threshold that held: an empty ``<testcase>``;
- one that missed (severity fail): ``<failure type="ThresholdFailed">`` whose message is
  the verdict's (``p95(http) = 245.3 ms, limit < 200 ms (n=48,120)``) and whose body is
  a short table of the metric's figures; no data: ``<failure type="NoData">``;
- a ``warn`` threshold that missed passes, with the note in its ``<system-out>``;
- a threshold not judged (``skipped`` in the JSON: a stage an aborted run never reached, a
  window it cut short, a segment's share of the load, a run that could not be carried
  out): ``<skipped>`` with the reason;
- in an invalid run, every result that is not a fact about the service (``trusted: false``
  in the JSON): ``<error type="InvalidRun">`` with the reasons; a failure that stands
  (see :mod:`sla_runner.judge.validity`) stays a ``<failure>``, the reasons in its body.

One more case, ``run``, says why the run did not pass when no threshold case does: an
aborted run (``<error type="Aborted">``), one that could not be carried out
(``<error type="RunError">``), one stopped by ``--fail-fast`` (``<failure
type="StoppedEarly">``), an invalid one whose every threshold was skipped (``<error
type="InvalidRun">``).

Times add up: the suite's ``time`` is the run's duration, shared out among its cases in
whole milliseconds (they are judged together, over one run), so reporters that sum the
cases show the run's time. Each threshold's window (its ``during`` stage, or the run, as
far as it ran) is the suite property ``window_s.<case name>``.

The suite's ``<properties>`` identify the spec and the run (and where the verdict came
from, when known: ``spec.git.commit`` and ``.state``, ``runner.git.commit`` and ``.state``,
``run.ci.<field>`` for each field of the CI job that is set); its ``<system-out>`` holds
the status, the findings, the validity reasons and the warnings. Every text is redacted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sla_runner import numbers
from sla_runner.redact import effective, masked
from sla_runner.report.files import write_atomic
from sla_runner.verdict import MetricSummary, Percentiles, ThresholdResult, Verdict

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_Clean = Callable[[str], str]  # redacts and drops characters XML cannot hold
_COLUMNS = ("min", "p50", "p90", "p95", "p99", "p99.9", "max")


def xml_clean(secrets: frozenset[str]) -> _Clean:
    """A function that redacts a text and drops the characters XML cannot hold."""
    masks = effective(secrets)

    def clean(text: str) -> str:
        return _XML_ILLEGAL.sub("\N{REPLACEMENT CHARACTER}", masked(text, masks))

    return clean


def junit_document(name: str, time: str, suites: Sequence[ET.Element]) -> str:
    """``<testsuites>`` around ``suites``, its counts their sums."""
    root = ET.Element("testsuites")
    root.set("name", name)
    root.set("time", time)
    for count in ("tests", "failures", "errors"):
        root.set(count, str(sum(int(s.get(count, "0")) for s in suites)))
    root.extend(suites)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def verdict_to_junit(
    verdict: Verdict,
    *,
    secrets: frozenset[str] = frozenset(),
    more: Callable[[_Clean], Sequence[ET.Element]] | None = None,
) -> str:
    """The JUnit XML text of a verdict; ``more`` makes suites to follow the verdict's (a
    comparison with a baseline) with the same cleaning function."""
    clean = xml_clean(secrets)
    suites = [_suite(verdict, clean), *(more(clean) if more else ())]
    return junit_document(
        clean(f"sla-runner {verdict.spec.name}"), _time(verdict.run.duration_s), suites
    )


def write_junit(
    path: Path | str,
    verdict: Verdict,
    *,
    secrets: frozenset[str] = frozenset(),
    more: Callable[[_Clean], Sequence[ET.Element]] | None = None,
) -> Path:
    """Write the JUnit XML report atomically."""
    return write_atomic(path, verdict_to_junit(verdict, secrets=secrets, more=more))


def _cases(verdict: Verdict, clean: _Clean) -> tuple[list[ET.Element], ET.Element | None]:
    """A case per threshold, and the run's own case when it needs one."""
    cases = [_case(verdict, t, clean) for t in verdict.thresholds]
    red = any(c.find("failure") is not None or c.find("error") is not None for c in cases)
    # A reader of the JUnit alone must see what the exit code says: an aborted run, or a
    # failed one no threshold case shows (--fail-fast, a run that never started), gets a
    # case of its own.
    if verdict.status == "aborted" or (verdict.status != "pass" and not red):
        return cases, _run_case(verdict, clean)
    return cases, None


@dataclass(frozen=True)
class CaseOutcome:
    """A JUnit case read back: what the pytest plugin makes of each threshold."""

    name: str
    result: Literal["passed", "failure", "error", "skipped"]
    message: str  # the failure's, error's or skip's message; empty when it passed
    text: str  # the failure's or error's body; a passing case's note (a missed warning)


def case_outcomes(
    verdict: Verdict, *, secrets: frozenset[str] = frozenset()
) -> tuple[list[CaseOutcome], CaseOutcome | None]:
    """Each threshold's case as the JUnit report has it, and the run's case when the
    report has one (an aborted run, one that could not be carried out...)."""
    cases, run = _cases(verdict, xml_clean(secrets))
    return [_outcome(c) for c in cases], None if run is None else _outcome(run)


def _outcome(case: ET.Element) -> CaseOutcome:
    name = case.get("name", "")
    for tag in ("failure", "error", "skipped"):
        found = case.find(tag)
        if found is not None:
            return CaseOutcome(name, tag, found.get("message", ""), found.text or "")
    out = case.find("system-out")
    return CaseOutcome(name, "passed", "", "" if out is None else out.text or "")


def _suite(verdict: Verdict, clean: _Clean) -> ET.Element:
    spec, run = verdict.spec, verdict.run
    suite = ET.Element("testsuite")
    cases, run_case = _cases(verdict, clean)
    if run_case is not None:
        cases.append(run_case)
    for case, share in zip(cases, _shares(run.duration_s, len(cases)), strict=True):
        case.set("time", share)
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for case in cases:
        for kind in counts:
            counts[kind] += case.find(kind) is not None
    suite.set("name", clean(f"{spec.name} {spec.sla_version}"))
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", _time(run.duration_s))
    suite.set("timestamp", _timestamp(run.started_at))
    suite.set("hostname", clean(run.host))
    suite.set("id", "0")
    suite.set("package", clean(f"sla.{spec.name}"))
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("spec.name", spec.name),
        ("spec.sla_version", spec.sla_version),
        ("spec.sha256", spec.sha256),
        ("spec.path", spec.path),
        ("runner.version", run.runner_version),
        ("run.base_url", run.base_url),
        ("run.started_at", run.started_at or ""),
        ("run.segment", run.segment),
        ("run.engine", run.engine or ""),
        ("verdict.status", verdict.status),
        ("verdict.exit_code", str(verdict.exit_code)),
        *((("spec.owner", spec.owner),) if spec.owner else ()),
        *_provenance(verdict),
        *((f"label.{key}", value) for key, value in sorted(spec.labels.items())),
        *((f"run.override.{key}", value) for key, value in sorted(run.overrides.items())),
        *((f"window_s.{case_name(t)}", _time(t.window_s)) for t in verdict.thresholds),
    ):
        ET.SubElement(properties, "property", {"name": clean(name), "value": clean(value)})
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = clean(_suite_out(verdict))
    return suite


def _provenance(verdict: Verdict) -> list[tuple[str, str]]:
    """``spec.git.commit``, ``runner.git.commit``, ``run.ci.run_id``…: the verdict's
    provenance, each field that is set, named as the JSON names it."""
    spec, run = verdict.spec, verdict.run
    pairs: list[tuple[str, str]] = []
    for prefix, git in (("spec.git", spec.git), ("runner.git", run.runner_git)):
        if git is not None:
            pairs += [(f"{prefix}.commit", git.commit), (f"{prefix}.state", git.state)]
    if run.ci is not None:
        fields = run.ci.model_dump()
        pairs += [(f"run.ci.{key}", value) for key, value in fields.items() if value is not None]
    return pairs


def case_name(t: ThresholdResult) -> str:
    """The expression, and its scenario, stage, window, for and warmup when it has them: CI
    tools key test cases by name, so ``p95(http) < 200ms`` over the run, during a stage, of
    one scenario or over windows must not share one (``p95(http) < 200ms (scenario api,
    during steady)``, ``p95(http) < 200ms (window 30s)``): the result's ``id``."""
    return t.id


def _case(verdict: Verdict, t: ThresholdResult, clean: _Clean) -> ET.Element:
    case = ET.Element("testcase")
    case.set("name", clean(case_name(t)))
    case.set("classname", clean(f"sla.{verdict.spec.name}"))
    reasons = verdict.validity.reasons
    if t.status == "skipped":
        ET.SubElement(case, "skipped", {"message": clean(t.message)})
    elif verdict.untrusted(t):
        ET.SubElement(
            case,
            "error",
            {"type": "InvalidRun", "message": clean("invalid run: " + "; ".join(reasons))},
        ).text = clean("\n".join([*reasons, "", f"as measured: {t.message}"]))
    elif t.status in ("fail", "no_data") and t.severity == "fail":
        kind = "NoData" if t.status == "no_data" else "ThresholdFailed"
        lines = [t.message, *_figures(verdict, t)]
        if not verdict.validity.valid:
            lines += ["", _STANDS, *(f"- {reason}" for reason in reasons)]
        ET.SubElement(case, "failure", {"type": kind, "message": clean(t.message)}).text = clean(
            "\n".join(lines)
        )
    elif t.passed is False:  # a warn threshold that missed: passes, with the note
        note = f"WARN (severity warn, does not fail the run): {t.message}"
        ET.SubElement(case, "system-out").text = clean("\n".join([note, *_figures(verdict, t)]))
    return case


def _run_case(verdict: Verdict, clean: _Clean) -> ET.Element:
    """The run itself as a test case: why it did not pass when no threshold case says so."""
    case = ET.Element("testcase", {"name": "run", "classname": clean(f"sla.{verdict.spec.name}")})
    message = verdict.message or ""
    if verdict.status == "error":
        kind, tag = "RunError", "error"
        message = message or "the run could not be carried out"
    elif verdict.status == "invalid":
        kind, tag = "InvalidRun", "error"
        message = "; ".join(verdict.validity.reasons)
    elif verdict.status == "aborted":
        kind, tag = "Aborted", "error"
        message = message or "the run was interrupted; the figures cover the part that ran"
    else:
        kind, tag = "StoppedEarly", "failure"
        message = message or "the run failed"
    ET.SubElement(case, tag, {"type": kind, "message": clean(message)}).text = clean(
        "\n".join(verdict.notes)
    )
    return case


_STANDS = (
    "This failure stands although the run is invalid: no generator causes it "
    "(the service's own answers fail the threshold). The run is invalid because:"
)


def _figures(verdict: Verdict, t: ThresholdResult) -> list[str]:
    """The threshold's description and a short table of its metric's figures."""
    selector = f"{t.metric}.{t.scope}" if t.scope else t.metric
    lines = [t.description] if t.description else []
    summary = verdict.metrics.get(selector)
    if summary is not None:
        lines += ["", *summary_table(selector, summary)]
    return lines


def summary_table(selector: str, summary: MetricSummary) -> list[str]:
    """A few lines of plain text: counts, errors by kind, and the percentiles."""
    lines: list[str] = []
    figures: Percentiles | None = summary.latency_ms or summary.values
    unit = "ms" if summary.latency_ms is not None else (summary.unit or "")
    head = f"{selector} over the whole run: {_counted(summary.count, 'sample')}"
    if summary.rate is not None:
        head += f", {numbers.number(summary.rate)}/s"
    errors = sum(summary.errors.values())
    if summary.latency_ms is not None or summary.errors:
        head += f", {_counted(errors, 'error')}"
        if summary.errors:
            kinds = ", ".join(f"{k} {numbers.count(n)}" for k, n in summary.errors.items())
            head += f" ({kinds})"
    lines.append(head)
    if figures is not None:
        data = figures.model_dump(by_alias=True)
        cells = [
            numbers.size(data[c]) if unit == "B" else numbers.number(data[c]) for c in _COLUMNS
        ]
        width = max(6, *(len(c) for c in cells))
        label = "" if unit in ("B", "users") else f" ({unit})"
        lines.append("  ".join(c.rjust(width) for c in _COLUMNS) + label)
        lines.append("  ".join(c.rjust(width) for c in cells))
    return lines


def _counted(n: int, noun: str) -> str:
    """``1 error``, ``1,204 errors``."""
    return f"{numbers.count(n)} {noun}{'' if n == 1 else 's'}"


def _suite_out(verdict: Verdict) -> str:
    failed = sum(not verdict.untrusted(t) for t in verdict.failed)
    lines = [f"status: {verdict.status} (exit code {verdict.exit_code})"]
    if verdict.message:
        lines.append(f"{'error' if verdict.status == 'error' else 'why'}: {verdict.message}")
    warned = sum(t.severity == "warn" and t.passed is False for t in verdict.thresholds)
    skipped = sum(t.status == "skipped" for t in verdict.thresholds)
    lines.append(
        f"thresholds: {len(verdict.thresholds)}, failed: {failed}, warned: {warned}, "
        f"skipped: {skipped}"
    )
    if not verdict.validity.valid and verdict.status != "error":
        lines.append(f"not judged (invalid run): {sum(map(verdict.untrusted, verdict.thresholds))}")
    for heading, items in (
        ("validity", verdict.validity.reasons),
        ("findings", verdict.findings),
        ("warnings", verdict.run.warnings),
        ("notes", verdict.notes),
    ):
        if items:
            lines += ["", f"{heading}:", *(f"- {item}" for item in items)]
    return "\n".join(lines)


def _time(seconds: float) -> str:
    return f"{max(seconds, 0.0):.3f}"


def _shares(seconds: float, n: int) -> list[str]:
    """``seconds`` shared out among ``n`` cases in whole milliseconds, adding up exactly."""
    total_ms = max(round(seconds * 1000), 0)
    each, extra = divmod(total_ms, n) if n else (0, 0)
    return [_time((each + (i < extra)) / 1000) for i in range(n)]


def _timestamp(iso: str | None) -> str:
    """JUnit's timestamp: ISO 8601 without a zone (UTC), e.g. 2026-01-01T00:00:00."""
    return iso[:19] if iso else ""
