"""The CI templates, run through: the composite GitHub Action (``action.yml``) step by step
as its runner would (inputs and step outputs resolved, ``if:`` conditions, bash with ``-eo
pipefail``), and the GitLab example's script with its variables, both against the test
server. Every expression, condition and ``uses:`` they hold must be one these tests know,
so a template cannot drift from what is checked here.

The one step not run is the install (``pip install`` of this repository, or of
``$SLA_RUNNER_INSTALL``): a ``python`` on PATH records it instead, and the test checks
what it was asked to install; ``sla-runner`` is this checkout's, installed by the suite's
own set-up."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import LiveServer
from tests.support.paths import ROOT
from tests.support.reports import check_reports

pytestmark = pytest.mark.load

SPEC = """\
version: 1
name: ci-check
sla_version: 1.0.0
target: {base_url: "http://127.0.0.1:9", timeout: 5s}
endpoints:
  slow: {path: /delay, query: {ms: "5"}}
  flaky: {path: /errors, query: {every: "${EVERY:-1000}"}}
public_vars: [EVERY]
load:  # closed: no arrival can start late on a busy machine and make the run invalid
  stages: [{duration: 1s, users: 2}]
  think_time: 20ms
thresholds:
  - p95(http) < 2s
  - success_rate(http) > 90%
"""
RECORDER = """\
#!/bin/sh
if [ "$1 $2 $3" = "-m pip install" ]; then
  printf '%s\\n' "$@" > "$PIP_RECORD"
  exit 0
