"""Start the demo service as a child process and stop it again (``sla-runner demo``).

The service runs in its own process so that its CPU and memory are its own: the runner
samples them as it would any service, and the generator does not share a GIL with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from sla_runner.errors import RunError, UsageError
from sla_runner.spec.document import LoadedSpec
from sla_runner.spec.document import load_document as load_spec
from sla_runner.spec.format2 import Spec

STARTUP_TIMEOUT_S = 15.0
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


class DemoService:
    """``with DemoService() as demo: demo.url, demo.port, demo.pid``."""

    def __init__(self, *, error_rate: float = 0.01, seed: int | None = None) -> None:
        self._args = [
            sys.executable,
            "-m",
            "sla_runner.demo",
            "--port",
            "0",
            "--until-stdin-closes",
        ]
        self._args += ["--error-rate", str(error_rate)]
        if seed is not None:
            self._args += ["--seed", str(seed)]
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> DemoService:
        # A session of its own: the terminal's Ctrl-C reaches the runner only, which stops
        # the load, judges it and then stops the service; if the runner leaves abruptly (a
        # second Ctrl-C), the service sees its stdin close and stops too.
        self._proc = subprocess.Popen(
            self._args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            match = _LISTENING.search(line)
            if match:
                self.url, self.port = match[1], int(match[2])
                return self
        self.stop()
        raise RunError("the demo service did not start (see its output above)")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            for pipe in (proc.stdin, proc.stdout) if proc is not None else ():
                if pipe is not None:
                    pipe.close()
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def demo_spec_path() -> Path:
    """``specs/demo.yaml`` of the source tree this package runs from."""
    path = Path(__file__).resolve().parents[2] / "specs" / "demo.yaml"
    if not path.is_file():
        raise RunError(
            f"cannot find the demo spec at {path}; run from a clone of sla-runner "
            "or pass --spec PATH"
        )
    return path


AIMED = ("target.base_url", "target.process")
"""What ``demo --spec`` sets, so that another spec's load goes to the demo service."""


def check_aimable(spec: Spec, given: dict[str, str]) -> None:
    """UsageError unless ``demo --spec`` can aim ``spec`` at the demo service: the user's
    ``given`` overrides must leave the target to it, and no endpoint or channel may have a
    ``url:`` of its own, which no base URL moves."""
    clash = sorted(k for k in given if any(k == a or k.startswith(f"{a}.") for a in AIMED))
    if clash:
        raise UsageError(
            f"demo aims the spec at the demo service itself; --set {clash[0]} cannot be used "
            "with demo (use run to aim a spec elsewhere)"
        )
    own = [f"endpoints.{name}" for name, ep in spec.endpoints.items() if ep.url is not None]
    own += [f"channels.{name}" for name, ch in spec.channels.items() if ch.url is not None]
    if own:
        raise UsageError(
            f"demo --spec: {own[0]} has a url: of its own, which would not go to the demo "
            "service; give it a path: instead"
        )


def aim_at_demo(spec: Spec, url: str, port: int) -> dict[str, str]:
    """The overrides that aim ``spec`` at the demo service on ``url``: ``target.base_url``,
    and ``target.process`` by the service's ``port`` (any other way the spec names its
    process is set to null). Recorded in the verdict as ``--set`` overrides are."""
    aim = {"target.base_url": url, "target.process.port": str(port)}
    process = spec.target.process
    for key in ("pid", "pid_file", "name"):
        if process is not None and getattr(process, key) is not None:
            aim[f"target.process.{key}"] = "null"
    return aim


PREVIEW_URL = "http://127.0.0.1:8765"
"""DEMO_URL while the spec is checked, before the service starts: its default port."""


def report_paths(directory: Path) -> tuple[Path, Path]:
    """Where ``demo --reports DIR`` writes the JUnit XML and the JSON verdict."""
    return directory / "junit.xml", directory / "verdict.json"


def load_preview(path: Path, overrides: dict[str, str], *, other: bool) -> LoadedSpec:
    """The spec loaded before any service starts, so that its errors come first; another
    spec than the demo's (``demo --spec``) is also checked to be aimable (UsageError)."""
    env = {**os.environ, "DEMO_URL": PREVIEW_URL}
    loaded = load_spec(path, env=env, overrides=overrides)
    if other:
        check_aimable(loaded.spec, overrides)
    return loaded


def load_aimed(
    preview: LoadedSpec, demo: DemoService, overrides: dict[str, str], *, other: bool
) -> tuple[LoadedSpec, dict[str, str]]:
    """The spec aimed at the running ``demo`` service, and the overrides its verdict
    records: another spec is aimed by overrides (:func:`aim_at_demo`), recorded as ``--set``
    ones are; the demo spec reads DEMO_URL, and the service's port is not a change."""
    env = {**os.environ, "DEMO_URL": demo.url}
    if other:
        recorded = {**aim_at_demo(preview.spec, demo.url, demo.port), **overrides}
        return load_spec(preview.path, env=env, overrides=recorded), recorded
    where = {"target.process.port": str(demo.port)}
    return load_spec(preview.path, env=env, overrides={**where, **overrides}), overrides
