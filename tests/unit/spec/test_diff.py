"""`diff`: a tightened promise is told from a loosened one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sla_runner.cli import run
from sla_runner.spec.diff import diff_specs, version_note
from tests.unit.spec.helpers import VALID, load, with_thresholds


def _changes(old: str, new: str) -> list[str]:
    return [c.format() for c in diff_specs(load(old).spec, load(new).spec)]


def test_identical_specs_have_no_changes() -> None:
    assert _changes(VALID, VALID) == []


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("p95(http) < 200ms", "p95(http) < 150ms", "tightened"),
        ("p95(http) < 200ms", "p95(http) < 0.25s", "loosened"),
        ("success_rate(http) > 99%", "success_rate(http) > 99.9%", "tightened"),
        ("success_rate(http) > 99%", "success_rate(http) > 95%", "loosened"),
        ("p95(http) <= 200ms", "p95(http) < 200ms", "tightened"),
        ("users >= 99", "users > 99", "tightened"),  # the plan holds 100 at most
        ("{expr: p95(http) < 200ms, severity: warn}", "p95(http) < 200ms", "tightened"),
        ("p95(http) < 200ms", "{expr: p95(http) < 200ms, severity: warn}", "loosened"),
    ],
)
def test_threshold_changes_are_classified(before: str, after: str, kind: str) -> None:
    changes = _changes(with_thresholds(before), with_thresholds(after))
    assert len(changes) == 1
    assert changes[0].startswith(kind)


def test_added_and_removed_thresholds() -> None:
    old = with_thresholds("p95(http) < 200ms")
    new = with_thresholds("p99(http.create-order) < 400ms")
    assert _changes(old, new) == [
        "loosened   thresholds: p95(http): removed p95(http) < 200ms",
        "tightened  thresholds: p99(http.create-order): added p99(http.create-order) < 400ms",
    ]


def test_a_fail_and_a_warn_threshold_on_one_metric_are_told_apart() -> None:
    warn = "{expr: p95(http) < 150ms, severity: warn}"
    old = with_thresholds("p95(http) < 200ms", warn)
    new = with_thresholds("p95(http) < 900ms", warn)
    assert _changes(old, new) == [
        "loosened   thresholds: p95(http): p95(http) < 200ms → p95(http) < 900ms"
    ]
    assert _changes(old, with_thresholds(warn)) == [
        "loosened   thresholds: p95(http): removed p95(http) < 200ms"
    ]


def test_a_window_is_part_of_what_a_threshold_measures() -> None:
    old = with_thresholds("p95(http) < 200ms")
    new = with_thresholds("{expr: p95(http) < 200ms, during: steady}")
    kinds = [c.split()[0] for c in _changes(old, new)]
    assert kinds == ["loosened", "tightened"]


def test_load_and_declarations() -> None:
    new = VALID.replace("users: 100}", "users: 150}").replace("duration: 60s", "duration: 90s")
    new = new.replace("  create-order:", "  search: {path: /search}\n  create-order:")
    assert _changes(VALID, new) == [
        "tightened  load: peak users: 100 → 150",
        "tightened  load: duration: 1m20s → 1m50s",
        "tightened  endpoints: search: added GET /search",
    ]
    unpromised = VALID.replace("  - users >= 100\n", "")  # 50 users could never hold it
    fewer = unpromised.replace("users: 100}", "users: 50}").replace("/orders", "/orders/v2")
    assert _changes(unpromised, fewer) == [
        "loosened   load: peak users: 100 → 50",
        "changed    endpoints: create-order.path: /orders → /orders/v2",
    ]


def test_fields_that_loosen_what_passes_are_named() -> None:
    """More accepted status codes, a longer timeout, a check dropped, fewer messages and
    longer think time all let a worse service pass: each is loosened, field by field."""
    new = VALID.replace("expect: {status: [200, 201]}", "expect: {status: [200, 201, 500]}")
    new = new.replace("weight: 3, expect: {status: 200}", "weight: 3, timeout: 30s")
    new = new.replace("expect: {contains: pong}, interval: 200ms", "interval: 2s")
    new = new.replace("  think_time: 100ms", "  think_time: 1s..3s")
    new = new.replace("  process: {port: 8000}", "  process: {port: 8000}\n  verify_tls: false")
    assert _changes(VALID, new) == [
        "loosened   load: think_time: 100ms → 1s..3s",
        "loosened   endpoints: create-order.expect.status: [200, 201] → [200, 201, 500]",
        "loosened   endpoints: list-items.timeout: 10s → 30s",
        "loosened   endpoints: list-items.expect.status: 200 → any 2xx or 3xx",
        'loosened   channels: prices.expect: {"contains": "pong"} → unset',
        "loosened   channels: prices.interval: 200ms → 2s",
        "loosened   target: verify_tls: true → false",
    ]
    assert _changes(new, VALID)[0] == "tightened  load: think_time: 1s..3s → 100ms"
    same_mean = VALID.replace("  think_time: 100ms", "  think_time: 50ms..150ms")
    assert _changes(VALID, same_mean) == ["changed    load: think_time: 100ms → 50ms..150ms"]
    inexact = VALID.replace("  think_time: 100ms", "  think_time: 150ms")
    spread = VALID.replace("  think_time: 100ms", "  think_time: 100ms..200ms")
    assert _changes(spread, inexact) == ["changed    load: think_time: 100ms..200ms → 150ms"]


@pytest.mark.parametrize("secret", ['pa"ss\\word', "pässwörd1"])
def test_diff_never_prints_a_secret_in_any_spelling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Header values are shown as JSON: a secret with quotes, backslashes or accents is
    spelt with escapes there, and masked in that spelling too."""
    monkeypatch.setenv("TOK", secret)
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(VALID.replace("weight: 3,", "weight: 3, headers: {X-Token: '${TOK}'},"))
    new.write_text(VALID.replace("weight: 3,", "weight: 3, headers: {X-Token: 'x${TOK}'},"))
    assert run(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "endpoints: list-items.headers" in out
    assert "***" in out
    for spelling in (
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    ):
        assert spelling not in out


def test_a_changed_promise_under_the_same_sla_version_is_noted() -> None:
    old = load(with_thresholds("p95(http) < 200ms")).spec
    new = load(with_thresholds("p95(http) < 300ms")).spec
    note = version_note(old, new, diff_specs(old, new))
    assert note == "the promises changed (1 tightened or loosened) but sla_version is still 1.0.0"
    bumped = load(with_thresholds("p95(http) < 300ms").replace("1.0.0", "2.0.0")).spec
    assert version_note(old, bumped, diff_specs(old, bumped)) is None


def test_cli_exit_code_says_whether_anything_was_loosened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, tighter, looser = tmp_path / "old.yaml", tmp_path / "t.yaml", tmp_path / "l.yaml"
    old.write_text(with_thresholds("p95(http) < 200ms"), encoding="utf-8")
    tighter.write_text(with_thresholds("p95(http) < 100ms"), encoding="utf-8")
    looser.write_text(with_thresholds("p95(http) < 900ms"), encoding="utf-8")
    assert run(["diff", str(old), str(tighter)]) == 0
    assert run(["diff", str(old), str(looser)]) == 1
    out = capsys.readouterr()
    assert "loosened   thresholds: p95(http): p95(http) < 200ms → p95(http) < 900ms" in out.out
    assert "sla_version is still 1.0.0" in out.err
    assert run(["diff", str(old), str(tmp_path / "missing.yaml")]) == 2


def test_numbers_are_printed_the_same_way_on_both_sides() -> None:
    """A weight defaults to the whole number 1 and reads as the float 3.0: both print as
    written. A query value keeps its spelling (2.0 is sent as "2.0"), and a duration is
    spelt as everywhere else, exactly."""
    old = VALID.replace("weight: 3,", "weight: 3, query: {n: 2.0, m: 1},")
    new = VALID.replace("weight: 3,", "query: {n: 2.0, m: 1.5},")
    assert _changes(old, new) == [
        'changed    endpoints: list-items.query: {"n": 2.0, "m": 1} → {"n": 2.0, "m": 1.5}',
        "changed    endpoints: list-items.weight: 3 → 1",
    ]
    assert _changes(VALID, VALID.replace("weight: 3,", "weight: 0.5,")) == [
        "changed    endpoints: list-items.weight: 3 → 0.5"
    ]
    long = VALID.replace("duration: 60s", "duration: 1h30m0.5s")
    assert _changes(VALID, long) == ["tightened  load: duration: 1m20s → 1h30m20s500ms"]


def test_an_inherited_timeout_is_reported_once_at_the_target() -> None:
    """Endpoints that inherit target.timeout do not each repeat its change; an endpoint
    whose own timeout was set or dropped is named when what applies to it moved."""
    longer = VALID.replace("  process: {port: 8000}", "  process: {port: 8000}\n  timeout: 30s")
    assert _changes(VALID, longer) == ["loosened   target: timeout: 10s → 30s"]
    assert _changes(longer, VALID) == ["tightened  target: timeout: 30s → 10s"]
    own = "weight: 3, timeout: 5s,"
    kept = (VALID.replace("weight: 3,", own), longer.replace("weight: 3,", own))
    assert _changes(*kept) == ["loosened   target: timeout: 10s → 30s"]
    dropped = (VALID.replace("weight: 3,", own), longer)  # 5s of its own, then 30s inherited
    assert _changes(*dropped) == [
        "loosened   endpoints: list-items.timeout: 5s → 30s",
        "loosened   target: timeout: 10s → 30s",
    ]
    taken = (VALID, longer.replace("weight: 3,", own))  # 10s inherited, then 5s of its own
    assert _changes(*taken) == [
        "tightened  endpoints: list-items.timeout: 10s → 5s",
        "loosened   target: timeout: 10s → 30s",
    ]
    same = VALID.replace("weight: 3,", "weight: 3, timeout: 10s,")  # what it inherits anyway
    assert _changes(same, VALID) == []


def test_a_renamed_endpoint_or_channel_is_one_change_and_its_thresholds_follow_it() -> None:
    """The same definition under another name is a rename, not a removal (loosened) and an
    addition: nothing was loosened, and a moved limit on it is still one change."""
    old = with_thresholds("p95(http.list-items) < 100ms", "p95(ws.prices) < 50ms")
    new = old.replace("list-items", "items").replace("  prices:", "  quotes:")
    new = new.replace("ws.prices", "ws.quotes")
    assert _changes(old, new) == [
        "changed    endpoints: list-items → items (renamed, the same definition)",
        "changed    channels: prices → quotes (renamed, the same definition)",
    ]
    tighter = new.replace("p95(http.items) < 100ms", "p95(http.items) < 80ms")
    assert _changes(old, tighter) == [
        "tightened  thresholds: p95(http.items): p95(http.list-items) < 100ms → "
        "p95(http.items) < 80ms",
        "changed    endpoints: list-items → items (renamed, the same definition)",
        "changed    channels: prices → quotes (renamed, the same definition)",
    ]
    moved = new.replace("path: /items,", "path: /v2/items,")  # another definition: no rename
    assert _changes(old, moved) == [
        "loosened   thresholds: p95(http.list-items): removed p95(http.list-items) < 100ms",
        "tightened  thresholds: p95(http.items): added p95(http.items) < 100ms",
        "tightened  endpoints: items: added GET /v2/items",
        "loosened   endpoints: list-items: removed GET /items",
        "changed    channels: prices → quotes (renamed, the same definition)",
    ]


def test_cli_a_rename_loosens_nothing_and_the_tally_counts_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(with_thresholds("p95(http.list-items) < 100ms"), encoding="utf-8")
    text = with_thresholds("p95(http.items) < 100ms").replace("  list-items:", "  items:")
    new.write_text(text.replace("/orders", "/orders/v2"), encoding="utf-8")
    assert run(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "changed    endpoints: create-order.path: /orders → /orders/v2",
        "changed    endpoints: list-items → items (renamed, the same definition)",
        "2 changes: 0 tightened, 0 loosened, 2 changed",
    ]


def test_a_field_is_named_as_the_spec_writes_it() -> None:
    """`json:` in the file, not the model's json_body, in the line a reviewer reads."""
    new = VALID.replace("json: {item: 42}", "json: {item: 43}")
    assert _changes(VALID, new) == [
        'changed    endpoints: create-order.json: {"item": 42} → {"item": 43}'
    ]
