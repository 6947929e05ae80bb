"""`diff` across versions: format-2 specs scenario by scenario, a v1 file through its conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run
from sla_runner.spec.diff import diff_specs, version_note
from sla_runner.spec.migrate import migrate_text
from tests.unit.spec.helpers import VALID
from tests.unit.spec.helpers2 import SHOP, changed, load2


def _changes(old: str, new: str) -> list[str]:
    return [c.format() for c in diff_specs(load2(old).spec, load2(new).spec)]


def test_a_version_1_file_and_its_migration_are_the_same_contract() -> None:
    migrated = migrate_text(VALID, "v.yaml", env={})
    assert diff_specs(load2(VALID).v1 or load2(VALID).spec, load2(migrated).spec) == []
    assert _changes(VALID, migrated) == []
    assert _changes(SHOP, SHOP) == []


def test_a_version_1_file_against_a_format_2_one_is_compared_as_format_2() -> None:
    migrated = migrate_text(VALID, "v.yaml", env={})
    more = changed(
        migrated, ("users: 100}", "users: 150}"), ("mix: {list-items: 3,", "mix: {list-items: 5,")
    )
    assert _changes(VALID, more) == [
        "tightened  scenarios: default.load: peak users: 100 → 150",
        "changed    scenarios: default.mix.list-items: 3 → 5",
    ]


def test_scenarios_added_removed_and_their_load() -> None:
    new = changed(
        SHOP,
        (
            "        - {name: steady, duration: 1m, users: 100}",
            "        - {name: steady, duration: 2m, users: 120}",
        ),
        ("      think_time: 1s..3s\n", "      think_time: 2s..4s\n    start: 10s\n"),
        ("rate: 200/s}]}", "rate: 100/s}]}"),
    )
    assert _changes(SHOP, new) == [
        "tightened  scenarios: shoppers.load: peak users: 100 → 120",
        "tightened  scenarios: shoppers.load: duration: 1m20s → 2m20s",
        "loosened   scenarios: shoppers.load.think_time: 1s..3s → 2s..4s",
        "changed    scenarios: shoppers.start: 0s → 10s",
        "loosened   scenarios: api.load: arrivals: 16,000 → 8,000",
    ]
    without_api = changed(
        SHOP,
        (
            "  api:\n    load: {stages: [{name: api-hold, duration: 1m20s, rate: 200/s}]}\n"
            "    mix: {list-items: 3, get-item: 1}\n    data: {skus: pass}\n",
            "",
        ),
        ("  - {expr: p95(http) < 100ms, scenario: api}\n", ""),
    )
    assert _changes(SHOP, without_api) == [
        "loosened   thresholds: p95(http) in scenario api: removed p95(http) < 100ms",
        "loosened   scenarios: api: removed open model, 16,000 arrivals over 1m20s",
    ]
    assert _changes(without_api, SHOP)[1] == (
        "tightened  scenarios: api: added open model, 16,000 arrivals over 1m20s"
    )


def test_flows_mixes_tables_and_channels_of_a_scenario() -> None:
    new = changed(
        SHOP,
        ("      - get-order\n", "      - get-order\n      - get-item\n"),
        ("mix: {list-items: 3, get-item: 1}", "mix: {get-item: 1, list-items: 2}"),
        ("data: {accounts: user, skus: pass}", "data: {accounts: user, skus: user}"),
        ("    channels: [prices]\n", ""),
    )
    assert _changes(SHOP, new) == [
        "tightened  scenarios: shoppers.flow: list-items, create-order (think 500ms), get-order"
        " → list-items, create-order (think 500ms), get-order, get-item",
        "changed    scenarios: shoppers.data.skus: pass → user",
        "loosened   scenarios: shoppers.channels: removed prices",
        "changed    scenarios: api.mix.list-items: 3 → 2",
    ]
    fewer_kinds = changed(SHOP, ("mix: {list-items: 3, get-item: 1}", "mix: {list-items: 3}"))
    assert _changes(SHOP, fewer_kinds) == ["loosened   scenarios: api.mix.get-item: removed 1"]
    assert _changes(fewer_kinds, SHOP) == ["tightened  scenarios: api.mix.get-item: added 1"]
    fewer = changed(SHOP, ("      - list-items\n", ""))
    assert _changes(SHOP, fewer)[0].startswith("loosened   scenarios: shoppers.flow:")
    reordered = changed(
        SHOP,
        ("      - list-items\n", ""),
        ("      - get-order\n", "      - get-order\n      - list-items\n"),
    )
    assert _changes(SHOP, reordered)[0].startswith("changed    scenarios: shoppers.flow:")


def test_thresholds_of_one_scenario_are_matched_by_scenario() -> None:
    new = changed(
        SHOP,
        ("{expr: p95(http) < 100ms, scenario: api}", "{expr: p95(http) < 90ms, scenario: api}"),
    )
    assert _changes(SHOP, new) == [
        "tightened  thresholds: p95(http) in scenario api: p95(http) < 100ms → p95(http) < 90ms"
    ]
    old, now = load2(SHOP).spec, load2(new).spec
    assert version_note(old, now, diff_specs(old, now)) is not None


def test_endpoints_data_and_before() -> None:
    new = changed(
        SHOP,
        ("expect: {status: 200, json: {ok: true}}", "expect: {status: 200}"),
        ("token: {json: access_token}", "token: {json: data.token}"),
        ("skus: {rows: [{sku: A1}, {sku: B2}]}", "skus: {rows: [{sku: A1}], unique: true}"),
        ("endpoints:\n", "before: [list-items]\nendpoints:\n"),
        ("cookies: true}", "cookies: false}"),
    )
    assert _changes(SHOP, new) == [
        "changed    before: none → list-items",
        "changed    data: skus.unique: false → true",
        "changed    data: skus.rows: 2 rows → 1 rows",
        'loosened   endpoints: login.expect.json: {"ok": true} → unset',
        'changed    endpoints: login.extract: {"token": {"json": "access_token"}} → '
        '{"token": {"json": "data.token"}}',
        "changed    target: cookies: true → false",
    ]


def test_an_inherited_timeout_in_format_2_is_reported_once_at_the_target() -> None:
    longer = changed(SHOP, ("cookies: true}", "cookies: true, timeout: 3s}"))
    assert _changes(SHOP, longer) == ["tightened  target: timeout: 10s → 3s"]
    migrated = migrate_text(VALID, "v.yaml", env={})
    shorter = changed(
        migrated, ("  process: {port: 8000}", "  process: {port: 8000}\n  timeout: 2s")
    )
    assert _changes(VALID, shorter) == ["tightened  target: timeout: 10s → 2s"]


def test_a_renamed_endpoint_is_followed_into_flows_mixes_and_thresholds() -> None:
    """Renamed with the same definition, an endpoint named by a flow, a setup, a mix and a
    threshold is one change; so is a channel a scenario holds."""
    new = SHOP.replace("get-order", "fetch-order").replace("list-items", "items")
    new = new.replace("  prices:", "  quotes:").replace("[prices]", "[quotes]")
    new = new.replace("  login:", "  sign-in:").replace("setup: [login]", "setup: [sign-in]")
    assert _changes(SHOP, new) == [
        "changed    endpoints: get-order → fetch-order (renamed, the same definition)",
        "changed    endpoints: list-items → items (renamed, the same definition)",
        "changed    endpoints: login → sign-in (renamed, the same definition)",
        "changed    channels: prices → quotes (renamed, the same definition)",
    ]
    first = ("endpoints:\n", "before: [list-items]\nendpoints:\n")
    renamed_first = ("endpoints:\n", "before: [items]\nendpoints:\n")
    assert _changes(changed(SHOP, first), changed(new, renamed_first)) == _changes(SHOP, new)


def test_cli_the_header_says_when_the_format_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A migration's review reads '0 changes' under a header that says what did change."""
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(VALID, encoding="utf-8")
    new.write_text(migrate_text(VALID, "v.yaml", env={}), encoding="utf-8")
    assert run(["diff", str(old), str(new)]) == 0
    head, tally = capsys.readouterr().out.splitlines()
    assert head.startswith("checkout 1.0.0 (")
    assert ", format 1) → checkout 1.0.0 (" in head
    assert head.endswith(", format 2)")
    assert tally == "0 changes: 0 tightened, 0 loosened, 0 changed"
    assert run(["diff", str(new), str(new)]) == 0
    assert "format" not in capsys.readouterr().out  # the same format: nothing to say


