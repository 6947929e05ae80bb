"""Format 2's names across the spec: steps, mixes, channels, tables, thresholds, stages."""

from __future__ import annotations

import pytest

from tests.unit.spec.helpers2 import SHOP, changed, errors2, load2

DECLARED = "declared: create-order, get-item, get-order, list-items, login"


def test_names_a_scenario_or_before_uses_must_be_declared() -> None:
    text = changed(
        SHOP,
        ("endpoints:\n", "before: [admin-login]\nendpoints:\n"),
        ("      - get-order\n", "      - get-ordr\n      - prices\n"),
        ("channels: [prices]", "channels: [price, login]"),
        ("mix: {list-items: 3", "mix: {list-item: 3"),
        ("data: {accounts: user, skus: pass}", "data: {acounts: user, skus: pass}"),
    )
    assert errors2(text) == [
        f"spec.yaml:8:10: before[0]: no endpoint named 'admin-login'; {DECLARED}; did you "
        "mean login?",
        # admin-login is read as login, the endpoint its error suggests, which needs a user
        "spec.yaml:13:22: endpoints.login.json.user: {{ accounts.user }}: no row is dealt in "
        "before; before[0] runs once per run, outside any user",
        "spec.yaml:13:55: endpoints.login.json.password: {{ accounts.password }}: no row is "
        "dealt in before; before[0] runs once per run, outside any user",
        "spec.yaml:39:12: scenarios.shoppers.data.acounts: no data table named 'acounts'; "
        "declared: accounts, skus; did you mean accounts?",
        f"spec.yaml:44:9: scenarios.shoppers.flow[2]: no endpoint named 'get-ordr'; {DECLARED}; "
        "did you mean get-order?",
        "spec.yaml:45:9: scenarios.shoppers.flow[3]: prices is a channel; a step sends an "
        "endpoint's request (a scenario holds channels: channels: [prices])",
        "spec.yaml:46:16: scenarios.shoppers.channels[0]: no channel named 'price'; declared: "
        "prices; did you mean prices?",
        "spec.yaml:46:23: scenarios.shoppers.channels[1]: login is an endpoint; a scenario "
        "sends endpoints in its flow or mix, and holds channels",
        f"spec.yaml:49:11: scenarios.api.mix.list-item: no endpoint named 'list-item'; "
        f"{DECLARED}; did you mean list-items?",
    ]


def test_thresholds_name_scenarios_stages_and_flows_that_exist() -> None:
    text = changed(
        SHOP,
        ("{expr: p95(http) < 100ms, scenario: api}", "{expr: p95(http) < 100ms, scenario: apii}"),
        ("during: steady}", "during: api-hold}"),
        ("p95(flow.shoppers) < 2s", "p95(flow.api) < 2s"),
        ("success_rate(flow.shoppers)", "success_rate(flow.shopers)"),
    )
    assert errors2(text) == [
        "spec.yaml:52:41: thresholds[2].scenario: no scenario named 'apii'; scenarios: api, "
        "shoppers; did you mean api?",
        "spec.yaml:53:5: thresholds[3]: flow.api: scenario api has a mix, not a flow: a flow "
        "metric measures passes through a flow",
        "spec.yaml:54:5: thresholds[4]: flow.shopers: no scenario named 'shopers'; scenarios: "
        "api, shoppers; did you mean shoppers?",
        "spec.yaml:55:54: thresholds[5].during: stage 'api-hold' is scenario api's, not "
        "shoppers's: during names a stage of the scenario the threshold judges",
    ]


