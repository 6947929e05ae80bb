"""The HTML report (``--html``, ``sla-runner report``): one self-contained file from the
verdict alone, readable without a server or a network.

At the top the verdict (status, why, validity); the thresholds (observed, limit, margin,
window); the findings; a comparison with a baseline when there is one; the charts over
time on one shared time axis and the latency distributions (:mod:`.html_charts`); the
figures per endpoint and channel; the spec and run it came from.

Self-contained: styles and the one small script (a cursor the charts over time share) are
inline, the charts are SVG written here, and a Content-Security-Policy forbids every
fetch, so a report opened from an artefact store loads nothing from anywhere. Every text
from the verdict is redacted again and HTML-escaped (element text and attribute values);
the script reads the charts' figures from ``data-`` attributes and writes only
``textContent``.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path

from sla_runner import numbers
from sla_runner._version import __version__
from sla_runner.comparison import Comparison
from sla_runner.redact import effective, masked
from sla_runner.report.comparison import signed_change, status_of, table_rows
from sla_runner.report.comparison import status_line as comparison_status
from sla_runner.report.console import (
    LABELS,
    load_kinds,
    result_key,
    status_line,
    threshold_label,
    window_name,
)
from sla_runner.report.files import write_atomic
from sla_runner.report.html_charts import distributions, over_time
from sla_runner.report.html_tables import metric_tables, table_head, ul
from sla_runner.report.progress import held as held_name
from sla_runner.verdict import Verdict
from sla_runner.verdict_provenance import commit_text

_SCRIPT = """\
(function () {
  "use strict";
  var charts = Array.prototype.slice.call(document.querySelectorAll("svg.chart.time"));
  var lines = charts.map(function (c) { return JSON.parse(c.getAttribute("data-lines")); });
  function when(i, step) {
    var s = i * step;
    return step > 1 ? s + "-" + (s + step) + "s" : s + "s";
  }
  function show(i) {
    charts.forEach(function (c, n) {
      var cursor = c.querySelector(".cursor"), readout = c.querySelector(".readout");
      var buckets = +c.getAttribute("data-buckets");
      if (i === null || i >= buckets) {
        cursor.setAttribute("visibility", "hidden");
        readout.textContent = "";
        return;
      }
      var left = +c.getAttribute("data-left"), width = +c.getAttribute("data-plot-width");
      var x = left + width * (i + 0.5) / buckets;
      cursor.setAttribute("x1", x);
      cursor.setAttribute("x2", x);
      cursor.setAttribute("visibility", "visible");
      var parts = lines[n].filter(function (l) { return l.values[i] !== null; })
        .map(function (l) { return l.label + " " + l.values[i]; });
      readout.textContent = when(i, +c.getAttribute("data-step")) + ": " + parts.join(", ");
    });
  }
  charts.forEach(function (c) {
    c.addEventListener("pointermove", function (ev) {
      var box = c.getBoundingClientRect(), view = c.viewBox.baseVal.width;
      var vx = (ev.clientX - box.left) * view / box.width;
      var left = +c.getAttribute("data-left"), width = +c.getAttribute("data-plot-width");
      var i = Math.floor((vx - left) / width * +c.getAttribute("data-buckets"));
      show(i >= 0 ? i : null);
    });
    c.addEventListener("pointerleave", function () { show(null); });
  });
})();
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)

