"""The pre-flight does what the run will do, once, before any load: a TCP connection to each
HTTP origin, the TLS handshake for https (with the spec's verify_tls), the WebSocket upgrade
of each channel. A failure is exit 3 at once, nothing sent, with the operating system's (or
the TLS library's) real reason and what it was trying.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from sla_runner.engine.preflight import reason
from tests.conftest import LiveServer
from tests.support.cli import run_cli
from tests.support.faultkit import free_port, read_json, spec_data, spec_file, tag, unanswered_port

pytestmark = pytest.mark.load


def _refused_up_front(tmp_path: Path, data: dict[str, object], message: str) -> None:
    """The CLI exits 3 at once with ``message`` in the summary and the JSON verdict."""
    out = tmp_path / "verdict.json"
    run = run_cli("run", spec_file(tmp_path, data), "--json", out, "--quiet")
    assert run.code == 3, run.output
    assert "Traceback" not in run.output
    assert f"ERROR: {message} (exit code 3)" in run.stdout
    # The line that says what is about to run comes after the checks: nothing runs.
    assert not [line for line in run.stderr.splitlines() if line.startswith("running ")]
    verdict = read_json(out)
    assert (verdict["status"], verdict["message"]) == ("error", message)


def test_https_to_a_plain_http_port_is_refused_with_the_tls_reason(
    test_server: LiveServer, tmp_path: Path
) -> None:
    base = f"https://127.0.0.1:{test_server.port}"  # the plain HTTP port
    data = spec_data(base)
    message = f"cannot connect to {base}: TLS handshake failed: wrong version number"
    _refused_up_front(tmp_path, data, message)
    assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0  # nothing sent


def test_an_endpoint_with_its_own_url_is_checked_too(
    test_server: LiveServer, tmp_path: Path
) -> None:
    port = free_port()
    data = spec_data(test_server.url)
    data["endpoints"]["elsewhere"] = {"url": f"http://127.0.0.1:{port}/ok"}
    message = f"cannot connect to http://127.0.0.1:{port}: connection refused"
    _refused_up_front(tmp_path, data, message)
    assert test_server.counts().get(data["endpoints"]["ok"]["path"], 0) == 0


def test_target_down_says_connection_refused(tmp_path: Path) -> None:
    port = free_port()
    data = spec_data(f"http://127.0.0.1:{port}")
    _refused_up_front(
        tmp_path, data, f"cannot connect to http://127.0.0.1:{port}: connection refused"
    )


def test_a_target_that_never_answers_times_out(tmp_path: Path) -> None:
    """A full accept queue on loopback: the kernel drops the SYN, the connect hangs."""
    with unanswered_port() as port:
        data = spec_data(f"http://127.0.0.1:{port}")
        data["target"]["connect_timeout"] = "500ms"
        message = f"cannot connect to http://127.0.0.1:{port}: timed out (no answer within 0.5s)"
        _refused_up_front(tmp_path, data, message)


@pytest.mark.parametrize("code", [403, 404])
def test_a_refused_websocket_upgrade_names_the_channel_and_the_status(
    test_server: LiveServer, tmp_path: Path, code: int
) -> None:
    path = f"/ws/refuse?code={code}&t={tag()}"
    channels = {
        "echo": {"path": f"/ws/echo?t={tag()}", "send": "hi"},
        "feed": {"path": path, "send": "hi"},
    }
    data = spec_data(test_server.url, channels=channels)
    message = (
        f"channel feed: cannot open {test_server.ws_url}{path}: "
        f"the upgrade was refused: HTTP {code}"
    )
    _refused_up_front(tmp_path, data, message)
    served = test_server.counts()
    assert served.get(data["endpoints"]["ok"]["path"], 0) == 0
    assert served[path] == 1  # the pre-flight's upgrade, and nothing after it


def test_a_self_signed_certificate_is_refused_unless_verification_is_off(
    test_server: LiveServer, tmp_path: Path
) -> None:
    data = spec_data(test_server.tls_url)
    data["channels"] = {"echo": {"path": f"/ws/echo?t={tag()}", "send": "hi"}}
    message = (
        f"cannot connect to {test_server.tls_url}: TLS handshake failed: certificate verify "
        "failed: self-signed certificate (target.verify_tls: false skips the check)"
    )
    _refused_up_front(tmp_path, data, message)
    data["target"]["verify_tls"] = False  # the handshake and the wss upgrade then pass
    data["load"]["stages"] = [{"duration": "100ms", "users": 1}, {"duration": "500ms", "users": 1}]
    run = run_cli("run", spec_file(tmp_path, data), "--quiet")
    assert run.code == 0, run.output


def test_reasons_are_the_operating_systems() -> None:
    assert reason(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) == (
        "connection refused"
    )
    assert reason(OSError(errno.EHOSTUNREACH, "No route to host")) == "no route to host"
    not_known = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert reason(not_known) == "name or service not known"
    assert reason(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), tls=True) == (
        "TLS handshake failed: connection reset by peer"
    )