def test_a_scenario_threshold_judges_what_that_scenario_has() -> None:
    text = changed(
        SHOP,
        (
            "  - p95(http) < 200ms\n",
            "  - p95(http) < 200ms\n"
            "  - {expr: users > 1, scenario: api}\n"
            "  - {expr: p95(ws.prices) < 1s, scenario: api}\n"
            "  - {expr: p95(http.login) < 1s, scenario: api}\n"
            "  - {expr: p95(flow.shoppers) < 1s, scenario: api}\n"
            "  - {expr: p95(http) < 200ms, scenario: api}\n"
            "  - {expr: p95(http) < 100ms, scenario: api}\n",
        ),
    )
    assert errors2(text) == [
        "spec.yaml:51:12: thresholds[1].expr: users: scenario api is open (rate stages): it has "
        "no users",
        "spec.yaml:52:12: thresholds[2].expr: ws.prices: scenario api does not hold channel prices",
        "spec.yaml:53:12: thresholds[3].expr: http.login: scenario api does not send login (a "
        "before step is outside every metric)",
        "spec.yaml:54:12: thresholds[4].expr: flow.shoppers measures scenario shoppers, not api",
        "spec.yaml:58:12: thresholds[8].expr: p95(http) < 100ms in scenario api is already "
        "thresholds[6] (p95(http) < 100ms): judge it once",
    ]
    # The same expression over all the traffic and over one scenario are two thresholds.
    assert load2(changed(SHOP, ("  - p95(http) < 200ms\n", "  - p95(http) < 100ms\n"))).spec


def test_stage_names_are_unique_across_scenarios() -> None:
    assert errors2(changed(SHOP, ("name: api-hold", "name: steady"))) == [
        "spec.yaml:46:28: scenarios.api.load.stages[0].name: stage 'steady' is also a stage of "
        "scenario shoppers: stage names are unique across scenarios (during: names one)"
    ]


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("p95(ws) < 1s", "ws: no scenario holds channels"),
        ("p95(ws.prices) < 1s", "ws.prices: no scenario holds channel prices"),
        ("p95(http.login) < 1s", None),  # login is sent in setup: it is traffic
    ],
)
def test_channels_and_endpoints_a_threshold_names_must_carry_traffic(
    threshold: str, message: str | None
) -> None:
    text = changed(
        SHOP, ("    channels: [prices]\n", ""), ("  - p95(http) < 200ms", f"  - {threshold}")
    )
    if message is None:
        assert load2(text).spec
    else:
        assert errors2(text) == [f"spec.yaml:49:5: thresholds[0]: {message}"]


def test_the_mix_of_a_scenario_is_exact_or_refused() -> None:
    text = changed(
        SHOP,
        ("mix: {list-items: 3, get-item: 1}", "mix: {list-items: 0.000001, get-item: 1000000}"),
    )
    assert errors2(text) == [
        "spec.yaml:47:23: scenarios.api.mix.list-items: the weights (list-items 1e-06 … "
        "get-item 1,000,000) make an exact mix that comes round only after 1,000,000,000,001 "
        "requests (the weights in lowest whole numbers, added up); at most 1,000,000 are "
        "supported, i.e. up to 1 : 999,999 between two endpoints; round the weights"
    ]


def test_an_endpoint_or_channel_is_needed() -> None:
    text = "version: 2\nname: x\nsla_version: '1'\ntarget: {base_url: http://h}\n"
    text += "scenarios: {s: {load: {stages: [{duration: 1s, users: 1}]}, mix: {a: 1}}}\n"
    assert errors2(text) == [
        "spec.yaml:1:1: declare at least one endpoint or channel",
        "spec.yaml:5:67: scenarios.s.mix.a: no endpoint named 'a'; declared: none",
    ]
    assert errors2("version: 2\nname: x\nsla_version: '1'\ntarget: {base_url: http://h}\n") == [
        "spec.yaml:1:1: declare at least one endpoint or channel",
        "spec.yaml:1:1: scenarios: required field is missing",
    ]


ROOTS = [
    (
        ("    setup: [login]\n", "    setup: [logn]\n"),
        f"spec.yaml:39:13: scenarios.shoppers.setup[0]: no endpoint named 'logn'; {DECLARED}; "
        "did you mean login?",
    ),
    (
        ("{request: create-order, think_time", "{request: create-ordr, think_time"),
        f"spec.yaml:42:9: scenarios.shoppers.flow[1]: no endpoint named 'create-ordr'; "
        f"{DECLARED}; did you mean create-order?",
    ),
    (
        ("      - get-order\n", "      - get-ordr\n"),
        f"spec.yaml:43:9: scenarios.shoppers.flow[2]: no endpoint named 'get-ordr'; {DECLARED}; "
        "did you mean get-order?",
    ),
    (
        ("mix: {list-items: 3, get-item: 1}", "mix: {list-items: 3, get-itme: 1}"),
        f"spec.yaml:47:26: scenarios.api.mix.get-itme: no endpoint named 'get-itme'; {DECLARED}; "
        "did you mean get-item?",
    ),
    (
        ("data: {accounts: user, skus: pass}", "data: {acounts: user, skus: pass}"),
        "spec.yaml:38:12: scenarios.shoppers.data.acounts: no data table named 'acounts'; "
        "declared: accounts, skus; did you mean accounts?",
    ),
    (
        ("channels: [prices]", "channels: [price]"),
        "spec.yaml:44:16: scenarios.shoppers.channels[0]: no channel named 'price'; declared: "
        "prices; did you mean prices?",
    ),
]


