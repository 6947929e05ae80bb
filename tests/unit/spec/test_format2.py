"""Format 2 through load_document: the models, versions, stages, scenarios, overrides."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from sla_runner.spec.convert import from_v1
from sla_runner.spec.document import load_document, load_document_text
from sla_runner.spec.format2 import Ramp, SpecV2
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text
from sla_runner.spec.parts import DEFER_REFERENCES
from sla_runner.spec.units import Duration
from tests.unit.spec.helpers import VALID
from tests.unit.spec.helpers2 import SHOP, changed, errors2, load2


def test_the_shop_loads_as_format_2(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP, encoding="utf-8")
    loaded = load_document(path, env={})
    assert (loaded.version, loaded.path, loaded.v1) == (2, path, None)
    assert loaded.sha256 == hashlib.sha256(SHOP.encode()).hexdigest()
    spec = loaded.spec
    assert spec.target.cookies is True
    shoppers, api = spec.scenarios["shoppers"], spec.scenarios["api"]
    assert (shoppers.model, api.model) == ("closed", "open")
    assert [s.request for s in shoppers.flow or []] == ["list-items", "create-order", "get-order"]
    assert shoppers.flow is not None
    assert shoppers.flow[1].think_time is not None
    assert str(shoppers.flow[1].think_time.min) == "500ms"
    assert shoppers.flow[0].think_time is None
    assert shoppers.sends() == ["login", "list-items", "create-order", "get-order"]
    assert api.mix == {"list-items": 3, "get-item": 1}
    assert shoppers.data == {"accounts": "user", "skus": "pass"}
    assert spec.endpoints["login"].extract["token"].as_mapping() == {"json": "access_token"}
    assert spec.endpoints["login"].expect.json_fields == {"ok": True}
    assert spec.stage_names() == {"ramp": "shoppers", "steady": "shoppers", "api-hold": "api"}
    rule = spec.thresholds[2]
    assert (rule.expr.text, rule.scenario) == ("p95(http) < 100ms", "api")
    assert spec.thresholds[3].expr.metric == "flow"
    assert spec.thresholds[3].expr.scope == "shoppers"
    assert loaded.tables["accounts"].columns == ("user", "password")


def test_a_stage_holds_its_level_and_a_ramp_says_so() -> None:
    """users/rate hold from a stage's first instant; ramp_to moves linearly from the
    previous stage's level (0 before the first)."""
    text = changed(
        SHOP,
        (
            "        - {name: steady, duration: 1m, users: 100}\n",
            "        - {name: steady, duration: 1m, users: 100}\n"
            "        - {name: more, duration: 10s, users: 150}\n"
            "        - {name: down, duration: 5s, ramp_to: 0}\n",
        ),
        (
            "[{name: api-hold, duration: 1m20s, rate: 200/s}]",
            "[{name: api-hold, duration: 1m20s, rate: 200/s}, {duration: 2s, ramp_to: 3000/m}]",
        ),
    )
    spec = load2(text).spec
    s = Duration.parse("1s").ns
    assert spec.scenarios["shoppers"].load.ramps() == (
        Ramp("ramp", 20 * s, Fraction(0), Fraction(100)),
        Ramp("steady", 60 * s, Fraction(100), Fraction(100)),
        Ramp("more", 10 * s, Fraction(150), Fraction(150)),
        Ramp("down", 5 * s, Fraction(150), Fraction(0)),
    )
    assert spec.scenarios["api"].load.ramps() == (
        Ramp("api-hold", 80 * s, Fraction(200), Fraction(200)),
        Ramp(None, 2 * s, Fraction(200), Fraction(50)),
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("{name: steady, duration: 1m, users: 100}", "{name: steady, duration: 1m}"),
            "spec.yaml:36:11: scenarios.shoppers.load.stages[1]: give exactly one of users "
            "(hold), rate (hold) or ramp_to (a ramp)",
        ),
        (
            ("duration: 1m, users: 100}", "duration: 1m, users: 100, ramp_to: 5}"),
            "spec.yaml:36:11: scenarios.shoppers.load.stages[1]: give exactly one of users "
            "(hold), rate (hold) or ramp_to (a ramp)",
        ),
        (
            ("{name: steady, duration: 1m, users: 100}", "{name: steady, duration: 1m, rate: 5/s}"),
            "spec.yaml:34:7: scenarios.shoppers.load: stages mix users (closed model) and rate "
            "(open model); use one model per scenario",
        ),
        (
            ("rate: 200/s}]", "rate: 200/s}, {duration: 5s, ramp_to: 0}]"),
            "spec.yaml:46:11: scenarios.api.load: stages mix users (closed model) and rate "
            "(open model); use one model per scenario (a ramp down in an open scenario is "
            "ramp_to: 0/s)",
        ),
        (
            ("ramp_to: 100}", "ramp_to: lots}"),
            "spec.yaml:35:48: scenarios.shoppers.load.stages[0].ramp_to: expected a number of "
            "users (100) or a rate (400/s), got 'lots'",
        ),
        (
            ("ramp_to: 100}", "ramp_to: true}"),
            "spec.yaml:35:48: scenarios.shoppers.load.stages[0].ramp_to: expected a number, "
            "got true",
        ),
        (
            ("rate: 200/s}]", "rate: 0/s}]"),
            "spec.yaml:46:20: scenarios.api.load.stages: every stage has 0 users or 0/s: the "
            "scenario would send nothing",
        ),
    ],
)
def test_stage_problems(edit: tuple[str, str], expected: str) -> None:
    assert errors2(changed(SHOP, edit)) == [expected]


