"""Several verdicts of one spec → one verdict, re-judged exactly (``sla-runner merge``).

Each JSON verdict carries its full recording (HDR histograms per metric, endpoint or
channel, and stage), so the merged recording is exactly the one a single process would
have made, and the thresholds are judged again on it — not averaged from the parts.

The thresholds come from ``--spec`` when it is given (its SHA-256 must be the verdicts'),
otherwise from the thresholds the verdicts recorded as the spec wrote them.

A merge that lacks segments (``1/3`` and ``2/3`` of a split in three) is ``invalid``
(exit 4), the missing segments named in ``validity.reasons``: a CI job that lost a host
must not pass. With ``allow_partial`` (``merge --allow-partial``) it is judged on the
segments present, with a note, and the load-size thresholds are skipped (they need the
whole load).

Errors: verdicts of different specs (SHA-256 differs), a ``--spec`` that is not the
verdicts' spec, a verdict without a recording (status ``error``), recordings of different
stages or stage durations, or the same segment ``i/N`` twice are
:class:`~sla_runner.errors.VerdictMismatchError` (exit 2: the verdicts do not belong
together; nothing is judged).
:func:`judge_parts` judges the recordings of one run's workers (``run --workers``) the
same way: merged exactly, invalid when a part was or when a part is missing (a worker that
died), the load's size judged on the whole.

A verdict whose recording cannot be read is a :class:`~sla_runner.errors.ReportError`
(exit 3), as is a file that is not a verdict (:func:`sla_runner.api.merge_verdicts` reads
the files; this module judges what they hold).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from sla_runner._version import __version__
from sla_runner.errors import ReportError, VerdictMismatchError
from sla_runner.judge.validity import judge_validity
from sla_runner.judge.verdicts import (
    Provenance,
    RunInfo,
    judge_rules,
    load_models,
    spec_identity,
)
from sla_runner.metrics.recording import Recording
from sla_runner.spec.convert import AnySpec, as_format2
from sla_runner.spec.parts import ThresholdRuleV2 as ThresholdRule
from sla_runner.verdict import LoadModel, ThresholdSpec, Verdict


class LoadedSpec(Protocol):
    """A spec file loaded (either loader's result): its model, version and provenance."""

    @property
    def spec(self) -> AnySpec: ...

    @property
    def version(self) -> int: ...

    @property
    def path(self) -> Path: ...

    @property
    def sha256(self) -> str: ...

    @property
    def secrets(self) -> frozenset[str]: ...


def judge_merged(
    verdicts: Sequence[tuple[Path, Verdict]],
    spec: LoadedSpec | None = None,
    *,
    runner_version: str = __version__,
    allow_partial: bool = False,
    provenance: Provenance | None = None,
) -> Verdict:
    """Merge the recordings of ``verdicts`` (each with the file it was read from) and judge
    the result. Without ``allow_partial``, a merge that lacks segments is ``invalid``.
    ``provenance``: the merging job's, and the commit of ``spec``'s file (without ``spec``,
    the spec's, commit included, is the first verdict's)."""
    if not verdicts:
        raise VerdictMismatchError("merge needs at least one verdict file")
    first = verdicts[0][1]
    _check_same_spec(verdicts, spec)
    if spec is not None and first.run.overrides:
        raise VerdictMismatchError(
            f"the verdicts were run with --set overrides ({_overrides(first)}); --spec "
            f"{spec.path} holds the spec without them: merge without --spec, which judges "
            "the thresholds as they were run"
        )
    merged = merge_recordings(verdicts)
    run = _run(verdicts, merged, runner_version, spec)
    if provenance is not None:
        run = replace(run, provenance=provenance)
    missing = missing_segments(merged.segment)
    lacking = _lacking(missing, merged.segment)
    if allow_partial and missing:
        merged.notes.append(lacking)
    incomplete = [f"{lacking} (merge --allow-partial judges the shares present)"]
    invalid = [
        f"{path} (segment {v.run.segment}): {reason}"
        for path, v in verdicts
        for reason in v.validity.reasons
    ]
    rules = (
        as_format2(spec.spec).thresholds
        if spec
        else rules_as_written(first.spec_thresholds, source=str(verdicts[0][0]))
    )
    return judge_rules(
        spec_identity(spec.spec, run) if spec else first.spec,
        rules,
        merged,
        run,
        secrets=spec.secrets if spec else frozenset(),
        invalid_parts=invalid,
        incomplete=incomplete if missing and not allow_partial else (),
        part_lags_ms=[v.validity.loop_lag_p99_ms for _, v in verdicts],
        models=load_models(spec.spec) if spec else _models(verdicts),
    )


def judge_parts(
    spec: AnySpec,
    parts: Sequence[tuple[str, Recording]],
    run: RunInfo,
    *,
    segment: str,
    missing: Sequence[str] = (),
    secrets: frozenset[str] = frozenset(),
) -> Verdict:
    """The recordings of the parts of one run (the workers of ``run --workers``), each
    named, merged exactly and judged once on ``spec``'s thresholds, as :func:`judge_merged`
    judges segments: invalid when a part was (its reasons named), the loop lag of each part
    kept apart. ``segment``: what the parts present cover (the run's share when none is
    missing), which is how the load's size is judged. ``missing``: why parts are missing
    (a worker that died): the run is invalid and no failure stands."""
    merged = parts[0][1]
    for _, other in parts[1:]:
        merged = merged.merge(other)
    merged.segment = segment
    validities = [(name, judge_validity(recording)) for name, recording in parts]
    return judge_rules(
        spec_identity(spec, run),
        as_format2(spec).thresholds,
        merged,
        run,
        secrets=secrets,
        invalid_parts=[f"{name}: {reason}" for name, v in validities for reason in v.reasons],
        incomplete=missing,
        part_lags_ms=[v.loop_lag_p99_ms for _, v in validities],
        models=load_models(spec),
    )


def _models(verdicts: Sequence[tuple[Path, Verdict]]) -> dict[str, LoadModel]:
    """The scenarios' load models, as the verdicts (of one spec) recorded them; none when
    every one was written before they were recorded."""
    return next((dict(v.scenario_models) for _, v in verdicts if v.scenario_models), {})


def missing_segments(segment: str) -> list[str]:
    """The segments ``i/N`` a recording of ``segment`` (``1/3``, ``1+2/3``) lacks."""
    match = re.fullmatch(r"(\d+(?:\+\d+)*)/(\d+)", segment)
    if match is None:
        return []
    present, count = set(match[1].split("+")), int(match[2])
    return [f"{i}/{count}" for i in range(1, count + 1) if str(i) not in present]


def _lacking(missing: list[str], segment: str) -> str:
    if not missing:
        return ""
    count = int(segment.split("/")[1])
    return (
        f"segment{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
        f"{'are' if len(missing) > 1 else 'is'} missing: the merged figures cover "
        f"{count - len(missing)} of {count} shares of the load"
    )


def _is_segment(segment: str) -> bool:
    return re.fullmatch(r"\d+/\d+", segment) is not None and segment != "1/1"


def merge_recordings(verdicts: Sequence[tuple[Path, Verdict]]) -> Recording:
    """The exact merge of the verdicts' recordings."""
    recordings: list[Recording] = []
    segments: dict[str, Path] = {}
    for path, verdict in verdicts:
        if verdict.recording is None:
            raise VerdictMismatchError(
                f"{path}: the verdict has no recording to merge (status {verdict.status}: "
                f"{verdict.message or 'the run was not carried out'})"
            )
        try:
            recording = Recording.from_dict(verdict.recording)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{path}: the verdict's recording cannot be read: {exc}") from None
        segment = recording.segment
        if len(verdicts) > 1 and not re.fullmatch(r"\d+/([2-9]|\d\d+)", segment):
            what = "a whole run (segment 1/1)" if segment == "1/1" else f"segment {segment!r}"
            raise VerdictMismatchError(
                f"{path}: {what} cannot be merged with other verdicts: merge takes the "
                "segments of one split load (run with --segment I/N)"
            )
        if _is_segment(segment):
            if segment in segments:
                raise VerdictMismatchError(
                    f"{path}: segment {segment} is also in {segments[segment]}; "
                    "merging it twice would count its load twice"
                )
            segments[segment] = path
        recordings.append(recording)
    counts = {s.split("/")[1] for s in segments}
    if len(counts) > 1:
        raise VerdictMismatchError(
            "the verdicts split the load differently: segments "
            + ", ".join(sorted(segments))
            + " (give the segments of one split)"
        )
    merged = recordings[0]
    for path_other, other in zip((p for p, _ in verdicts[1:]), recordings[1:], strict=True):
        try:
            merged = merged.merge(other)
        except ValueError as exc:
            raise VerdictMismatchError(f"{path_other}: {exc}") from None
    if segments and len(segments) < int(next(iter(segments)).split("/")[1]):
        present = sorted(int(s.split("/")[0]) for s in segments)
        merged.segment = "+".join(map(str, present)) + "/" + next(iter(segments)).split("/")[1]
    return merged


def rules_as_written(written: Sequence[ThresholdSpec], *, source: str) -> list[ThresholdRule]:
    """The spec's thresholds, rebuilt from a verdict."""
    try:
        return [ThresholdRule.model_validate(t.model_dump(by_alias=True)) for t in written]
    except ValidationError as exc:
        raise ReportError(f"{source}: a recorded threshold cannot be read: {exc}") from None


def _check_same_spec(verdicts: Sequence[tuple[Path, Verdict]], spec: LoadedSpec | None) -> None:
    shas = {v.spec.sha256 for _, v in verdicts}
    if len(shas) > 1:
        listed = "; ".join(f"{p}: {v.spec.name} {v.spec.sha256[:12]}" for p, v in verdicts)
        raise VerdictMismatchError(
            f"the verdicts are of different specs (sha256 differs): {listed}"
        )
    first_path, first = verdicts[0]
    for path, verdict in verdicts[1:]:
        if verdict.run.overrides != first.run.overrides:
            raise VerdictMismatchError(
                f"{path} was run with other --set overrides than {first_path}: "
                f"{_overrides(verdict)} against {_overrides(first)}; give every segment the "
                "same --set, written the same way"
            )
    sha = shas.pop()
    if spec is not None and spec.sha256 != sha:
        raise VerdictMismatchError(
            f"--spec {spec.path} (sha256 {spec.sha256[:12]}) is not the spec the verdicts "
            f"judged (sha256 {sha[:12]})"
        )


def _overrides(verdict: Verdict) -> str:
    given = verdict.run.overrides
    return " ".join(f"{key}={value}" for key, value in sorted(given.items())) or "none"


def _run(
    verdicts: Sequence[tuple[Path, Verdict]],
    merged: Recording,
    runner_version: str,
    spec: LoadedSpec | None,
) -> RunInfo:
    first = verdicts[0][1]
    hosts = list(dict.fromkeys(v.run.host for _, v in verdicts))
    warnings = list(dict.fromkeys(w for _, v in verdicts for w in v.run.warnings))
    engines = list(dict.fromkeys(v.run.engine for _, v in verdicts if v.run.engine))
    return RunInfo(
        spec_path=str(spec.path) if spec else first.spec.path,
        spec_sha256=first.spec.sha256,
        runner_version=runner_version,
        host=", ".join(hosts),
        base_url=first.run.base_url,
        started_at=merged.started_at or None,
        finished_at=merged.finished_at or None,
        segment=merged.segment,
        engine=", ".join(engines) or None,
        warnings=tuple(warnings),
        overrides=tuple(sorted(first.run.overrides.items())),
        format_version=spec.version if spec else first.spec.format_version,
    )


__all__ = [
    "judge_merged",
    "judge_parts",
    "merge_recordings",
    "missing_segments",
    "rules_as_written",
]
