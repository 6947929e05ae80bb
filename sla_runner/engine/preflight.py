"""Checks made before any load starts: the target answers, descriptors suffice."""

from __future__ import annotations

import math
import resource
import socket
from urllib.parse import urlsplit

import anyio

from sla_runner.errors import RunError
from sla_runner.plan import Plan
from sla_runner.spec.models import Spec

FD_RESERVE = 64  # files, sockets and pipes the runner needs besides the load


async def check_reachable(base_url: str, timeout_s: float) -> None:
    """Open (and close) one TCP connection to the target, or raise 'cannot connect'."""
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never the credentials
    try:
        with anyio.fail_after(timeout_s):
            stream = await anyio.connect_tcp(host, port)
            await stream.aclose()
    except TimeoutError:
        raise RunError(f"cannot connect to {where}: no answer within {timeout_s:g}s") from None
    except (OSError, socket.gaierror) as exc:
        reason = exc.strerror or str(exc)
        raise RunError(f"cannot connect to {where}: {reason}") from None


def connections_needed(spec: Spec, plan: Plan) -> int:
    """Sockets the load may hold at once.

    Closed model: per user one HTTP connection and one per channel. Open model: the
    requests that can be in flight, ``max_in_flight`` at most, and no more than the peak
    arrival rate times the longest a request may last (connect timeout plus its timeout),
    so that a modest rate is not refused for the sake of a generous ``max_in_flight``.
    """
    if plan.model == "closed":
        per_user = (1 if spec.endpoints else 0) + len(spec.channels)
        return plan.peak_users() * per_user
    peak_rate = max(max(s.from_level, s.to_level) for s in plan.stages) / plan.segment.count
    timeouts = [ep.timeout or spec.target.timeout for ep in spec.endpoints.values()]
    longest_s = max(t.seconds for t in [spec.target.timeout, *timeouts])
    lasting = math.ceil(peak_rate * (longest_s + spec.target.connect_timeout.seconds)) + 1
    return min(spec.load.max_in_flight, lasting)


def ensure_descriptors(needed: int) -> None:
    """Raise the soft file-descriptor limit as far as needed, or refuse up front."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + FD_RESERVE
    if want <= soft:
        return
    if hard == resource.RLIM_INFINITY or want <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return
    raise RunError(
        f"the load needs about {want:,} open files (connections), but this process may open "
        f"at most {hard:,} (hard limit); raise it (e.g. `ulimit -n {want}`) or lower the users"
    )