def test_versions() -> None:
    """A file says its version; one this sla-runner does not read is the one error: the
    rest of the file is of a format this sla-runner does not know, so any other message
    about it would be a guess."""
    assert errors2(changed(SHOP, ("version: 2", "version: 3"))) == [
        "spec.yaml:1:10: version: unsupported format version 3; this sla-runner reads "
        "versions 1 and 2"
    ]
    assert errors2(changed(SHOP, ("version: 2", "version: '2'"))) == [
        "spec.yaml:1:10: version: version is the number 2, not the text '2': write version: 2"
    ]
    v1 = changed(VALID, ("version: 1\nname", "version: 7\nname"), ("weight: 3", "weight: -3"))
    assert errors2(v1) == [
        "spec.yaml:1:10: version: unsupported format version 7; this sla-runner reads "
        "versions 1 and 2",
    ]
    # A walker's new file: a version 3 whose other fields format 2 would miss.
    assert errors2("version: 3\nname: x\n") == [
        "spec.yaml:1:10: version: unsupported format version 3; this sla-runner reads "
        "versions 1 and 2"
    ]
    assert errors2("name: x\nversion: two\n") == [
        "spec.yaml:2:10: version: unsupported format version 'two'; this sla-runner reads "
        "versions 1 and 2"
    ]
    assert errors2(SHOP, overrides={"version": "3"}) == [
        "spec.yaml:1:10: version: unsupported format version 3; this sla-runner reads "
        "versions 1 and 2 (value from --set)"
    ]
    assert errors2(changed(SHOP, ("version: 2\n", ""))) == [
        "spec.yaml:1:1: version: required field is missing"
    ]


def test_format_1_keys_say_where_format_2_has_them() -> None:
    text = changed(
        SHOP,
        ("  list-items: {path: /items}", "  list-items: {path: /items, weight: 3}"),
        ("thresholds:\n", "load: {stages: [{duration: 1s, users: 1}]}\nthresholds:\n"),
    )
    assert errors2(text) == [
        "spec.yaml:16:30: endpoints.list-items.weight: format 2 has no endpoint weights: a "
        "scenario's mix gives them (mix: {list-items: 3, get-item: 1})",
        "spec.yaml:49:1: load: format 2 gives each scenario its own load: scenarios: {NAME: "
        "{load: {stages: [...]}, mix: {...}}}",
    ]


def test_a_version_1_file_loads_as_it_always_did_and_converts() -> None:
    loaded = load2(VALID)
    assert loaded.version == 1
    assert loaded.v1 == load_spec_text(VALID, "spec.yaml", env={}).spec
    assert loaded.spec == from_v1(loaded.v1)
    default = loaded.spec.scenarios["default"]
    assert default.mix == {"list-items": 3, "create-order": 1}
    assert default.channels == ["prices"]
    assert [(s.ramp_to, s.users) for s in default.load.stages] == [(100, None), (None, 100)]
    assert loaded.tables == {}


def test_a_version_1_file_gets_version_1_messages_and_the_versions_read() -> None:
    text = changed(VALID, ("version: 1\nname", "version: '1'\nname"))
    assert errors2(text) == [
        "spec.yaml:1:10: version: version is the number 1, not the text '1': write version: 1"
    ]
    flow = changed(VALID, ("p95(http) < 200ms", "p95(flow.default) < 200ms"))
    assert errors2(flow) == [
        "spec.yaml:18:5: thresholds[0]: unknown metric 'flow.default'; expected one of http, "
        "ws, ws_connect, http.<endpoint>, ws.<channel>, ws_connect.<channel>, process.rss, "
        "process.cpu, users, metric.<alias>; flow.<scenario> is a metric of format 2 (version: 2)"
    ]


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            [("    setup: [login]\n", "    setup: [login]\n    mix: {list-items: 1}\n")],
            ["spec.yaml:33:5: scenarios.shoppers: give flow or mix, not both"],
        ),
        (
            [("    mix: {list-items: 3, get-item: 1}\n", "")],
            [
                "spec.yaml:46:5: scenarios.api: give a flow (ordered steps) or a mix (weighted "
                "endpoints)",
                "spec.yaml:51:12: thresholds[2].expr: http: scenario api sends no requests",
            ],
        ),
        (
            [
                (
                    "mix: {list-items: 3, get-item: 1}\n",
                    "mix: {list-items: 3, get-item: 1}\n    channels: [prices]\n",
                )
            ],
            [
                "spec.yaml:48:15: scenarios.api.channels: channels are held open by virtual "
                "users, which an open scenario (rate) does not have; hold them in a closed "
                "scenario (users)"
            ],
        ),
        (
            [("      think_time: 1s..3s\n", "      think_time: 1s..3s\n      max_in_flight: 5\n")],
            [
                "spec.yaml:38:22: scenarios.shoppers.load.max_in_flight: applies to open "
                "scenarios (rate stages) only: each user of a closed scenario has one request "
                "in flight"
            ],
        ),
        (
            [("rate: 200/s}]}", "rate: 200/s}], think_time: 1s}")],
            [
                "spec.yaml:46:82: scenarios.api.load.think_time: an open scenario with a mix "
                "sends independent requests, each its own arrival: think_time has no effect (a "
                "flow pauses between its steps)"
            ],
        ),
        (
            [("    data: {skus: pass}\n", "    data: {skus: pass}\n    setup: [list-items]\n")],
            [
                "spec.yaml:49:12: scenarios.api.setup: an open scenario with a mix has no users "
                "to set up (each request is its own arrival); with a flow, each arrival runs "
                "setup, then the flow once"
            ],
        ),
    ],
)
def test_scenario_problems(edits: list[tuple[str, str]], expected: list[str]) -> None:
    assert errors2(changed(SHOP, *edits)) == expected


