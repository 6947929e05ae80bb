"""Where a verdict came from: the CI job from the variables CI systems set, and the spec's
commit from a real git work tree (made here with the real ``git``), never an error."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import sla_runner
from sla_runner.provenance import ci_run, runner_git, spec_git
from sla_runner.verdict import CiRun, GitState
from tests.support.paths import ROOT

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_WORKFLOW": "sla",
    "GITHUB_JOB": "segment",
    "GITHUB_SHA": "a" * 40,
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_TOKEN": "ghs_not-an-identifier",  # never read
    "CI": "true",
}
GITLAB = {
    "GITLAB_CI": "true",
    "CI": "true",
    "CI_PROJECT_PATH": "acme/shop",
    "CI_PIPELINE_ID": "77",
    "CI_JOB_ID": "901",
    "CI_JOB_NAME": "sla",
    "CI_COMMIT_SHA": "b" * 40,
    "CI_COMMIT_REF_NAME": "main",
    "CI_JOB_URL": "https://gitlab.example/acme/shop/-/jobs/901",
    "CI_JOB_TOKEN": "glcbt-secret",  # never read
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            GITHUB,
            CiRun(
                system="github",
                repository="acme/shop",
                workflow="sla",
                run_id="4242",
                run_attempt="2",
                job="segment",
                commit="a" * 40,
                ref="refs/heads/main",
                url="https://github.example/acme/shop/actions/runs/4242/attempts/2",
            ),
        ),
        (
            GITLAB,
            CiRun(
                system="gitlab",
                repository="acme/shop",
                run_id="77",
                job="sla",
                job_id="901",
                commit="b" * 40,
                ref="main",
                url="https://gitlab.example/acme/shop/-/jobs/901",
            ),
        ),
        (
            {"JENKINS_URL": "https://ci.example/", "JOB_NAME": "shop/sla", "BUILD_NUMBER": "12"},
            CiRun(system="jenkins", job="shop/sla", run_id="12"),
        ),
        ({"CI": "true"}, CiRun(system="ci")),
        ({"CI": "false", "GITHUB_ACTIONS": ""}, None),
        ({}, None),
    ],
)
def test_the_ci_job_is_read_from_the_variables_its_system_sets(
    env: dict[str, str], expected: CiRun | None
) -> None:
    assert ci_run(env) == expected


def test_a_github_run_without_a_server_url_links_to_github_com() -> None:
    env = {k: v for k, v in GITHUB.items() if k not in ("GITHUB_SERVER_URL", "GITHUB_RUN_ATTEMPT")}
    found = ci_run(env)
    assert found is not None
    assert found.url == "https://github.com/acme/shop/actions/runs/4242"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "contracts"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.test")
    _git(repo, "config", "user.name", "t")
    (repo / "specs").mkdir()
    (repo / "specs" / "shop.yaml").write_text("name: shop\n", encoding="utf-8")
    (repo / ".gitignore").write_text("*.local.yaml\n", encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "the contract")
    return repo


def test_the_spec_s_commit_and_whether_the_file_differs_from_it(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    spec = repo / "specs" / "shop.yaml"
    assert spec_git(spec) == GitState(commit=head, state="clean")
    spec.write_text("name: shop\nsla_version: 2\n", encoding="utf-8")
    assert spec_git(spec) == GitState(commit=head, state="modified")
    _git(repo, "add", "specs/shop.yaml")  # staged, still not the commit's
    assert spec_git(spec) == GitState(commit=head, state="modified")
    (repo / "specs" / "new.yaml").write_text("name: new\n", encoding="utf-8")
    assert spec_git(repo / "specs" / "new.yaml") == GitState(commit=head, state="untracked")
    (repo / "specs" / "mine.local.yaml").write_text("name: mine\n", encoding="utf-8")
    assert spec_git(repo / "specs" / "mine.local.yaml") == GitState(commit=head, state="untracked")


def test_a_relative_path_is_read_from_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "specs")
    assert spec_git(Path("shop.yaml")) == GitState(
        commit=_git(repo, "rev-parse", "HEAD"), state="clean"
    )


def test_no_work_tree_no_commits_no_git_and_no_file_give_none(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = tmp_path / "loose.yaml"
    loose.write_text("name: loose\n", encoding="utf-8")
    assert spec_git(loose) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    (empty / "s.yaml").write_text("name: s\n", encoding="utf-8")
    assert spec_git(empty / "s.yaml") is None  # a repository without a commit
    assert spec_git(repo / "specs" / "absent.yaml") is None
    assert spec_git(Path("<spec>")) is None  # a spec given as text
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    assert spec_git(repo / "specs" / "shop.yaml") is None


def test_sla_runner_s_own_commit_is_its_checkout_s() -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("sla-runner is not run from a git checkout here")
    assert Path(sla_runner.__file__).resolve().parent == (ROOT / "sla_runner").resolve()
    found = runner_git()
    assert found is not None
    assert found.commit == _git(ROOT, "rev-parse", "HEAD")
    changed = _git(ROOT, "status", "--porcelain", "--", "sla_runner")
    assert found.state == ("modified" if changed else "clean")
