"""The plan is pure: exact answers about users, arrivals, stages and the mix."""

from __future__ import annotations

from collections import Counter
from itertools import accumulate
from typing import Any

import pytest

from sla_runner.errors import PlanError, UsageError
from sla_runner.plan import Plan, Segment, build_plan
from sla_runner.spec.models import SpecV1
from sla_runner.timeunits import NS_PER_S


def _spec(stages: list[dict[str, Any]], endpoints: dict[str, Any] | None = None) -> SpecV1:
    return SpecV1.model_validate(
        {
            "version": 1,
            "name": "plan-test",
            "sla_version": "1",
            "target": {"base_url": "http://127.0.0.1:9"},
            "endpoints": endpoints or {"a": {"path": "/a", "weight": 3}, "b": {"path": "/b"}},
            "load": {"stages": stages},
        }
    )


CLOSED = [
    {"name": "ramp", "duration": "20s", "users": 100},
    {"name": "steady", "duration": "60s", "users": 100},
    {"name": "down", "duration": "10s", "users": 0},
]


WHOLE = Segment()


def _wheel(weights: tuple[float, ...]) -> list[int]:
    """The mix of endpoints weighted ``weights``, one turn of it, as endpoint indices."""
    endpoints = {f"e{i}": {"path": f"/e{i}", "weight": w} for i, w in enumerate(weights)}
    return list(build_plan(_spec(CLOSED, endpoints)).mix)


def _closed(segment: Segment = WHOLE) -> Plan:
    return build_plan(_spec(CLOSED), segment)


@pytest.mark.parametrize(
    ("t_s", "users"),
    [(0, 0), (0.19, 0), (0.2, 1), (5, 25), (12.5, 62), (20, 100), (50, 100), (85, 50), (90, 0)],
)
def test_users_ramp_linearly_from_the_previous_level(t_s: float, users: int) -> None:
    assert _closed().users_at(round(t_s * NS_PER_S)) == users


def test_users_outside_the_run_are_zero() -> None:
    plan = _closed()
    assert plan.users_at(-1) == 0
    assert plan.users_at(plan.duration_ns + 1) == 0
    assert plan.duration_ns == 90 * NS_PER_S
    assert plan.peak_users() == 100


def test_stage_boundaries_belong_to_the_stage_that_starts_there() -> None:
    plan = _closed()
    assert plan.stage_names == ("ramp", "steady", "down")
    assert plan.stage_at(0) == 0
    assert plan.stage_at(20 * NS_PER_S - 1) == 0
    assert plan.stage_at(20 * NS_PER_S) == 1
    assert plan.stage_at(80 * NS_PER_S) == 2
    assert plan.stage_at(10**15) == 2


def test_unnamed_stages_get_positional_names() -> None:
    plan = build_plan(_spec([{"duration": "1s", "users": 1}, {"duration": "1s", "users": 2}]))
    assert plan.stage_names == ("stage-1", "stage-2")


@pytest.mark.parametrize("t_s", [0.2, 5, 12.5, 33.3, 85, 89.99])
def test_segments_split_users_exactly(t_s: float) -> None:
    t = round(t_s * NS_PER_S)
    whole = _closed().users_at(t)
    parts = [_closed(Segment(i, 3)).users_at(t) for i in (1, 2, 3)]
    assert sum(parts) == whole
    assert max(parts) - min(parts) <= 1


def test_open_model_arrivals_follow_the_integral_of_the_rate() -> None:
    plan = build_plan(
        _spec([{"duration": "10s", "rate": "100/s"}, {"duration": "10s", "rate": "100/s"}])
    )
    assert plan.model == "open"
    assert plan.rate_at(5 * NS_PER_S) == 50
    assert plan.arrivals_before(10 * NS_PER_S) == 500  # the ramp from 0 carries half
    assert plan.total_arrivals() == 1500
    assert plan.arrival_ns(0) == 0
    assert plan.arrival_ns(500) == 10 * NS_PER_S
    assert plan.arrival_ns(1000) == 15 * NS_PER_S
    assert plan.arrival_ns(1499) == 19_990_000_000
    assert plan.segment_arrival(1500) is None


