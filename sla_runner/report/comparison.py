"""A comparison with a baseline written out: the console table, the JSON document
(``sla-runner/comparison``), and JUnit with one ``<testcase>`` per compared figure.

JUnit: one ``<testsuite>`` named ``SPEC SLA_VERSION against the baseline``; each case is
named as the figure (``p95(http.list-items)``, ``success_rate(http)``, ``rate(http)``),
classname ``sla.SPEC.baseline``; a figure that regressed is a ``<failure
type="Regression">`` whose message says by how much; an improved one passes with the note
in its ``<system-out>``; a percentile too few samples resolve is ``<skipped>``.
``compare --junit`` writes this suite alone; ``run --baseline`` adds it to the run's JUnit
after the run's own suite. Every text is redacted.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sla_runner import numbers
from sla_runner.comparison import ComparedFigure, Comparison, UnresolvedFigure
from sla_runner.redact import effective, masked
from sla_runner.report.console import console_for
from sla_runner.report.files import write_atomic
from sla_runner.report.html_tables import signed
from sla_runner.report.junit import junit_document, xml_clean

_LABELS = {
    "regressed": ("REGRESSED", "bold red"),
    "held": ("held", ""),
    "improved": ("better", "green"),
    "unresolved": ("too few samples", "dim"),
}
_ORDER = ("p50", "p95", "p99", "success_rate", "throughput")


def table_rows(comparison: Comparison) -> list[ComparedFigure | UnresolvedFigure]:
    """The figures compared and those not (too few samples), in the judge's order: metric
    by metric (the run's, then each scenario's), p50 … throughput within each."""
    rows: list[ComparedFigure | UnresolvedFigure] = [*comparison.figures, *comparison.unresolved]
    groups: dict[tuple[str | None, str], int] = {}
    for f in rows:
        groups.setdefault((f.scenario, f.metric), len(groups))
    return sorted(
        rows,
        key=lambda f: (groups[(f.scenario, f.metric)], _ORDER.index(f.figure)),
    )


def status_of(figure: ComparedFigure | UnresolvedFigure) -> str:
    """regressed, held, improved, or unresolved (not compared: too few samples)."""
    return figure.status if isinstance(figure, ComparedFigure) else "unresolved"


def comparison_to_json(comparison: Comparison, *, secrets: frozenset[str] = frozenset()) -> str:
    text = json.dumps(comparison.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return masked(text, effective(secrets)) + "\n"


def write_comparison_json(
    path: Path | str, comparison: Comparison, *, secrets: frozenset[str] = frozenset()
) -> Path:
    return write_atomic(path, comparison_to_json(comparison, secrets=secrets))


def comparison_suite(comparison: Comparison, clean: Callable[[str], str]) -> ET.Element:
    """The ``<testsuite>`` of a comparison: one case per compared figure."""
    new, base = comparison.new, comparison.baseline
    suite = ET.Element("testsuite")
    suite.set("name", clean(f"{new.spec} {new.sla_version} against the baseline"))
    failures = len(comparison.regressed)
    rows = table_rows(comparison)
    for name, value in (
        ("tests", str(len(rows))),
        ("failures", str(failures)),
        ("errors", "0"),
        ("skipped", str(len(comparison.unresolved))),
        ("time", "0.000"),
        ("id", "1"),
        ("package", clean(f"sla.{new.spec}.baseline")),
    ):
        suite.set(name, value)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("baseline.path", base.path),
        ("baseline.sha256", base.sha256),
        ("baseline.status", base.status),
        ("baseline.started_at", base.started_at or ""),
        ("baseline.sla_version", base.sla_version),
        ("new.path", new.path),
        ("new.sha256", new.sha256),
        ("new.sla_version", new.sla_version),
        ("new.status", new.status),
        ("new.started_at", new.started_at or ""),
        ("comparison.status", comparison.status),
        ("comparison.tolerance_pct", numbers.number(comparison.tolerance_pct)),
        ("comparison.noise_floor_ms", numbers.number(comparison.noise_floor_ms)),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": clean(value)})
    for figure in rows:
        case = ET.SubElement(suite, "testcase")
        case.set("name", clean(figure.name))
        case.set("classname", clean(f"sla.{new.spec}.baseline"))
        case.set("time", "0.000")
        if isinstance(figure, UnresolvedFigure):
            ET.SubElement(case, "skipped", {"message": clean(figure.message)})
        elif figure.status == "regressed":
            ET.SubElement(
                case, "failure", {"type": "Regression", "message": clean(figure.message)}
            ).text = clean(figure.message)
        elif figure.status == "improved":
            ET.SubElement(case, "system-out").text = clean(figure.message)
    ET.SubElement(suite, "system-out").text = clean("\n".join(summary_lines(comparison)))
    return suite


def comparison_to_junit(comparison: Comparison, *, secrets: frozenset[str] = frozenset()) -> str:
    clean = xml_clean(secrets)
    name = f"sla-runner {comparison.new.spec} against the baseline"
    return junit_document(clean(name), "0.000", [comparison_suite(comparison, clean)])


def write_comparison_junit(
    path: Path | str, comparison: Comparison, *, secrets: frozenset[str] = frozenset()
) -> Path:
    return write_atomic(path, comparison_to_junit(comparison, secrets=secrets))


def status_line(comparison: Comparison) -> str:
    """``REGRESSION: 2 of 15 figures got worse beyond the tolerance, 1 better; 4 not
    compared, too few samples (exit code 1)``."""
    n, worse = len(comparison.figures), len(comparison.regressed)
    better = sum(f.status == "improved" for f in comparison.figures)
    unresolved = len(comparison.unresolved)
    tail = (
        f"{f', {better} better' if better else ''}"
        f"{f'; {unresolved} not compared, too few samples' if unresolved else ''}"
        f" (exit code {comparison.exit_code})"
    )
    if worse:
        return f"REGRESSION: {worse} of {n} figures got worse beyond the tolerance{tail}"
    return f"NO REGRESSION: none of {n} figures got worse beyond the tolerance{tail}"


def summary_lines(comparison: Comparison) -> list[str]:
    """The head, the differences allowed, the notes and the status, as plain lines."""
    base, new = comparison.baseline, comparison.new
    lines = [
        f"{new.spec} {new.sla_version}: {new.path} ({new.status}) against the baseline "
        f"{base.path} ({base.status}, {base.started_at or 'time unknown'})",
        f"tolerance {numbers.number(comparison.tolerance_pct)}%, noise floor "
        f"{numbers.number(comparison.noise_floor_ms)} ms, success-rate floor "
        f"{numbers.number(comparison.success_floor_pct)} points; a percentile is compared "
        f"when each run has {comparison.min_samples_beyond} samples beyond it, by its "
        f"{numbers.number(comparison.confidence_pct)}% interval",
    ]
    lines += [f"compared although {d}" for d in comparison.spec_changes]
    lines += [f"note: {n}" for n in comparison.notes]
    lines.append(status_line(comparison))
    return lines


def signed_change(f: ComparedFigure | UnresolvedFigure) -> str:
    """``+1.26 ms (+21.8%)``; the change of a figure not compared, without its percentage."""
    if isinstance(f, UnresolvedFigure):
        return signed(numbers.stored(f.new - f.baseline, f.unit), f.unit, None)
    return signed(f.change, f.unit, f.change_pct)


def print_comparison(
    comparison: Comparison,
    out: Console | TextIO | None = None,
    *,
    secrets: frozenset[str] = frozenset(),
) -> None:
    """The comparison as a table: each figure's baseline, new value, change and result."""
    console = console_for(out)
    plain = not console.is_terminal
    masks = effective(secrets)

    def text(value: str, style: str = "") -> Text:
        return Text(masked(value, masks), style="" if plain else style)

    head, tolerance, *rest = summary_lines(comparison)
    console.print(text(head, "bold"), soft_wrap=plain)
    console.print(text(tolerance, "dim"), soft_wrap=plain)
    table = Table(box=box.ASCII2 if plain else box.SIMPLE_HEAVY, show_edge=False)
    for name, justify in (
        ("figure", "left"),
        ("baseline", "right"),
        ("new", "right"),
        ("change", "right"),
        ("result", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for f in table_rows(comparison):
        label, style = _LABELS[status_of(f)]
        table.add_row(
            text(f.name),
            text(numbers.value(f.baseline, f.unit)),
            text(numbers.value(f.new, f.unit)),
            text(signed_change(f)),
            text(label, style),
        )
    if comparison.figures or comparison.unresolved:
        console.print(table)
    for line in rest[:-1]:
        console.print(text(line, "yellow"), soft_wrap=plain)
    style = "bold red" if comparison.regressed else "bold green"
    console.print(text(rest[-1], style), soft_wrap=plain)