_STYLE = """\
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;
margin:0 auto;max-width:1160px;padding:0 16px 40px;background:#fff}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
header{padding:16px 18px;margin:16px 0;border-radius:8px;border-left:8px solid #888;
background:#f6f8fa}
header.pass{border-color:#1a7f37;background:#eefbf1}
header.fail,header.error{border-color:#cf222e;background:#fff1f0}
header.invalid{border-color:#8250df;background:#f6f0ff}
header.aborted{border-color:#bf8700;background:#fff8e5}
.badge{display:inline-block;font-weight:700;padding:2px 10px;border-radius:12px;color:#fff;
background:#57606a;margin-right:8px}
.pass .badge{background:#1a7f37}
.fail .badge,.error .badge{background:#cf222e}
.invalid .badge{background:#8250df}
.aborted .badge{background:#bf8700}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.why{color:#57606a;font-size:12px}
.r{font-weight:700;white-space:nowrap}
.r-pass,.r-held{color:#1a7f37}
.r-fail,.r-no_data,.r-regressed{color:#cf222e}
.r-warn{color:#9a6700}
.r-skipped,.r-unresolved{color:#57606a}
.r-invalid{color:#8250df}
.r-improved{color:#0969da}
ul{margin:4px 0;padding-left:22px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}
dt{color:#57606a}
dd{margin:0;word-break:break-all}
code{font-size:12px}
svg.chart{width:100%;height:auto;display:block;margin:4px 0 10px}
svg .title{font-weight:600;font-size:13px;fill:#1b1f24}
svg .tick{font-size:11px;fill:#57606a}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .stage line{stroke:#8c959f;stroke-dasharray:2 3}
svg .stage text{font-size:10px;fill:#57606a}
svg .legend text{font-size:11px;fill:#1b1f24}
svg .limit line{stroke:#cf222e;stroke-width:1.4;stroke-dasharray:6 4}
svg .limit circle{fill:#cf222e}
svg .limit text{font-size:11px;fill:#cf222e;paint-order:stroke;stroke:#fff;stroke-width:3px;
stroke-linejoin:round}
svg .breach{fill:#cf222e;fill-opacity:.14}
svg .cursor{stroke:#1b1f24;stroke-width:1}
svg .readout{font-size:11px;fill:#1b1f24}
.note{color:#57606a}
footer{margin-top:32px;color:#57606a;font-size:12px}
"""


