"""Secrets never leave the process: every output of a run is searched for them.

The secrets are sent for real (the test server checks them: ``expect.body_contains`` on
``/headers``, which echoes the request headers), then stdout, stderr (live progress on),
the JUnit XML and the JSON verdict are grepped for each one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.support.cli import CliRun, run_cli
from tests.support.faultkit import free_port, read_json, spec_data, spec_file, tag

pytestmark = pytest.mark.load

SECRETS = {
    "API_TOKEN": "tok-6f1c9e0a7b",
    "SESSION_ID": "sess-3a9d51c2e8",
    "USER_PASS": "pw-b27e44d019",
    "BODY_KEY": "body-8c0f3a6e91",
}


def _outputs(run: CliRun, *files: Path) -> dict[str, str]:
    found = {"stdout": run.stdout, "stderr": run.stderr}
    for path in files:
        if path.exists():
            found[path.name] = path.read_text(encoding="utf-8")
    return found


def _assert_no_secret(outputs: dict[str, str]) -> None:
    for where, text in outputs.items():
        for name, value in SECRETS.items():
            assert value not in text, f"${{{name}}} leaked into {where}"


def test_secrets_sent_but_never_reported(test_server: LiveServer, tmp_path: Path) -> None:
    data = spec_data(
        test_server.url,
        endpoints={
            # The service receives the token and the cookie: the reply echoes them.
            "whoami": {
                "path": f"/headers?t={tag()}",
                "expect": {"body_contains": "${API_TOKEN}"},
            },
            "cookie": {
                "path": f"/headers?t={tag()}",
                "headers": {"Cookie": "session=${SESSION_ID}"},
                "expect": {"body_contains": "${SESSION_ID}"},
            },
            "post": {"method": "POST", "path": f"/echo?t={tag()}", "json": {"k": "${BODY_KEY}"}},
            # Fails on purpose: findings and failure messages are written too.
            "broken": {"path": f"/status?code=500&token=${{API_TOKEN}}&t={tag()}"},
        },
        channels={
            "echo": {
                "path": f"/ws/echo?key=${{BODY_KEY}}&t={tag()}",
                "headers": {"X-Key": "${BODY_KEY}"},
                "send": "${API_TOKEN}",
                "expect": {"contains": "${API_TOKEN}"},
                "interval": "100ms",
            }
        },
        thresholds=[
            "success_rate(http.whoami) > 99%",
            "success_rate(http.cookie) > 99%",
            "success_rate(ws.echo) > 99%",
            "success_rate(http) > 99%",
        ],
    )
    data["target"]["headers"] = {
        "Authorization": "Bearer ${API_TOKEN}",
        "X-Password": "${USER_PASS}",
    }
    out, junit = tmp_path / "verdict.json", tmp_path / "junit.xml"
    run = run_cli("run", spec_file(tmp_path, data), "--json", out, "--junit", junit, env=SECRETS)
    assert run.code == 1, run.output  # only the last threshold fails
    verdict = read_json(out)
    statuses = [t["status"] for t in verdict["thresholds"]]
    assert statuses == ["pass", "pass", "pass", "fail"], verdict["thresholds"]
    assert verdict["metrics"]["http.broken"]["errors"] == {
        "status_500": verdict["metrics"]["http.broken"]["count"]
    }
    _assert_no_secret(_outputs(run, out, junit))


def test_no_secret_in_the_error_of_an_unreachable_service(tmp_path: Path) -> None:
    port = free_port()
    data = spec_data(f"http://admin:${{USER_PASS}}@127.0.0.1:{port}/?token=${{API_TOKEN}}")
    data["target"]["headers"] = {"Authorization": "Bearer ${API_TOKEN}"}
    out, junit = tmp_path / "verdict.json", tmp_path / "junit.xml"
    run = run_cli("run", spec_file(tmp_path, data), "--json", out, "--junit", junit, env=SECRETS)
    assert run.code == 3, run.output
    assert f"cannot connect to http://127.0.0.1:{port}" in run.stdout
    assert read_json(out)["status"] == "error"
    _assert_no_secret(_outputs(run, out, junit))


def test_no_literal_password_in_the_error_of_an_unreachable_service(tmp_path: Path) -> None:
    """A password written into base_url itself (not interpolated) stays out of the error."""
    port = free_port()
    data = spec_data(f"http://admin:pw-literal-77a1@127.0.0.1:{port}")
    out = tmp_path / "verdict.json"
    run = run_cli("run", spec_file(tmp_path, data), "--json", out)
    assert run.code == 3, run.output
    assert "pw-literal-77a1" not in run.output
    assert "pw-literal-77a1" not in out.read_text(encoding="utf-8")
    assert f"cannot connect to http://127.0.0.1:{port}" in run.stdout


def test_no_secret_in_a_spec_error(tmp_path: Path) -> None:
    """An invalid value that came from a secret variable is not echoed back."""
    data = spec_data("http://127.0.0.1:1")
    data["target"]["timeout"] = "${API_TOKEN}"  # not a duration
    run = run_cli("validate", spec_file(tmp_path, data), env=SECRETS)
    assert run.code == 2, run.output
    assert "target.timeout" in run.stderr
    _assert_no_secret(_outputs(run))


def test_a_limit_from_the_environment_is_reported_as_the_contract_it_is(
    test_server: LiveServer, tmp_path: Path
) -> None:
    """``p95(http) < ${LIMIT:-200ms}`` with LIMIT=300ms read ``p95(http) < ***`` in the
    expression and the JUnit case while ``thresholds[].limit`` said 300: the limit is the
    contract judged, so it is shown everywhere; a token beside it stays masked."""
    data = spec_data(test_server.url, thresholds=["p95(http) < ${LIMIT:-200ms}"])
    data["target"]["headers"] = {"Authorization": "Bearer ${API_TOKEN}"}
    out, junit = tmp_path / "verdict.json", tmp_path / "junit.xml"
    env = {"LIMIT": "3000ms", "API_TOKEN": SECRETS["API_TOKEN"]}
    run = run_cli("run", spec_file(tmp_path, data), "--json", out, "--junit", junit, env=env)
    assert run.code == 0, run.output
    (threshold,) = read_json(out)["thresholds"]
    assert (threshold["expr"], threshold["limit"]) == ("p95(http) < 3000ms", 3000)
    assert 'testcase name="p95(http) &lt; 3000ms"' in junit.read_text(encoding="utf-8")
    assert "p95(http) < 3000ms" in run.stdout
    assert "***" not in run.stdout + junit.read_text(encoding="utf-8")
    _assert_no_secret(_outputs(run, out, junit))
