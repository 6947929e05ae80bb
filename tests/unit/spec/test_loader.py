"""load_spec: the whole pipeline, overrides (--set), identity of the file, error order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sla_runner.errors import SpecError
from sla_runner.spec.loader import load_spec_text_v1 as load_spec_text
from sla_runner.spec.loader import load_spec_v1 as load_spec
from sla_runner.spec.loader import parse_override_path
from tests.unit.spec.helpers import VALID, errors, load


def test_valid_spec_loads(tmp_path: Path) -> None:
    path = tmp_path / "checkout.yaml"
    path.write_text(VALID, encoding="utf-8")
    loaded = load_spec(path, env={})
    assert loaded.path == path
    assert loaded.sha256 == hashlib.sha256(VALID.encode()).hexdigest()
    spec = loaded.spec
    assert spec.name == "checkout"
    assert list(spec.endpoints) == ["list-items", "create-order"]
    assert spec.load.model == "closed"
    assert spec.thresholds[3].severity == "warn"
    assert spec.thresholds[3].during == "steady"
    assert spec.thresholds[0].expr.limit == 200.0
    assert loaded.secrets == frozenset()


def test_load_spec_text_names_the_file_in_errors() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text("version: 1\n", "mine.yaml", env={})
    assert caught.value.report().endswith("errors in mine.yaml")
    assert caught.value.exit_code == 2


def test_missing_fields_point_at_their_parent() -> None:
    assert errors("version: 1\nname: x\nsla_version: '1'\ntarget: {}\n") == [
        "spec.yaml:1:1: declare at least one endpoint or channel",
        "spec.yaml:1:1: load: required field is missing",
        "spec.yaml:4:9: target.base_url: required field is missing",
    ]


def test_errors_sorted_by_position() -> None:
    text = VALID.replace("weight: 3", "weight: -3")
    text = text.replace("version: 1\n", "version: 1\nbogus: 1\n")
    found = errors(text)
    assert found == sorted(found, key=lambda s: [int(p) for p in s.split(":")[1:3]])
    assert len(found) == 2


def test_mixed_models_and_no_requests() -> None:
    text = VALID.replace("{name: steady, duration: 60s, users: 100}", "{duration: 60s, rate: 5/s}")
    assert errors(text) == [
        "spec.yaml:13:3: load: stages mix users (closed model) and rate (open model); "
        "use one model per spec",
        "spec.yaml:21:39: thresholds[3].during: no stage named 'steady'; stages: ramp",
    ]
    bare = "version: 1\nname: x\nsla_version: '1'\ntarget: {base_url: http://h}\n"
    bare += "load: {stages: [{duration: 1s, users: 1}]}\n"
    assert errors(bare) == ["spec.yaml:1:1: declare at least one endpoint or channel"]


def test_references_are_checked_in_the_same_round_as_field_errors() -> None:
    """A typo elsewhere does not hide a threshold naming an endpoint or a stage that does
    not exist: every problem comes out at once, not one round of fixes after another."""
    text = VALID.replace("  base_url:", "  timout: 5s\n  base_url:")
    text = text.replace("  - p95(ws.prices) < 50ms\n", "  - p95(http.helth) < 50ms\n")
    text = text.replace("during: steady", "during: stedy")
    assert errors(text) == [
        "spec.yaml:5:3: target.timout: unknown field; expected one of base_url, headers, "
        "timeout, connect_timeout, verify_tls, engine, follow_redirects, allowed_hosts, "
        "process; did you mean timeout?",
        "spec.yaml:20:5: thresholds[1]: http.helth: no endpoint named 'helth'; "
        "declared: create-order, list-items",
        "spec.yaml:22:39: thresholds[3].during: no stage named 'stedy'; stages: ramp, steady; "
        "did you mean steady?",
    ]


def test_open_model_specs_cannot_hold_channels() -> None:
    text = VALID.replace("users: 100}", "rate: 50/s}").replace("  think_time: 100ms\n", "")
    text = text.replace("  - users >= 100\n", "")
    assert errors(text) == [
        "spec.yaml:11:3: channels: channels are held open by virtual users, which the open "
        "model (rate) does not have; use users stages, or run the channels from a "
        "closed-model spec"
    ]


def test_flags_are_true_or_false_and_numbers_are_not_flags() -> None:
    """Pydantic's lax mode would read 'off', 'no' and '1' as booleans and true as the
    number 1: each is an error instead. The text 'true', as ${VAR} gives it, is a flag."""
    text = VALID.replace(
        "  process: {port: 8000}\n", "  process: {port: true}\n  verify_tls: 'off'\n"
    )
    text = text.replace("weight: 3,", "weight: true, http2: '1',")
    text = text.replace("interval: 200ms}", "interval: 200ms, compression: 'true'}")
    text = text.replace("  think_time: 100ms\n", "  think_time: 100ms\n  max_in_flight: true\n")
    text = text.replace("expect: {status: 200}", "expect: {status: [200, false]}")
    assert errors(text) == [
        "spec.yaml:6:19: target.process.port: expected a number, got true",
        "spec.yaml:7:15: target.verify_tls: expected true or false, got 'off'",
        "spec.yaml:9:51: endpoints.list-items.weight: expected a number, got true",
        "spec.yaml:9:64: endpoints.list-items.http2: expected true or false, got '1'",
        "spec.yaml:9:86: endpoints.list-items.expect.status: expected a number, got false",
        "spec.yaml:18:18: load.max_in_flight: expected a number, got true",
    ]
    assert (
        load(VALID.replace("weight: 3,", "http2: '${H2}',"), env={"H2": "true"})
        .spec.endpoints["list-items"]
        .http2
    )


def test_a_quoted_version_is_told_apart_from_an_unsupported_one() -> None:
    assert errors(VALID.replace("version: 1\n", "version: '1'\n", 1)) == [
        "spec.yaml:1:10: version: version is the number 1, not the text '1': write version: 1"
    ]
    assert errors(VALID.replace("version: 1\n", "version: true\n", 1)) == [
        "spec.yaml:1:10: version: expected a number, got true"
    ]


def test_a_threshold_given_twice_is_an_error() -> None:
    """The same statistic, limit and window twice, however written (0.2s is 200ms): judged
    twice, it would be two test cases of one name that CI tools collapse. The same
    expression over another window is another threshold."""
    text = VALID.replace(
        "  - users >= 100\n",
        "  - users >= 100\n  - p95(http)<0.2s\n  - {expr: p95(http) < 200ms, during: ramp}\n",
    )
    assert errors(text) == [
        "spec.yaml:21:5: thresholds[3]: p95(http)<0.2s is already thresholds[0] "
        "(p95(http) < 200ms): judge it once"
    ]


def test_weights_too_far_apart_for_an_exact_mix() -> None:
    text = VALID.replace("weight: 3", "weight: 0.000001")
    text = text.replace("json: {item: 42}", "json: {item: 42}, weight: 1000000")
    assert errors(text) == [
        "spec.yaml:8:51: endpoints.list-items.weight: the weights (list-items 1e-06 … "
        "create-order 1,000,000) make an exact mix that comes round only after "
        "1,000,000,000,001 requests (the weights in lowest whole numbers, added up); at most "
        "1,000,000 are supported, i.e. up to 1 : 999,999 between two endpoints; round the weights"
    ]
    assert load(VALID.replace("weight: 3", "weight: 999999")).spec.endpoints


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("target.base_url", ("target", "base_url")),
        ("load.stages[0].users", ("load", "stages", 0, "users")),
        ("thresholds[2]", ("thresholds", 2)),
        ("endpoints.list-items.weight", ("endpoints", "list-items", "weight")),
    ],
)
def test_override_paths(path: str, parts: tuple[str | int, ...]) -> None:
    assert parse_override_path(path) == parts


@pytest.mark.parametrize("path", ["", ".a", "a..b", "[0]", "a[x]", "a]"])
def test_bad_override_paths(path: str) -> None:
    with pytest.raises(ValueError, match="cannot read the path"):
        parse_override_path(path)


def test_overrides_set_values_as_yaml_scalars() -> None:
    loaded = load(
        VALID,
        overrides={
            "target.base_url": "http://10.0.0.1:9000/",
            "load.stages[0].users": "5",
            "thresholds[2]": "users >= 99",  # 100 is reached only as the run ends
            "target.timeout": "3s",
            "target.verify_tls": "false",
            "endpoints.list-items.expect.status": "204",
        },
    )
    spec = loaded.spec
    assert spec.target.base_url == "http://10.0.0.1:9000"
    assert spec.load.stages[0].users == 5
    assert str(spec.target.timeout) == "3s"
    assert spec.target.verify_tls is False
    assert spec.endpoints["list-items"].expect.status == 204
    assert loaded.sha256 == hashlib.sha256(VALID.encode()).hexdigest()


def test_override_problems() -> None:
    assert errors(
        VALID,
        overrides={
            "load.stages[5].users": "1",
            "name.first": "x",
            "load.stages[0].users": "lots",
            "x..y": "1",
        },
    ) == [
        "spec.yaml: --set load.stages[5].users: load.stages has 2 item(s); there is no [5]",
        "spec.yaml: --set name.first: name is not a mapping",
        "spec.yaml: --set x..y: cannot read the path 'x..y'; expected e.g. load.stages[0].users",
        "spec.yaml:14:42: load.stages[0].users: expected a whole number, got 'lots' "
        "(value from --set)",
    ]


def test_header_values_are_masked_in_errors() -> None:
    """Header values are secrets: 'expected a string, got 12345' printed an Authorization
    value, from the file and from --set alike."""
    text = VALID.replace(
        "  process: {port: 8000}\n",
        "  process: {port: 8000}\n  headers: {Authorization: 98765, X-Token: [tok-31337]}\n",
    ).replace("path: /items,", "path: /items, headers: {Cookie: {sid: 4242}},")
    found = errors(text, overrides={"endpoints.create-order.headers.X-Key": "12345"})
    assert found == [
        "spec.yaml:7:28: target.headers.Authorization: expected a string, got *** "
        "(quote it to make it a string)",
        "spec.yaml:7:44: target.headers.X-Token: expected a string, got ***",
        "spec.yaml:9:61: endpoints.list-items.headers.Cookie: expected a string, got ***",
        "spec.yaml:10:17: endpoints.create-order.headers.X-Key: expected a string, got *** "
        "(quote it to make it a string) (value from --set)",
    ]
    assert not any(s in " ".join(found) for s in ("98765", "31337", "4242", "12345"))
    whole = errors(VALID, overrides={"target.headers": "Authorization 555"})
    assert whole == [
        "spec.yaml:5:3: target.headers: expected a mapping, got *** (value from --set)"
    ]