def test_a_closed_scenario_may_hold_channels_only_and_an_open_one_may_run_a_flow() -> None:
    text = changed(
        SHOP,
        ("    mix: {list-items: 3, get-item: 1}\n", "    flow: [list-items, get-item]\n"),
        (
            "scenarios:\n",
            "scenarios:\n  watchers:\n    load: {stages: [{duration: 1m, users: 5}]}\n"
            "    channels: [prices]\n",
        ),
    )
    spec = load2(text).spec
    assert spec.scenarios["watchers"].flow is None
    assert spec.scenarios["watchers"].mix is None
    assert spec.scenarios["api"].model == "open"
    assert spec.scenarios["api"].flow is not None


def test_overrides_reach_format_2_paths() -> None:
    loaded = load2(
        SHOP,
        overrides={
            "scenarios.shoppers.load.stages[1].users": "150",
            "scenarios.shoppers.flow[0].think_time": "2s",
            "scenarios.api.mix.get-item": "2",
            "thresholds[0].scenario": "api",
        },
    )
    shoppers = loaded.spec.scenarios["shoppers"]
    assert shoppers.load.stages[1].users == 150
    assert shoppers.flow is not None
    assert shoppers.flow[0].request == "list-items"
    assert shoppers.flow[0].think_time is not None
    assert str(shoppers.flow[0].think_time.min) == "2s"
    assert loaded.spec.scenarios["api"].mix == {"list-items": 3, "get-item": 2}
    assert loaded.spec.thresholds[0].scenario == "api"
    assert errors2(
        SHOP,
        overrides={
            "scenarios.shoppers.lod.stages[0].users": "1",
            "scenarios.api.load.stages[0].rate": "fast",
        },
    ) == [
        "spec.yaml: --set scenarios.shoppers.lod.stages[0].users: no field 'lod' in "
        "scenarios.shoppers; did you mean load?",
        "spec.yaml:46:61: scenarios.api.load.stages[0].rate: expected a rate like 50/s or "
        "3000/m, got 'fast' (value from --set)",
    ]


def test_model_validate_checks_across_the_spec_unless_deferred() -> None:
    data: dict[str, Any] = yaml.safe_load(SHOP)
    assert SpecV2.model_validate(data).name == "shop"
    data["endpoints"]["get-order"]["path"] = "/orders/{{ order_idd }}"
    with pytest.raises(ValidationError, match="did you mean order_id"):
        SpecV2.model_validate(data)
    assert SpecV2.model_validate(data, context={DEFER_REFERENCES: True}).name == "shop"
    data["scenarios"]["api"]["mix"] = {"nope": 1}
    with pytest.raises(
        ValidationError, match=r"scenarios\.api\.mix\.nope: no endpoint named 'nope'"
    ):
        SpecV2.model_validate(data)


def test_load_document_text_reads_data_files_beside_the_named_file(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("user,password\nann,pw\n", encoding="utf-8")
    text = changed(
        SHOP,
        (
            "accounts: {rows: [{user: ann, password: pw-ann}, {user: bob, password: pw-bob}]}",
            "accounts: {file: accounts.csv}",
        ),
    )
    loaded = load_document_text(text, str(tmp_path / "shop.yaml"), env={})
    assert loaded.tables["accounts"].rows == (("ann", "pw"),)


def test_header_values_are_masked_in_errors() -> None:
    """Header values are secrets in format 2 as in format 1: never quoted in an error."""
    text = SHOP.replace(
        'headers: {Authorization: "Bearer {{ token }}"}\n    json',
        "headers: {Authorization: 98765}\n    json",
    )
    assert errors2(text, overrides={"target.headers.X-Key": "12345"}) == [
        "spec.yaml:4:9: target.headers.X-Key: expected a string, got *** "
        "(quote it to make it a string) (value from --set)",
        "spec.yaml:21:30: endpoints.create-order.headers.Authorization: expected a string, "
        "got *** (quote it to make it a string)",
    ]
