"""Reading a spec file's bytes safely: size limit before reading, binary and encoding checks."""

from __future__ import annotations

from pathlib import Path

from sla_runner.errors import SpecError, SpecIssue

MAX_BYTES = 1_000_000


def decode(raw: bytes, filename: str) -> str:
    """Bytes → text, refusing binary and non-UTF-8 files and files over MAX_BYTES."""
    if len(raw) > MAX_BYTES:
        raise SpecError(filename, [too_large_issue(len(raw))])
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise SpecError(
            filename,
            [SpecIssue(line, 1, "", "binary file (it contains NUL bytes); expected YAML text")],
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); expected a UTF-8 YAML file"
        raise SpecError(filename, [SpecIssue(line, column, "", message)]) from None


def too_large_issue(size: int) -> SpecIssue:
    return SpecIssue(
        0, 0, "", f"file is too large ({size:,} bytes); a spec may be at most {MAX_BYTES:,} bytes"
    )


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a file over MAX_BYTES is refused without reading it all."""
    name = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                size = max(path.stat().st_size, len(raw))
                raise SpecError(name, [too_large_issue(size)])
            return raw
    except IsADirectoryError:
        raise SpecError(name, [SpecIssue(0, 0, "", "is a directory, not a spec file")]) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SpecError(name, [SpecIssue(0, 0, "", f"cannot read the file: {reason}")]) from None
