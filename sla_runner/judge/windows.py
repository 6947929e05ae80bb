"""Which part of a run a threshold is judged on, and when it cannot be judged at all.

A threshold is ``skipped`` (with the reason as its message) when its ``during`` stage was
never reached by an aborted run; when it judges the load's size (``users``, ``count``,
``rate``) and the recording carries a share of the load (a segment, or a merge that lacks
segments); and when an aborted run cut its window short and the part measured cannot
decide it. The rules are set out in :mod:`sla_runner.judge.verdicts`.
"""

from __future__ import annotations

import re

from sla_runner import numbers
from sla_runner.metrics.recording import Recording
from sla_runner.spec.models import ThresholdRule as ThresholdRuleV1
from sla_runner.spec.parts import ThresholdRuleV2
from sla_runner.timeunits import NS_PER_S

__all__ = ["cut_short", "decided", "load_share", "load_size", "not_reached"]

LOAD_SIZE_STATS = ("count", "rate")
"""With the ``users`` metric: the load's size, judged on whole windows of the whole load."""


ThresholdRule = ThresholdRuleV2 | ThresholdRuleV1  # a version-1 rule judges every scenario


def scope_of(rule: ThresholdRule) -> str | None:
    """The scenario whose traffic ``rule`` judges; None: every scenario's."""
    return rule.scenario if isinstance(rule, ThresholdRuleV2) else None


def load_size(rule: ThresholdRule) -> bool:
    return rule.expr.metric == "users" or rule.expr.stat in LOAD_SIZE_STATS


def not_reached(rule: ThresholdRule, recording: Recording, stage: int | None) -> str | None:
    """Why a threshold is skipped before anything is measured: its stage was never reached,
    or it judges the load's size and this recording carries a share of the load."""
    if stage is not None and not recording.reached(stage):
        return f"the run was aborted before stage {rule.during!r}"
    share = load_share(recording.segment)
    if share and load_size(rule):
        return (
            f"segment {recording.segment} carries {share} of the load; "
            f"judged when all {share.split('/')[1]} segments are merged"
        )
    return None


def cut_short(
    rule: ThresholdRule, recording: Recording, stage: int | None, observed: float | None
) -> str | None:
    """Why a threshold over a window an aborted run cut short is not judged; None when the
    window ran whole, or the part measured can judge it (see :mod:`sla_runner.judge.verdicts`)."""
    t, scenario = rule.expr, scope_of(rule)
    start, end = recording.span_ns(stage, scenario)
    planned_ns = end - start
    ran_ns = recording.window_ns(stage, scenario)
    if not recording.aborted or ran_ns >= planned_ns:
        return None
    planned = f"{numbers.number(planned_ns / NS_PER_S)}s"
    where = f"the {planned} run"
    if stage is not None:
        where = f"the {planned} stage {rule.during!r}"
    elif scenario is not None and (start, end) != recording.span_ns(None):
        where = f"the {planned} of scenario {scenario!r}"
    cut = f"the run was aborted after {numbers.number(ran_ns / NS_PER_S)}s of {where}"
    if observed is None:
        if any(s.count for s in recording.select(t.metric, t.scope, stage, scenario)):
            return None  # operations were made and none could be judged: no data
        return f"{cut}, before any sample"
    if not load_size(rule) or decided(rule, observed):
        return None
    so_far = numbers.observed(observed, t.limit, t.unit)
    return f"{cut}; the load's size is judged on the whole window ({so_far} so far)"


def decided(rule: ThresholdRule, observed: float) -> bool:
    """Whether a load-size statistic of part of its window already decides the threshold:
    with more of the window a count or a maximum can only grow, a minimum only shrink."""
    t = rule.expr
    held, upper = t.holds(observed), t.op in ("<", "<=")
    if t.stat in ("count", "max"):
        return held != upper  # an upper bound failed, or a lower bound held, for good
    if t.stat == "min":
        return held == upper
    return False


def load_share(segment: str) -> str | None:
    """``"1/3"`` for a segment of a split load, ``"2/3"`` for a merge of two of its three
    segments (``"1+2/3"``); None for a whole run or a complete merge."""
    match = re.fullmatch(r"(\d+(?:\+\d+)*)/(\d+)", segment)
    if match is None or int(match[2]) < 2:
        return None
    return f"{match[1].count('+') + 1}/{match[2]}"
