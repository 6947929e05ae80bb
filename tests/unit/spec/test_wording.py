"""Messages that name the fix: a missing unit, a near-miss name, a bad --set key, a tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run
from sla_runner.errors import EXIT_USAGE
from sla_runner.spec.thresholds import ThresholdSyntaxError, parse_threshold
from tests.unit.spec.helpers import VALID, errors, with_thresholds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("success_rate(http) > 99", "success_rate(http) needs a percentage (%): write 99%"),
        ("error_rate(ws.prices) < 0.5", "error_rate(ws.prices) needs a percentage (%): write 0.5%"),
        ("max(process.cpu) < 150", "max(process.cpu) needs a percentage (%): write 150%"),
        (
            "p95(http) < 200",
            "p95(http) needs a time unit (ns, us, ms, s, m, h): write e.g. 200ms or 200s",
        ),
        (
            "max(process.rss) < 512",
            "max(process.rss) needs a size unit (B, KB, MB, GB): write e.g. 512MB",
        ),
        ("rate(http) > 50", "rate(http) needs a rate unit (/s, /m, /h): write e.g. 50/s"),
        (
            "count(http) > 50/s",
            "count(http) takes no unit (a number of requests), got unit '/s': write 50; "
            "for requests per second, use rate(http)",
        ),
    ],
)
def test_a_bare_number_or_a_wrong_unit_says_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        parse_threshold(text)
    assert str(caught.value) == message


def test_a_threshold_naming_an_unknown_endpoint_or_channel_suggests_the_closest() -> None:
    text = with_thresholds("p95(http.list-item) < 1s", "p95(ws.price) < 1s", "p95(ws.zzz) < 1s")
    assert errors(text) == [
        "spec.yaml:18:5: thresholds[0]: http.list-item: no endpoint named 'list-item'; "
        "declared: create-order, list-items; did you mean list-items?",
        "spec.yaml:19:5: thresholds[1]: ws.price: no channel named 'price'; declared: prices; "
        "did you mean prices?",
        "spec.yaml:20:5: thresholds[2]: ws.zzz: no channel named 'zzz'; declared: prices",
    ]


def test_an_unknown_metric_or_statistic_suggests_the_closest() -> None:
    assert errors(with_thresholds("p95(htp.list-items) < 1s", "succes_rate(http) > 99%")) == [
        "spec.yaml:18:5: thresholds[0]: unknown metric 'htp.list-items'; expected one of "
        "http, ws, ws_connect, http.<endpoint>, ws.<channel>, ws_connect.<channel>, "
        "process.rss, process.cpu, users, metric.<alias>; did you mean http.list-items?",
        "spec.yaml:19:5: thresholds[1]: unknown statistic 'succes_rate'; expected one of "
        "pNN (p50, p95, p99.9), min, max, mean, count, rate, success_rate, error_rate, slope; "
        "did you mean success_rate?",
    ]


def test_a_bad_set_key_is_named_and_said_to_come_from_set() -> None:
    assert errors(
        VALID,
        overrides={
            "load.stagez[0].users": "5",
            "target.timout": "5s",
            "load.stages[0].userz": "5",
            "load.stages.users": "5",
            "target[0]": "x",
        },
    ) == [
        "spec.yaml: --set load.stages.users: load.stages is a list; give an index, "
        "e.g. load.stages[0].users",
        "spec.yaml: --set load.stages[0].userz: no field 'userz' in load.stages[0]; "
        "did you mean users?",
        "spec.yaml: --set load.stagez[0].users: no field 'stagez' in load; did you mean stages?",
        "spec.yaml: --set target.timout: no field 'timout' in target; did you mean timeout?",
        "spec.yaml: --set target[0]: target is not a list",
    ]
    assert errors(VALID, overrides={"bogus": "1"}) == [
        "spec.yaml: --set bogus: no field 'bogus' in the spec; expected one of version, "
        "name, sla_version, owner, description, labels, target, endpoints, channels, load, "
        "thresholds, public_vars"
    ]


def test_a_bad_set_value_names_its_key_where_the_file_has_none() -> None:
    assert errors(VALID, overrides={"target.timeout": "fast"}) == [
        "spec.yaml:5:3: target.timeout: expected a duration like 5s, 250ms or 1h30m, "
        "got 'fast' (value from --set)"
    ]


def test_set_reaches_a_field_of_a_threshold_written_as_a_string() -> None:
    assert errors(VALID, overrides={"thresholds[0].during": "stedy"}) == [
        "spec.yaml:18:5: thresholds[0].during: no stage named 'stedy'; stages: ramp, steady; "
        "did you mean steady? (value from --set)"
    ]


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_a_bad_set_key_exits_2_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID, encoding="utf-8")
    assert run([command, str(spec), "--set", "load.stagez[0].users=5"]) == EXIT_USAGE
    assert (
        f"{spec}: --set load.stagez[0].users: no field 'stagez' in load; did you mean stages?"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (VALID.replace("  stages:\n", "\tstages:\n"), "spec.yaml:13:1"),
        (VALID.replace("    - {name: steady", "  \t- {name: steady"), "spec.yaml:15:3"),
    ],
)
def test_a_tab_in_the_indentation_says_use_spaces(text: str, where: str) -> None:
    assert errors(text) == [f"{where}: a tab in the indentation; use spaces, not tabs"]


def test_a_tab_after_a_colon_says_use_spaces() -> None:
    assert errors(VALID.replace("  think_time: 100ms", "  think_time:\t100ms")) == [
        "spec.yaml:16:14: a tab where YAML needs a space; use spaces, not tabs"
    ]
