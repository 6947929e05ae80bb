"""`migrate`: a version-1 file's format-2 text loads as version 2 and plans identically."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sla_runner.errors import SpecError
from sla_runner.spec.document import load_document_text
from sla_runner.spec.migrate import DROPPED, migrate_file, migrate_text
from sla_runner.spec.yamlemit import dump
from sla_runner.spec.yamlload import parse_yaml
from tests.cli.test_plan import SPEC as PLAN_SPEC
from tests.support.faultkit import spec_data
from tests.support.paths import ROOT
from tests.unit.spec.helpers import VALID
from tests.unit.spec.test_one_round import BASE
from tests.unit.spec.test_readme import _blocks

SPECS = sorted(
    p for p in (ROOT / "specs").rglob("*.yaml") if yaml.safe_load(p.read_text())["version"] == 1
)

EDGES = """\
version: 1
name: edges
sla_version: "1"
target: {base_url: "${BASE:-http://127.0.0.1:8000}", headers: {X-Key: "k{{ey"}}
endpoints:
  a: {path: "/a/{{ not-a-template }}", weight: "${W:-2}", query: {n: 2.5, s: "{{x}}"}}
  b: {method: POST, path: /b, json: {t: "{{ x }}", "{{k}}": ["{{", 1]}, body: null}
  c: {path: /c, headers: {Authorization: "Bearer ${TOKEN:-t{{1}"}}
load:
  stages:
    - {name: zero, duration: 1s, rate: 0/s}
    - {duration: 2s, rate: 60/m}
    - {duration: 2s, rate: 1/s}
    - {duration: 1s, rate: "${R:-5/s}"}
    - {duration: 1s, rate: "${R:-5/s}"}
  think_time: 1s
  max_in_flight: 50
