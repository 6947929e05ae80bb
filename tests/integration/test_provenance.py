"""A verdict says where it came from: the CLI run with the variables a CI runner sets, on a
spec committed in a real git repository, then merged by another job: the JSON, the JUnit
properties, the HTML report and the Markdown summary name the CI job, the spec's commit
and sla-runner's own; outside CI, with no git on the PATH, the run is unchanged."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.faultkit import read_json, spec_data, spec_file, tag

pytestmark = pytest.mark.load

RUNNER = {  # what a GitHub Actions runner sets (and a token that is never read)
    "GITHUB_ACTIONS": "true",
    "CI": "true",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_WORKFLOW": "sla",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_TOKEN": "ghs_tok-9d2f61c0e7",
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _properties(junit: Path) -> dict[str, str]:
    root = ET.parse(junit).getroot()
    return {p.get("name", ""): p.get("value", "") for p in root.iter("property")}


def test_a_verdict_names_its_ci_job_and_the_commits_of_its_spec_and_runner(
    test_server: LiveServer, tmp_path: Path
) -> None:
    repo = tmp_path / "contracts"
    repo.mkdir()
    _git(repo, "init", "-q")
    data = spec_data(
        test_server.url,
        endpoints={"ok": {"path": f"/ok?t={tag()}"}},
        load={
            "stages": [{"duration": "100ms", "users": 2}, {"duration": "1s", "users": 2}],
            "think_time": "50ms",
        },
    )
    spec = spec_file(repo, data)
    _git(repo, "add", spec.name)
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-q", "-m", "v1")
    head = _git(repo, "rev-parse", "HEAD")
    ci = {**RUNNER, "GITHUB_SHA": head}

    one, junit = tmp_path / "1.json", tmp_path / "1.xml"
    env = {**ci, "GITHUB_JOB": "segment"}
    run = run_cli("run", spec, "--segment", "1/2", "--json", one, "--junit", junit, env=env)
    assert run.code == 0, run.output
    verdict = read_json(one)
    assert verdict["spec"]["git"] == {"commit": head, "state": "clean"}
    assert verdict["run"]["ci"] == {
        "system": "github",
        "repository": "acme/shop",
        "workflow": "sla",
        "run_id": "4242",
        "run_attempt": "1",
        "job": "segment",
        "job_id": None,
        "commit": head,
        "ref": "refs/heads/main",
        "url": "https://github.com/acme/shop/actions/runs/4242/attempts/1",
    }
    runner = verdict["run"]["runner_git"]
    properties = _properties(junit)
    assert properties["spec.git.commit"] == head
    assert properties["spec.git.state"] == "clean"
    assert properties["run.ci.run_id"] == "4242"
    assert properties["run.ci.job"] == "segment"
    assert "run.ci.job_id" not in properties  # only what is set
    if runner is not None:
        assert properties["runner.git.commit"] == runner["commit"]
    assert RUNNER["GITHUB_TOKEN"] not in one.read_text("utf-8") + junit.read_text("utf-8")

    # Outside CI, no git on the PATH: nothing to name, and the run is as it was.
    two = tmp_path / "2.json"
    no_git = {"PATH": str(tmp_path / "empty")}
    outside = run_cli("run", spec, "--segment", "2/2", "--json", two, env=no_git, inherit_env=False)
    assert outside.code == 0, outside.output
    assert (read_json(two)["spec"]["git"], read_json(two)["run"]["ci"]) == (None, None)

    # The merge job names itself; the spec's commit is read from --spec.
    merged, html, summary = tmp_path / "m.json", tmp_path / "m.html", tmp_path / "m.md"
    done = run_cli(
        "merge", one, two, "--spec", spec, "--json", merged, "--html", html,
        "--summary-md", summary, env={**ci, "GITHUB_JOB": "merge"},
    )  # fmt: skip
    assert done.code == 0, done.output
    verdict = read_json(merged)
    assert verdict["spec"]["git"] == {"commit": head, "state": "clean"}
    assert verdict["run"]["ci"]["job"] == "merge"
    page, text = html.read_text("utf-8"), summary.read_text("utf-8")
    assert f"<dt>git commit</dt><dd>{head[:12]}</dd>" in page
    assert "<dt>CI</dt><dd>github run 4242 (attempt 1) of acme/shop, job merge</dd>" in page
    assert f"commit {head[:12]} · github run 4242 (attempt 1) of acme/shop, job merge" in text
