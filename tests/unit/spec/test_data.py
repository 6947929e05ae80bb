"""Data tables: loading CSV/JSON/JSONL/inline rows with located errors; dealing rows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_runner.plan import Segment
from sla_runner.spec.data import (
    MAX_FILE_BYTES,
    DataError,
    Dealer,
    ScenarioDeal,
    Table,
    load_table,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return name


def failure(tmp_path: Path, name: str, content: str | bytes) -> str:
    file = write(tmp_path, name, content)
    with pytest.raises(DataError) as caught:
        load_table("t", file=file, base_dir=tmp_path)
    return caught.value.message


def test_csv_with_rfc4180_quoting_bom_blank_lines_and_crlf(tmp_path: Path) -> None:
    content = '\ufeffuser,password,note\r\nann,"s3,cr""et",plain\r\n\r\nbob,pw2,"two\nlines"\r\n'
    file = write(tmp_path, "data/accounts.csv", content)
    table = load_table("accounts", file=file, base_dir=tmp_path)
    assert table.columns == ("user", "password", "note")
    assert table.rows == (("ann", 's3,cr"et', "plain"), ("bob", "pw2", "two\nlines"))
    assert table.row(1) == {"user": "bob", "password": "pw2", "note": "two\nlines"}
    assert table.source == "data/accounts.csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n1,2,3\n", "t.csv:3: 3 fields, expected 2 (a, b)"),
        ('a,b\n"x\ny",2\n1\n', "t.csv:4: 1 field, expected 2 (a, b)"),  # after a 2-line record
        ("a,b\n\n\n1,2,3\n", "t.csv:4: 3 fields, expected 2 (a, b)"),
        ("", "t.csv: empty file; expected a header row (the column names)"),
        ("\n\n", "t.csv: empty file; expected a header row (the column names)"),
        ("a,b\n", "t.csv: the table has no rows"),
        ("a,,b\n1,2,3\n", "t.csv:1: column 2 of the header has no name"),
        ("a,b,a\n1,2,3\n", "t.csv:1: column 'a' appears twice in the header"),
        ('a,b\n1,"2"x\n', "t.csv:2: ',' expected after '\"'"),
        ('a,b\n1,"2\n', "t.csv:2: unexpected end of data"),
        (b"a,b\n1,2\n\xff,3\n", "t.csv:3: not UTF-8 (byte 8)"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    assert failure(tmp_path, "t.csv", content) == message


def test_relative_paths_resolve_against_the_spec_folder(tmp_path: Path) -> None:
    write(tmp_path, "specs/data/a.csv", "x\n1\n")
    assert load_table("a", file="data/a.csv", base_dir=tmp_path / "specs").rows == (("1",),)
    absolute = str(tmp_path / "specs/data/a.csv")
    assert load_table("a", file=absolute, base_dir=Path("/nowhere")).rows == (("1",),)
    with pytest.raises(DataError) as caught:
        load_table("a", file="data/a.csv", base_dir=tmp_path)
    wanted = f"data/a.csv: data file not found (looked for {tmp_path.resolve()}/data/a.csv)"
    assert caught.value.message == wanted


def test_unreadable_kinds_of_file(tmp_path: Path) -> None:
    assert failure(tmp_path, "t.txt", "x") == (
        "t.txt: unknown data file type; expected .csv, .json or .jsonl"
    )
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"^dir\.csv: cannot read: "):
        load_table("t", file="dir.csv", base_dir=tmp_path)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as f:  # sparse: takes no disk space
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DataError) as caught:
        load_table("t", file="big.csv", base_dir=tmp_path)
    assert caught.value.message == "big.csv: 50.0 MB, over the 50 MB limit for a data file"
    os.truncate(path, MAX_FILE_BYTES)  # at the limit: read, and found to be no CSV
    with pytest.raises(DataError) as caught:
        load_table("t", file="big.csv", base_dir=tmp_path)
    assert caught.value.message == "big.csv:1: field larger than field limit (131072)"


def test_json_and_jsonl_keep_json_types(tmp_path: Path) -> None:
    rows = '[{"sku": "A1", "price": 3.5, "tags": ["x"]}, {"sku": "B2", "price": 4, "tags": []}]'
    table = load_table("s", file=write(tmp_path, "s.JSON", rows), base_dir=tmp_path)
    assert table.columns == ("sku", "price", "tags")
    assert table.rows == (("A1", 3.5, ["x"]), ("B2", 4, []))
    lines = '{"sku": "A1", "n": 1}\n\n{"n": 2, "sku": "B2"}\n'
    table = load_table("s", file=write(tmp_path, "s.jsonl", lines), base_dir=tmp_path)
    assert (table.columns, table.rows) == (("sku", "n"), (("A1", 1), ("B2", 2)))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.json", '{"a": 1}', "t.json: expected a list of objects, got an object"),
        ("t.json", "[]", "t.json: the table has no rows"),
        ("t.json", '[{"a": 1}, 2]', "t.json: row 2 is a number, not an object"),
        ("t.json", '[{"a": 1, "b": 2}, {"a": 1}]', "t.json: row 2 lacks column b (columns: a, b)"),
        ("t.json", '[{"a": 1}, {"a": 1, "c": 2}]', "t.json: row 2 has column c, which the first"),
        ("t.json", "[{}]", "t.json: row 1 has no columns"),
        ("t.json", '[\n{"a": 1},\n{"a" 2}]', "t.json:3:6: not valid JSON: Expecting ':' delimiter"),
        ("t.jsonl", '{"a": 1}\n\n{"b": 1}\n', "t.jsonl:3: row lacks column a (columns: a)"),
        ("t.jsonl", '{"a": 1}\n[1]\n', "t.jsonl:2: row is a list, not an object"),
        ("t.jsonl", '{"a": 1}\n{"a": \n', "t.jsonl:2:7: not valid JSON: Expecting value"),
        ("t.ndjson", "\n", "t.ndjson: the table has no rows"),
    ],
)
def test_json_errors_say_which_row(tmp_path: Path, name: str, content: str, message: str) -> None:
    assert failure(tmp_path, name, content).startswith(message)


def test_inline_rows_and_their_errors() -> None:
    table = load_table("skus", rows=[{"sku": "A1"}, {"sku": "B2"}])
    assert (table.columns, table.rows, table.source) == (("sku",), (("A1",), ("B2",)), None)
    with pytest.raises(DataError) as caught:
        load_table("skus", rows=[{"sku": "A1"}, {"id": 2}])
    assert (caught.value.message, caught.value.row) == (
        "rows[1] lacks column sku (columns: sku)",
        1,
    )
    with pytest.raises(DataError, match=r"^rows\[0\] is a string, not an object$"):
        load_table("skus", rows=["A1"])
    with pytest.raises(DataError, match="no rows"):
        load_table("skus", rows=[])
    with pytest.raises(DataError, match="exactly one of file or rows"):
        load_table("skus")


def test_secrets_are_the_values_of_file_tables_unless_public(tmp_path: Path) -> None:
    file = write(tmp_path, "a.json", '[{"user": "ann", "pin": 1234, "x": ""}]')
    assert load_table("a", file=file, base_dir=tmp_path).secrets() == {"ann", "1234"}
    assert load_table("a", file=file, base_dir=tmp_path, public=True).secrets() == frozenset()
    assert load_table("a", rows=[{"user": "ann"}]).secrets() == frozenset()


def table(n: int, *, unique: bool = False, name: str = "t") -> Table:
    return Table(name, ("i",), tuple((i,) for i in range(n)), "t.csv", unique=unique)


def test_dealer_hands_rows_in_order_then_starts_again() -> None:
    dealer = Dealer(table(3))
    assert [dealer.next() for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert (dealer.dealt, dealer.refused) == (7, 0)


def test_unique_dealer_refuses_when_rows_run_out_and_counts_it() -> None:
    dealer = Dealer(table(2, unique=True))
    assert [dealer.next() for _ in range(4)] == [0, 1, None, None]
    assert (dealer.dealt, dealer.refused, dealer.available()) == (2, 2, False)


def test_segments_get_disjoint_slices_like_user_slots() -> None:
    dealers = [Dealer(table(10, unique=True), Segment(i, 3)) for i in (1, 2, 3)]
    slices = [[d.next() for _ in range(d.share)] for d in dealers]
    assert slices == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert [d.share for d in dealers] == [Segment(i, 3).share(10) for i in (1, 2, 3)]
    assert all(d.next() is None for d in dealers)


@given(st.integers(1, 60), st.integers(1, 8))
def test_segments_partition_the_rows(rows: int, count: int) -> None:
    seen: list[int] = []
    for index in range(1, count + 1):
        if Segment(index, count).share(rows) == 0:
            with pytest.raises(DataError):
                Dealer(table(rows), Segment(index, count))
            continue
        dealer = Dealer(table(rows, unique=True), Segment(index, count))
        got = [dealer.next() for _ in range(dealer.share)]
        dealt = [i for i in got if i is not None]
        assert dealt == sorted(dealt)
        assert len(dealt) == len(got)
        seen += dealt
    assert sorted(seen) == list(range(rows))


def test_a_segment_without_rows_cannot_deal() -> None:
    with pytest.raises(DataError) as caught:
        Dealer(table(2, name="accounts"), Segment(3, 3))
    assert caught.value.message == (
        "data.accounts: 2 rows cannot be shared by 3 segments: segment 3/3 gets none"
    )


def test_scenario_deal_per_user_and_per_pass() -> None:
    accounts, skus = table(2, unique=True, name="accounts"), table(2, name="skus")
    dealers = {"accounts": Dealer(accounts), "skus": Dealer(skus)}
    deal = ScenarioDeal(dealers, {"accounts": "user", "skus": "pass"})
    rows: dict[str, Any] = {}
    assert deal.deal_user(rows)
    assert rows == {"accounts": {"i": 0}}
    assert deal.deal_pass(rows)
    assert deal.deal_pass(rows)
    assert deal.deal_pass(rows)
    assert rows == {"accounts": {"i": 0}, "skus": {"i": 0}}  # skus wrapped around
    other: dict[str, Any] = {}
    assert deal.deal_user(other)
    assert not deal.deal_user({})  # accounts ran out: no user without an account
    assert (dealers["accounts"].refused, dealers["skus"].dealt) == (1, 3)


def test_scenario_deal_takes_nothing_when_one_table_ran_out() -> None:
    dealers = {"a": Dealer(table(5, name="a")), "b": Dealer(table(1, unique=True, name="b"))}
    deal = ScenarioDeal(dealers, {"a": "user", "b": "user"})
    assert deal.deal_user({})
    rows: dict[str, Any] = {}
    assert not deal.deal_user(rows)
    assert rows == {}
    assert (dealers["a"].dealt, dealers["b"].refused) == (1, 1)  # no row of a was lost


def test_an_error_after_the_columns_were_read_carries_them(tmp_path: Path) -> None:
    """So that a loader can still check what names a column of a table with a bad row."""
    name = write(tmp_path, "a.csv", "user,password\nann,pw\nbob\n")
    with pytest.raises(DataError) as caught:
        load_table("accounts", file=name, base_dir=tmp_path)
    assert caught.value.columns == ("user", "password")
    with pytest.raises(DataError) as caught:
        load_table("accounts", rows=[{"user": "a", "password": "b"}, {"user": "c"}])
    assert (caught.value.columns, caught.value.row) == (("user", "password"), 1)
    with pytest.raises(DataError) as caught:
        load_table("accounts", rows=["nope"])
    assert caught.value.columns is None
    with pytest.raises(DataError) as caught:
        load_table("accounts", file=write(tmp_path, "e.csv", ""), base_dir=tmp_path)
    assert caught.value.columns is None
