"""Where a verdict came from (format ``sla-runner/verdict`` version 1): the CI job that
made it and git commits. :mod:`sla_runner.verdict` holds the rest and re-exports these;
:mod:`sla_runner.provenance` reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sla_runner.verdict_thresholds import VerdictModel

GitFileState = Literal["clean", "modified", "untracked"]


class GitState(VerdictModel):
    """A git commit, and whether what was used differs from it."""

    commit: str = Field(description="the commit's full hash")
    state: GitFileState = Field(
        description="clean: as the commit holds it; modified: it differs from the commit; "
        "untracked: the commit does not hold it (untracked or ignored)"
    )


class CiRun(VerdictModel):
    """The CI job that ran sla-runner, from the variables its CI system sets (identifiers
    only); a field the system does not set is null."""

    system: Literal["github", "gitlab", "jenkins", "ci"] = Field(
        description="github (GitHub Actions), gitlab (GitLab CI), jenkins, or ci: another "
        "system that sets CI=true"
    )
    repository: str | None = Field(
        None, description="owner/name (GITHUB_REPOSITORY, CI_PROJECT_PATH)"
    )
    workflow: str | None = Field(None, description="the workflow's name (GITHUB_WORKFLOW)")
    run_id: str | None = Field(
        None,
        description="the workflow run, pipeline or build (GITHUB_RUN_ID, CI_PIPELINE_ID, "
        "BUILD_NUMBER)",
    )
    run_attempt: str | None = Field(None, description="the run's attempt (GITHUB_RUN_ATTEMPT)")
    job: str | None = Field(None, description="the job (GITHUB_JOB, CI_JOB_NAME, JOB_NAME)")
    job_id: str | None = Field(None, description="the job's id (CI_JOB_ID)")
    commit: str | None = Field(
        None,
        description="the commit the CI run is of (GITHUB_SHA, CI_COMMIT_SHA, GIT_COMMIT): "
        "the repository the workflow runs in, not necessarily the spec's",
    )
    ref: str | None = Field(None, description="GITHUB_REF, CI_COMMIT_REF_NAME, GIT_BRANCH")
    url: str | None = Field(
        None,
        description="the run's or job's page (built from GITHUB_SERVER_URL; CI_JOB_URL, BUILD_URL)",
    )

    def describe(self) -> str:
        """``github run 123 (attempt 2) of owner/name, job segment``: for reports."""
        text = self.system + (f" run {self.run_id}" if self.run_id else "")
        text += f" (attempt {self.run_attempt})" if self.run_attempt else ""
        text += f" of {self.repository}" if self.repository else ""
        job = self.job or self.job_id
        return text + (f", job {job}" if job else "")


def commit_text(git: GitState) -> str:
    """``0123456789ab`` for a clean commit, ``0123456789ab (modified)`` otherwise."""
    return git.commit[:12] + ("" if git.state == "clean" else f" ({git.state})")
