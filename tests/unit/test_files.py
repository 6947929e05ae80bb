"""Reports are written atomically, into directories created as needed, or fail clearly."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from sla_runner.errors import ReportError, UsageError
from sla_runner.report.files import check_writable, write_atomic
from sla_runner.report.outputs import write_reports
from tests.unit.verdict_data import verdict_of


def test_writes_and_creates_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "nested" / "junit.xml"
    assert write_atomic(target, "ünïcode ✓\n") == target
    assert target.read_text(encoding="utf-8") == "ünïcode ✓\n"


def test_replaces_an_existing_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "verdict.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["verdict.json"]


def test_a_path_under_a_file_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match=r"cannot write report .*not-a-dir/out\.json") as info:
        write_atomic(blocker / "out.json", "{}")
    assert info.value.exit_code == 3
    assert str(info.value).endswith(f"{blocker} is a file, not a directory")


def test_a_directory_as_target_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="it is a directory"):
        write_atomic(tmp_path, "{}")
    assert list(tmp_path.iterdir()) == []


def test_write_reports_attempts_every_report(tmp_path: Path) -> None:
    verdict = verdict_of("fail")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match=r"cannot write report .*junit\.xml"):
        write_reports(verdict, junit=blocker / "junit.xml", json=tmp_path / "r" / "verdict.json")
    assert (tmp_path / "r" / "verdict.json").is_file()
    written = write_reports(verdict, junit=tmp_path / "j.xml", json=None)
    assert written == [tmp_path / "j.xml"]


def test_a_lone_surrogate_does_not_lose_the_report(tmp_path: Path) -> None:
    """An environment value that was not UTF-8 reaches Python as a lone surrogate: the JSON
    report is written with it escaped, and reads back as the same text."""
    text = json.dumps({"note": "caf\udce9"}, ensure_ascii=False)
    path = write_atomic(tmp_path / "v.json", text)
    assert json.loads(path.read_text(encoding="utf-8")) == {"note": "caf\udce9"}


def test_the_check_before_a_run_leaves_nothing_behind(tmp_path: Path) -> None:
    check_writable(tmp_path / "a" / "b" / "junit.xml", tmp_path / "verdict.json", None)
    assert list(tmp_path.iterdir()) == []  # neither the directories it made nor a probe


def test_the_check_gives_the_reason_the_write_would(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError) as info:
        check_writable(tmp_path / "fine.json", blocker / "deeper" / "out.json")
    assert str(info.value) == (
        f"cannot write report {blocker}/deeper/out.json: {blocker} is a file, not a directory"
    )
    with pytest.raises(ReportError, match=r"^cannot write report .*: it is a directory$"):
        check_writable(tmp_path)
    with pytest.raises(ReportError, match=r"^cannot write report /proc/x\.json: No such file"):
        check_writable("/proc/x.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


def test_one_file_for_two_reports_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is given for two reports"):
        check_writable(tmp_path / "r.json", tmp_path / "x" / ".." / "r.json")


# -- what is at the path decides how it is written (symbolic links, FIFOs, devices) ------


def test_a_symlink_stays_a_link_and_its_file_is_replaced(tmp_path: Path) -> None:
    """``latest.json -> runs/42.json``: the link is followed, the file it points to is
    replaced atomically, and the link is still a link (it was replaced by a file)."""
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "42.json"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "latest.json"
    link.symlink_to("runs/42.json")
    check_writable(link)
    assert write_atomic(link, "new") == link
    assert link.is_symlink()
    assert os.readlink(link) == "runs/42.json"
    assert real.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["42.json"]


def test_a_dangling_symlink_creates_the_file_it_points_to(tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "out" / "first.json")
    check_writable(link)
    assert not (tmp_path / "out").exists()  # the check leaves nothing behind
    write_atomic(link, "{}")
    assert link.is_symlink()
    assert (tmp_path / "out" / "first.json").read_text(encoding="utf-8") == "{}"


def _read_fifo(fifo: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(fifo, "rb") as f:  # blocks until the writer opens the FIFO
            into.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def test_a_fifo_is_written_in_place_and_its_reader_gets_the_report(tmp_path: Path) -> None:
    fifo = tmp_path / "verdict.fifo"
    os.mkfifo(fifo)
    check_writable(fifo)  # checked without opening it: its reader would see an end of data
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    write_atomic(fifo, "ünïcode ✓\n" * 10_000)  # more than a pipe's buffer
    reader.join(timeout=10)
    assert got == [("ünïcode ✓\n" * 10_000).encode("utf-8")]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdict.fifo"]


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """A private node of the memory devices (``null`` 3, ``full`` 7): the tests never
    write to the system's own, which the code before this fix replaced by files."""
    node = tmp_path / name
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("cannot make a device node here (needs CAP_MKNOD)")
    return node


