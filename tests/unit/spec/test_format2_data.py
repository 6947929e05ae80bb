"""Format 2's data tables at load time: files beside the spec, located errors, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.spec.helpers2 import SHOP, changed, errors2, load2

INLINE = "accounts: {rows: [{user: ann, password: pw-ann}, {user: bob, password: pw-bob}]}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text(
        "user,password\nann,pw-ann\nbob,pw-bob\n", encoding="utf-8"
    )
    (tmp_path / "data" / "bad.csv").write_text(
        "user,password\nann,pw-ann\nbob,pw-bob,extra\n", encoding="utf-8"
    )
    (tmp_path / "data" / "skus.jsonl").write_text('{"sku": "A1", "n": 1}\n', encoding="utf-8")
    return tmp_path


def test_a_file_table_is_read_beside_the_spec_and_its_values_are_secrets(folder: Path) -> None:
    text = changed(SHOP, (INLINE, "accounts: {file: data/accounts.csv, unique: true}"))
    loaded = load2(text, base_dir=folder)
    table = loaded.tables["accounts"]
    assert (table.columns, table.rows, table.unique) == (
        ("user", "password"),
        (("ann", "pw-ann"), ("bob", "pw-bob")),
        True,
    )
    assert {"ann", "pw-ann", "bob", "pw-bob"} <= loaded.secrets
    public = changed(SHOP, (INLINE, "accounts: {file: data/accounts.csv, public: true}"))
    assert "pw-ann" not in load2(public, base_dir=folder).secrets
    assert "pw-ann" not in load2(SHOP).secrets  # inline rows are written in the spec


def test_json_columns_keep_their_types(folder: Path) -> None:
    text = changed(SHOP, ("skus: {rows: [{sku: A1}, {sku: B2}]}", "skus: {file: data/skus.jsonl}"))
    assert load2(text, base_dir=folder).tables["skus"].rows == (("A1", 1),)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "accounts: {file: data/nope.csv}",
            "spec.yaml:6:20: data.accounts.file: data/nope.csv: data file not found (looked for "
            "{folder}/data/nope.csv)",
        ),
        (
            "accounts: {file: data/bad.csv}",
            "spec.yaml:6:20: data.accounts.file: data/bad.csv:3: 3 fields, expected 2 (user, "
            "password)",
        ),
        (
            "accounts: {file: data/accounts.txt}",
            "spec.yaml:6:20: data.accounts.file: data/accounts.txt: unknown data file type; "
            "expected .csv, .json or .jsonl",
        ),
        (
            "accounts: {file: data/accounts.csv, rows: [{user: a}]}",
            "spec.yaml:6:13: data.accounts: give exactly one of file or rows",
        ),
        (
            "accounts: {rows: [{user: ann, password: x}], public: true}",
            "spec.yaml:6:56: data.accounts.public: inline rows are written in the spec, so they "
            "are public already",
        ),
        (
            "accounts: {rows: [{user: ann, password: x}, {user: bob}]}",
            "spec.yaml:6:47: data.accounts.rows[1]: lacks column password (columns: user, "
            "password)",
        ),
        ("accounts: {rows: []}", "spec.yaml:6:20: data.accounts.rows: the table has no rows"),
        (
            "accounts: {rows: [hello]}",
            "spec.yaml:6:21: data.accounts.rows[0]: expected a mapping, got 'hello'",
        ),
    ],
)
def test_table_problems_are_located(folder: Path, table: str, expected: str) -> None:
    found = errors2(changed(SHOP, (INLINE, table)), base_dir=folder)
    assert found[0] == expected.format(folder=folder.resolve())
    assert len(found) == 1


def test_a_table_that_did_not_load_still_has_its_columns_unchecked_not_guessed(
    folder: Path,
) -> None:
    """A missing file is one error: the templates naming its columns are not flagged as
    naming columns that do not exist (nothing is known of them)."""
    text = changed(SHOP, (INLINE, "accounts: {file: data/nope.csv}"))
    assert len(errors2(text, base_dir=folder)) == 1
