"""Streams written while the run goes, one record per second, flushed as each is written, so
a runner that is killed (even with SIGKILL) leaves every second it completed.

- :class:`NdjsonStream` (``--out ndjson=PATH``): one JSON object per line per second: the
  timeline row (users, requests, errors, percentiles, the service's memory and CPU, dropped
  and late arrivals) with the stage's name, the last sample of each gauge taken in the
  second (``gauges``: ``process.rss``, ``process.cpu``, ``metric.<alias>``), and per
  endpoint and channel (``series``) the count, the errors by kind and the percentiles of
  that second.
- :class:`HdrLogStream` (``--out hdr=PATH``): an HdrHistogram interval log (format 1.3,
  the one HdrHistogram's own tools — ``HistogramLogReader``, HistogramLogAnalyzer — read):
  per second one line per endpoint and channel, tagged ``Tag=http.list-items``, its
  latency histogram in microseconds (interval max in milliseconds).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sla_runner.errors import ReportError
from sla_runner.metrics.histogram import values_at_percentiles
from sla_runner.metrics.tap import Second, SeriesSecond
from sla_runner.timeunits import US_PER_MS

HDR_LOG_FORMAT_VERSION = "1.3"
US_PER_MS_RATIO = float(US_PER_MS)


class _LineFile:
    """A text file written line by line, each flushed to the operating system at once."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = self.path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise ReportError(f"cannot write stream {path}: {exc.strerror or exc}") from None

    def write(self, text: str) -> None:
        self._file.write(text)
        self._file.flush()  # the kernel holds it now: a killed process loses nothing written

    def close(self) -> None:
        self._file.close()


def _percentiles(s: SeriesSecond) -> dict[str, float | None]:
    hist = s.latency_us
    if not hist.get_total_count():
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    p50, p95, p99 = values_at_percentiles(hist, (50, 95, 99))  # one pass over the counts
    return {
        "p50_ms": p50 / US_PER_MS,
        "p95_ms": p95 / US_PER_MS,
        "p99_ms": p99 / US_PER_MS,
        "max_ms": hist.get_highest_equivalent_value(hist.get_max_value()) / US_PER_MS,
    }


def second_record(second: Second) -> dict[str, Any]:
    """The NDJSON object of one second."""
    record: dict[str, Any] = second.row.to_dict()
    record["stage"] = second.stage
    record["gauges"] = second.gauges
    record["series"] = {
        name: {
            "count": s.count,
            "errors": {k: n for k, n in sorted(s.outcomes.items()) if k != "ok"},
            **_percentiles(s),
        }
        for name, s in second.series.items()
    }
    return record


class NdjsonStream:
    def __init__(self, path: Path | str) -> None:
        self._out = _LineFile(path)

    def second(self, second: Second) -> None:
        self._out.write(json.dumps(second_record(second), separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._out.close()


class HdrLogStream:
    def __init__(self, path: Path | str) -> None:
        self._out = _LineFile(path)
        self._started = False

    def _header(self, started_at: float) -> None:
        when = datetime.fromtimestamp(started_at, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        self._out.write(
            "#[Logged with sla-runner]\n"
            f"#[Histogram log format version {HDR_LOG_FORMAT_VERSION}]\n"
            f"#[StartTime: {started_at:.3f} (seconds since epoch), {when}]\n"
            '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'
        )
        self._started = True

    def second(self, second: Second) -> None:
        if not self._started:
            self._header(second.started_at)
        lines = []
        for name, s in second.series.items():
            hist = s.latency_us
            if not hist.get_total_count():
                continue
            peak = hist.get_highest_equivalent_value(hist.get_max_value()) / US_PER_MS_RATIO
            payload = hist.encode().decode("ascii")
            lines.append(f"Tag={name},{second.row.second:.3f},1.000,{peak:.3f},{payload}\n")
        if lines:
            self._out.write("".join(lines))

    def close(self) -> None:
        self._out.close()
