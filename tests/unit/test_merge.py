"""Merging verdicts: the halves of a run, merged and re-judged, equal the whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.api import merge_verdicts
from sla_runner.errors import UsageError, VerdictMismatchError
from sla_runner.judge.verdicts import judge
from sla_runner.plan import Segment
from sla_runner.report.json_report import write_json
from sla_runner.spec.loader import LoadedSpecV1 as LoadedSpec
from sla_runner.spec.models import SpecV1
from sla_runner.verdict import Verdict
from tests.unit.verdict_data import (
    SECRET,
    THRESHOLDS,
    close,
    known_run,
    make_spec,
    recorder,
    run_info,
    verdict_of,
)

SPEC = make_spec(THRESHOLDS)
SHA = "ab" * 32


def halves_and_whole(tmp_path: Path) -> tuple[list[Path], Verdict]:
    paths = []
    for part in (0, 1):
        rec = known_run(SPEC, recorder(SPEC, Segment(part + 1, 2)), part=part, parts=2)
        verdict = judge(SPEC, close(rec), run_info(host=f"host-{part}", segment=f"{part + 1}/2"))
        paths.append(write_json(tmp_path / f"half-{part}.json", verdict))
    whole = judge(SPEC, close(known_run(SPEC)), run_info())
    return paths, whole


def figures(verdict: Verdict) -> list[tuple[str, str | None, float | None, int, str]]:
    return [(t.expr, t.during, t.observed, t.samples, t.status) for t in verdict.thresholds]


def test_merged_halves_equal_the_whole(tmp_path: Path) -> None:
    paths, whole = halves_and_whole(tmp_path)
    merged = merge_verdicts(paths, None)
    assert figures(merged) == figures(whole)
    assert merged.status == whole.status == "fail"
    for name, summary in whole.metrics.items():
        other = merged.metrics[name]
        assert (other.count, other.errors, other.latency_ms, other.values) == (
            summary.count,
            summary.errors,
            summary.latency_ms,
            summary.values,
        ), name
    assert merged.run.segment == "merged"
    assert merged.run.host == "host-0, host-1"
    assert merged.findings == whole.findings


def test_each_half_alone_differs_from_the_whole(tmp_path: Path) -> None:
    paths, whole = halves_and_whole(tmp_path)
    alone = merge_verdicts(paths[:1], None, allow_partial=True)
    assert figures(alone) != figures(whole)


def test_with_the_spec_given(tmp_path: Path) -> None:
    paths, whole = halves_and_whole(tmp_path)
    loaded = LoadedSpec(
        spec=SPEC, path=Path("specs/checkout.yaml"), sha256=SHA, secrets=frozenset()
    )
    assert figures(merge_verdicts(paths, loaded)) == figures(whole)
    other = LoadedSpec(spec=SPEC, path=Path("other.yaml"), sha256="cd" * 32, secrets=frozenset())
    with pytest.raises(VerdictMismatchError, match="is not the spec the verdicts judged") as info:
        merge_verdicts(paths, other)
    assert info.value.exit_code == 2


def test_verdicts_of_different_specs_do_not_merge(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    other = judge(SPEC, close(known_run(SPEC)), run_info(spec_sha256="cd" * 32))
    stray = write_json(tmp_path / "other.json", other)
    with pytest.raises(VerdictMismatchError, match="different specs") as info:
        merge_verdicts([paths[0], stray], None)
    assert info.value.exit_code == 2
    assert not isinstance(info.value, UsageError)  # the files given, not the command line


def test_the_same_segment_twice_does_not_merge(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    with pytest.raises(VerdictMismatchError, match="segment 1/2 is also in"):
        merge_verdicts([paths[0], paths[0]], None)


def test_an_error_verdict_has_nothing_to_merge(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    failed = write_json(tmp_path / "error.json", verdict_of("error"), secrets=frozenset({SECRET}))
    with pytest.raises(VerdictMismatchError, match="has no recording to merge"):
        merge_verdicts([paths[0], failed], None)


def test_a_whole_run_does_not_merge_with_a_segment(tmp_path: Path) -> None:
    paths, whole = halves_and_whole(tmp_path)
    whole_path = write_json(tmp_path / "whole.json", whole)
    with pytest.raises(VerdictMismatchError, match=r"a whole run \(segment 1/1\) cannot be merged"):
        merge_verdicts([paths[0], whole_path], None)
    with pytest.raises(VerdictMismatchError, match="cannot be merged"):
        merge_verdicts([whole_path, whole_path], None)


def test_a_missing_segment_is_noted_when_partial_merges_are_allowed(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    alone = merge_verdicts(paths[:1], None, allow_partial=True)
    assert any("segment 2/2 is missing" in note for note in alone.notes)
    assert alone.validity.valid
    both = merge_verdicts(paths, None)
    assert not any("missing" in note for note in both.notes)


def test_a_segment_leaves_load_share_thresholds_to_the_merged_verdict() -> None:
    spec = make_spec(["users >= 10", "count(http) > 1", "rate(http) > 1/s", "p95(http) < 10s"])
    rec = known_run(spec, recorder(spec, Segment(1, 2)), part=0, parts=2)
    verdict = judge(spec, close(rec), run_info(segment="1/2"))
    assert [t.status for t in verdict.thresholds] == ["skipped", "skipped", "skipped", "pass"]
    assert "segment 1/2 carries 1/2 of the load" in verdict.thresholds[0].message
    assert verdict.status == "pass"


def thirds(tmp_path: Path, spec: SpecV1, lag_ms: dict[int, float] | None = None) -> list[Path]:
    """The three segments of ``known_run``; ``lag_ms`` gives a segment a lagging loop."""
    paths = []
    for part in range(3):
        rec = known_run(spec, recorder(spec, Segment(part + 1, 3)), part=part, parts=3)
        for _ in range(200):
            rec.loop_lag(int((lag_ms or {}).get(part, 1.0) * 1_000_000))
        verdict = judge(spec, close(rec), run_info(host=f"host-{part}", segment=f"{part + 1}/3"))
        paths.append(write_json(tmp_path / f"third-{part}.json", verdict))
    return paths


def test_a_merge_missing_segments_leaves_load_share_thresholds_skipped(tmp_path: Path) -> None:
    """Two of three segments carry two thirds of the users: judging ``users >= 10`` on them
    would fail a service that held the whole load."""
    spec = make_spec(["users >= 10", "count(http) > 1", "rate(http) > 1/s", "p95(http) < 10s"])
    paths = thirds(tmp_path, spec)
    partial = merge_verdicts(paths[:2], None, allow_partial=True)
    assert partial.run.segment == "1+2/3"
    assert [t.status for t in partial.thresholds] == ["skipped", "skipped", "skipped", "pass"]
    assert "segment 1+2/3 carries 2/3 of the load" in partial.thresholds[0].message
    assert partial.status == "pass"
    whole = merge_verdicts(paths, None)
    assert whole.run.segment == "merged"
    assert [t.status for t in whole.thresholds] == ["pass"] * 4


def test_a_merge_is_invalid_when_any_part_was(tmp_path: Path) -> None:
    """One host's lagging loop is not diluted by the healthy ones: pooled, its p99 of
    200 ms would sit at the 99.5th percentile and the merge would pass."""
    spec = make_spec(["p95(http) < 10s"])
    paths = thirds(tmp_path, spec, lag_ms={1: 200.0})
    parts = [Verdict.model_validate_json(p.read_text(encoding="utf-8")) for p in paths]
    assert [v.status for v in parts] == ["pass", "invalid", "pass"]
    merged = merge_verdicts(paths, None)
    assert merged.status == "invalid"
    assert merged.exit_code == 4
    assert any(
        reason.startswith(f"{paths[1]} (segment 2/3): the generator's event loop lagged")
        for reason in merged.validity.reasons
    ), merged.validity.reasons


def test_segments_of_different_stage_durations_do_not_merge(tmp_path: Path) -> None:
    """A segment run with ``--set`` changing a stage's duration is another plan."""
    stages = [{"name": "ramp", "duration": "2s", "users": 10}]
    short = make_spec(
        ["p95(http) < 10s"], stages=[*stages, {"name": "steady", "duration": "2s", "users": 10}]
    )
    long = make_spec(
        ["p95(http) < 10s"], stages=[*stages, {"name": "steady", "duration": "60s", "users": 10}]
    )
    paths = []
    for part, spec in enumerate((short, long)):
        rec = known_run(spec, recorder(spec, Segment(part + 1, 2)), part=part, parts=2)
        verdict = judge(spec, close(rec), run_info(segment=f"{part + 1}/2"))
        paths.append(write_json(tmp_path / f"half-{part}.json", verdict))
    with pytest.raises(
        VerdictMismatchError,
        match=r"stage durations differ: ramp 2s, steady 60s against ramp 2s, steady 2s",
    ) as info:
        merge_verdicts(paths, None)
    assert info.value.exit_code == 2