@pytest.mark.parametrize(("typo", "root"), ROOTS, ids=[new for (_, new), _ in ROOTS])
def test_a_name_that_does_not_resolve_is_the_one_error_not_what_follows_from_it(
    typo: tuple[str, str], root: str
) -> None:
    # What a misspelt name would have given (a token, an order id, traffic for a threshold,
    # rows, a held channel) is read from the name its error suggests: fixing the name as
    # suggested leaves nothing else to fix, so nothing else is reported.
    text = changed(
        SHOP,
        typo,
        (
            "  - p95(http) < 200ms\n",
            "  - p95(http) < 200ms\n  - p95(http.get-item) < 1s\n  - p95(ws.prices) < 1s\n",
        ),
    )
    assert errors2(text) == [root]


def test_errors_that_do_not_follow_from_a_misspelt_name_stay() -> None:
    # login extracts the token, not the order id: read after create-order is still too late,
    # and a mix still names an endpoint it does not extract for.
    text = changed(
        SHOP,
        ("    setup: [login]\n", "    setup: [logn]\n"),
        ("      - get-order\n", ""),
        ("      - list-items\n", "      - get-order\n      - list-items\n"),
    )
    assert errors2(text) == [
        "spec.yaml:27:23: endpoints.get-order.path: {{ order_id }}: used before the step that "
        "extracts it; scenarios.shoppers.flow[0] sends get-order, and scenarios.shoppers.flow[2] "
        "(create-order) extracts it later: a value is not available to an earlier step, not "
        "even on the next pass",
        f"spec.yaml:39:13: scenarios.shoppers.setup[0]: no endpoint named 'logn'; {DECLARED}; "
        "did you mean login?",
    ]


def test_a_misspelt_step_is_checked_as_the_endpoint_it_suggests() -> None:
    # Without setup nothing extracts the token: create-order needs it even where its name
    # is misspelt (fixing the name would show it otherwise).
    text = changed(
        SHOP,
        ("    setup: [login]\n", ""),
        ("{request: create-order, think_time", "{request: create-ordr, think_time"),
    )
    assert errors2(text) == [
        "spec.yaml:21:41: endpoints.create-order.headers.Authorization: {{ token }}: no step "
        "before this use extracts token; scenarios.shoppers.flow[1] sends create-order (login "
        "extracts it: send it in before, or earlier in this scenario)",
        "spec.yaml:28:41: endpoints.get-order.headers.Authorization: {{ token }}: no step "
        "before this use extracts token; scenarios.shoppers.flow[2] sends get-order (login "
        "extracts it: send it in before, or earlier in this scenario)",
        f"spec.yaml:41:9: scenarios.shoppers.flow[1]: no endpoint named 'create-ordr'; "
        f"{DECLARED}; did you mean create-order?",
    ]


def test_a_name_like_no_endpoint_leaves_what_follows_said() -> None:
    # Nothing suggests what 'authenticate' means: the steps after it say what they miss and
    # which endpoint extracts it.
    text = changed(SHOP, ("    setup: [login]\n", "    setup: [authenticate]\n"))
    found = errors2(text)
    assert found[-1] == (
        f"spec.yaml:39:13: scenarios.shoppers.setup[0]: no endpoint named 'authenticate'; "
        f"{DECLARED}"
    )
    assert [line.split(": ", 2)[1] for line in found[:-1]] == [
        "endpoints.create-order.headers.Authorization",
        "endpoints.get-order.headers.Authorization",
    ]
    assert all("(login extracts it" in line for line in found[:-1])
