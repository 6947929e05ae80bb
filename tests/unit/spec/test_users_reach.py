"""A ``users`` threshold the plan can never meet is a spec error that says why and how to
fix it, as ``users >= 0`` (which always holds) is refused: the plan is asked what it holds."""

from __future__ import annotations

import pytest

from tests.unit.spec.helpers import VALID, errors, load, with_thresholds

RAMP = "    - {name: ramp, duration: 20s, users: 100}\n"
STEADY = "    - {name: steady, duration: 60s, users: 100}\n"
ENDS_ON_A_RAMP = VALID.replace(STEADY, "")


def _errors(text: str, *thresholds: str) -> list[str]:
    head, _ = text.split("thresholds:", maxsplit=1)
    return errors(head + "thresholds:\n" + "".join(f"  - {t}\n" for t in thresholds))


def test_a_threshold_only_the_last_instant_reaches_is_refused() -> None:
    """The issue's case: the last stage ramps to 100, reached only as the run ends; the
    run holds 99, ``users >= 100`` could never hold, and validate accepted it."""
    assert _errors(ENDS_ON_A_RAMP, "users >= 100") == [
        "spec.yaml:17:5: thresholds[0]: users >= 100 can never hold: the plan holds at most "
        "99 users (its last stage, 'ramp', reaches 100 only as the run ends); add a stage "
        "that holds 100 users, e.g. {duration: 10s, users: 100}"
    ]


@pytest.mark.parametrize("expr", ["users >= 101", "max(users) > 100", "mean(users) >= 100.5"])
def test_more_than_the_plan_ever_reaches_is_refused(expr: str) -> None:
    assert _errors(VALID, expr) == [
        f"spec.yaml:18:5: thresholds[0]: {expr} can never hold: the plan holds at most 100 "
        "users; raise the load to 101 users held, or lower the limit"
    ]


def test_during_a_stage_it_is_what_that_stage_can_show() -> None:
    """A ramp's own users stay below its top; a ramp-down still shows the users that finish
    their request, so the level held before it can be seen there."""
    down = VALID.replace(STEADY, STEADY + "    - {name: down, duration: 10s, users: 0}\n")
    assert _errors(down, "{expr: users >= 100, during: ramp}") == [
        "spec.yaml:19:12: thresholds[0].expr: users >= 100 during 'ramp' can never hold: "
        "stage 'ramp' holds at most 99 users (it reaches 100 only as it ends); judge it "
        "during a stage that holds 100 users, or over the run"
    ]
    load(with_thresholds("{expr: users >= 100, during: steady}"))
    head, _ = down.split("thresholds:", maxsplit=1)
    load(head + "thresholds:\n  - {expr: max(users) >= 100, during: down}\n")


def test_what_the_plan_holds_is_accepted_and_a_lower_bound_is_not_judged_here() -> None:
    assert load(with_thresholds("users >= 100", "users > 99", "max(users) < 50")).spec
    head, _ = ENDS_ON_A_RAMP.split("thresholds:", maxsplit=1)
    assert load(head + "thresholds:\n  - users >= 99\n").spec


def test_checked_in_the_same_round_as_the_other_errors() -> None:
    broken = ENDS_ON_A_RAMP.replace("  process:", "  timeout: fast\n  process:")
    found = _errors(broken, "users >= 100")
    assert found[0].startswith("spec.yaml:6:12: target.timeout: expected a duration")
    assert found[1].startswith("spec.yaml:18:5: thresholds[0]: users >= 100 can never hold")
    assert len(found) == 2
