"""The knee of the latency-vs-load curve, on curves of known shape."""

from __future__ import annotations

import pytest

from sla_runner.capacity.knee import find_knee, knee_message


def closed_system(workers: int, service_ms: float, users: list[int]) -> list[tuple[int, float]]:
    """K workers, a fixed service time, no think time: latency is flat up to K users, then
    grows as the users (Little's law: N = K/S x R)."""
    return [(n, service_ms * max(1.0, n / workers)) for n in users]


def test_a_closed_system_bends_where_the_workers_are_all_busy() -> None:
    curve = closed_system(20, 50.0, [5, 10, 20, 40, 80, 160])
    knee = find_knee(curve)
    assert knee is not None
    assert knee.level == 20
    assert knee.slope_below == pytest.approx(0.0)
    assert knee.slope_above == pytest.approx(1.0)


def test_an_open_system_past_its_capacity_explodes_and_the_knee_is_its_capacity() -> None:
    curve = [(50, 51.0), (100, 50.5), (200, 52.0), (225, 900.0), (212, 400.0), (206, 150.0)]
    knee = find_knee(curve)
    assert knee is not None
    assert knee.level == 200
    assert knee.slope_above > 5


def test_a_flat_curve_has_no_knee_nor_does_noise() -> None:
    assert find_knee([(10, 50.0), (20, 51.0), (40, 49.0), (80, 52.0), (160, 50.0)]) is None
    assert find_knee([(10, 50.0), (20, 57.0), (40, 46.0), (80, 56.0), (160, 47.0)]) is None


def test_a_curve_that_grows_steadily_everywhere_has_no_bend() -> None:
    assert find_knee([(n, 2.0 * n) for n in (10, 20, 40, 80, 160)]) is None


def test_two_levels_are_not_a_curve() -> None:
    assert find_knee([(10, 50.0), (20, 500.0)]) is None
    assert find_knee([(10, 50.0), (20, 500.0), (0, 1.0)]) is None


def test_the_finding_gives_the_figures_below_and_above_the_knee() -> None:
    curve = closed_system(20, 50.0, [5, 20, 80])
    knee = find_knee(curve)
    assert knee is not None
    assert knee_message(knee, curve, "users") == (
        "the p95 latency's knee is at about 20 users; from 5 users to 20 users (load x4) p95 "
        "went from 50 ms to 50 ms (x1); from 20 users to 80 users (load x4) p95 went from "
        "50 ms to 200 ms (x4)"
    )


def test_a_measured_open_curve_bends_at_the_last_level_that_did_not_queue() -> None:
    """As `sla-runner capacity` measured 8 workers of 100 ms (80/s), bisection points and all."""
    curve = [
        (20, 101.6),
        (40, 101.4),
        (80, 108.8),
        (160, 2254.8),
        (120, 1137.7),
        (100, 606.7),
        (90, 351.0),
        (85, 226.8),
    ]
    knee = find_knee(curve)
    assert knee is not None
    assert (knee.level, knee.p95_ms) == (80, 108.8)
    assert knee.slope_below < 0.1
    assert knee.slope_above > 5


def test_a_single_noisy_level_is_not_a_knee() -> None:
    assert find_knee([(20, 50.0), (40, 51.0), (80, 70.0), (160, 52.0)]) is None
