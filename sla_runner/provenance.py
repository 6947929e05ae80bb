"""Where a verdict came from: the CI job that ran it, its spec's commit, sla-runner's commit.

Read once, before any load, by :func:`sla_runner.api.run_info` and the merge; the judge
only copies what it is given into the verdict (``run.ci``, ``spec.git``,
``run.runner_git``). Only identifiers are read, never a token or other secret.

``ci``
    From the variables the CI system sets: GitHub Actions (``GITHUB_ACTIONS=true``:
    ``GITHUB_REPOSITORY``, ``GITHUB_RUN_ID``, ``GITHUB_RUN_ATTEMPT``, ``GITHUB_WORKFLOW``,
    ``GITHUB_JOB``, ``GITHUB_SHA``, ``GITHUB_REF``, and the run's page from
    ``GITHUB_SERVER_URL``), GitLab CI (``GITLAB_CI=true``: ``CI_PROJECT_PATH``,
    ``CI_PIPELINE_ID``, ``CI_JOB_NAME``, ``CI_JOB_ID``, ``CI_COMMIT_SHA``,
    ``CI_COMMIT_REF_NAME``, ``CI_JOB_URL``), Jenkins (``JENKINS_URL``: ``JOB_NAME``,
    ``BUILD_NUMBER``, ``GIT_COMMIT``, ``GIT_BRANCH``, ``BUILD_URL``), any other that sets
    ``CI=true`` (the system only). None outside CI.
``spec_git``
    The commit (``HEAD``) of the git work tree the spec file is in, and the file's state
    in it: ``clean``, ``modified`` (it differs from the commit) or ``untracked`` (the commit
    does not hold it: untracked or ignored). None when the file is in no work tree.
``runner_git``
    sla-runner's own commit: of the checkout it runs from (an editable install, or a
    clone on ``PYTHONPATH``: ``modified`` when its ``sla_runner/`` differs), or the one
    pip recorded when it installed it from git (``pip install git+https://…@v1.2.3``).
    None when neither is known (a wheel, a copy without ``.git``).

Every lookup is optional: no ``git`` on the PATH, a folder that is no work tree, a git that
refuses it (``safe.directory``) or takes more than :data:`GIT_TIMEOUT_S` gives None,
never an error, and never fails the run.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from sla_runner.judge.verdicts import Provenance
from sla_runner.verdict import CiRun, GitState
from sla_runner.verdict_provenance import GitFileState

__all__ = ["GIT_TIMEOUT_S", "ci_run", "provenance", "runner_git", "spec_git"]

GIT_TIMEOUT_S = 2.0
_PACKAGE = Path(__file__).resolve().parent


def provenance(spec_path: Path | None, env: Mapping[str, str] | None = None) -> Provenance:
    """The CI job (from ``env``, by default the process's), the spec file's commit and
    sla-runner's commit."""
    return Provenance(
        ci=ci_run(os.environ if env is None else env),
        spec_git=None if spec_path is None else spec_git(spec_path),
        runner_git=runner_git(),
    )


def ci_run(env: Mapping[str, str]) -> CiRun | None:
    """The CI job these environment variables describe; None outside CI."""

    def get(name: str) -> str | None:
        return env.get(name) or None

    if get("GITHUB_ACTIONS") == "true":
        repository, run_id = get("GITHUB_REPOSITORY"), get("GITHUB_RUN_ID")
        attempt = get("GITHUB_RUN_ATTEMPT")
        server = get("GITHUB_SERVER_URL") or "https://github.com"
        url = None
        if repository and run_id:
            url = f"{server}/{repository}/actions/runs/{run_id}"
            url += f"/attempts/{attempt}" if attempt else ""
        return CiRun(
            system="github",
            repository=repository,
            workflow=get("GITHUB_WORKFLOW"),
            run_id=run_id,
            run_attempt=attempt,
            job=get("GITHUB_JOB"),
            commit=get("GITHUB_SHA"),
            ref=get("GITHUB_REF"),
            url=url,
        )
    if get("GITLAB_CI") == "true":
        return CiRun(
            system="gitlab",
            repository=get("CI_PROJECT_PATH"),
            run_id=get("CI_PIPELINE_ID"),
            job=get("CI_JOB_NAME"),
            job_id=get("CI_JOB_ID"),
            commit=get("CI_COMMIT_SHA"),
            ref=get("CI_COMMIT_REF_NAME"),
            url=get("CI_JOB_URL"),
        )
    if get("JENKINS_URL"):
        return CiRun(
            system="jenkins",
            job=get("JOB_NAME"),
            run_id=get("BUILD_NUMBER"),
            commit=get("GIT_COMMIT"),
            ref=get("GIT_BRANCH"),
            url=get("BUILD_URL"),
        )
    if (get("CI") or "").lower() in ("true", "1"):
        return CiRun(system="ci")
    return None


def _git(folder: Path, *args: str) -> str | None:
    """``git -C folder ARGS``'s output; None when git is missing, fails or hangs."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
            # read only: no index refresh written, no pager, no prompt, messages in English
            env={
                **os.environ,
                "GIT_OPTIONAL_LOCKS": "0",
                "GIT_TERMINAL_PROMPT": "0",
                "LC_ALL": "C",
            },
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def spec_git(path: Path) -> GitState | None:
    """The commit of the work tree holding the file at ``path``, and the file's state."""
    file = Path(path)
    if not file.is_file():
        return None
    file = file.resolve()
    head = _git(file.parent, "rev-parse", "--verify", "HEAD")
    if not head:
        return None
    status = _git(file.parent, "status", "--porcelain=v1", "--ignored", "--", file.name)
    if status is None:
        return None
    code = status[:2]
    state: GitFileState = (
        "clean" if not status else "untracked" if code in ("??", "!!") else "modified"
    )
    return GitState(commit=head.strip(), state=state)


@functools.cache
def runner_git() -> GitState | None:
    """sla-runner's commit: its checkout's, or the one pip recorded; None if neither."""
    root = _PACKAGE.parent
    found = _git(root, "rev-parse", "--show-toplevel", "--verify", "HEAD")
    lines = (found or "").split()
    if len(lines) == 2 and Path(lines[0]).resolve() == root:
        status = _git(root, "status", "--porcelain=v1", "--", _PACKAGE.name)
        if status is not None:
            return GitState(commit=lines[1], state="modified" if status else "clean")
    return _installed_from_git(root)


def _installed_from_git(site: Path) -> GitState | None:
    """The commit in pip's record of an install from a VCS URL (``direct_url.json``)."""
    for dist in importlib.metadata.distributions(path=[str(site)]):
        if (dist.metadata["Name"] or "").lower().replace("_", "-") != "sla-runner":
            continue
        try:
            record = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            return None
        commit = record.get("vcs_info", {}).get("commit_id") if isinstance(record, dict) else None
        return GitState(commit=commit, state="clean") if isinstance(commit, str) else None
    return None
