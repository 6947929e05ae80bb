"""A threshold's window, for and warmup in the spec: format 2's, whole seconds, on the
statistics a window can judge, no longer than the span they judge; a version-1 file is told
to move to format 2. Every error comes in one round, at its place."""

from __future__ import annotations

from sla_runner.judge.thresholds import as_written
from sla_runner.spec.diff import diff_specs
from sla_runner.spec.document import load_document_text
from sla_runner.verdict import threshold_id
from tests.unit.spec.helpers import errors, with_thresholds
from tests.unit.spec.helpers2 import SHOP, changed, errors2, load2
from tests.unit.spec.test_readme import _blocks

PLAIN = "  - p95(http) < 200ms\n"


def with_rules(*rules: str) -> str:
    return changed(SHOP, (PLAIN, PLAIN + "".join(f"  - {r}\n" for r in rules)))


def test_window_for_and_warmup_load_and_stand_beside_the_plain_threshold() -> None:
    spec = load2(
        with_rules(
            "{expr: p95(http) < 200ms, window: 30s}",
            "{expr: p95(http) < 200ms, for: 10s, warmup: 20s}",
            "{expr: success_rate(http) > 99%, window: 1m, scenario: api}",
            "{expr: rate(http.list-items) > 10/s, window: 20s, during: steady}",
        )
    ).spec
    rules = spec.thresholds
    assert rules[0].windowed is False
    assert rules[1].window is not None
    assert rules[1].window.ns == 30 * 10**9
    assert rules[2].for_ is not None
    assert rules[2].warmup is not None
    assert (rules[2].for_.ns, rules[2].warmup.ns) == (10 * 10**9, 20 * 10**9)


def test_every_mistake_in_one_round_at_its_place() -> None:
    text = with_rules(
        "{expr: p95(http) < 200ms, window: 1500ms}",
        "{expr: p95(http) < 200ms, for: 0s}",
        "{expr: count(http) > 5, window: 10s}",
        "{expr: users >= 2, for: 10s, scenario: shoppers}",
        "{expr: p95(http) < 200ms, window: 10s, for: 2s}",
        "{expr: p95(http) < 200ms, window: 30s, during: ramp}",
        "{expr: p95(http) < 200ms, for: 1m30s, warmup: 20s}",
        "{expr: p95(http) < 200ms, warmup: 90s, scenario: api}",
        "{expr: p95(http) < 200ms, window: 30s}",
        "{expr: p95(http) < 200ms, window: 30s}",
    )
    assert errors2(text) == [
        "spec.yaml:51:39: thresholds[1].window: must be whole seconds, at least 1s, got 1s500ms",
        "spec.yaml:52:36: thresholds[2].for: must be whole seconds, at least 1s, got 0s",
        "spec.yaml:53:37: thresholds[3].window: count(http): a count depends on the window's "
        "length: judge the rate per window (rate(http) ...)",
        "spec.yaml:54:29: thresholds[4].for: users: users is the load the plan holds: judge it "
        "over a stage with during; window, for and warmup judge requests, round trips, connects "
        "and flow passes",
        "spec.yaml:55:49: thresholds[5].for: give window or for, not both: window judges each "
        "tumbling window, for a breach sustained second after second",
        "spec.yaml:56:39: thresholds[6].window: window 30s is longer than the 20s of stage "
        "'ramp' the threshold judges",
        "spec.yaml:57:36: thresholds[7].for: for 90s is longer than the 60s of the run the "
        "threshold judges after its warmup of 20s",
        "spec.yaml:58:39: thresholds[8].warmup: warmup 90s leaves nothing of the 80s of "
        "scenario api the threshold judges",
        "spec.yaml:60:12: thresholds[10].expr: p95(http) < 200ms window 30s is already "
        "thresholds[9] (p95(http) < 200ms): judge it once",
    ]


def test_a_version_1_file_is_told_the_keys_need_format_2() -> None:
    text = with_thresholds("{expr: p95(http) < 200ms, window: 30s}")
    found = errors(text)
    assert len(found) == 1, found
    assert found[0].endswith(
        "thresholds[0].window: window is format 2's (a threshold over windows): write "
        "version: 2 (sla-runner migrate writes a version-1 file's format-2 equivalent)"
    )


def test_a_stage_warmup_is_whole_seconds_shorter_than_its_stage() -> None:
    ok = changed(
        SHOP,
        (
            "{name: steady, duration: 1m, users: 100}",
            "{name: steady, duration: 1m, users: 100, warmup: 10s}",
        ),
    )
    stage = load2(ok).spec.scenarios["shoppers"].load.stages[1]
    assert stage.warmup is not None
    assert stage.warmup.ns == 10 * 10**9
    bad = changed(
        SHOP,
        (
            "{name: ramp, duration: 20s, ramp_to: 100}",
            "{name: ramp, duration: 20s, ramp_to: 100, warmup: 20s}",
        ),
        (
            "{name: steady, duration: 1m, users: 100}",
            "{name: steady, duration: 1m, users: 100, warmup: 2.5s}",
        ),
    )
    assert errors2(bad) == [
        "spec.yaml:35:61: scenarios.shoppers.load.stages[0].warmup: warmup 20s leaves nothing "
        "of the stage's 20s: it must be shorter than the stage",
        "spec.yaml:36:60: scenarios.shoppers.load.stages[1].warmup: must be whole seconds, at "
        "least 1s, got 2s500ms",
    ]


def test_a_version_1_stage_is_told_warmup_needs_format_2() -> None:
    found = errors(
        with_thresholds("p95(http) < 200ms").replace(
            "60s, users: 100}", "60s, users: 100, warmup: 5s}", 1
        )
    )
    assert len(found) == 1, found
    assert "warmup: warmup is format 2's" in found[0]


def test_the_readme_example_of_windows_is_valid() -> None:
    example = next(b for b in _blocks("yaml") if "window: 6s" in b)
    spec = load_document_text(example, "README.md", env={}).spec
    written = [as_written(rule) for rule in spec.thresholds]
    assert [threshold_id(t.expr, window=t.window, for_=t.for_) for t in written] == [
        "p95(http.a) < 200ms",
        "p95(http.a) < 200ms (window 6s)",
        "p95(http.b) < 200ms (for 10s)",
        "p95(http.c) < 200ms (for 10s)",
    ]


def test_diff_tells_a_threshold_over_windows_from_its_expression_alone() -> None:
    windowed = with_rules("{expr: p95(http) < 200ms, window: 30s}")
    shorter = windowed.replace("window: 30s", "window: 10s")
    added = [c.format() for c in diff_specs(load2(SHOP).spec, load2(windowed).spec)]
    assert added == ["tightened  thresholds: p95(http) window 30s: added p95(http) < 200ms"]
    moved = [c.format() for c in diff_specs(load2(windowed).spec, load2(shorter).spec)]
    assert moved == [
        "loosened   thresholds: p95(http) window 30s: removed p95(http) < 200ms",
        "tightened  thresholds: p95(http) window 10s: added p95(http) < 200ms",
    ]
