"""Data tables of spec format 2 (feeders): loaded once, dealt row by row to virtual users.

Loading (:func:`load_table`), before anything runs:

- ``file:`` a CSV file with a header row (UTF-8, an optional BOM is dropped, RFC 4180
  quoting: fields may hold commas, quotes doubled, line breaks inside quotes; blank lines
  are skipped); a ``.json`` file holding a list of objects; a ``.jsonl``/``.ndjson`` file
  with one object per line (blank lines skipped). The suffix decides, case-insensitively.
  A relative path is resolved against the spec file's folder (``base_dir``).
- ``rows:`` inline rows, a list of mappings, as written in the spec.
- Every row has the same columns: a CSV row with another number of fields, or a JSON row
  lacking a column of the first row or having one the first row lacks, is an error.
- A file larger than :data:`MAX_FILE_BYTES` (50 MB) is refused before it is read: tables
  are held in memory by every process of the run (and every segment's pod).
- Errors are :class:`DataError`, one line naming the file and line (``data/accounts.csv:7:
  3 fields, expected 2 (user, password)``) or the inline row (``row`` is its 0-based index,
  for the loader to point at ``data.NAME.rows[i]``). An empty table is an error.
- CSV values are strings; JSON values keep their JSON types (a template that is exactly
  one ``{{ TABLE.COLUMN }}`` in a JSON body sends the number as a number). Rows are held
  as tuples in column order (:attr:`Table.rows`); :meth:`Table.row` gives one as a dict.

Dealing (:class:`Dealer`), pure and deterministic, no I/O: with ``--segment I/N`` a
segment owns rows ``j`` with ``j % N == I - 1`` (user slots are dealt the same way, see
``sla_runner.plan.Segment.share``), so segments never share a row. Within its slice a dealer
hands rows out in order, never repeating one while unused rows remain; then it starts again
from its first row, unless the table is ``unique``: then it refuses (``next()`` returns
``None``, counted in ``refused``) and the engine stops starting users that need it.
A segment whose slice is empty cannot deal at all: :class:`Dealer` raises :class:`DataError`.

A scenario's ``data: {accounts: user, skus: pass}`` becomes a :class:`ScenarioDeal`: the
engine calls :meth:`ScenarioDeal.deal_user` once when it starts a user (before ``setup``)
and :meth:`ScenarioDeal.deal_pass` before each pass (the first too). Either fills the
user's ``rows`` (``RenderState.rows``) and returns True, or, when a ``unique`` table it
needs has run out, takes no row of any table and returns False: the user is not started,
or (per pass) ends. One :class:`Dealer` per table serves every scenario of the run.

Secrets: values of a table read from a file are secrets for reporting (:meth:`Table.secrets`,
to add to the run's secrets, see ``sla_runner.redact``) unless the table is declared
``public``. Inline rows are written in the spec, so they are not secret (as ``${VAR:-default}``
defaults are not).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sla_runner.spec.templates import to_text

MAX_FILE_BYTES = 50 * 1024 * 1024
Mode = Literal["user", "pass"]
_JSON_LINES = (".jsonl", ".ndjson")


class DataError(ValueError):
    """A data table that cannot be used. The message is one line that names the place.
    ``columns``: the table's columns when they were read before the problem (a CSV header,
    the first object), so that what names them can still be checked."""

    def __init__(
        self, message: str, *, row: int | None = None, columns: tuple[str, ...] | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.row, self.columns = message, row, columns


@dataclass(frozen=True, eq=False)
class Table:
    """One data table, loaded. ``source`` is the file as the spec wrote it, or ``None``."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    source: str | None = None
    public: bool = False
    unique: bool = False

    def row(self, index: int) -> dict[str, Any]:
        return dict(zip(self.columns, self.rows[index], strict=True))

    def secrets(self) -> frozenset[str]:
        """The text of every value, when the values are secret (from a file, not public)."""
        if self.source is None or self.public:
            return frozenset()
        return frozenset(text for row in self.rows for v in row if (text := to_text(v)))


def load_table(
    name: str,
    *,
    file: str | None = None,
    rows: Sequence[Any] | None = None,
    base_dir: Path = Path(),
    public: bool = False,
    unique: bool = False,
) -> Table:
    """The table from ``file`` (relative to ``base_dir``) or inline ``rows`` (exactly one)."""
    if (file is None) == (rows is None):
        raise DataError(f"data.{name}: give exactly one of file or rows")
    if rows is not None:
        columns, values = _from_objects(list(enumerate(rows)), "rows", inline=True)
    else:
        assert file is not None
        columns, values = _read_file(file, base_dir)
    if not values:
        raise DataError(f"{file or 'rows'}: the table has no rows")
    return Table(name, columns, tuple(values), file, public, unique)


def _read_file(file: str, base_dir: Path) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    path = Path(file) if Path(file).is_absolute() else base_dir / file
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", *_JSON_LINES):
        raise DataError(f"{file}: unknown data file type; expected .csv, .json or .jsonl")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DataError(
                f"{file}: {size / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit"
                " for a data file"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{file}: data file not found (looked for {path.resolve()})") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{file}:{line}: not UTF-8 (byte {exc.start})") from None
    if suffix == ".csv":
        return _read_csv(file, text)
    if suffix == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        if not isinstance(document, list):
            raise DataError(f"{file}: expected a list of objects, got {_kind(document)}")
        return _from_objects(list(enumerate(document)), file, inline=False)
    return _from_objects(list(_json_lines(file, text)), file, inline=False, lines=True)


