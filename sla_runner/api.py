"""The library entry points: what the CLI calls, and what Python callers use directly.

loaded = load_spec("specs/demo.yaml")
verdict = run_spec(loaded)                      # plan → execute → judge
write_reports(verdict, junit="reports/junit.xml", json="reports/verdict.json",
              secrets=loaded.secrets)
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sla_runner._version import __version__
from sla_runner.comparison import Comparison
from sla_runner.engine.control import Progress, RunControl
from sla_runner.engine.execute import execute
from sla_runner.engine.pool import WorkerOutcome, run_workers
from sla_runner.engine.poolparts import split_share
from sla_runner.engine.transports import resolve_engine
from sla_runner.errors import EXIT_FAIL, EXIT_PASS, RunError, UsageError
from sla_runner.judge.compare import (
    PlanIdentity,
    compare_verdicts,
    load_overrides,
    plan_differences,
    plan_of,
    refuse_unless_allowed,
    require_figures,
    spec_differences,
)
from sla_runner.judge.merge import LoadedSpec as AnyLoadedSpec
from sla_runner.judge.merge import judge_merged, judge_parts
from sla_runner.judge.verdicts import RunInfo, error_verdict, judge
from sla_runner.metrics.recorder import Recorder
from sla_runner.metrics.recording import Recording
from sla_runner.plan import Plan, Segment, build_plan
from sla_runner.provenance import provenance
from sla_runner.redact import MASK, SECRET_QUERY_KEYS, redact, redact_url
from sla_runner.report.json_report import read_verdict
from sla_runner.report.junit import case_name
from sla_runner.report.outputs import write_reports
from sla_runner.spec.diff import Change, diff_specs, version_note
from sla_runner.spec.document import LoadedSpec, load_document, load_document_text
from sla_runner.spec.format2 import Spec
from sla_runner.spec.loader import parse_override_path
from sla_runner.spec.migrate import migrate_file
from sla_runner.spec.models import SpecV1
from sla_runner.streams import Streams, open_streams
from sla_runner.verdict import Verdict

__all__ = [
    "Comparison",
    "LoadedSpec",
    "Plan",
    "Recording",
    "RunInfo",
    "Segment",
    "SpecDiff",
    "Streams",
    "Verdict",
    "build_plan",
    "compare_run",
    "compare_specs",
    "compare_verdict_files",
    "execute",
    "judge",
    "load_spec",
    "load_spec_text",
    "merge_verdicts",
    "migrate_spec",
    "parse_overrides",
    "read_baseline",
    "read_verdict",
    "run_info",
    "run_spec",
    "threshold_cases",
    "write_reports",
]


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """``--set`` (and ``--sla-set``) items: ``["a.b=1", "c=x=y"]`` → ``{"a.b": "1", "c":
    "x=y"}``; UsageError on a missing ``=``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:  # the shell passed bytes that are not UTF-8
            raise UsageError(f"--set {key.strip()}: the value is not UTF-8 text") from None
        out[key.strip()] = value
    return out