def test_segments_run_with_other_overrides_do_not_merge(tmp_path: Path) -> None:
    """--set load.stages[1].rate=1/s on one host and not the other: the same file, another
    plan; the stage durations may agree, the overrides the verdicts record do not."""
    paths = []
    for part, overrides in enumerate(((), (("load.stages[1].users", "5"),))):
        rec = known_run(SPEC, recorder(SPEC, Segment(part + 1, 2)), part=part, parts=2)
        info = run_info(segment=f"{part + 1}/2", overrides=overrides)
        paths.append(write_json(tmp_path / f"half-{part}.json", judge(SPEC, close(rec), info)))
    with pytest.raises(
        VerdictMismatchError,
        match=r"other --set overrides .*: load\.stages\[1\]\.users=5 against none",
    ):
        merge_verdicts(paths, None)


def test_verdicts_run_with_overrides_are_not_judged_on_the_file_as_written(
    tmp_path: Path,
) -> None:
    """--spec holds the thresholds as written; verdicts run with --set may have judged
    others. Without --spec, merge judges the thresholds the verdicts ran with."""
    paths = []
    for part in (0, 1):
        rec = known_run(SPEC, recorder(SPEC, Segment(part + 1, 2)), part=part, parts=2)
        ran = (("thresholds[0]", "p95(http) < 1us"),)
        info = run_info(segment=f"{part + 1}/2", overrides=ran)
        paths.append(write_json(tmp_path / f"half-{part}.json", judge(SPEC, close(rec), info)))
    loaded = LoadedSpec(spec=SPEC, path=Path("specs/c.yaml"), sha256=SHA, secrets=frozenset())
    with pytest.raises(VerdictMismatchError, match="merge without --spec"):
        merge_verdicts(paths, loaded)
    assert merge_verdicts(paths, None).run.overrides == {"thresholds[0]": "p95(http) < 1us"}


