"""Findings: a few plain sentences, each derived from the recording, for a failed or invalid run.

A finding appears only when the data shows it, and says it with the figures:

- which endpoint or channel dominates a failing latency threshold (its share of the
  samples above the limit, its percentile against the others');
- which kind of error dominates the failures (timeouts, HTTP 5xx, connect errors, ...);
- at which step the failed passes through a flow failed, how, and the first reason given;
- whether latency grew with the number of users, or over a run at steady load;
- whether the service's memory kept growing.

The trigger bounds are the constants below.
"""

from __future__ import annotations

import statistics
from collections import Counter

from sla_runner import numbers
from sla_runner.metrics.histogram import value_at_percentile
from sla_runner.metrics.recording import Recording, Series
from sla_runner.metrics.samples import slope_and_r
from sla_runner.metrics.stats import count_above, merged_latency
from sla_runner.spec.thresholds import FLOW_METRIC, LATENCY_METRICS
from sla_runner.verdict import ThresholdResult

DOMINANT_SHARE = 0.5  # one scope holds more than this share of the samples above the limit
MIN_TIMELINE_ROWS = 6  # seconds with a p95 needed to say anything about a trend
MIN_CORRELATION = 0.6  # Pearson r of p95 against users (or time) to call it a trend
MIN_GROWTH_FACTOR = 1.5  # median p95 of the top third against the bottom third
MIN_RSS_ROWS = 5
MIN_RSS_CORRELATION = 0.8
MIN_RSS_GROWTH = 0.05  # fitted growth over the run, as a fraction of the first sample
LATENCY_STATS = ("min", "max", "mean")

# Each kind of failure in the plural and, with its article, in the singular.
_KIND_NAMES = {
    "timeout": ("timeouts", "a timeout"),
    "connect_error": ("connect errors", "a connect error"),
    "reset": ("connection resets", "a connection reset"),
    "body_mismatch": (
        "responses without the expected body",
        "a response without the expected body",
    ),
    "json_mismatch": (
        "responses without the expected JSON fields",
        "a response without the expected JSON fields",
    ),
    "extract_failed": (
        "responses without the value to extract",
        "a response without the value to extract",
    ),
    "ws_closed": (
        "round trips cut by a closed connection",
        "a round trip cut by a closed connection",
    ),
    "ws_refused": ("refused WebSocket upgrades", "a refused WebSocket upgrade"),
    "ws_bad_reply": ("invalid WebSocket replies", "an invalid WebSocket reply"),
    "tls_error": ("TLS errors", "a TLS error"),
    "protocol_error": ("protocol errors", "a protocol error"),
    "redirect_blocked": ("redirects to undeclared hosts", "a redirect to an undeclared host"),
    "error": ("unclassified errors", "an unclassified error"),
}
# What a metric counts, in the plural and the singular.
_NOUNS = {
    "http": ("requests", "request"),
    "ws": ("round trips", "round trip"),
    "ws_connect": ("connections", "connection"),
}


def kind_name(kind: str, n: int = 2) -> str:
    """``status_503`` → ``HTTP 503 responses`` (``an HTTP 503 response`` when ``n`` is 1);
    ``timeout`` → ``timeouts`` (``a timeout``)."""
    if kind.startswith("status_"):
        code = kind.removeprefix("status_")
        return f"HTTP {code} responses" if n != 1 else f"an HTTP {code} response"
    words = kind.replace("_", " ")
    article = "an" if words[:1] in tuple("aeiou") else "a"
    plural, singular = _KIND_NAMES.get(kind, (f"{words}s", f"{article} {words}"))
    return plural if n != 1 else singular


def noun(metric: str, n: int) -> str:
    """What ``metric`` (http, ws, ws_connect) counts: ``requests`` (``request`` when ``n`` is 1)."""
    plural, singular = _NOUNS[metric]
    return singular if n == 1 else plural


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def find(recording: Recording, results: list[ThresholdResult]) -> list[str]:
    """The findings for a verdict whose thresholds came out as ``results``."""
    out: list[str] = []
    seen: set[str] = set()
    # Whole-run thresholds first, then severity fail before warn: one sentence per metric.
    missed = [r for r in results if r.passed is False and r.observed is not None]
    for r in sorted(missed, key=lambda r: (r.during is not None, r.severity != "fail")):
        if r.metric not in seen:
            sentence = dominant_scope(recording, r)
            if sentence:
                seen.add(r.metric)
                out.append(sentence)
    for metric in LATENCY_METRICS:
        sentence = dominant_error(recording, metric)
        if sentence:
            out.append(sentence)
    out += flow_failures(recording)
    for sentence in (latency_trend(recording), memory_growth(recording)):
        if sentence:
            out.append(sentence)
    return out