def test_the_capacity_promise_is_compared() -> None:
    """A lower capacity promise lets a weaker service pass `sla-runner capacity`: loosened,
    as a dropped one is; another scenario's or model's promise is a change."""
    promise = SHOP + 'capacity: {scenario: shoppers, users: ">= 100"}\n'
    lower = promise.replace('">= 100"', '">= 80"')
    assert _changes(promise, lower) == [
        "loosened   capacity: >= 100 users of scenario shoppers → >= 80 users of scenario shoppers"
    ]
    assert _changes(lower, promise)[0].startswith("tightened  capacity:")
    assert _changes(promise, SHOP) == [
        "loosened   capacity: removed >= 100 users of scenario shoppers"
    ]
    assert _changes(SHOP, promise) == [
        "tightened  capacity: added >= 100 users of scenario shoppers"
    ]
    api = SHOP + 'capacity: {scenario: api, rate: ">= 500/s"}\n'
    assert _changes(promise, api) == [
        "changed    capacity: >= 100 users of scenario shoppers → >= 500/s of scenario api"
    ]
    assert _changes(api, api.replace(">= 500/s", ">= 30000/m")) == []  # the same rate


def test_a_stage_reshaped_or_warmed_up_is_a_change_even_at_the_same_peak_and_length() -> None:
    """Ramping 60 s instead of 20 s, then holding 20 s instead of 60 s, keeps the peak and
    the length but not the load; a stage's warmup leaves its first seconds out of the
    thresholds that judge it: a longer one loosens."""
    reshaped = changed(
        SHOP,
        ("{name: ramp, duration: 20s, ramp_to: 100}", "{name: ramp, duration: 1m, ramp_to: 100}"),
        ("{name: steady, duration: 1m, users: 100}", "{name: steady, duration: 20s, users: 100}"),
    )
    assert _changes(SHOP, reshaped) == [
        "changed    scenarios: shoppers.load: stages: ramp 20s to 100 users, steady 1m at 100 "
        "users → ramp 1m to 100 users, steady 20s at 100 users"
    ]
    warm = changed(
        SHOP,
        (
            "{name: steady, duration: 1m, users: 100}",
            "{name: steady, duration: 1m, users: 100, warmup: 10s}",
        ),
    )
    assert _changes(SHOP, warm) == [
        "loosened   scenarios: shoppers.load: stage steady warmup: unset → 10s"
    ]
    assert _changes(warm, SHOP) == [
        "tightened  scenarios: shoppers.load: stage steady warmup: 10s → unset"
    ]