def test_a_merge_that_lacks_segments_is_invalid_naming_them(tmp_path: Path) -> None:
    """A CI job that lost a host must not go green: ``merge seg1.json`` of 1/2 passed."""
    spec = make_spec(["p95(http) < 10s", "success_rate(http) > 50%"])
    paths = thirds(tmp_path, spec)
    partial = merge_verdicts(paths[:2], None)
    assert partial.status == "invalid"
    assert partial.exit_code == 4
    assert partial.validity.reasons == [
        "segment 3/3 is missing: the merged figures cover 2 of 3 shares of the load "
        "(merge --allow-partial judges the shares present)"
    ]
    assert [(t.status, t.trusted) for t in partial.thresholds] == [
        ("pass", False),
        ("pass", False),
    ]
    one = merge_verdicts(paths[2:], None)
    assert one.validity.reasons[0].startswith("segments 1/3, 2/3 are missing")
    allowed = merge_verdicts(paths[:2], None, allow_partial=True)
    assert (allowed.status, allowed.validity.valid) == ("pass", True)
    assert allowed.notes == [
        "segment 3/3 is missing: the merged figures cover 2 of 3 shares of the load"
    ]


def test_a_partial_merge_merged_again_still_lacks_its_segments(tmp_path: Path) -> None:
    spec = make_spec(["p95(http) < 10s"])
    paths = thirds(tmp_path, spec)
    allowed = merge_verdicts(paths[:2], None, allow_partial=True)
    again = merge_verdicts([write_json(tmp_path / "partial.json", allowed)], None)
    assert again.status == "invalid"
    assert "segment 3/3 is missing" in again.validity.reasons[0]


def test_a_missing_segment_does_not_let_a_failure_stand(tmp_path: Path) -> None:
    """The missing share's successes could lift a success rate over its limit."""
    spec = make_spec(["success_rate(http) > 99%"])
    paths = thirds(tmp_path, spec)
    assert merge_verdicts(paths, None).status == "fail"  # the whole: 8 HTTP 503s of 204
    assert merge_verdicts(paths[:2], None).status == "invalid"


def test_a_merge_with_an_aborted_part_applies_the_cut_short_rules(tmp_path: Path) -> None:
    """Segment 3/3 stopped at 1.5 s of 4 s: the whole load ran only 1.5 s, so the merge
    judges as one run aborted there would. It judged users, count and rate over the
    planned window (a rate FAIL where the single run SKIPs)."""
    spec = make_spec(
        [
            "users >= 10",
            "count(http) > 1000",
            "count(http) > 10",
            "rate(http) > 10/s",
            "p95(http) < 10s",
            {"expr": "p95(http) < 10s", "during": "steady"},
        ]
    )
    paths = []
    for part in range(3):
        rec = known_run(spec, recorder(spec, Segment(part + 1, 3)), part=part, parts=3)
        stopped = part == 2  # segment 3/3 stopped at 1.5 s
        recording = close(rec, elapsed_s=1.5 if stopped else 4.0, aborted=stopped)
        verdict = judge(spec, recording, run_info(segment=f"{part + 1}/3"))
        paths.append(write_json(tmp_path / f"third-{part}.json", verdict))
    merged = merge_verdicts(paths, None)
    alone = judge(spec, close(known_run(spec), elapsed_s=1.5, aborted=True), run_info())
    assert [t.status for t in alone.thresholds] == [
        "pass",
        "skipped",
        "pass",
        "skipped",
        "pass",
        "skipped",
    ]
    assert [(t.status, t.message) for t in merged.thresholds] == [
        (t.status, t.message) for t in alone.thresholds
    ]
    assert merged.status == "aborted"
