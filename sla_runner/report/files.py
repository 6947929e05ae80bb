"""Writing reports: atomically (temp file, fsync, rename), parent directories created.

A reader — CI, a person, a second sla-runner — sees either the previous file or the new
one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from sla_runner.errors import ReportError, UsageError


def check_writable(*paths: Path | str | None) -> None:
    """Make sure a report can be written at each of ``paths`` (``None``: not asked for),
    before the run they will report on: ReportError with the operating system's reason
    otherwise, UsageError for one path given twice.

    The check is the write's own first steps: the missing parent directories are made and
    an empty temporary file is created beside the report, then both are removed again.
    """
    given = [Path(p) for p in paths if p is not None]
    seen: set[Path] = set()
    for target in given:
        where = target.resolve()
        if where in seen:
            raise UsageError(f"{target} is given for two reports; each needs its own file")
        seen.add(where)
        _probe(target)


def _probe(target: Path) -> None:
    if target.is_dir():
        raise ReportError(f"cannot write report {target}: it is a directory")
    made: list[Path] = []
    try:
        for parent in reversed(target.parents):
            if not parent.is_dir():
                parent.mkdir()  # an error when a file is in the way, or the OS refuses
                made.append(parent)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _failure(target, exc) from exc
    finally:
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()


def _failure(target: Path, exc: OSError) -> ReportError:
    reason = exc.strerror or str(exc)
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:  # mkdir says "File exists" for a file in the way
        reason = f"{blocker} is a file, not a directory"
    return ReportError(f"cannot write report {target}: {reason}")


def write_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; raise ReportError saying why it failed."""
    target = Path(path)
    if target.is_dir():
        raise ReportError(f"cannot write report {target}: it is a directory")
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        # backslashreplace: a lone surrogate (an environment value that was not UTF-8)
        # becomes its JSON escape instead of losing the whole report.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
        tmp_name = None
        _fsync_dir(target.parent)
    except OSError as exc:
        raise _failure(target, exc) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return target


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
