"""The pytest plugin (entry point ``pytest11``, loaded once sla-runner is installed): SLA
specs as pytest tests, and a fixture to run one from a test.

- Collected as specs: files named ``*.sla.yaml`` (or ``*.sla.yml``) under the paths pytest
  collects, and any YAML file given on pytest's command line.
- One item per threshold, named as its JUnit case (``p95(http) < 200ms``, ``... (during
  steady)``). The spec runs once, when its first item runs; each item then passes, fails,
  errors or is skipped as its JUnit case is, with the same message and text. A threshold
  of an invalid run that is not a fact about the service is an error, not a failure, and
  so is every threshold of a run that was aborted or could not be carried out. An invalid
  spec is a collection error, its problems in one message.
- ``--sla-set KEY=VALUE`` (repeatable): as ``run --set``, for every spec run here.
  ``--sla-reports DIR``: each spec's JUnit, JSON verdict, HTML report and Markdown summary
  in DIR, named after the spec file (``api.sla.yaml`` → ``api.junit.xml``, ``api.json``,
  ``api.html``, ``api.md``); a second spec file of the same name (another folder's
  ``api.sla.yaml``) fails before it runs rather than write over those.
- The ``sla_run`` fixture, for a service started in a fixture:
  ``verdict = sla_run("specs/api.yaml", set={"target.base_url": url})`` runs the spec (a
  relative path is from pytest's root directory), writes its reports when
  ``--sla-reports`` is given and returns the :class:`~sla_runner.verdict.Verdict`.

Nothing happens on import: pytest calls the hooks below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
from _pytest._code.code import TerminalRepr

from sla_runner import api
from sla_runner.errors import SlaRunnerError
from sla_runner.report.junit import CaseOutcome, case_outcomes
from sla_runner.report.outputs import write_each
from sla_runner.verdict import Verdict

SPEC_SUFFIXES = (".sla.yaml", ".sla.yml")
_RAN = pytest.StashKey[tuple[list[CaseOutcome], CaseOutcome | None]]()
_REPORTS = pytest.StashKey[dict[str, Path]]()  # report name → the spec file writing it

SlaRun = Callable[..., Verdict]


class ThresholdFailed(Exception):
    """A threshold's case failed: shown as its JUnit message and text, no traceback."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sla-runner", "SLA specs (sla-runner)")
    group.addoption(
        "--sla-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value of every spec run, as `sla-runner run --set` (repeatable)",
    )
    group.addoption(
        "--sla-reports",
        metavar="DIR",
        help="write each spec's JUnit, JSON verdict, HTML report and Markdown summary here",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    named = file_path.name.endswith(SPEC_SUFFIXES)
    given = file_path.suffix in (".yaml", ".yml") and parent.session.isinitpath(file_path)
    if named or given:
        spec_file: SpecFile = SpecFile.from_parent(parent, path=file_path)
        return spec_file
    return None


def _run(
    config: pytest.Config, path: Path, extra: Mapping[str, Any] | None = None
) -> tuple[Verdict, frozenset[str]]:
    """Load and run the spec at ``path`` with ``--sla-set`` (then ``extra``) applied, and
    write its reports into ``--sla-reports``: the verdict, and the secrets to mask in it."""
    overrides = api.parse_overrides(config.getoption("sla_set"))
    overrides.update({key: str(value) for key, value in (extra or {}).items()})
    loaded = api.load_spec(path, overrides=overrides)
    folder = config.getoption("sla_reports")
    stem = _report_stem(config, path)
    verdict = api.run_spec(loaded, overrides=overrides, handle_signals=False)
    if folder:
        out = Path(folder)
        reports = write_each(
            verdict,
            junit=out / f"{stem}.junit.xml",
            json=out / f"{stem}.json",
            html=out / f"{stem}.html",
            summary_md=out / f"{stem}.md",
            secrets=loaded.secrets,
        )
        if reports.failed:
            raise reports.failed[0]
    return verdict, loaded.secrets


def _report_stem(config: pytest.Config, path: Path) -> str:
    """The name of a spec's reports (``api.sla.yaml`` → ``api``): a second spec file of
    the same name fails before it runs, rather than write over the first one's reports."""
    stem = path.name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".sla")
    folder = config.getoption("sla_reports")
    if folder:
        owner = config.stash.setdefault(_REPORTS, {}).setdefault(stem, path.resolve())
        if owner != path.resolve():
            pytest.fail(
                f"--sla-reports: {path} would write its reports ({Path(folder) / stem}.*) "
                f"over those of {owner}: give the spec files different names",
                pytrace=False,
            )
    return stem


class SpecFile(pytest.File):
    """A spec file: one item per threshold; the run happens once, for the first item."""

    def collect(self) -> Iterator[ThresholdItem]:
        try:
            overrides = api.parse_overrides(self.config.getoption("sla_set"))
            loaded = api.load_spec(self.path, overrides=overrides)
        except SlaRunnerError as exc:  # every problem with its place: no traceback to add
            raise self.CollectError(str(exc)) from exc
        for index, name in enumerate(api.threshold_cases(loaded)):
            yield ThresholdItem.from_parent(self, name=name, index=index)

    def outcomes(self) -> tuple[list[CaseOutcome], CaseOutcome | None]:
        if _RAN not in self.stash:
            verdict, secrets = _run(self.config, self.path)
            self.stash[_RAN] = case_outcomes(verdict, secrets=secrets)
        return self.stash[_RAN]


class ThresholdItem(pytest.Item):
    """One threshold of a spec, as its JUnit case came out."""

    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    def _outcome(self) -> CaseOutcome:
        assert isinstance(self.parent, SpecFile)
        cases, run = self.parent.outcomes()
        own = cases[self.index]
        # The run's own case (aborted, not carried out, invalid with nothing judged)
        # stands for every threshold its failure or error left without one.
        if run is not None and own.result in ("passed", "skipped") and run.result != "skipped":
            return run
        return own

    def setup(self) -> None:
        outcome = self._outcome()
        if outcome.result == "error":  # failing in setup is what pytest calls an error
            pytest.fail(_shown(outcome), pytrace=False)

    def runtest(self) -> None:
        outcome = self._outcome()
        if outcome.result == "skipped":
            pytest.skip(outcome.message)
        if outcome.result == "failure":
            raise ThresholdFailed(_shown(outcome))
        if outcome.text:  # a warning that missed: it passes, with its note
            self.add_report_section("call", "sla-runner", outcome.text)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Literal["long", "short", "line", "no", "native", "value", "auto"] | None = None,
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ThresholdFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}: {self.name}"


def _shown(outcome: CaseOutcome) -> str:
    """The message, then the text when it says more."""
    if not outcome.text or outcome.text == outcome.message:
        return outcome.message
    if outcome.text.startswith(outcome.message):
        return outcome.text
    return f"{outcome.message}\n{outcome.text}"


@pytest.fixture
def sla_run(pytestconfig: pytest.Config) -> SlaRun:
    """Run a spec from a test: ``sla_run(path, set={"target.base_url": url})`` returns the
    verdict (``--sla-set`` applies first, ``set`` after; ``--sla-reports`` gets its
    reports)."""

    def run(path: str | Path, set: Mapping[str, Any] | None = None) -> Verdict:
        spec = Path(path)
        if not spec.is_absolute():
            spec = pytestconfig.rootpath / spec
        return _run(pytestconfig, spec, set)[0]

    return run
