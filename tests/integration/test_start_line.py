"""Before any load the console says what is about to run: spec and version, the target
(redacted), the planned duration, the peak users or rate, the segment and the engine; with
--quiet too (it only turns the live progress off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.faultkit import spec_data, spec_file

pytestmark = pytest.mark.load


def test_a_closed_model_run_says_what_it_is_about_to_do(
    test_server: LiveServer, tmp_path: Path
) -> None:
    data = spec_data(f"http://user:${{TOKEN}}@127.0.0.1:{test_server.port}")
    run = run_cli("run", spec_file(tmp_path, data), "--quiet", env={"TOKEN": "s3cr3t-t0ken"})
    assert run.code == 0, run.output
    assert run.stderr.splitlines()[0] == (
        f"running faults 1.0.0 against http://user:***@127.0.0.1:{test_server.port}: "
        "2.1s planned, peak 2 users, segment 1/1, engine raw"
    )
    assert "s3cr3t-t0ken" not in run.output


def test_an_open_model_segment_names_its_peak_rate_and_engine(
    test_server: LiveServer, tmp_path: Path
) -> None:
    data = spec_data(test_server.url)
    data["load"] = {
        "stages": [{"duration": "1s", "rate": "40/s"}, {"duration": "500ms", "rate": "10/s"}]
    }
    spec = spec_file(tmp_path, data)
    run = run_cli("run", spec, "--segment", "2/2", "--engine", "aiohttp")
    assert run.code == 0, run.output
    assert run.stderr.splitlines()[0] == (
        f"running faults 1.0.0 against {test_server.url}: 1.5s planned, peak 20/s, "
        "segment 2/2, engine aiohttp"
    )


def test_no_start_line_when_the_process_is_not_found(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """The line printed although the pre-flight then failed; README says it comes after."""
    data = spec_data(test_server.url)
    data["target"]["process"] = {"name": "no-such-process-i9"}
    run = run_cli("run", spec_file(tmp_path, data), "--quiet")
    assert run.code == 3, run.output
    assert "no process named or running 'no-such-process-i9'" in run.stdout
    assert not [line for line in run.stderr.splitlines() if line.startswith("running ")]
