"""Format 2: a ``users`` threshold no run of the plan can meet is a spec error, per scenario
(``scenario:``, ``during:``) and run-wide (the closed scenarios held at once, added up), in
the same round as the other errors."""

from __future__ import annotations

import pytest

from tests.unit.spec.helpers2 import SHOP, changed, errors2, load2

# shoppers ramp to 100 over 20s and hold 100 for 1m; browsers hold 40 from 30s to 1m30s
# (beside shoppers' steady stage); api is open (no users).
BROWSERS = """\
  browsers:
    start: 30s
    load: {stages: [{name: browse, duration: 1m, users: 40}]}
    flow: [list-items]
"""
TWO_CLOSED = changed(SHOP, ("  api:\n", BROWSERS + "  api:\n"))


def _errors(*thresholds: str, text: str = TWO_CLOSED) -> list[str]:
    head, _ = text.split("thresholds:", maxsplit=1)
    return errors2(head + "thresholds:\n" + "".join(f"  - {t}\n" for t in thresholds))


def _loads(*thresholds: str, text: str = TWO_CLOSED) -> None:
    head, _ = text.split("thresholds:", maxsplit=1)
    assert load2(head + "thresholds:\n" + "".join(f"  - {t}\n" for t in thresholds)).spec


def test_more_than_a_scenario_holds_is_refused() -> None:
    assert _errors("{expr: users >= 101, scenario: shoppers}") == [
        "spec.yaml:54:12: thresholds[0].expr: users >= 101 can never hold: scenario shoppers "
        "holds at most 100 users; raise the load to 101 users held, or lower the limit"
    ]


def test_during_a_ramp_a_scenario_holds_less_than_its_top() -> None:
    assert _errors("{expr: users >= 100, scenario: shoppers, during: ramp}") == [
        "spec.yaml:54:12: thresholds[0].expr: users >= 100 during 'ramp' can never hold: "
        "scenario shoppers up to the end of stage 'ramp' holds at most 99 users; judge it "
        "during a stage that holds 100 users, or over the run"
    ]


def test_run_wide_it_is_the_scenarios_held_at_once() -> None:
    """Shoppers' 100 and browsers' 40 overlap from 30s: 140 at once, never more."""
    _loads("users >= 140", "{expr: users >= 40, scenario: browsers}")
    assert _errors("max(users) > 140", "{expr: users >= 140, during: ramp}") == [
        "spec.yaml:54:5: thresholds[0]: max(users) > 140 can never hold: the scenarios "
        "together hold at most 140 users; raise the load to 141 users held, or lower the limit",
        "spec.yaml:55:12: thresholds[1].expr: users >= 140 during 'ramp' can never hold: the "
        "scenarios together up to the end of stage 'ramp' hold at most 99 users; judge it "
        "during a stage that holds 140 users, or over the run",
    ]


def test_scenarios_that_do_not_overlap_are_not_added_up() -> None:
    later = TWO_CLOSED.replace("start: 30s", "start: 2m")  # after shoppers end at 1m20s
    _loads("users >= 100", text=later)
    assert _errors("users >= 101", text=later) == [
        "spec.yaml:54:5: thresholds[0]: users >= 101 can never hold: the scenarios together "
        "hold at most 100 users; raise the load to 101 users held, or lower the limit"
    ]


@pytest.mark.parametrize("expr", ["users >= 100", "{expr: users >= 100, scenario: shoppers}"])
def test_what_the_plan_holds_is_accepted(expr: str) -> None:
    _loads(expr, "{expr: users >= 100, scenario: shoppers, during: steady}", text=SHOP)


def test_checked_in_the_same_round_as_the_other_errors() -> None:
    broken = TWO_CLOSED.replace("think_time: 1s..3s", "think_time: soon")
    found = _errors("{expr: users >= 101, scenario: browsers}", text=broken)
    assert len(found) == 2
    assert "think_time" in found[0]
    assert "users >= 101 can never hold: scenario browsers holds at most 40 users" in found[1]