def test_open_model_constant_rate_is_evenly_spaced() -> None:
    plan = build_plan(
        _spec([{"duration": "1s", "rate": "50/s"}, {"duration": "2s", "rate": "3000/m"}])
    )
    # The first stage ramps 0 → 50/s and carries 25 arrivals; then 3000/m is exactly 50/s.
    assert plan.arrival_ns(25) == NS_PER_S
    assert [plan.arrival_ns(k) for k in (26, 27, 124)] == [
        1_020_000_000,
        1_040_000_000,
        2_980_000_000,
    ]
    assert plan.total_arrivals() == 125


def test_trailing_stages_without_arrivals_end_the_schedule() -> None:
    stages = [{"duration": "1s", "rate": "10/s"}, {"duration": "1s", "rate": "0/s"}]
    plan = build_plan(_spec([*stages, {"duration": "1s", "rate": "0/s"}]))
    assert plan.total_arrivals() == 10  # 0 → 10/s carries 5, 10 → 0/s another 5
    dues = [plan.arrival_ns(k) or 0 for k in range(10)]
    assert dues == sorted(dues)
    assert 0 < dues[1] < dues[-1] < 2 * NS_PER_S
    assert plan.segment_arrival(10) is None


def test_open_segments_deal_arrivals_round_robin() -> None:
    spec = _spec([{"duration": "2s", "rate": "10/s"}, {"duration": "3s", "rate": "10/s"}])
    whole = build_plan(spec)
    halves = [build_plan(spec, Segment(i, 2)) for i in (1, 2)]
    assert sum(h.total_arrivals() for h in halves) == whole.total_arrivals() == 40
    first = halves[0].segment_arrival(0)
    second = halves[1].segment_arrival(0)
    assert first is not None
    assert second is not None
    assert (first[0], second[0]) == (0, 1)
    assert first[1] == whole.arrival_ns(0)


def _arrival_mix(plan: Plan) -> Counter[str]:
    """How many of this segment's arrivals go to each endpoint."""
    mix: Counter[str] = Counter()
    n = 0
    while (arrival := plan.segment_arrival(n)) is not None:
        mix[plan.arrival_endpoint(arrival[0])] += 1
        n += 1
    return mix


@pytest.mark.parametrize(
    ("weights", "count"),
    [
        ({"a": 1, "b": 1}, 2),
        ({"a": 3, "b": 1}, 4),  # the wheel (a, a, b, a) is 4 long
        ({"a": 1, "b": 2, "c": 3}, 3),
        ({"a": 1, "b": 2, "c": 3}, 4),
    ],
)
def test_each_open_model_segment_sends_the_whole_mix(weights: dict[str, int], count: int) -> None:
    endpoints = {name: {"path": f"/{name}", "weight": w} for name, w in weights.items()}
    spec = _spec(
        [{"duration": "1s", "rate": "80/s"}, {"duration": "1s", "rate": "80/s"}], endpoints
    )
    segments = [build_plan(spec, Segment(i, count)) for i in range(1, count + 1)]
    mixes = [_arrival_mix(plan) for plan in segments]
    for plan, mix in zip(segments, mixes, strict=True):
        arrivals = plan.total_arrivals()
        assert sum(mix.values()) == arrivals
        for name, w in weights.items():  # within one request of its share
            assert abs(mix[name] - arrivals * w / sum(weights.values())) < 1, mixes
    whole = build_plan(spec)
    assert whole.total_arrivals() == 120
    assert sum(mixes, Counter()) == _arrival_mix(whole)


def test_weighted_mix_is_exact_and_interleaved() -> None:
    plan = _closed()
    wheel = [plan.endpoint_for(i) for i in range(400)]
    assert wheel.count("a") == 300
    assert wheel.count("b") == 100
    assert plan.mix == (0, 0, 1, 0)


