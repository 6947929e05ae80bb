"""A cgroup v2 directory as the service's process: a container or a systemd unit.

``process.rss`` is ``memory.current`` (everything the cgroup is charged for, page cache
included) or, with ``memory: anon``, ``memory.stat``'s ``anon`` (its processes' own
memory: a working set that reading files does not grow). ``process.cpu`` is ``cpu.stat``'s
``usage_usec``, a counter the sampler turns into a rate: 100% is one core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sla_runner.engine.sources.scrape import Reading, SourceError

PERCENT_SECONDS_PER_USEC = 100 / 1_000_000  # usage_usec → percent of one core × seconds


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise SourceError(_missing(path)) from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None


def _missing(path: Path) -> str:
    if not path.parent.is_dir():
        return f"{path.parent} is not a directory (is the container still running?)"
    if not (path.parent / "cgroup.controllers").exists():
        return f"{path.parent} is not a cgroup v2 directory (no cgroup.controllers)"
    controller = path.name.split(".")[0]
    return (
        f"{path} does not exist: the {controller} controller is not enabled for this cgroup "
        "(its parent's cgroup.subtree_control lacks it, or the machine keeps it in cgroup v1)"
    )


def _field(text: str, key: str, path: Path) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    raise SourceError(f"{path} has no {key} line")


def read_cgroup(directory: Path, memory: Literal["current", "anon"]) -> dict[str, Reading]:
    """``process.rss`` in bytes and ``process.cpu`` as a counter of percent-seconds."""
    if memory == "anon":
        stat = directory / "memory.stat"
        rss = _field(_read(stat), "anon", stat)
    else:
        current = directory / "memory.current"
        text = _read(current).strip()
        if not text.isdigit():
            raise SourceError(f"{current} does not hold a number (found {text[:20]!r})")
        rss = int(text)
    cpu = directory / "cpu.stat"
    usage = _field(_read(cpu), "usage_usec", cpu)
    return {
        "process.rss": Reading(float(rss), counter=False),
        "process.cpu": Reading(usage * PERCENT_SECONDS_PER_USEC, counter=True),
    }
