"""The pytest plugin, as a team would use it: pytest run in a temporary directory holding
spec files and a test with the ``sla_run`` fixture, against the test server. pytest's own
exit code, item count and outcomes are checked, and every item's message against the
JUnit report sla-runner writes for the same run."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from tests.conftest import LiveServer
from tests.support.cli import cli_env
from tests.support.faultkit import read_json

pytestmark = pytest.mark.load

SPEC = """\
version: 1
name: plugin-check
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:9", timeout: 5s}
endpoints:
  slow: {path: /delay, query: {ms: "5"}}
  flaky: {path: /errors, query: {every: 4}}
load:  # closed: no arrival can start late on a busy machine and make the run invalid
  stages:
    - {name: warm, duration: 1s, users: 2}
    - {name: steady, duration: 1s, users: 2}
  think_time: 20ms
thresholds:
  - p95(http) < 2s
  - success_rate(http) > 99%
  - {expr: p99(http.slow) < 1us, severity: warn}
  - {expr: rate(http) > 5/s, during: steady}
"""
# Arrivals beyond one request in flight are dropped: the generator did not deliver the
# planned load, so the run is invalid and its thresholds errors.
INVALID_SPEC = """\
version: 1
name: plugin-invalid
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:9", timeout: 5s}
endpoints:
  slow: {path: /delay, query: {ms: "200"}}
load:
  stages: [{duration: 1s, rate: 40/s}]
  max_in_flight: 1
thresholds:
  - p95(http) < 2s
  - success_rate(http) > 50%
"""
FIXTURE_TEST = """\
def test_the_service_holds_its_sla(sla_run, request):
    url = request.config.getoption("sla_set")[0].split("=", 1)[1]
    more = {"target.base_url": url, "load.stages[0].users": "3"}
    verdict = sla_run("fixture/service.yaml", set=more)
    assert verdict.status == "fail"  # success_rate(http) > 99% against /errors?every=4
    assert verdict.spec.name == "plugin-check"
    assert verdict.run.overrides["load.stages[0].users"] == "3"
"""


def _pytest(folder: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *map(str, args)],
        cwd=folder,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _cases(path: Path) -> dict[str, tuple[str, str]]:
    """Each case by name: its result (passed, failure, error, skipped) and message."""
    out: dict[str, tuple[str, str]] = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            kind, message = "passed", ""
            for result in case.result:
                if isinstance(result, Failure | Error | Skipped):
                    kind, message = type(result).__name__.lower(), result.message or ""
            out[case.name] = (kind, message)
    return out


def test_the_plugin_is_registered_for_pytest() -> None:
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found.get("sla_runner") == "sla_runner.pytest_plugin"


def test_a_spec_file_is_one_item_per_threshold_judged_as_in_junit(
    test_server: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "api.sla.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "fixture").mkdir()
    (tmp_path / "fixture" / "service.yaml").write_text(SPEC, encoding="utf-8")  # not collected
    (tmp_path / "test_fixture.py").write_text(FIXTURE_TEST, encoding="utf-8")
    reports = tmp_path / "reports"
    done = _pytest(
        tmp_path,
        "--sla-set", f"target.base_url={test_server.url}",
        "--sla-reports", reports,
        "--junitxml", tmp_path / "pytest.xml",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 4 passed" in done.stdout, done.stdout
    ours = _cases(reports / "api.junit.xml")
    theirs = _cases(tmp_path / "pytest.xml")
    assert len(theirs) == 5  # four thresholds, one test with the fixture
    assert theirs.pop("test_the_service_holds_its_sla") == ("passed", "")
    assert (
        set(theirs)
        == set(ours)
        == {
            "p95(http) < 2s",
            "success_rate(http) > 99%",
            "p99(http.slow) < 1us",
            "rate(http) > 5/s (during steady)",
        }
    )
    assert theirs["success_rate(http) > 99%"][0] == ours["success_rate(http) > 99%"][0]
    failed = ours["success_rate(http) > 99%"][1]
    assert failed.startswith("success_rate(http) = ")  # every 4th /errors fails
    assert "limit > 99%" in failed
    assert failed in done.stdout  # pytest shows the message JUnit carries
    assert theirs["success_rate(http) > 99%"][1].startswith(failed + "\n")  # then the figures
    assert {n: k for n, (k, _) in theirs.items()} == {n: k for n, (k, _) in ours.items()}
    assert "WARN (severity warn, does not fail the run): p99(http.slow)" in done.stdout
    for name in ("api.junit.xml", "api.json", "api.html", "api.md"):
        assert (reports / name).stat().st_size > 0


def test_an_invalid_run_gives_errors_and_an_invalid_spec_a_collection_error(
    test_server: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "load.sla.yaml").write_text(INVALID_SPEC, encoding="utf-8")
    done = _pytest(tmp_path, "--sla-set", f"target.base_url={test_server.url}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 errors" in done.stdout, done.stdout
    assert "failed" not in done.stdout.splitlines()[-1]
    assert "invalid run: " in done.stdout
    assert "dropped" in done.stdout

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "api.sla.yaml").write_text(SPEC.replace("timeout: 5s", "timeout: fast"), "utf-8")
    done = _pytest(broken)
    assert done.returncode == 2, done.stdout + done.stderr  # interrupted by collection errors
    assert "api.sla.yaml:4:" in done.stdout
    assert "target.timeout: expected a duration" in done.stdout
    assert "Traceback" not in done.stdout


def test_a_spec_named_on_the_command_line_is_collected_whatever_its_name(
    test_server: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "service.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "other.yaml").write_text("not: a spec\n", encoding="utf-8")  # not given
    before = test_server.counts().get("/delay?ms=5", 0)
    done = _pytest(
        tmp_path, "service.yaml", "--collect-only", "-q",
        "--sla-set", f"target.base_url={test_server.url}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 tests collected" in done.stdout, done.stdout
    assert test_server.counts().get("/delay?ms=5", 0) == before  # collecting sends nothing


def test_two_specs_of_one_file_name_never_write_over_each_others_reports(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """services/a/api.sla.yaml and services/b/api.sla.yaml would both write api.*: the
    second is an error that says so, before it sends anything, not a silent overwrite."""
    for service in ("a", "b"):
        (tmp_path / service).mkdir()
        (tmp_path / service / "api.sla.yaml").write_text(SPEC, encoding="utf-8")
    reports = tmp_path / "reports"
    done = _pytest(
        tmp_path,
        "--sla-set", f"target.base_url={test_server.url}",
        "--sla-reports", reports,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count("ERROR b/api.sla.yaml::") == 4, done.stdout  # each threshold
    written = str(tmp_path / "a" / "api.sla.yaml")
    assert (
        f"--sla-reports: {tmp_path / 'b' / 'api.sla.yaml'} would write its reports "
        f"({reports / 'api'}.*) over those of {written}: give the spec files different names"
    ) in done.stdout
    assert read_json(reports / "api.json")["spec"]["path"] == written
