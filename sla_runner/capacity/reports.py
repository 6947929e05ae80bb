"""The capacity search's reports: the JSON document and JUnit XML, written atomically and
redacted, each attempted whatever happened to the other.

JUnit: one ``<testsuite>`` (``capacity <spec> <sla_version>``), one ``<testcase>`` per
threshold as judged at the found capacity (named by its expression; the level is the suite
property ``capacity.level``), and, when the spec promises a capacity, a case ``capacity >=
100 users`` (or ``>= 500/s``): a ``<failure type="CapacityBelowPromise">`` when it does not
hold, an ``<error type="GeneratorLimit">`` when the generator's limit came first. Without a
found capacity the threshold cases are those of the lowest level measured. A search that did
not pass and that no case shows red gets a case ``capacity`` saying why.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from sla_runner.capacity.document import CapacityDocument, Step
from sla_runner.errors import EXIT_RUN_ERROR, ReportError
from sla_runner.redact import effective, masked, redact_data
from sla_runner.report.files import write_atomic

__all__ = ["capacity_to_json", "capacity_to_junit", "source_step", "write_capacity_reports"]

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def capacity_to_json(document: CapacityDocument, *, secrets: frozenset[str] = frozenset()) -> str:
    data = redact_data(document.model_dump(mode="json"), secrets)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def source_step(document: CapacityDocument) -> Step | None:
    """The step whose thresholds the JUnit shows: at the capacity, else the lowest measured."""
    if document.capacity is not None:
        return document.step_at(document.capacity)
    return min(document.steps, key=lambda s: s.level) if document.steps else None


def capacity_to_junit(document: CapacityDocument, *, secrets: frozenset[str] = frozenset()) -> str:
    masks = effective(secrets)

    def clean(text: str) -> str:
        return _XML_ILLEGAL.sub("\N{REPLACEMENT CHARACTER}", masked(text, masks))

    spec = document.spec
    classname = clean(f"capacity.{spec.name}")
    cases: list[ET.Element] = []
    step = source_step(document)
    for t in step.thresholds if step is not None else []:
        case = ET.Element("testcase", {"name": clean(t.id or t.expr), "classname": classname})
        if t.status == "skipped":
            ET.SubElement(case, "skipped", {"message": clean(t.message)})
        elif step is not None and step.outcome == "invalid":
            reasons = "; ".join(step.reasons)
            ET.SubElement(case, "error", {"type": "InvalidRun", "message": clean(reasons)})
        elif t.severity == "fail" and t.status in ("fail", "no_data"):
            kind = "NoData" if t.status == "no_data" else "ThresholdFailed"
            ET.SubElement(case, "failure", {"type": kind, "message": clean(t.message)})
        cases.append(case)
    promise = document.promise
    if promise is not None:
        case = ET.Element("testcase", {"name": clean(promise.expr), "classname": classname})
        if promise.holds is False:
            ET.SubElement(
                case, "failure", {"type": "CapacityBelowPromise", "message": clean(promise.message)}
            ).text = clean(document.message)
        elif promise.holds is None:
            ET.SubElement(
                case, "error", {"type": "GeneratorLimit", "message": clean(promise.message)}
            ).text = clean(document.message)
        cases.append(case)
    red = any(c.find("failure") is not None or c.find("error") is not None for c in cases)
    if document.status != "pass" and not red:
        case = ET.Element("testcase", {"name": "capacity", "classname": classname})
        tag, kind = ("failure", "CapacityFailed") if document.status == "fail" else ("error", "")
        kind = kind or {"invalid": "GeneratorLimit", "error": "RunError"}.get(
            document.status, "Aborted"
        )
        ET.SubElement(case, tag, {"type": kind, "message": clean(document.message)})
        cases.append(case)
    suite = ET.Element("testsuite")
    suite.set("name", clean(f"capacity {spec.name} {spec.sla_version}"))
    suite.set("tests", str(len(cases)))
    for kind, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(c.find(kind) is not None for c in cases)))
    duration = max(document.run.duration_s, 0.0)
    suite.set("time", f"{duration:.3f}")
    suite.set("timestamp", (document.run.started_at or "")[:19])
    suite.set("hostname", clean(document.run.host))
    suite.set("id", "0")
    suite.set("package", classname)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("spec.name", spec.name),
        ("spec.sla_version", spec.sla_version),
        ("spec.sha256", spec.sha256),
        ("spec.path", spec.path),
        ("capacity.scenario", document.search.scenario),
        ("capacity.unit", document.search.unit),
        ("capacity.level", "" if document.capacity is None else str(document.capacity)),
        ("capacity.at_least", str(document.at_least).lower()),
        ("capacity.status", document.status),
        ("capacity.exit_code", str(document.exit_code)),
    ):
        ET.SubElement(properties, "property", {"name": clean(name), "value": clean(value)})
    total_ms = round(duration * 1000)
    each, extra = divmod(total_ms, len(cases)) if cases else (0, 0)
    for i, case in enumerate(cases):
        case.set("time", f"{(each + (i < extra)) / 1000:.3f}")
    suite.extend(cases)
    lines = [f"status: {document.status} (exit code {document.exit_code})", document.message]
    lines += [f"- {finding}" for finding in document.findings]
    ET.SubElement(suite, "system-out").text = clean("\n".join(lines))
    root = ET.Element("testsuites")
    root.set("name", clean(f"sla-runner capacity {spec.name}"))
    root.set("time", f"{duration:.3f}")
    for name in ("tests", "failures", "errors"):
        root.set(name, suite.get(name, "0"))
    root.append(suite)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_capacity_reports(
    document: CapacityDocument,
    *,
    junit: Path | str | None = None,
    json_path: Path | str | None = None,
    secrets: frozenset[str] = frozenset(),
) -> tuple[list[Path], list[ReportError], int]:
    """Write what was asked for: the paths written, the errors, and the exit code (the
    document's, or 3 when a report could not be written)."""
    written: list[Path] = []
    failed: list[ReportError] = []
    writers: tuple[tuple[Path | str | None, Callable[..., str]], ...] = (
        (junit, capacity_to_junit),
        (json_path, capacity_to_json),
    )
    for path, render in writers:
        if path is None:
            continue
        try:
            written.append(write_atomic(path, render(document, secrets=secrets)))
        except ReportError as exc:
            failed.append(exc)
    code = max(document.exit_code, EXIT_RUN_ERROR) if failed else document.exit_code
    return written, failed, code