fi
exec {python} "$@"
"""


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    pip_record: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


@pytest.fixture
def workspace(test_server: LiveServer, tmp_path: Path) -> Workspace:
    (tmp_path / "api.yaml").write_text(SPEC, encoding="utf-8")
    tools = tmp_path / "tools"
    tools.mkdir()
    shim = tools / "python"
    shim.write_text(RECORDER.format(python=shlex.quote(sys.executable)), encoding="utf-8")
    shim.chmod(0o755)
    record = tmp_path / "pip-record"
    path = os.pathsep.join([str(tools), str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    env = {"PATH": path, "PIP_RECORD": str(record), "HOME": str(tmp_path)}
    env["SLA_TEST_URL"] = test_server.url
    return Workspace(tmp_path, env, record)


def _bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- the GitHub Action ---------------------------------------------------------------------

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _resolve(text: str, inputs: dict[str, str], ws: Workspace) -> str:
    def value(match: re.Match[str]) -> str:
        expr = match[1]
        if found := re.fullmatch(r"inputs\.([\w-]+)", expr):
            return inputs[found[1]]
        if found := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return ws.outputs.get(found[1], {}).get(found[2], "")
        raise AssertionError(f"action.yml: an expression these tests do not know: {expr}")

    return EXPRESSION.sub(value, text)


def _condition(text: str | None, inputs: dict[str, str], ws: Workspace, failed: bool) -> bool:
    if text is None:
        return not failed  # success()
    if text == "always()":
        return True
    found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+) != '(.*)'", text)
    assert found, f"action.yml: a condition these tests do not know: {text}"
    return ws.outputs.get(found[1], {}).get(found[2], "") != found[3]


@dataclass
class ActionRun:
    ran: list[str]
    failed_at: str | None
    output: str
    uploaded: list[str]
    summary: str


def _run_action(ws: Workspace, **given: str) -> ActionRun:
    declared = ACTION["inputs"]
    assert set(given) <= set(declared), given
    missing = [n for n, d in declared.items() if d.get("required") and n not in given]
    assert not missing, missing
    inputs = {name: str(d.get("default", "")) for name, d in declared.items()} | given
    summary = ws.root / "step-summary.md"
    ran: list[str] = []
    failed_at: str | None = None
    output, uploaded = "", []
    for step in ACTION["runs"]["steps"]:
        if not _condition(step.get("if"), inputs, ws, failed_at is not None):
            continue
        ran.append(step["name"])
        if "uses" in step:
            with_ = {k: _resolve(str(v), inputs, ws) for k, v in step.get("with", {}).items()}
            if step["uses"].startswith("actions/setup-python@"):
                major, minor = map(int, with_["python-version"].split(".")[:2])
                assert (major, minor) >= (3, 11), with_  # pyproject's requires-python
            elif step["uses"].startswith("actions/upload-artifact@"):
                folder = ws.root / with_["path"]
                uploaded = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            else:
                raise AssertionError(f"action.yml: a step these tests do not know: {step}")
            continue
        assert step["shell"] == "bash", step
        github_output = ws.root / f"output-{len(ran)}"
        github_output.touch()
        env = {
            **ws.env,
            **{k: _resolve(str(v), inputs, ws) for k, v in step.get("env", {}).items()},
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_OUTPUT": str(github_output),
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        assert "${{" not in step["run"], f"inputs reach scripts through env only: {step}"
        done = _bash(step["run"], env, ws.root)
        output += done.stdout + done.stderr
        lines = github_output.read_text(encoding="utf-8").splitlines()
        if "id" in step:
            ws.outputs[step["id"]] = dict(line.split("=", 1) for line in lines if line)
        if done.returncode != 0 and failed_at is None:
            failed_at = step["name"]
    text = summary.read_text(encoding="utf-8") if summary.exists() else ""
    return ActionRun(ran, failed_at, output, uploaded, text)


def _installed(ws: Workspace) -> list[str]:
    return ws.pip_record.read_text(encoding="utf-8").split()


def test_the_action_runs_a_passing_spec_uploads_its_reports_and_writes_the_summary(
    workspace: Workspace,
) -> None:
    ws = workspace
    args = f"--set target.base_url={ws.env['SLA_TEST_URL']} --quiet"
    run = _run_action(ws, spec="api.yaml", args=args)
    assert run.failed_at is None, run.output
    assert "Fail the job on the exit code" not in run.ran
    assert _installed(ws)[-1] == str(ROOT)  # this repository, as the action's own path
    assert (ROOT / "pyproject.toml").read_text("utf-8").count('sla-runner = "sla_runner.cli') == 1
    assert ws.outputs["run"] == {"exit-code": "0", "verdict": "sla-reports/verdict.json"}
    assert run.uploaded == ["junit.xml", "report.html", "summary.md", "verdict.json"]
    verdict = check_reports(ws.root / "sla-reports/junit.xml", ws.root / "sla-reports/verdict.json")
    assert verdict["status"] == "pass"
    assert "| ✅ PASS | p95(http) \\< 2s |" in run.summary, run.summary


def test_the_action_fails_the_job_on_a_failed_spec_and_passes_the_baseline_on(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.env["EVERY"] = "2"  # every second /errors request fails: success rate 75%
    args = f"--set target.base_url={ws.env['SLA_TEST_URL']} --quiet"
    run = _run_action(ws, spec="api.yaml", args=args, reports="out")
    assert run.failed_at == "Fail the job on the exit code", run.output
    assert ws.outputs["run"]["exit-code"] == "1"
    assert "::error::sla-runner exited with code 1" in run.output
    assert "Upload the reports" in run.ran
    assert run.uploaded == ["junit.xml", "report.html", "summary.md", "verdict.json"]
    assert "| ❌ FAIL | success\\_rate(http) \\> 90% |" in run.summary, run.summary

    ws.outputs.clear()
    missing = ws.root / "no-such-verdict.json"
    run = _run_action(ws, spec="api.yaml", args=args, reports="again", baseline=str(missing))
    assert ws.outputs["run"]["exit-code"] == "3", run.output  # the baseline cannot be read
    assert "no-such-verdict.json" in run.output
    assert run.failed_at == "Fail the job on the exit code"


# -- the GitLab example ---------------------------------------------------------------------

GITLAB = yaml.safe_load((ROOT / "ci" / "gitlab-ci.example.yml").read_text(encoding="utf-8"))


def _run_gitlab(ws: Workspace, **variables: str) -> tuple[int, str, dict[str, Any]]:
    job = GITLAB["sla"]
    env = {**ws.env, **{k: str(v) for k, v in job["variables"].items()}, **variables}
    output = ""
    for line in job["script"]:
        done = _bash(line, env, ws.root)
        output += done.stdout + done.stderr
        if done.returncode != 0:  # GitLab stops the job at the first command that fails
            return done.returncode, output, job
    return 0, output, job


def test_the_gitlab_job_writes_the_junit_report_it_declares_and_fails_on_the_exit_code(
    workspace: Workspace,
) -> None:
    ws = workspace
    args = f"--set target.base_url={ws.env['SLA_TEST_URL']} --quiet"
    code, output, job = _run_gitlab(ws, SLA_SPEC="api.yaml", SLA_ARGS=args)
    assert code == 0, output
    # `sla-runner` on PyPI is another project (a continuous test runner, 0.0.21): the job
    # installs this one from where it is published, without git (python:*-slim has none).
    requirement = _installed(ws)[-1]
    assert requirement != "sla-runner", requirement
    assert "/" in requirement, requirement
    assert not requirement.startswith("git+") or "slim" not in job["image"], requirement
    assert job["artifacts"]["when"] == "always"
    junit = ws.root / job["artifacts"]["reports"]["junit"]
    verdict = check_reports(junit, ws.root / "sla-reports/verdict.json")
    assert verdict["status"] == "pass"
    (folder,) = job["artifacts"]["paths"]
    assert sorted(p.name for p in (ws.root / folder).iterdir()) == [
        "junit.xml",
        "report.html",
        "summary.md",
        "verdict.json",
    ]

    ws.env["EVERY"] = "2"
    code, output, _ = _run_gitlab(ws, SLA_SPEC="api.yaml", SLA_ARGS=args)
    assert code == 1, output
    assert check_reports(junit, ws.root / "sla-reports/verdict.json")["status"] == "fail"