def test_fractional_weights() -> None:
    plan = build_plan(
        _spec(CLOSED, {"x": {"path": "/x", "weight": 0.5}, "y": {"path": "/y", "weight": 1.5}})
    )
    picks = [plan.endpoint_for(i) for i in range(len(plan.mix))]
    assert picks.count("y") == 3 * picks.count("x")


@pytest.mark.parametrize("weights", [(0.0001, 0.0001), (0.0001, 5.0), (1e-6, 0.25, 0.5)])
def test_tiny_weights_keep_every_endpoint_in_the_mix(weights: tuple[float, ...]) -> None:
    endpoints = {f"e{i}": {"path": f"/e{i}", "weight": w} for i, w in enumerate(weights)}
    plan = build_plan(_spec(CLOSED, endpoints))
    picks = {plan.endpoint_for(i) for i in range(len(plan.mix))}
    assert picks == set(endpoints)


@pytest.mark.parametrize(
    ("weights", "counts"),
    [
        ((1, 2000), (1, 2000)),
        ((1, 1500), (1, 1500)),
        ((0.002, 4), (1, 2000)),  # decimals are read as written
        ((3, 10_000, 7.5), (6, 20_000, 15)),
        ((1, 999_999), (1, 999_999)),
        # Small ratios, exact before too, pin the spread: equal counts do not bunch up.
        ((5, 3, 1), (5, 3, 1)),
        ((7, 0.5, 2), (14, 1, 4)),
        ((*[1] * 9, 991), (*[1] * 9, 991)),
    ],
)
def test_the_mix_is_exact_and_evenly_spread(
    weights: tuple[float, ...], counts: tuple[int, ...]
) -> None:
    wheel = _wheel(weights)
    assert tuple(wheel.count(j) for j in range(len(weights))) == counts
    assert len(wheel) == sum(counts)
    # Any stretch of the wheel, read round from any turn, holds each endpoint within two
    # requests of its share: the running surplus over the share spans less than 2.
    for j, c in enumerate(counts):
        surplus = list(accumulate(len(wheel) * (e == j) - c for e in wheel))
        assert max(0, *surplus) - min(0, *surplus) < 2 * len(wheel)


def test_a_mix_too_long_to_plan_is_a_plan_error() -> None:
    """The spec refuses such weights; a spec built past validation meets the plan's own
    bound, which says what it is: the plan cannot be built (exit 2), not a command line."""
    spec = _spec(CLOSED)
    heavy = spec.endpoints["a"].model_copy(update={"weight": 1_000_000})
    unchecked = spec.model_copy(update={"endpoints": {**spec.endpoints, "a": heavy}})
    with pytest.raises(PlanError, match="a mix of 1,000,001 turns") as info:
        build_plan(unchecked)
    assert not isinstance(info.value, UsageError)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", ""])
def test_bad_segments_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="segment"):
        Segment.parse(text)


def test_segment_parse() -> None:
    assert Segment.parse(" 2/3 ") == Segment(2, 3)
    assert str(Segment(2, 3)) == "2/3"


@pytest.mark.parametrize(("share", "parts"), [(WHOLE, 2), (WHOLE, 3), (Segment(2, 3), 2)])
def test_a_share_split_among_workers_adds_up_to_it_exactly(share: Segment, parts: int) -> None:
    split = share.split(parts)
    assert len(split) == parts
    open_spec = _spec([{"duration": "2s", "rate": "17/s"}, {"duration": "3s", "rate": "10/s"}])
    arrivals = [build_plan(open_spec, s) for s in split]
    mine = build_plan(open_spec, share)
    dealt = sorted(
        k
        for plan in arrivals
        for n in range(plan.total_arrivals())
        if (arrival := plan.segment_arrival(n)) is not None
        for k in [arrival[0]]
    )
    ours = [mine.segment_arrival(n) for n in range(mine.total_arrivals())]
    assert dealt == [a[0] for a in ours if a is not None]  # the very same arrivals
    for t_s in (0.5, 5, 12.5, 20, 50, 85):
        t = round(t_s * NS_PER_S)
        assert sum(_closed(s).users_at(t) for s in split) == _closed(share).users_at(t)


