"""What the one-round tests of both formats share: a report, and the problems in it."""

from __future__ import annotations

from collections.abc import Callable

from sla_runner.errors import SpecError

Loader = Callable[[str], object]  # loads text named s.yaml; raises SpecError


def report(load: Loader, text: str) -> list[str]:
    """Every issue of ``text`` as the CLI prints it (empty when it loads)."""
    try:
        load(text)
    except SpecError as exc:
        return [issue.format("s.yaml") for issue in exc.issues]
    return []


def problems(load: Loader, text: str) -> set[tuple[int, str, str]]:
    """(line, path, problem) of each issue: the problem without the hints after ';'
    (the names declared, a suggestion, the place a value is used), which may name what
    another mistake changed."""
    out = set()
    for line in report(load, text):
        _file, number, _col, rest = line.split(":", 3)
        path, _, message = rest.strip().partition(": ")
        out.add((int(number), path, message.split(";")[0]))
    return out
