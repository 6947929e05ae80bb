"""Writing reports: atomically where the path is a file, in place where it is not.

What is at a report's path decides how it is written (as k6's ``--out json=/dev/stdout``
and ``tee`` do):

- a regular file, or nothing yet: atomically — a temporary file beside it, fsync, rename —
  so a reader (CI, a person, a second sla-runner) sees the previous file or the new one,
  never half of one; missing parent directories are made;
- a symbolic link: followed; the file it points to is replaced atomically, so a
  ``latest.json`` link stays a link;
- a FIFO or a character device (``/dev/null``, a terminal): opened (never created or
  truncated) and written in place; a descriptor of this process (``/dev/stdout``,
  ``/dev/fd/3``, ``/proc/self/fd/3``) is written through, at its place, after what was
  printed to it (as a shell does); neither is ever replaced by a file;
- a directory, a socket or a block device: refused, with the reason.

:func:`check_writable` makes the same decisions before a run, by the write's own first
steps (undone again), so a path the run could not write is refused before any load.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sla_runner.errors import ReportError, UsageError

_DESCRIPTORS = re.compile(r"/proc/[^/]+(?:/task/[^/]+)?/fd")
_MAX_LINKS = 40  # as the kernel's ELOOP


@dataclass(frozen=True)
class Destination:
    """Where a report at a path goes: ``path`` (symbolic links followed), whether it is
    written in place (``in_place``: a FIFO, a device, a descriptor) or replaced atomically,
    and ``fd``, a descriptor of this process it is written through (``/dev/stdout``)."""

    path: Path
    in_place: bool
    fd: int | None = None


def destination(target: Path | str) -> Destination:
    """What a report at ``target`` is written to; ReportError for what cannot take one."""
    given = Path(target)
    if str(target) == "":
        raise ReportError("cannot write report '': the path is empty")
    path = given
    for _ in range(_MAX_LINKS):
        if _is_descriptor(path):  # /dev/stdout → /proc/self/fd/1 → a pipe, a tty, a file
            return Destination(given, in_place=True, fd=_own_descriptor(path))
        try:
            link = os.readlink(path)
        except OSError:  # not a link (or nothing there)
            break
        path = Path(os.path.normpath(path.parent / link))
    else:
        raise ReportError(f"cannot write report {given}: too many levels of symbolic links")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return Destination(path, in_place=False)  # nothing there yet: the write creates it
    if stat.S_ISREG(mode):
        return Destination(path, in_place=False)
    if stat.S_ISDIR(mode):
        raise ReportError(f"cannot write report {given}: it is a directory")
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return Destination(path, in_place=True)
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device"
    raise ReportError(
        f"cannot write report {given}: it is {kind}; write reports to a file, a FIFO or a "
        "character device such as /dev/stdout"
    )


def _is_descriptor(path: Path) -> bool:
    """Whether ``path`` names an open file descriptor (``/proc/<pid>/fd/N``, ``/dev/fd/N``):
    its link leads to a pipe or to the file the descriptor holds, which is written through
    the descriptor, never replaced."""
    return _DESCRIPTORS.fullmatch(os.path.realpath(path.parent)) is not None


def _own_descriptor(path: Path) -> int | None:
    """N when ``path`` is descriptor N of this process: written through it, at its offset
    (as a shell does with ``/dev/stdout``), so the report lands after what was printed."""
    mine = os.path.realpath("/proc/self/fd")
    if os.path.realpath(path.parent) != mine or not path.name.isdigit():
        return None
    return int(path.name)


def check_writable(*paths: Path | str | None) -> None:
    """Make sure a report can be written at each of ``paths`` (``None``: not asked for),
    before the run they will report on: ReportError with the operating system's reason
    otherwise (also for an empty path), UsageError for one path given twice.

    The check is the write's own first steps: for a file, the missing parent directories
    are made and an empty temporary file is created beside it, then both are removed
    again; a FIFO, a device or a descriptor, written in place, must allow writing (it is
    not opened: a FIFO's reader would see the end of its data).
    """
    seen: set[Path] = set()
    for given in paths:
        if given is None:
            continue
        where = destination(given)
        key = Path(os.path.abspath(given)) if where.in_place else where.path.resolve()
        if key in seen:
            raise UsageError(f"{given} is given for two reports; each needs its own file")
        seen.add(key)
        if where.fd is not None:
            _check_descriptor(Path(given), where.fd)
        elif where.in_place and not os.access(where.path, os.W_OK):
            raise ReportError(f"cannot write report {given}: Permission denied")
        else:
            _probe(Path(given), where.path)


def _check_descriptor(given: Path, fd: int) -> None:
    try:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError as exc:
        raise ReportError(f"cannot write report {given}: {exc.strerror or exc}") from exc
    if mode == os.O_RDONLY:
        raise ReportError(f"cannot write report {given}: the descriptor is open for reading only")


def _probe(given: Path, target: Path) -> None:
    """Make the missing directories and a probe beside ``target``, then remove them again.

    Processes that check the same new folder at once (the pods of one run writing to a
    shared volume) make and remove its directories under each other: a directory another
    one just made, or just removed, is tried again, not reported as a failure. Then an
    empty directory one of them made while another was inside it may stay."""
    for attempt in range(_PROBE_ATTEMPTS):
        try:
            _probe_once(target)
            return
        except (FileExistsError, FileNotFoundError) as exc:
            if attempt + 1 == _PROBE_ATTEMPTS or _blocker(target) is not None:
                raise _failure(given, target, exc) from exc
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        except OSError as exc:
            raise _failure(given, target, exc) from exc


_PROBE_ATTEMPTS = 20


def _probe_once(target: Path) -> None:
    made: list[Path] = []
    try:
        for parent in reversed(target.parents):
            if not parent.is_dir():
                parent.mkdir()  # an error when a file is in the way, or the OS refuses
                made.append(parent)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    finally:
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()


def _blocker(target: Path) -> Path | None:
    """A file where one of ``target``'s directories must be (one stat each: a directory
    another process removes meanwhile is not taken for a file)."""
    for parent in target.parents:
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            continue
        if not stat.S_ISDIR(mode):
            return parent
    return None


def _failure(given: Path, target: Path, exc: OSError) -> ReportError:
    reason = exc.strerror or str(exc)
    blocker = _blocker(target)
    if blocker is not None:  # mkdir says "File exists" for a file in the way
        reason = f"{blocker} is a file, not a directory"
    return ReportError(f"cannot write report {given}: {reason}")


def write_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` — atomically to a file, in place to a FIFO, a
    device or a descriptor (see the module's docstring); raise ReportError saying why it
    failed. Returns ``path`` as given."""
    given = Path(path)
    where = destination(path)
    if where.in_place:
        _write_in_place(given, where, text)
        return given
    target = where.path
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with _text(fd) as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
        tmp_name = None
        _fsync_dir(target.parent)
    except OSError as exc:
        raise _failure(given, target, exc) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return given


def _write_in_place(given: Path, where: Destination, text: str) -> None:
    """Write ``text`` through this process's descriptor, or open what is there (never
    creating or truncating it) and write to its end."""
    try:
        if where.fd is not None:
            fd = os.dup(where.fd)
        else:
            fd = os.open(where.path, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
        with _text(fd) as out:
            out.write(text)
    except OSError as exc:
        raise ReportError(f"cannot write report {given}: {exc.strerror or exc}") from exc


def _text(fd: int) -> TextIO:
    # backslashreplace: a lone surrogate (an environment value that was not UTF-8)
    # becomes its JSON escape instead of losing the whole report.
    return os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n")


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
