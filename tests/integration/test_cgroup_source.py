"""``target.process.cgroup``: a cgroup v2 directory as the service's process.

Where this machine gives a readable cgroup v2 directory with the memory and cpu
controllers (its own cgroup), the runner reads the real one; otherwise that test is skipped
with the reason. The others read a directory laid out as cgroup v2 in tmp (the files and
lines the kernel writes: ``cgroup.controllers``, ``memory.current``, ``memory.stat``,
``cpu.stat``), whose figures a thread moves along a known line while the run goes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.faultkit import read_json, spec_data, spec_file

pytestmark = pytest.mark.load

MIB = 2**20
GROWTH_B_PER_S = 2 * MIB
CPU_SHARE = 0.5  # of one core: 50%


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)  # a reader sees the old figures or the new, as the kernel's files


@pytest.fixture
def fake_cgroup(tmp_path: Path) -> Iterator[Path]:
    """A cgroup v2 directory in tmp whose memory grows 2 MiB/s and which uses half a core."""
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cgroup.controllers").write_text("cpu memory pids\n", encoding="ascii")
    started = time.monotonic()
    stop = threading.Event()

    def move() -> None:
        while True:
            elapsed = time.monotonic() - started
            current = 64 * MIB + int(GROWTH_B_PER_S * elapsed)
            _write(cgroup / "memory.current", f"{current}\n")
            _write(cgroup / "memory.stat", f"anon {current // 2}\nfile {current // 2}\n")
            usec = int(CPU_SHARE * elapsed * 1e6)
            _write(cgroup / "cpu.stat", f"usage_usec {usec}\nuser_usec {usec}\nsystem_usec 0\n")
            if stop.wait(0.02):
                return

    thread = threading.Thread(target=move)
    thread.start()
    try:
        yield cgroup
    finally:
        stop.set()
        thread.join()


def _run(tmp_path: Path, server: LiveServer, *thresholds: str, **process: Any) -> dict[str, Any]:
    data = spec_data(server.url, thresholds=list(thresholds))
    data["load"]["stages"][1]["duration"] = "3s"
    data["target"]["process"] = {"interval": "200ms", **process}
    out = tmp_path / "verdict.json"
    run = run_cli("run", spec_file(tmp_path, data), "--json", out, "--quiet")
    assert "Traceback" not in run.output, run.output
    verdict = read_json(out)
    verdict["exit_code"] = run.code
    return verdict


@pytest.mark.parametrize(("memory", "share"), [("current", 1.0), ("anon", 0.5)])
def test_a_cgroup_laid_out_as_v2_is_read_for_memory_slope_and_cpu(
    test_server: LiveServer, fake_cgroup: Path, tmp_path: Path, memory: str, share: float
) -> None:
    verdict = _run(
        tmp_path,
        test_server,
        "slope(process.rss) < 512KB/s",
        "mean(process.cpu) < 90%",
        "max(process.rss) < 1GB",
        cgroup=str(fake_cgroup),
        memory=memory,
    )
    results = {t["expr"]: t for t in verdict["thresholds"]}
    assert verdict["exit_code"] == 1 or verdict["status"] == "invalid"  # a busy machine
    slope = results["slope(process.rss) < 512KB/s"]
    assert slope["passed"] is False
    assert 0.8 * share * GROWTH_B_PER_S <= slope["observed"] <= 1.2 * share * GROWTH_B_PER_S
    cpu = results["mean(process.cpu) < 90%"]
    assert cpu["passed"] is True
    assert 40 <= cpu["observed"] <= 60
    last_written = int((fake_cgroup / "memory.current").read_text()) * share
    assert 0.8 * last_written <= results["max(process.rss) < 1GB"]["observed"] <= last_written


def test_a_cgroup_without_the_memory_controller_stops_the_run_before_the_load(
    test_server: LiveServer, fake_cgroup: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "bare"
    empty.mkdir()
    (empty / "cgroup.controllers").write_text("pids\n", encoding="ascii")
    verdict = _run(tmp_path, test_server, "max(process.rss) < 1GB", cgroup=str(empty))
    assert verdict["exit_code"] == 3
    assert verdict["message"] == (
        f"target.process.cgroup: cannot read {empty}: {empty}/memory.current does not exist: "
        "the memory controller is not enabled for this cgroup (its parent's "
        "cgroup.subtree_control lacks it, or the machine keeps it in cgroup v1)"
    )
    gone = tmp_path / "gone"
    verdict = _run(tmp_path, test_server, "max(process.rss) < 1GB", cgroup=str(gone))
    assert verdict["exit_code"] == 3
    assert verdict["message"] == (
        f"target.process.cgroup: cannot read {gone}: {gone} is not a directory "
        "(is the container still running?)"
    )


def _own_cgroup_v2() -> tuple[Path | None, str]:
    """This process's cgroup v2 directory, or None and why it cannot be read."""
    mount = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        if after.split()[:1] == ["cgroup2"]:
            mount = Path(before.split()[4])
            break
    if mount is None:
        return None, "this machine mounts no cgroup v2 hierarchy"
    own = next(
        (ln[3:] for ln in Path("/proc/self/cgroup").read_text().splitlines() if ln[:3] == "0::"),
        None,
    )
    if own is None:
        return None, "this process is in no cgroup v2 group"
    directory = mount / own.lstrip("/")
    for name in ("memory.current", "cpu.stat"):
        if not os.access(directory / name, os.R_OK):
            return None, (
                f"this machine's cgroup v2 group {directory} has no readable {name} "
                "(a hybrid hierarchy that keeps that controller in cgroup v1)"
            )
    return directory, ""


def test_this_machines_own_cgroup_v2_is_read(test_server: LiveServer, tmp_path: Path) -> None:
    directory, why = _own_cgroup_v2()
    if directory is None:
        pytest.skip(why)
    verdict = _run(tmp_path, test_server, "max(process.rss) < 1TB", cgroup=str(directory))
    assert verdict["exit_code"] == 0 or verdict["status"] == "invalid"  # a busy machine
    now = int((directory / "memory.current").read_text())
    observed = verdict["thresholds"][0]["observed"]
    assert 0.5 * now <= observed <= 2 * now