def dominant_scope(recording: Recording, result: ThresholdResult) -> str | None:
    """Which endpoint/channel holds most samples above a failed latency limit of a whole metric."""
    if result.metric not in LATENCY_METRICS or result.scope is not None:
        return None
    if not (result.stat.startswith("p") or result.stat in LATENCY_STATS):
        return None
    if result.op not in ("<", "<="):
        return None
    stage = recording.stage_index(result.during) if result.during else None
    own = recording.scenario_stages(result.scenario) if result.scenario else None
    by_scope: dict[str, list[Series]] = {}
    for (m, scope, st), series in recording.series.items():
        if m == result.metric and (stage is None or st == stage) and (own is None or st in own):
            by_scope.setdefault(scope, []).append(series)
    if len(by_scope) < 2:
        return None
    limit_us = result.limit * 1000
    above = {scope: count_above(merged_latency(s), limit_us) for scope, s in by_scope.items()}
    total = sum(above.values())
    if total == 0:
        return None
    top = max(sorted(above), key=lambda s: above[s])
    if above[top] <= DOMINANT_SHARE * total:
        return None
    pct = float(result.stat[1:]) if result.stat.startswith("p") else 95.0
    name = f"p{pct:g}"
    mine = value_at_percentile(merged_latency(by_scope[top]), pct) / 1000
    others_hist = merged_latency([s for sc, ss in by_scope.items() if sc != top for s in ss])
    mine_above, limit = above[top], numbers.value(result.limit, "ms")
    slower = f"{result.metric} {noun(result.metric, total)} slower than {limit}"
    if total == 1:
        share = f"the only {slower}"
    elif mine_above == total:
        share = f"all {numbers.count(total)} {slower}"
    else:
        share = (
            f"{numbers.count(mine_above)} of the {numbers.count(total)} {slower} "
            f"({numbers.percent(mine_above, total)})"
        )
    sentence = f"{result.metric}.{top} accounts for {share}"
    if others_hist.get_total_count():
        others = value_at_percentile(others_hist, pct) / 1000
        kind = "endpoints" if result.metric == "http" else "channels"
        sentence += (
            f"; its {name} is {numbers.value(mine, 'ms')} against "
            f"{numbers.value(others, 'ms')} for the other {kind}"
        )
    return sentence + "."


def dominant_error(recording: Recording, metric: str) -> str | None:
    """Which error kinds the failures of a metric were, and where they happened most."""
    kinds: Counter[str] = Counter()
    where: Counter[str] = Counter()
    for (m, scope, _st), series in recording.series.items():
        if m == metric:
            errs = {k: v for k, v in series.outcomes.items() if k != "ok"}
            kinds.update(errs)
            where[scope] += sum(errs.values())
    total = sum(kinds.values())
    if total == 0:
        return None
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    failed = f"failed {metric} {noun(metric, total)}"
    top_scope, n_top = max(sorted(where.items()), key=lambda kv: kv[1])
    on_one = len(where) > 1 and n_top > DOMINANT_SHARE * total
    if total == 1:
        on = f", on {metric}.{top_scope}" if on_one else ""
        return f"The only {failed} was {kind_name(ranked[0][0], 1)}{on}."
    if len(kinds) == 1:
        sentence = f"All {numbers.count(total)} {failed} were {kind_name(ranked[0][0])}"
    else:
        # "Of 40 failed http requests, 30 (75%) were timeouts and 10 (25%) HTTP 503 responses"
        shares = [(n, kind_name(k, n)) for k, n in ranked]
        rest = total - sum(n for _k, n in ranked)
        if rest:
            shares.append((rest, "of another kind" if rest == 1 else "of other kinds"))
        parts = [f"{numbers.count(n)} ({numbers.percent(n, total)}) {what}" for n, what in shares]
        verb = "was" if shares[0][0] == 1 else "were"
        first, _, kind = parts[0].partition(") ")
        parts[0] = f"{first}) {verb} {kind}"
        sentence = f"Of {numbers.count(total)} {failed}, {_listed(parts)}"
    if on_one:
        sentence += (
            f"; {numbers.count(n_top)} of them ({numbers.percent(n_top, total)}) "
            f"were on {metric}.{top_scope}"
        )
    return sentence + "."