def test_a_split_names_what_its_parts_cover() -> None:
    halves = WHOLE.split(2)
    assert halves == (Segment(1, 2), Segment(2, 2))
    assert WHOLE.label(list(halves)) == "1/1"
    assert WHOLE.label([halves[1]]) == "2/2"
    share = Segment(2, 3)
    assert share.split(2) == (Segment(2, 6), Segment(5, 6))
    assert share.label(list(share.split(2))) == "2/3"
    quarters = WHOLE.split(4)
    assert WHOLE.label([quarters[2], quarters[0]]) == "1+3/4"
    with pytest.raises(UsageError):
        WHOLE.split(0)


# -- the peak is the most users held, not a level reached only at an instant ---------------

RAMP_TO_END = [{"name": "ramp", "duration": "3s", "users": 10}]


def test_a_plan_that_ends_on_a_ramp_holds_one_user_less_than_it_ramps_to() -> None:
    """A stage owns [start, end): the ramp reaches 10 only as the run ends, so 9 users are
    the most ever held; the plan said 'peak 10 users'."""
    plan = build_plan(_spec(RAMP_TO_END))
    assert max(plan.users_at(t) for t in range(0, plan.duration_ns, 1_000_000)) == 9
    assert plan.peak_users() == 9
    assert plan.unheld_top() == (10, 3 * NS_PER_S)
    assert build_plan(_spec(RAMP_TO_END), Segment(1, 3)).peak_users() == 3  # slots 0, 3, 6


def test_a_level_only_passed_through_is_not_held_and_a_kept_one_is() -> None:
    spike = [
        {"name": "up", "duration": "5s", "users": 10},
        {"name": "down", "duration": "5s", "users": 0},
    ]
    plan = build_plan(_spec(spike))
    assert (plan.peak_users(), plan.peak_users(0), plan.peak_users(1)) == (9, 9, 9)
    assert plan.unheld_top() == (10, 5 * NS_PER_S)
    held = _closed()  # ramp to 100, steady 100, down to 0
    assert (held.peak_users(), held.peak_users(0), held.peak_users(2)) == (100, 99, 99)
    assert held.unheld_top() is None
    assert held.unheld_top(0) == (100, 20 * NS_PER_S)


@pytest.mark.parametrize(
    ("stages", "segment", "message"),
    [
        (
            [{"duration": "2s", "users": 6}, {"duration": "2s", "users": 6}],
            Segment(7, 7),
            "segment 7/7 carries no load: the plan holds at most 6 users, dealt one by one "
            "to 7 segments, so segment 7/7 gets none; split the load in at most 6 segments",
        ),
        (
            RAMP_TO_END,
            Segment(10, 10),
            "segment 10/10 carries no load: the plan holds at most 9 users",
        ),
        (
            [{"duration": "1s", "rate": "4/s"}],
            Segment(3, 3),
            "segment 3/3 carries no load: the plan makes 2 arrivals, dealt one by one to 3 "
            "segments, so segment 3/3 gets none; split the load in at most 2 segments",
        ),
    ],
)
def test_a_segment_that_would_carry_no_load_is_refused(
    stages: list[dict[str, Any]], segment: Segment, message: str
) -> None:
    """``--segment 7/7`` of a 6-user plan sent nothing and failed every threshold for want
    of data, saying it carried 1/7 of the load."""
    with pytest.raises(PlanError) as info:
        build_plan(_spec(stages), segment)
    assert str(info.value).startswith(message)
    assert info.value.exit_code == 2
    last = Segment(segment.index - 1, segment.count)
    assert build_plan(_spec(stages), last).segment == last  # one slot each for the others