thresholds: [p95(http) < 1s]
"""

CHANNELS_ONLY = """\
# a header comment
version: 1
name: sockets   # an inner comment
sla_version: "1"
target: {base_url: http://127.0.0.1:8000}
channels:
  feed: {path: "/ws/{{feed}}", send: {op: "{{ping}}"}, expect: {json: {"a.b": 1}}}
load:
  stages: [{duration: 1s, users: 3}, {duration: 1s, users: 3}]
  max_in_flight: 7
thresholds: ["p95(ws) < 1s"]
"""

CORPUS = {
    **{p.name: p.read_text(encoding="utf-8") for p in SPECS},
    "README.md": _blocks("yaml")[0],
    "helpers.VALID": VALID,
    "one_round.BASE": BASE,
    "cli.plan": PLAN_SPEC,
    "faultkit": yaml.safe_dump(spec_data("http://127.0.0.1:9"), sort_keys=False),
    "edges": EDGES,
    "channels-only": CHANNELS_ONLY,
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_migrated_text_loads_as_version_2_and_means_the_same(name: str) -> None:
    text = CORPUS[name]
    migrated = migrate_text(text, name, env={})
    original = load_document_text(text, name, env={})
    assert original.version == 1
    again = load_document_text(migrated, name, env={})
    assert again.version == 2
    assert again.spec == original.spec
    for scenario in original.spec.scenarios:
        assert (
            again.spec.scenarios[scenario].load.ramps()
            == original.spec.scenarios[scenario].load.ramps()
        )
    assert again.secrets == original.secrets


def test_environment_values_never_appear_and_written_text_stays() -> None:
    env = {"TOKEN": "s3cret-value", "BASE": "http://10.9.8.7:1", "W": "3"}
    migrated = migrate_text(EDGES, "edges.yaml", env=env)
    for value in env.values():
        assert value not in migrated
    assert "${TOKEN:-t{{{{1}" in migrated
    assert 'weight: "${W:-2}"' not in migrated  # the weight left the endpoint
    assert 'mix: {a: "${W:-2}", b: 1, c: 1}' in migrated
    again = load_document_text(migrated, "m.yaml", env=env)
    assert again.spec == load_document_text(EDGES, "edges.yaml", env=env).spec


def test_stages_ramps_and_holds() -> None:
    migrated = yaml.safe_load(migrate_text(EDGES, "edges.yaml", env={}))
    stages = migrated["scenarios"]["default"]["load"]["stages"]
    assert stages == [
        {"name": "zero", "duration": "1s", "rate": "0/s"},
        {"duration": "2s", "ramp_to": "60/m"},
        {"duration": "2s", "rate": "1/s"},  # the same level as 60/m: a hold
        {"duration": "1s", "ramp_to": "${R:-5/s}"},
        {"duration": "1s", "rate": "${R:-5/s}"},  # the same ${VAR} text: a hold everywhere
    ]
    load = migrated["scenarios"]["default"]["load"]
    assert "think_time" not in load  # never read by an open-model load
    assert load["max_in_flight"] == 50
    sockets = yaml.safe_load(migrate_text(CHANNELS_ONLY, "s.yaml", env={}))
    assert sockets["scenarios"] == {
        "default": {
            "load": {"stages": [{"duration": "1s", "ramp_to": 3}, {"duration": "1s", "users": 3}]},
            "channels": ["feed"],
        }
    }


def test_a_level_written_two_ways_ramps_so_it_means_the_same_in_every_environment() -> None:
    """10 and ${U:-10} are equal here but not where U=20: migrate writes a ramp (from 10 to
    10 here: the same load), the conversion of the loaded file a hold; both plan alike."""
    text = VALID.replace(
        "{name: steady, duration: 60s, users: 100}",
        "{name: steady, duration: 60s, users: '${U:-100}'}",
    ).replace("users >= 100", "users >= 20")  # where U=20, 100 is reached only at an instant
    migrated = migrate_text(text, "s.yaml", env={})
    assert '{name: steady, duration: 60s, ramp_to: "${U:-100}"}' in migrated
    for env in ({}, {"U": "20"}):
        original = load_document_text(text, "s.yaml", env=env).spec.scenarios["default"]
        again = load_document_text(migrated, "s.yaml", env=env).spec.scenarios["default"]
        assert again.load.ramps() == original.load.ramps()


def test_comments_at_the_top_stay_and_a_schema_line_is_added() -> None:
    migrated = migrate_text(CHANNELS_ONLY, "s.yaml", env={})
    assert migrated.startswith(
        "# yaml-language-server: $schema=../schemas/sla-spec.schema.json\n#\n"
        f"# a header comment\n{DROPPED}\n\nversion: 2\n"
    )
    demo = migrate_file(ROOT / "specs" / "demo.yaml", env={})
    assert demo.startswith((ROOT / "specs" / "demo.yaml").read_text().split("\nversion:")[0])
    assert demo.count("$schema=") == 1
    plain = migrate_text(VALID, "v.yaml", env={}, schema="https://example.com/s.json")
    assert plain.startswith("# yaml-language-server: $schema=https://example.com/s.json\n\n")
    assert DROPPED not in plain  # VALID has no comments to drop


def test_a_channel_check_format_2_cannot_write_is_refused_at_its_key() -> None:
    """Format 1 read a JSON path that does not parse as keys split at dots (a..b: the keys
    a, '' and b); format 2 reads paths strictly and has no way to write that one."""
    text = CHANNELS_ONLY.replace('{"a.b": 1}', '{"a..b": 1}')
    assert load_document_text(text, "s.yaml", env={}).version == 1  # runs as it always did
    with pytest.raises(SpecError) as caught:
        migrate_text(text, "s.yaml", env={})
    assert [i.format("s.yaml") for i in caught.value.issues] == [
        "s.yaml:7:72: channels.feed.expect.json.a..b: format 2 reads JSON paths strictly, and "
        "this one does not parse (bad JSON path 'a..b': empty key); format 1 read it as the "
        "keys 'a', '', 'b', which format 2 cannot write: change the check"
    ]


def test_only_a_valid_version_1_file_migrates() -> None:
    with pytest.raises(SpecError, match="format version 2 already"):
        migrate_text("version: 2\nname: x\n", "x.yaml", env={})
    with pytest.raises(SpecError, match="weight: must be above 0"):
        migrate_text(VALID.replace("weight: 3", "weight: -3"), "x.yaml", env={})
    with pytest.raises(SpecError, match="environment variable NEEDED is not set"):
        migrate_text(VALID.replace("path: /items", "path: '/${NEEDED}'"), "x.yaml", env={})


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**29), max_value=10**29),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.text(alphabet="ab:?#,-[]{} '\"!&*|>%@`\\\n", max_size=8),
    st.sampled_from(
        ["on", "0o17", "1e3", "~", "- x", "a: b", "#x", "${A:-1}", "[x]", ".inf", "/a?b=1", "h://x"]
    ),
)
documents = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
@example({"\ufffe": None, "k": "\uffff x"})  # noncharacters YAML may not hold unescaped
def test_what_the_emitter_writes_reads_back_as_the_same_data(data: dict[str, object]) -> None:
    text = dump(data)
    assert parse_yaml(text, "d.yaml").data == data


def test_a_format_2_file_is_refused_at_its_version() -> None:
    """The one error points at the `version: 2` a reader must look at, not at 1:1."""
    text = "# a comment\n\nversion: 2\nname: x\n"
    with pytest.raises(SpecError) as caught:
        migrate_text(text, "x.yaml", env={})
    assert [i.format("x.yaml") for i in caught.value.issues] == [
        "x.yaml:3:10: version: the file is format version 2 already"
    ]


def test_a_version_it_does_not_read_is_the_one_error_as_validate_says() -> None:
    with pytest.raises(SpecError) as caught:
        migrate_text("version: 3\nname: x\n", "x.yaml", env={})
    assert [i.format("x.yaml") for i in caught.value.issues] == [
        "x.yaml:1:10: version: unsupported format version 3; this sla-runner reads versions 1 and 2"
    ]
