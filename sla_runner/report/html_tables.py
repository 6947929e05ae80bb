"""The HTML report's tables: headers, lists, and the rows of metrics and gauges (every text
escaped by the caller's ``esc``)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from sla_runner import numbers
from sla_runner.report.svg import Esc
from sla_runner.verdict import MetricSummary


def table_head(*names: str) -> str:
    cells = "".join(
        f'<th class="num">{html.escape(n[1:])}</th>' if n.startswith("#") else f"<th>{n}</th>"
        for n in names
    )
    return f"<thead><tr>{cells}</tr></thead>"


def ul(items: Iterable[str]) -> str:
    """A list of texts already escaped."""
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def signed(change: float, unit: str, pct: float | None) -> str:
    text = numbers.value(change, unit)
    text = text if change < 0 else "+" + text
    return text + (f" ({pct:+.1f}%)" if pct is not None else "")


def metric_tables(
    metrics: dict[str, MetricSummary], esc: Esc, names: Mapping[str, str] | None = None
) -> list[str]:
    """A table of the metrics with requests or round trips, and one of the gauges (shown
    under ``names`` where given: ``users`` counts requests in flight too)."""
    requests, gauges = [], []
    for name, m in metrics.items():
        if m.latency_ms is not None or (m.values is None and m.count):
            requests.append(request_row(name, m, esc))
        elif m.values is not None:
            gauges.append(gauge_row((names or {}).get(name, name), m, esc))
    out = []
    if requests:
        head = table_head("metric", "#count", "#rate", "errors", "#p50", "#p90", "#p95", "#p99",
                     "#p99.9", "#max")  # fmt: skip
        out.append(f"<table>{head}<tbody>{''.join(requests)}</tbody></table>")
    if gauges:
        head = table_head("gauge", "#samples", "#min", "#mean", "#p95", "#max")
        out.append(f"<table>{head}<tbody>{''.join(gauges)}</tbody></table>")
    return out


def request_row(name: str, m: MetricSummary, esc: Esc) -> str:
    lat = m.latency_ms
    cells = (
        [numbers.number(x) for x in (lat.p50, lat.p90, lat.p95, lat.p99, lat.p99_9, lat.max)]
        if lat
        else ["-"] * 6
    )
    errors = ", ".join(f"{k} {numbers.count(n)}" for k, n in m.errors.items()) or "0"
    rate = "-" if m.rate is None else f"{numbers.number(m.rate)}/s"
    return (
        f"<tr><td>{esc(name)}</td><td class='num'>{esc(numbers.count(m.count))}</td>"
        f"<td class='num'>{esc(rate)}</td><td>{esc(errors)}</td>"
        + "".join(f"<td class='num'>{esc(c)}</td>" for c in cells)
        + "</tr>"
    )


def gauge_row(name: str, m: MetricSummary, esc: Esc) -> str:
    assert m.values is not None
    unit = m.unit or ""

    def shown(x: float) -> str:
        return numbers.size(x) if unit == "B" else numbers.value(x, "%" if unit == "%" else "")

    cells = [shown(x) for x in (m.values.min, m.values.mean, m.values.p95, m.values.max)]
    return (
        f"<tr><td>{esc(name)}</td><td class='num'>{esc(numbers.count(m.count))}</td>"
        + "".join(f"<td class='num'>{esc(c)}</td>" for c in cells)
        + "</tr>"
    )
