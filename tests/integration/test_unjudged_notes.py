"""The notes a run prints for failures no threshold judges, against the real shop: a flow
step that expects 200 where the shop answers 201 (every pass fails), an endpoint the shop
does not have, and a channel whose replies never match. Each note names what failed in the
metric's own words and suggests a threshold that, pasted into the spec, validates and
judges those failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sla_runner import api, numbers
from sla_runner.verdict import Verdict
from tests.support.shop import LiveShop, running_shop

pytestmark = pytest.mark.load

SPEC = """
version: 2
name: unjudged
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s}}
data:
  accounts: {{rows: [{{user: ann, password: pw-ann}}, {{user: bob, password: pw-bob}}]}}
endpoints:
  login:
    method: POST
    path: /login
    json: {{user: "{{{{ accounts.user }}}}", password: "{{{{ accounts.password }}}}"}}
    extract: {{token: {{json: access_token}}}}
  list-items: {{path: /items}}
  create-order:
    method: POST
    path: /orders
    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
    json: {{sku: A1, qty: 1}}
    expect: {{status: 200}}
  missing: {{path: /no-such-page}}
channels:
  prices: {{path: /ws/prices, send: {{op: ping}}, expect: {{json: {{op: pang}}}}, interval: 200ms}}
scenarios:
  buyers:
    load: {{stages: [{{name: steady, duration: 1500ms, users: 2}}], think_time: 20ms}}
    data: {{accounts: user}}
    setup: [login]
    flow: [list-items, create-order]
    channels: [prices]
  visitors:
    load: {{stages: [{{name: browse, duration: 1500ms, rate: 10/s}}]}}
    mix: {{missing: 1}}
thresholds:
  - p95(http) < 1s
{extra}"""


@pytest.fixture(scope="module")
def shop() -> Iterator[LiveShop]:
    with running_shop([("ann", "pw-ann"), ("bob", "pw-bob")]) as live:
        yield live


def spec_text(shop: LiveShop, extra: list[str]) -> str:
    return SPEC.format(url=shop.url, extra="".join(f"  - {t}\n" for t in extra))


def run(shop: LiveShop, tmp_path: Path, extra: list[str]) -> Verdict:
    loaded = api.load_spec_text(spec_text(shop, extra), str(tmp_path / "unjudged.yaml"))
    return api.run_spec(loaded, handle_signals=False)


def n(count: int) -> str:
    return numbers.count(count)


def suggested(note: str) -> str:
    """The threshold a note suggests: what follows its last ': add '."""
    _head, sep, threshold = note.rpartition(": add ")
    assert sep, note
    return threshold


def test_each_suggested_threshold_validates_and_judges_the_failures(
    shop: LiveShop, tmp_path: Path
) -> None:
    verdict = run(shop, tmp_path, [])
    assert verdict.status == "pass", [t.message for t in verdict.thresholds]
    notes = {note.split(" failed ")[0]: note for note in verdict.notes}
    passes = verdict.metrics["flow.buyers"].count
    requests = verdict.metrics["http"].count
    round_trips = verdict.metrics["ws"].count
    assert passes > 0
    assert round_trips > 0
    # Every pass failed at create-order (the shop answers 201), in the words of a flow.
    flow_note = notes[f"{n(passes)} of {n(passes)} passes through flow.buyers"]
    assert flow_note.endswith(": add success_rate(flow.buyers) > 99%"), flow_note
    assert "create-order:status_201" in flow_note
    failed_requests = passes + verdict.metrics["http.missing"].count
    assert notes[f"{n(failed_requests)} of {n(requests)} http requests"]
    assert notes[f"{n(round_trips)} of {n(round_trips)} ws round trips"]
    assert len(notes) == 3, verdict.notes

    # Pasted into the spec, every suggestion validates, and the run now judges (and fails
    # on) what the notes reported, with nothing left unjudged.
    thresholds = [suggested(note) for note in verdict.notes]
    loaded = api.load_spec_text(spec_text(shop, thresholds), str(tmp_path / "pasted.yaml"))
    judged = api.run_spec(loaded, handle_signals=False)
    assert judged.notes == []
    assert [t.expr for t in judged.thresholds[1:]] == thresholds
    assert all(t.status == "fail" for t in judged.thresholds[1:]), judged.thresholds


TWO_SCENARIOS = """
version: 2
name: unjudged-scenarios
sla_version: 1.0.0
target: {{base_url: "{url}", timeout: 2s}}
endpoints:
  echo: {{path: /cookies/echo}}
  missing: {{path: /no-such-page}}
  list-items: {{path: /items}}
  no-item: {{path: /items/ZZ9}}
scenarios:
  api:
    load: {{stages: [{{name: api-steady, duration: 1500ms, rate: 20/s}}]}}
    mix: {{echo: 1, missing: 1}}
  web:
    load: {{stages: [{{name: web-steady, duration: 1500ms, rate: 20/s}}]}}
    mix: {{list-items: 1, no-item: 1}}
thresholds:
  - p95(http) < 1s
{extra}"""


def run_two(shop: LiveShop, tmp_path: Path, extra: list[str]) -> Verdict:
    text = TWO_SCENARIOS.format(url=shop.url, extra="".join(f"  - {t}\n" for t in extra))
    loaded = api.load_spec_text(text, str(tmp_path / "two.yaml"))
    return api.run_spec(loaded, handle_signals=False)


@pytest.mark.parametrize(
    "judges_api",
    [
        "{expr: success_rate(http) > 99%, scenario: api}",
        "{expr: error_rate(http.missing) < 1%, scenario: api}",
        "success_rate(http.missing) > 99%",
    ],
)
def test_failures_a_scenario_threshold_judges_are_not_noted(
    shop: LiveShop, tmp_path: Path, judges_api: str
) -> None:
    """Both scenarios' requests fail in part (404s); a threshold kept to scenario api (or
    to the endpoint only api calls) judges api's. The note names web's failures alone,
    with the counts the shop counted, and suggests a threshold for web that, pasted into
    the spec, leaves nothing unjudged."""
    shop.reset()
    verdict = run_two(shop, tmp_path, [judges_api])
    paths = shop.stats()["paths"]
    api_failed = paths["GET (unmatched)"]
    web_failed, web_ok = paths["GET /items/{sku}"], paths["GET /items"]
    assert api_failed > 0
    assert web_failed > 0
    assert web_ok > 0
    assert verdict.notes == [
        f"{n(web_failed)} of {n(web_failed + web_ok)} http requests of scenario web failed "
        f"(status_404 {n(web_failed)}) and no threshold judges them: "
        "add {expr: success_rate(http) > 99%, scenario: web}"
    ]

    pasted = run_two(shop, tmp_path, [judges_api, suggested(verdict.notes[0])])
    assert pasted.notes == []
    web = pasted.thresholds[-1]
    assert (web.scenario, web.status) == ("web", "fail"), web.message