def _read_csv(file: str, text: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: Iterator[tuple[int, list[str]]] = _csv_records(file, reader)
    header_line, header = next(records, (0, []))
    if not header:
        raise DataError(f"{file}: empty file; expected a header row (the column names)")
    for i, column in enumerate(header):
        if not column:
            raise DataError(f"{file}:{header_line}: column {i + 1} of the header has no name")
        if column in header[:i]:
            raise DataError(f"{file}:{header_line}: column {column!r} appears twice in the header")
    values: list[tuple[Any, ...]] = []
    try:
        for line, record in records:
            if len(record) != len(header):
                raise DataError(
                    f"{file}:{line}: {len(record)} field{'s' if len(record) != 1 else ''}, "
                    f"expected {len(header)} ({', '.join(header)})"
                )
            values.append(tuple(record))
    except DataError as exc:
        raise DataError(exc.message, columns=tuple(header)) from None
    return tuple(header), values


def _csv_records(file: str, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record with the line it starts on."""
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{file}:{reader.line_num}: {exc}") from None
        if record:
            yield line, record
        line = reader.line_num + 1


def _json_lines(file: str, text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}:{number}:{exc.colno}: not valid JSON: {exc.msg}") from None


def _from_objects(
    items: list[tuple[int, Any]], where: str, *, inline: bool, lines: bool = False
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Columns and rows of objects; ``items`` pairs each with its line (``lines``) or index."""

    def place(at: int) -> str:
        if lines:
            return f"{where}:{at}: row"
        return f"{where}[{at}]" if inline else f"{where}: row {at + 1}"

    def error(at: int, message: str) -> DataError:
        known = columns if values else None
        return DataError(f"{place(at)} {message}", row=at if inline else None, columns=known)

    columns: tuple[str, ...] = ()
    values: list[tuple[Any, ...]] = []
    for at, given in items:
        if not isinstance(given, Mapping):
            raise error(at, f"is {_kind(given)}, not an object")
        item = {str(k): v for k, v in given.items()}  # YAML may give other keys
        if not values:
            columns = tuple(item)
            if not columns:
                raise error(at, "has no columns")
        elif len(item) != len(columns) or any(c not in item for c in columns):
            missing = [c for c in columns if c not in item]
            if missing:
                raise error(at, f"lacks column {missing[0]} (columns: {', '.join(columns)})")
            extra = next(k for k in item if k not in columns)
            raise error(at, f"has column {extra}, which the first row lacks")
        values.append(tuple(item[c] for c in columns))
    return columns, values


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


class SegmentLike(Protocol):
    """``sla_runner.plan.Segment``: this process's share, ``index`` (1-based) of ``count``."""

    @property
    def index(self) -> int: ...

    @property
    def count(self) -> int: ...


@dataclass(frozen=True)
class _Whole:
    index: int = 1
    count: int = 1


class Dealer:
    """Hands out the row indices of one table that belong to this segment (see module)."""

    __slots__ = ("_first", "_step", "dealt", "refused", "share", "table", "unique")

    def __init__(self, table: Table, segment: SegmentLike = _Whole()) -> None:
        n, index, count = len(table.rows), segment.index, segment.count
        self.table, self.unique = table, table.unique
        self._first, self._step = index - 1, count
        self.share = max((n - index + count) // count, 0)  # rows j with j % count == index - 1
        self.dealt = 0  # rows handed out, repeats included
        self.refused = 0  # requests refused because a unique table ran out
        if self.share == 0:
            raise DataError(
                f"data.{table.name}: {n} row{'s' if n != 1 else ''} cannot be shared by "
                f"{count} segments: segment {index}/{count} gets none"
            )

    def available(self) -> bool:
        """Whether :meth:`next` would give a row."""
        return not self.unique or self.dealt < self.share

    def next(self) -> int | None:
        """The next row's index in the table, or ``None`` (counted) when a unique table ran out."""
        if self.unique and self.dealt >= self.share:
            self.refused += 1
            return None
        position = self.dealt % self.share
        self.dealt += 1
        return self._first + position * self._step


class ScenarioDeal:
    """The tables one scenario reads, each dealt per ``user`` or per ``pass`` (see module)."""

    __slots__ = ("_pass", "_user")

    def __init__(self, dealers: Mapping[str, Dealer], modes: Mapping[str, Mode]) -> None:
        self._user = tuple(dealers[name] for name, mode in modes.items() if mode == "user")
        self._pass = tuple(dealers[name] for name, mode in modes.items() if mode == "pass")

    def deal_user(self, rows: dict[str, Mapping[str, Any]]) -> bool:
        return _deal(self._user, rows)

    def deal_pass(self, rows: dict[str, Mapping[str, Any]]) -> bool:
        return _deal(self._pass, rows)


def _deal(dealers: tuple[Dealer, ...], rows: dict[str, Mapping[str, Any]]) -> bool:
    for dealer in dealers:
        if not dealer.available():
            dealer.refused += 1
            return False
    for dealer in dealers:
        index = dealer.next()
        assert index is not None
        rows[dealer.table.name] = dealer.table.row(index)
    return True