def load_spec(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> LoadedSpec:
    """Read, check and validate the spec at ``path``, of either format version, as the
    format-2 model (a version-1 file through its conversion: one scenario, ``default``);
    raise SpecError listing every problem. ``env`` defaults to ``os.environ``;
    ``overrides`` maps dotted paths (``load.stages[0].users`` in a version-1 file,
    ``scenarios.shoppers.load.stages[0].users`` in format 2) to YAML scalars (``--set``)."""
    return load_document(path, env, overrides)


def load_spec_text(
    text: str,
    filename: str = "<spec>",
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> LoadedSpec:
    """As :func:`load_spec`, for text in memory; ``filename`` names it in errors, data
    files are read relative to ``base_dir`` (default: the folder of ``filename``)."""
    return load_document_text(text, filename, env, overrides, base_dir)


def migrate_spec(path: str | Path, env: Mapping[str, str] | None = None) -> str:
    """The format-2 text of the version-1 spec file at ``path`` (``sla-runner migrate``)."""
    return migrate_file(path, env=os.environ if env is None else env)


def shown_override(key: str, value: str) -> str:
    """An override's value as reports show it: a header's or a credential-named key's
    (``token``, ``api_key``…) masked, a URL's or path's without its credentials (secrets
    from the environment are masked when the report is written)."""
    try:
        path = parse_override_path(key)
    except ValueError:
        return MASK  # not a key the loader took; nothing to show
    named = {str(part).lower() for part in path}
    if "headers" in named or str(path[-1]).lower() in SECRET_QUERY_KEYS:
        return MASK
    return redact_url(value) if "://" in value or "?" in value else value


def run_info(
    loaded: LoadedSpec,
    segment: Segment,
    overrides: dict[str, str] | None = None,
    engine: str | None = None,
) -> RunInfo:
    """The facts a verdict records about this run besides what it measured."""
    spec = loaded.spec
    warnings: list[str] = []
    if not spec.target.verify_tls:
        warnings.append("TLS certificate verification is off (target.verify_tls: false)")
    if overrides:
        keys = ", ".join(sorted(overrides))
        warnings.append(f"the spec was run with --set overrides of: {keys}")
    return RunInfo(
        spec_path=str(loaded.path),
        spec_sha256=loaded.sha256,
        runner_version=__version__,
        host=socket.gethostname(),
        base_url=redact_url(spec.target.base_url),
        segment=str(segment),
        engine=resolve_engine(spec.target, engine),
        warnings=tuple(warnings),
        overrides=tuple(
            (key, shown_override(key, value)) for key, value in sorted((overrides or {}).items())
        ),
        format_version=loaded.version,
        provenance=provenance(loaded.path),
    )


def run_spec(
    loaded: LoadedSpec,
    *,
    segment: Segment | None = None,
    engine: str | None = None,
    progress: Progress | None = None,
    handle_signals: bool = True,
    overrides: dict[str, str] | None = None,
    fail_fast: bool = False,
    streams: Streams | None = None,
    workers: int = 1,
    on_start: Callable[[], None] | None = None,
) -> Verdict:
    """Plan, run and judge a spec. A run that cannot be carried out gives an ``error`` verdict.
    ``on_start`` is called once the pre-flight checks passed, before any load.

    ``workers``: carry the load (this ``segment`` of it) in that many processes on this
    host, one part of it each (:mod:`sla_runner.engine.pool`); their recordings are merged
    exactly and judged once. A worker that dies makes the run ``invalid``, naming it.

    ``fail_fast``: stop once a whole second passes in which requests or round trips completed
    and none succeeded (the service is down or failing everything). Such a run is judged on
    what it measured, thresholds of stages never reached are ``skipped``, and its status is
    ``fail`` (exit 1) whatever the thresholds say, with the reason in ``message`` and a note.

    ``streams``: what to stream while the run goes (:class:`~sla_runner.streams.Streams`).
    """
    spec: Spec = loaded.spec
    segment = segment or Segment()
    run = run_info(loaded, segment, overrides, engine)
    control = RunControl(fail_fast=fail_fast)
    attempted_at = time.time()  # a run that never starts still records when it was tried
    try:
        if workers > 1:
            if streams:
                raise UsageError(
                    "--out and --metrics-port stream one process's figures: not with --workers "
                    "(stream each --segment run instead)"
                )
            parts = split_share(spec, segment, workers, loaded.tables)
            ended = run_workers(
                spec,
                parts,
                engine=engine,
                progress=progress,
                control=control,
                handle_signals=handle_signals,
                on_start=on_start,
                tables=loaded.tables,
            )
            verdict = _judge_workers(loaded, segment, ended, run)
        else:
            with open_streams(streams) as tap:
                recording = execute(
                    spec,
                    build_plan(spec, segment, loaded.tables),
                    engine=engine,
                    progress=progress,
                    control=control,
                    handle_signals=handle_signals,
                    on_start=on_start,
                    tap=tap,
                    tables=loaded.tables,
                )
            verdict = judge(spec, recording, run, secrets=loaded.secrets)
    except RunError as exc:
        failed = replace(run, error=str(exc), started_at=attempted_at, finished_at=time.time())
        return error_verdict(spec, failed, secrets=loaded.secrets)
    if control.failed and verdict.status == "aborted":
        message = redact(f"stopped early by {control.reason}", loaded.secrets)
        verdict = verdict.model_copy(update={"status": "fail", "message": message})
    return verdict


def _judge_workers(
    loaded: LoadedSpec, segment: Segment, ended: Sequence[WorkerOutcome], run: RunInfo
) -> Verdict:
    """The workers' recordings merged and judged once; those that died named as missing."""
    parts = [(w.name, w.recording) for w in ended if w.recording is not None]
    missing = [w.death or f"{w.name} sent no recording" for w in ended if w.recording is None]
    if not parts:  # every worker died: judged on nothing, invalid
        empty = Recorder(build_plan(loaded.spec, segment)).close(
            elapsed_ns=0, started_at=time.time(), finished_at=time.time(), aborted=False
        )
        parts = [("no worker", empty)]
    present = [w.segment for w in ended if w.recording is not None]
    parts[0][1].notes.append(
        f"carried by {len(ended)} worker processes on one host (segments "
        f"{', '.join(str(w.segment) for w in ended)}), their recordings merged"
    )
    return judge_parts(
        loaded.spec,
        parts,
        run,
        segment=segment.label(present) if present else "none",
        missing=missing,
        secrets=loaded.secrets,
    )


def threshold_cases(loaded: LoadedSpec) -> list[str]:
    """The names of the cases a run of this spec judges, in order, without running it (the
    thresholds of a verdict that ran nothing): JUnit's and the pytest plugin's items."""
    ran_nothing = error_verdict(loaded.spec, run_info(loaded, Segment()))
    return [case_name(t) for t in ran_nothing.thresholds]


def merge_verdicts(
    paths: Sequence[Path | str],
    spec: AnyLoadedSpec | None = None,
    *,
    runner_version: str = __version__,
    allow_partial: bool = False,
) -> Verdict:
    """Read the JSON verdicts at ``paths``, merge their recordings and judge the result
    (:mod:`sla_runner.judge.merge` says how). A file that cannot be read or is not a
    verdict is a ReportError. Without ``allow_partial``, a merge that lacks segments is
    ``invalid``."""
    return judge_merged(
        [(Path(p), read_verdict(p)) for p in paths],
        spec,
        runner_version=runner_version,
        allow_partial=allow_partial,
        provenance=provenance(spec.path if spec else None),
    )


@dataclass(frozen=True)
class SpecDiff:
    """Two versions of a spec compared (``sla-runner diff``)."""

    old: LoadedSpec
    new: LoadedSpec
    changes: tuple[Change, ...]
    note: str | None  # a warning: the promises changed and sla_version did not

    @property
    def exit_code(self) -> int:
        """1 when anything was loosened (a contract repository can require a review for
        it), else 0."""
        return EXIT_FAIL if any(c.kind == "loosened" for c in self.changes) else EXIT_PASS


def compare_specs(old: LoadedSpec, new: LoadedSpec) -> SpecDiff:
    """What changed from ``old`` to ``new``: tightened, loosened or changed."""
    a, b = _as_written(old), _as_written(new)
    changes = diff_specs(a, b)
    return SpecDiff(old, new, tuple(changes), version_note(a, b, changes))


def _as_written(loaded: LoadedSpec) -> Spec | SpecV1:
    """The model of the file's own version: two version-1 files compare as format 1."""
    return loaded.v1 if loaded.v1 is not None else loaded.spec


# -- baselines -------------------------------------------------------------------------------


def compare_verdict_files(
    baseline: Path | str,
    new: Path | str,
    *,
    tolerance_pct: float = 10.0,
    noise_floor_ms: float = 1.0,
    allow_spec_change: bool = False,
) -> Comparison:
    """``sla-runner compare``: the verdict at ``new`` against the one at ``baseline``
    (:mod:`sla_runner.judge.compare` says how)."""
    return compare_verdicts(
        read_verdict(baseline),
        read_verdict(new),
        baseline_path=str(baseline),
        new_path=str(new),
        tolerance_pct=tolerance_pct,
        noise_floor_ms=noise_floor_ms,
        allow_spec_change=allow_spec_change,
    )


def read_baseline(
    path: Path | str,
    loaded: LoadedSpec,
    plan: Plan,
    overrides: dict[str, str] | None = None,
    *,
    allow_spec_change: bool = False,
) -> Verdict:
    """``run --baseline``: the baseline verdict, checked before any load to be of this spec
    and plan (VerdictMismatchError otherwise, unless ``allow_spec_change``) and to hold
    figures to compare."""
    baseline = read_verdict(path)
    require_figures(str(path), baseline)
    differences = spec_differences(
        baseline, loaded.sha256, loaded.spec.name, loaded.spec.sla_version
    )
    base_plan = plan_of(baseline)
    if base_plan is not None:
        shown = {key: shown_override(key, value) for key, value in (overrides or {}).items()}
        this = PlanIdentity(
            tuple((stage.name, stage.duration_ns) for stage in plan.stages),
            str(plan.segment),
            load_overrides(shown),
        )
        differences += plan_differences(base_plan, this)
    refuse_unless_allowed(differences, allow_spec_change)
    return baseline


def compare_run(
    baseline: Verdict,
    baseline_path: Path | str,
    verdict: Verdict,
    *,
    tolerance_pct: float = 10.0,
    noise_floor_ms: float = 1.0,
    allow_spec_change: bool = False,
) -> Comparison | None:
    """``run --baseline``: this run's verdict against the baseline; None when the run
    measured nothing to compare (it could not be carried out: its own verdict says so)."""
    if not any(m.count for m in verdict.metrics.values()):
        return None
    return compare_verdicts(
        baseline,
        verdict,
        baseline_path=str(baseline_path),
        new_path="this run",
        tolerance_pct=tolerance_pct,
        noise_floor_ms=noise_floor_ms,
        allow_spec_change=allow_spec_change,
    )
