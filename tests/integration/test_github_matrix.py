"""``ci/github-matrix.example.yml``, run here as a runner would run it.

The workflow's own ``run:`` scripts, taken from the file, run with the shell GitHub uses
(``bash --noprofile --norc -eo pipefail``), one workspace per matrix job with the
workflow's and the step's environment (``${{ matrix.segment }}`` filled in); the artifacts
go from the segments' upload path to the merge's download path as the example names them.
Only the steps with an ``id`` run: checkout, setup-python and the install are the runner's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import LiveServer
from tests.support.cli import cli_env
from tests.support.faultkit import read_json, spec_data, spec_file, tag
from tests.support.paths import ROOT

pytestmark = pytest.mark.load

WORKFLOW = ROOT / "ci" / "github-matrix.example.yml"
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's `shell: bash`
BIN = Path(sys.executable).parent
# Arrivals: 75 in the ramp to 150/s, 600 in 4 s at it; 225 per segment (50/s). A segment
# is invalid beyond 1% of its arrivals dropped or late (started over 10 ms after their due
# time): with the 50 it had, one arrival late behind a scheduling stall of a busy 2-core
# machine made it invalid (exit 4); 225 take the 1% as a share again (2 late are within).
PLANNED = 675


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def _step(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("id") == step_id]
    found: dict[str, Any] = step
    return found


def _uses(job: dict[str, Any], action: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith(action)]
    with_: dict[str, Any] = step["with"]
    return with_


def _filled(text: str, matrix: dict[str, Any]) -> str:
    filled = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(matrix[m[1]]), text)
    assert "${{" not in filled, f"an expression this test does not evaluate: {filled}"
    return filled


def _run_step(
    workspace: Path, step: dict[str, Any], env: dict[str, str], matrix: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    script = workspace / f".step-{step['id']}.sh"
    script.write_text(_filled(step["run"], matrix), encoding="utf-8")
    step_env = {k: _filled(str(v), matrix) for k, v in step.get("env", {}).items()}
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [*SHELL, str(script)],
        cwd=workspace,
        env=cli_env({**env, **step_env, "PATH": path}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _segments(tmp_path: Path, env: dict[str, str], skip: frozenset[int] = frozenset()) -> Path:
    """Run every matrix job but those in ``skip``; collect their artifacts for the merge."""
    workflow = _workflow()
    job = workflow["jobs"]["segment"]
    values = job["strategy"]["matrix"]["segment"]
    assert values == list(range(1, int(workflow["env"]["SEGMENTS"]) + 1))
    assert job["strategy"]["fail-fast"] is False
    upload = _uses(job, "actions/upload-artifact")["path"]
    merge_job = workflow["jobs"]["merge"]
    download = _uses(merge_job, "actions/download-artifact")
    assert download["merge-multiple"] is True
    merge_workspace = tmp_path / "merge"
    artifacts = merge_workspace / download["path"]
    artifacts.mkdir(parents=True)
    for value in values:
        if value in skip:
            continue
        workspace = tmp_path / f"segment-{value}"
        workspace.mkdir()
        done = _run_step(workspace, _step(job, "run-segment"), env, {"segment": value})
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"segment {value}/{len(values)}: exit 0" in done.stdout, _why(
            workspace / upload, value
        )
        for file in (workspace / upload).iterdir():
            shutil.copy(file, artifacts / file.name)
    return merge_workspace


def _why(verdicts: Path, value: int) -> str:
    """Why a segment did not pass, as its verdict says (the console's table hides it)."""
    path = verdicts / f"segment-{value}.json"
    if not path.is_file():
        return f"segment {value}: no verdict"
    verdict = read_json(path)
    return f"segment {value}: {verdict['status']}: {verdict['validity']['reasons']}"


def _env(spec: Path) -> dict[str, str]:
    return {**{k: str(v) for k, v in _workflow()["env"].items()}, "SPEC": str(spec)}


def _spec(tmp_path: Path, server: LiveServer, ok_path: str) -> Path:
    data = spec_data(
        server.url,
        endpoints={"ok": {"path": ok_path}},
        load={"stages": [{"duration": "1s", "rate": "150/s"}, {"duration": "4s", "rate": "150/s"}]},
        thresholds=[f"count(http) >= {PLANNED}", "success_rate(http) > 99%"],
    )
    return spec_file(tmp_path, data)


def test_the_matrix_jobs_and_the_merge_job_judge_the_whole_plan(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    env = _env(_spec(tmp_path, test_server, ok_path))
    workspace = _segments(tmp_path, env)
    merge = _step(_workflow()["jobs"]["merge"], "merge")
    summary = tmp_path / "step-summary.md"  # the job's summary page, as the runner sets it
    done = _run_step(workspace, merge, {**env, "GITHUB_STEP_SUMMARY": str(summary)}, {})
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = read_json(workspace / "reports" / "verdict.json")
    assert (workspace / "reports" / "junit.xml").is_file()
    assert (workspace / "reports" / "report.html").is_file()
    assert f"| ✅ PASS | count(http) \\>= {PLANNED} |" in summary.read_text("utf-8")
    assert verdict["status"] == "pass"
    assert verdict["validity"]["planned"] == PLANNED
    assert verdict["metrics"]["http"]["count"] == PLANNED == test_server.counts()[ok_path]


def test_a_segment_job_that_died_makes_the_merge_invalid(
    test_server: LiveServer, tmp_path: Path
) -> None:
    env = _env(_spec(tmp_path, test_server, f"/ok?t={tag()}"))
    workspace = _segments(tmp_path, env, skip=frozenset({2}))
    summary = tmp_path / "step-summary.md"
    merge = _step(_workflow()["jobs"]["merge"], "merge")
    done = _run_step(workspace, merge, {**env, "GITHUB_STEP_SUMMARY": str(summary)}, {})
    assert done.returncode == 4, done.stdout + done.stderr
    assert "INVALID" in summary.read_text("utf-8")  # the summary says why the job is red
    verdict = read_json(workspace / "reports" / "verdict.json")
    assert any("segment 2/3 is missing" in r for r in verdict["validity"]["reasons"])


def test_no_verdict_at_all_fails_the_merge_and_a_bad_spec_fails_its_segment(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path / "missing.yaml")
    job = _workflow()["jobs"]["segment"]
    (tmp_path / "segment").mkdir()
    failed = _run_step(tmp_path / "segment", _step(job, "run-segment"), env, {"segment": 1})
    assert failed.returncode != 0
    assert "segment 1/3: exit 2" in failed.stdout
    (tmp_path / "merge").mkdir()
    done = _run_step(tmp_path / "merge", _step(_workflow()["jobs"]["merge"], "merge"), env, {})
    assert done.returncode == 4
    assert "no segment verdict arrived" in done.stderr
