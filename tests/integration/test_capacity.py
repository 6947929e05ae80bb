"""``sla-runner capacity`` against a service whose capacity is known by construction.

The service (:mod:`tests.support.capacity_service`) has K workers and a fixed service time S,
so it completes at most K / S requests per second. Arrivals come evenly spaced (open model):
below K / S none waits and the latency is S; above it the queue grows for as long as the step
lasts, and so does the latency. The threshold ``p95(http) < 1.5 S`` therefore holds up to
K / S arrivals per second and breaks above: the search must find K / S to its resolution, the
knee of the curve there, and write a document valid against the committed schema and JUnit
valid against the XSD.

Bounded: eight or so 3-second steps, the busiest at 160 requests per second.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from junitparser import Failure, JUnitXml

from sla_runner.spec.document import load_document_text
from tests.conftest import ChildProcess
from tests.support.cli import run_cli
from tests.support.paths import ROOT
from tests.support.reports import XSD

pytestmark = [pytest.mark.load, pytest.mark.slow]

WORKERS = 8
SERVICE_MS = 100
LIMIT_MS = 150  # 1.5 x the service time
PROMISED = 70  # below the 80/s the workers give: the promise holds
SEARCH_TIMEOUT_S = 90.0

SPEC = f"""\
version: 2
name: workers
sla_version: 1.0.0
public_vars: [WORKERS_URL, WORKERS_PORT]
target:
  base_url: "${{WORKERS_URL}}"
  timeout: 5s
  process: {{port: "${{WORKERS_PORT}}"}}   # the service: its memory and CPU per step
endpoints:
  work: {{method: GET, path: /work}}
scenarios:
  arrivals:
    load:
      stages:
        - {{duration: 1s, rate: 40/s}}
        - {{name: steady, duration: 3s, rate: 40/s}}
      graceful_stop: 1s
    mix: {{work: 1}}
thresholds:
  - p95(http) < {LIMIT_MS}ms
  - success_rate(http) > 99%
  - rate(http) >= 40/s
capacity: {{scenario: arrivals, rate: ">= {PROMISED}/s"}}
"""


@pytest.fixture(scope="module")
def workers_url() -> Iterator[str]:
    child = ChildProcess(
        [
            "-m",
            "tests.support.capacity_service",
            "--workers",
            str(WORKERS),
            "--service-ms",
            str(SERVICE_MS),
        ]
    )
    try:
        yield f"http://127.0.0.1:{int(child.first_line.split()[1])}"
    finally:
        child.stop()


def test_the_capacity_found_is_the_one_the_workers_give(workers_url: str, tmp_path: Path) -> None:
    spec = tmp_path / "workers.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    report, junit = tmp_path / "capacity.json", tmp_path / "junit.xml"
    done = run_cli(
        "capacity", spec, "--from", "20", "--to", "160", "--step", "x2", "--resolution", "10%",
        "--warmup", "1s", "--json", report, "--junit", junit,
        env={"WORKERS_URL": workers_url, "WORKERS_PORT": workers_url.rsplit(":", 1)[1]},
        timeout_s=SEARCH_TIMEOUT_S,
    )  # fmt: skip
    assert done.code == 0, done.output
    document = json.loads(report.read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "schemas" / "capacity.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(document)

    expected = WORKERS * 1000 // SERVICE_MS  # K / S = 80 per second
    assert document["stop"] == "resolved", document["message"]
    found = document["capacity"]
    assert abs(found - expected) <= 0.10 * expected, (found, expected, done.output)
    assert document["breaks_at"] > found
    assert document["broke"][0]["expr"] == f"p95(http) < {LIMIT_MS}ms"
    assert document["search"]["step_duration_s"] == 3.0  # the spec's steady stage
    levels = [s["level"] for s in document["steps"]]
    assert levels[:4] == [20, 40, 80, 160] or levels[:3] == [20, 40, 80], levels
    assert max(levels) <= 160
    assert len(levels) <= 9

    # the knee: flat up to K / S, then the latency grows faster than the load
    knee = document["knee"]
    assert knee is not None, document["findings"]
    assert abs(knee["level"] - expected) <= 0.10 * expected, knee
    by_level = {s["level"]: s for s in document["steps"]}
    assert by_level[20]["p95_ms"] < LIMIT_MS
    assert by_level[160]["p95_ms"] > 3 * SERVICE_MS  # 80/s more than it completes, for 3 s
    # throughput: what the service completed, never more than its K / S
    assert by_level[160]["throughput_per_s"] <= 1.1 * expected
    assert by_level[40]["throughput_per_s"] > 0.8 * 40
    assert all(s["rss_max_bytes"] > 1_000_000 for s in document["steps"])  # the service's
    assert all(s["cpu_max_pct"] is not None for s in document["steps"])
    assert document["not_judged"] == [
        "rate(http) >= 40/s: judges the load's size, which the search sets"
    ]
    assert f"capacity: {found}/s" in done.stdout
    assert document["promise"]["holds"] is True
    assert document["search"]["scenario"] == "arrivals"

    if not XSD.is_file():
        pytest.skip(f"the JUnit XSD is not at {XSD}")
    xmlschema.XMLSchema(str(XSD)).validate(str(junit))
    cases = {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    assert set(cases) == {
        f"p95(http) < {LIMIT_MS}ms",
        "success_rate(http) > 99%",
        f"capacity >= {PROMISED}/s",
    }
    assert all(not any(isinstance(r, Failure) for r in c.result) for c in cases.values())


def test_the_readme_starts_the_worked_example_s_service_where_its_spec_looks() -> None:
    """The README's command for the worked example's service, as written, listens on the
    port the example spec's base_url and target.process name (here on a free one)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Finding the capacity: `sla-runner capacity`", 1)[1]
    command = re.search(r"`python (-m tests\.support\.capacity_service [^`]+)`", section)
    assert command is not None
    argv = command[1].split()
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = load_document_text(example, "README.md", env={}).spec
    port = argv[argv.index("--port") + 1]
    assert spec.target.base_url == f"http://127.0.0.1:{port}"
    assert spec.target.process is not None
    assert str(spec.target.process.port) == port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    argv[argv.index("--port") + 1] = str(free)
    child = ChildProcess(argv)
    try:
        assert child.first_line == f"listening {free}"
    finally:
        child.stop()