def flow_failures(recording: Recording) -> list[str]:
    """For each flow whose passes failed: at which steps (the most failing first), how,
    and the first reason given for the commonest way."""
    passes: Counter[str] = Counter()
    failed: dict[str, Counter[str]] = {}
    for (m, scope, _st), series in recording.series.items():
        if m == FLOW_METRIC:
            passes[scope] += series.count
            failed.setdefault(scope, Counter()).update(
                {k: n for k, n in series.outcomes.items() if k != "ok"}
            )
    out: list[str] = []
    for scope in sorted(failed):
        keys = failed[scope]
        total = sum(keys.values())
        if not total:
            continue
        steps: Counter[str] = Counter()
        for key, n in keys.items():
            steps[key.partition(":")[0]] += n
        parts = []
        for step, n in sorted(steps.items(), key=lambda kv: (-kv[1], kv[0]))[:3]:
            ways = {k: c for k, c in keys.items() if k.partition(":")[0] == step}
            key = max(sorted(ways), key=lambda k: ways[k])
            kind = key.partition(":")[2]
            reason = recording.reasons.get(f"{FLOW_METRIC}.{scope}:{key}")
            how = kind_name(kind, ways[key]) + (f": {reason}" if reason else "")
            parts.append(f"{numbers.count(n)} at step {step} ({how})")
        out.append(
            f"{numbers.count(total)} of {numbers.count(passes[scope])} passes through "
            f"{FLOW_METRIC}.{scope} failed: {_listed(parts)}."
        )
    return out


def latency_trend(recording: Recording) -> str | None:
    """Whether the per-second HTTP p95 grew with the users held, or over time at steady load."""
    rows = [r for r in recording.timeline if r.p95_ms is not None and r.users > 0]
    if len(rows) < MIN_TIMELINE_ROWS:
        return None
    p95 = [float(r.p95_ms or 0.0) for r in rows]
    users = [float(r.users) for r in rows]
    third = len(rows) // 3
    top_users = max(users)
    if top_users - min(users) > 0.1 * top_users:
        _slope, r_value = slope_and_r(users, p95)
        by_load = sorted(rows, key=lambda r: (r.users, r.second))
        low, high = by_load[:third], by_load[-third:]
        low_p95 = statistics.median(float(r.p95_ms or 0.0) for r in low)
        high_p95 = statistics.median(float(r.p95_ms or 0.0) for r in high)
        if r_value < MIN_CORRELATION or high_p95 < MIN_GROWTH_FACTOR * low_p95:
            return None
        return (
            f"HTTP p95 latency grew with the number of users: a median of "
            f"{numbers.value(low_p95, 'ms')} over the {third} seconds with the fewest users "
            f"(at most {numbers.count(max(r.users for r in low))}) against "
            f"{numbers.value(high_p95, 'ms')} over the {third} with the most (at least "
            f"{numbers.count(min(r.users for r in high))}); correlation "
            f"{r_value:.2f} over {len(rows)} s."
        )
    seconds = [float(r.second) for r in rows]
    _slope, r_value = slope_and_r(seconds, p95)
    first = statistics.median(p95[:third])
    last = statistics.median(p95[-third:])
    if r_value < MIN_CORRELATION or last < MIN_GROWTH_FACTOR * first:
        return None
    return (
        f"HTTP p95 latency kept rising while the load held at about "
        f"{numbers.count(round(statistics.median(users)))} users: a median of "
        f"{numbers.value(first, 'ms')} in the first {third} s against "
        f"{numbers.value(last, 'ms')} in the last {third} s (correlation {r_value:.2f})."
    )


def memory_growth(recording: Recording) -> str | None:
    """Whether the sampled service's RSS kept growing over the run."""
    rows = [r for r in recording.timeline if r.rss_bytes is not None]
    if len(rows) < MIN_RSS_ROWS:
        return None
    xs = [float(r.second) for r in rows]
    ys = [float(r.rss_bytes or 0) for r in rows]
    slope, r_value = slope_and_r(xs, ys)
    span = xs[-1] - xs[0]
    if slope <= 0 or r_value < MIN_RSS_CORRELATION or slope * span < MIN_RSS_GROWTH * ys[0]:
        return None
    return (
        f"The service's memory kept growing: RSS went from {numbers.size(ys[0])} to "
        f"{numbers.size(ys[-1])} over {numbers.number(span)} s "
        f"({numbers.size(slope)}/s, correlation {r_value:.2f})."
    )