def test_a_character_device_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    """As root, ``--json /dev/null`` replaced the device node with a file."""
    null = _device(tmp_path, "null", 3)
    before = os.stat(null)
    check_writable(null)
    assert write_atomic(null, "{}") == null
    after = os.stat(null)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_device_that_refuses_the_data_is_a_report_error(tmp_path: Path) -> None:
    """``--json /dev/full`` printed "wrote /dev/full" and replaced the device."""
    full = _device(tmp_path, "full", 7)
    with pytest.raises(ReportError, match=r"^cannot write report .*/full: No space left"):
        write_atomic(full, "{}")
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_a_descriptor_is_written_through_not_replaced(tmp_path: Path) -> None:
    """``/dev/fd/N`` (and ``/dev/stdout``) lead to the file the descriptor holds: the
    report is written through the descriptor, after what it already holds."""
    held = tmp_path / "console.txt"
    with open(held, "w", encoding="utf-8") as console:
        console.write("summary\n")
        console.flush()
        path = f"/dev/fd/{console.fileno()}"
        check_writable(path)
        write_atomic(path, "{}\n")
        console.write("wrote it\n")
    assert held.read_text(encoding="utf-8") == "summary\n{}\nwrote it\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["console.txt"]


def test_what_cannot_take_a_report_is_refused_before_and_at_the_write(tmp_path: Path) -> None:
    to_dir = tmp_path / "dir-link.json"
    to_dir.symlink_to(tmp_path)
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for path, reason in (
            (to_dir, "it is a directory"),
            (sock_path, "it is a socket; write reports to a file, a FIFO or a character device"),
            ("", "the path is empty"),
        ):
            for attempt in (check_writable, lambda p: write_atomic(p, "{}")):
                with pytest.raises(ReportError) as info:
                    attempt(path)
                assert str(info.value).startswith(f"cannot write report {path or repr('')}: ")
                assert reason in str(info.value)
    finally:
        server.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir-link.json", "s.sock"]


def test_a_loop_of_symlinks_is_a_report_error(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(ReportError, match="too many levels of symbolic links"):
        check_writable(a)


def test_processes_checking_one_new_folder_at_once_all_pass_and_leave_nothing(
    tmp_path: Path,
) -> None:
    """The pods of one run check `/results/RUN/segment-I.json` at the same moment: each
    makes and removes the folder under the others. None of them may fail for that (it did,
    'File exists' or 'No such file or directory', in most tries), and no probe stays (a
    folder one of them made while another was inside it may stay, empty: the run writes
    its reports there)."""
    failures: list[str] = []
    for trial in range(40):
        base = tmp_path / f"t{trial}"
        base.mkdir()
        barrier = threading.Barrier(3)

        def check(index: int, base: Path = base, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                check_writable(base / "results" / "run-1" / f"segment-{index}.json")
            except ReportError as exc:
                failures.append(str(exc))

        threads = [threading.Thread(target=check, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [p for p in base.rglob("*") if not p.is_dir()] == []
    assert failures == []
