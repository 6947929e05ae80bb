"""Merging verdicts: the halves of a run, merged and re-judged, equal the whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.errors import UsageError
from sla_runner.merge import merge_verdicts
from sla_runner.plan import Segment
from sla_runner.report.json_report import write_json
from sla_runner.spec.loader import LoadedSpec
from sla_runner.verdict import judge
from sla_runner.verdict_model import Verdict
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
    alone = merge_verdicts(paths[:1], None)
    assert figures(alone) != figures(whole)


def test_with_the_spec_given(tmp_path: Path) -> None:
    paths, whole = halves_and_whole(tmp_path)
    loaded = LoadedSpec(
        spec=SPEC, path=Path("specs/checkout.yaml"), sha256=SHA, secrets=frozenset()
    )
    assert figures(merge_verdicts(paths, loaded)) == figures(whole)
    other = LoadedSpec(spec=SPEC, path=Path("other.yaml"), sha256="cd" * 32, secrets=frozenset())
    with pytest.raises(UsageError, match="is not the spec the verdicts judged") as info:
        merge_verdicts(paths, other)
    assert info.value.exit_code == 2


def test_verdicts_of_different_specs_do_not_merge(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    other = judge(SPEC, close(known_run(SPEC)), run_info(spec_sha256="cd" * 32))
    stray = write_json(tmp_path / "other.json", other)
    with pytest.raises(UsageError, match="different specs") as info:
        merge_verdicts([paths[0], stray], None)
    assert info.value.exit_code == 2


def test_the_same_segment_twice_does_not_merge(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    with pytest.raises(UsageError, match="segment 1/2 is also in"):
        merge_verdicts([paths[0], paths[0]], None)


def test_an_error_verdict_has_nothing_to_merge(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    failed = write_json(tmp_path / "error.json", verdict_of("error"), secrets=frozenset({SECRET}))
    with pytest.raises(UsageError, match="has no recording to merge"):
        merge_verdicts([paths[0], failed], None)


def test_a_whole_run_does_not_merge_with_a_segment(tmp_path: Path) -> None:
    paths, whole = halves_and_whole(tmp_path)
    whole_path = write_json(tmp_path / "whole.json", whole)
    with pytest.raises(UsageError, match=r"a whole run \(segment 1/1\) cannot be merged"):
        merge_verdicts([paths[0], whole_path], None)
    with pytest.raises(UsageError, match="cannot be merged"):
        merge_verdicts([whole_path, whole_path], None)


def test_a_missing_segment_is_noted(tmp_path: Path) -> None:
    paths, _whole = halves_and_whole(tmp_path)
    alone = merge_verdicts(paths[:1], None)
    assert any("segments 2/2 are missing" in note for note in alone.notes)
    both = merge_verdicts(paths, None)
    assert not any("missing" in note for note in both.notes)


def test_a_segment_leaves_load_share_thresholds_to_the_merged_verdict() -> None:
    spec = make_spec(["users >= 10", "count(http) > 1", "rate(http) > 1/s", "p95(http) < 10s"])
    rec = known_run(spec, recorder(spec, Segment(1, 2)), part=0, parts=2)
    verdict = judge(spec, close(rec), run_info(segment="1/2"))
    assert [t.status for t in verdict.thresholds] == ["skipped", "skipped", "skipped", "pass"]
    assert "segment 1/2 carries 1/2 of the load" in verdict.thresholds[0].message
    assert verdict.status == "pass"