class _Page:
    """Builds the page; ``esc`` redacts and escapes every text taken from the verdict."""

    def __init__(self, verdict: Verdict, secrets: frozenset[str]) -> None:
        self.verdict = verdict
        self._masks = effective(secrets)

    def esc(self, text: str) -> str:
        return html.escape(masked(text, self._masks), quote=True)

    def render(self, comparison: Comparison | None) -> str:
        v, esc = self.verdict, self.esc
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(f'{v.spec.name} {v.spec.sla_version}: {v.status.upper()}')} "
            "· sla-runner</title>",
            f"<style>{_STYLE}</style></head><body>",
            self._header(),
            self._thresholds(),
            self._lists(),
            self._comparison(comparison) if comparison is not None else "",
            self._over_time(),
            self._distribution(),
            self._metrics(),
            self._provenance(),
            f"<footer>sla-runner {esc(__version__)}: written from the verdict "
            f"({esc(v.format)} version {v.format_version}).</footer>",
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
        ]
        return "\n".join(p for p in parts if p) + "\n"

    def _header(self) -> str:
        v, esc = self.verdict, self.esc
        out = [
            f'<header class="{esc(v.status)}" id="verdict">',
            f'<span class="badge">{esc(v.status.upper())}</span>',
            f"<h1>{esc(v.spec.name)} {esc(v.spec.sla_version)}</h1>",
            f'<p id="status-line">{esc(status_line(v, reasons="below"))}</p>',
        ]
        if v.message:
            out.append(f'<p id="message"><strong>Why:</strong> {esc(v.message)}</p>')
        validity = v.validity
        if validity.valid:
            out.append('<p id="validity">Run valid: the generator delivered the planned load.</p>')
        else:
            out.append('<p id="validity"><strong>Run invalid:</strong></p>')
            out.append(ul(esc(r) for r in validity.reasons))
        facts = [
            f"started {v.run.started_at or 'unknown'}",
            f"{numbers.number(v.run.duration_s)} s",
            f"segment {v.run.segment}",
            f"against {v.run.base_url}",
        ]
        out.append(f'<p class="note">{esc(", ".join(facts))}</p></header>')
        return "\n".join(out)

    def _thresholds(self) -> str:
        v, esc = self.verdict, self.esc
        if not v.thresholds:
            return ""
        rows = []
        for t in v.thresholds:
            key = result_key(v, t)
            label = LABELS[key][0]
            expr = f'<span class="expr">{esc(threshold_label(t))}</span>' + (
                " <em>(warn)</em>" if t.severity == "warn" else ""
            )
            if t.description:
                expr += f'<div class="why">{esc(t.description)}</div>'
            if key != "pass" or t.windows:  # a window threshold: its worst window
                expr += f'<div class="why">{esc(t.message)}</div>'
            observed = "-" if t.observed is None else numbers.observed(t.observed, t.limit, t.unit)
            margin = "-"
            if t.margin is not None:
                margin = numbers.value(t.margin, t.unit)
                margin = margin if t.margin < 0 else "+" + margin
                if t.margin_pct is not None and t.unit != "%":  # points: no share beside
                    margin += f" ({numbers.number(t.margin_pct)}%)"
            window = f"{window_name(t)}, {numbers.number(t.window_s)} s"
            rows.append(
                f'<tr class="threshold" data-status="{esc(key)}"><td class="r r-{esc(key)}">'
                f"{esc(label)}</td><td>{expr}</td><td>{esc(window)}</td>"
                f'<td class="num">{esc(observed)}</td>'
                f'<td class="num">{esc(t.op)} {esc(numbers.value(t.limit, t.unit))}</td>'
                f'<td class="num">{esc(margin)}</td>'
                f'<td class="num">{esc(numbers.count(t.samples))}</td></tr>'
            )
        head = table_head("result", "threshold", "window", "#observed", "#limit", "#margin", "#n")
        return (
            '<section id="thresholds"><h2>Thresholds</h2><table>'
            f"{head}<tbody>{''.join(rows)}</tbody></table></section>"
        )

    def _lists(self) -> str:
        v, esc = self.verdict, self.esc
        out = []
        for section, title, items in (
            ("findings", "Findings", v.findings),
            ("warnings", "Warnings", v.run.warnings),
            ("notes", "Notes", v.notes),
        ):
            if items:
                out.append(
                    f'<section id="{section}"><h2>{title}</h2>{ul(esc(i) for i in items)}</section>'
                )
        return "\n".join(out)

    def _comparison(self, c: Comparison) -> str:
        esc = self.esc
        rows = [
            f'<tr class="figure" data-status="{esc(status_of(f))}"><td>{esc(f.name)}</td>'
            f'<td class="num">{esc(numbers.value(f.baseline, f.unit))}</td>'
            f'<td class="num">{esc(numbers.value(f.new, f.unit))}</td>'
            f'<td class="num">{esc(signed_change(f))}</td>'
            f'<td class="r r-{esc(status_of(f))}">'
            f"{esc(status_of(f).replace('unresolved', 'too few samples'))}</td></tr>"
            for f in table_rows(c)
        ]
        notes = [*(f"compared although {d}" for d in c.spec_changes), *c.notes]
        return (
            '<section id="comparison"><h2>Against the baseline</h2>'
            f"<p>{esc(comparison_status(c))}</p>"
            f'<p class="note">baseline {esc(c.baseline.path)} ({esc(c.baseline.status)}, '
            f"{esc(c.baseline.started_at or 'time unknown')}); tolerance "
            f"{esc(numbers.number(c.tolerance_pct))}%, noise floor "
            f"{esc(numbers.number(c.noise_floor_ms))} ms</p>"
            + (ul(esc(n) for n in notes) if notes else "")
            + f"<table>{table_head('figure', '#baseline', '#new', '#change', 'result')}"
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )

    def _over_time(self) -> str:
        charts = over_time(self.verdict, self.esc)
        if not charts:
            return (
                '<section id="over-time"><h2>Over time</h2><p class="note">No timeline: '
                "nothing was measured.</p></section>"
            )
        return (
            '<section id="over-time"><h2>Over time</h2><p class="note">One time axis for '
            "every chart; dotted lines mark the stages, dashed red lines the thresholds' "
            "limits, red shading the seconds whose own figure broke a limit. Point at a "
            "chart to read every chart at that second."
            + self._scoped(
                "is drawn over the figures of every scenario, except on the load chart, which has "
                "a line for each scenario; each scenario's own figures are in the tables below"
            )
            + "</p>"
            + "\n".join(charts)
            + "</section>"
        )

    def _scoped(self, how: str) -> str:
        """A sentence for a run of several scenarios with a threshold of one scenario that
        the charts draw over every scenario's figures (the timeline and the histograms keep
        the run's, but for users), else nothing."""
        v = self.verdict
        if not v.scenarios or not any(t.scenario and t.metric != "users" for t in v.thresholds):
            return ""
        return f" A threshold of one scenario (its label names it) {self.esc(how)}."

    def _distribution(self) -> str:
        charts = distributions(self.verdict, self.esc)
        if not charts:
            return ""
        return (
            '<section id="distribution"><h2>Latency distribution</h2><p class="note">From the '
            "HDR histograms of the whole run; the percentile axis in nines. A red mark is a "
            "threshold's limit at its percentile."
            + self._scoped(
                "is marked on the curves of every scenario's traffic; each scenario's own "
                "percentiles are in the tables below"
            )
            + "</p>"
            + "\n".join(charts)
            + "</section>"
        )

    def _metrics(self) -> str:
        v, esc = self.verdict, self.esc
        # The users gauge counts an open scenario's requests in flight; verdicts written
        # before each scenario's model was recorded do not say which scenario is open.
        kinds = load_kinds(v)
        total = {"users": "users + in flight" if kinds is None or len(kinds) > 1 else "in flight"}
        out = metric_tables(v.metrics, esc, None if kinds == frozenset({"closed"}) else total)
        either = None if kinds == frozenset({"closed"}) else {"users": "users / in flight"}
        for name, figures in v.scenarios.items():  # a run of several: each one's own
            model = v.scenario_models.get(name)
            held = either if model is None else {"users": held_name(model)}
            tables = metric_tables(figures, esc, held)
            if tables:
                out.append(
                    f'<h3 class="scenario" data-scenario="{esc(name)}">scenario '
                    f"{esc(name)}</h3>" + "".join(tables)
                )
        if not out:
            return ""
        return '<section id="metrics"><h2>Endpoints and channels</h2>' + "".join(out) + "</section>"

    def _provenance(self) -> str:
        v, esc = self.verdict, self.esc
        spec, run = v.spec, v.run
        pairs: list[tuple[str, str]] = [
            ("spec", spec.name),
            ("sla_version", spec.sla_version),
            ("file", spec.path),
            ("sha256", spec.sha256),
            *((("git commit", commit_text(spec.git)),) if spec.git else ()),
            *((("owner", spec.owner),) if spec.owner else ()),
            *((f"label {k}", val) for k, val in sorted(spec.labels.items())),
            *((f"--set {k}", val) for k, val in sorted(run.overrides.items())),
            ("started", run.started_at or "unknown"),
            ("finished", run.finished_at or "unknown"),
            ("host", run.host),
            ("engine", run.engine or "not recorded"),
            ("sla-runner", run.runner_version),
            *((("sla-runner commit", commit_text(run.runner_git)),) if run.runner_git else ()),
            *((("CI", run.ci.describe()),) if run.ci else ()),
            *((("CI page", run.ci.url),) if run.ci and run.ci.url else ()),
        ]
        items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(val)}</dd>" for k, val in pairs)
        return f'<section id="provenance"><h2>Spec and run</h2><dl>{items}</dl></section>'


def verdict_to_html(
    verdict: Verdict,
    *,
    secrets: frozenset[str] = frozenset(),
    comparison: Comparison | None = None,
) -> str:
    """The HTML report of a verdict (and of its comparison with a baseline, if any)."""
    return _Page(verdict, secrets).render(comparison)


def write_html(
    path: Path | str,
    verdict: Verdict,
    *,
    secrets: frozenset[str] = frozenset(),
    comparison: Comparison | None = None,
) -> Path:
    """Write the HTML report atomically."""
    return write_atomic(path, verdict_to_html(verdict, secrets=secrets, comparison=comparison))
