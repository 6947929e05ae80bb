"""The image: a pinned slim Python base, the package, a user without privileges (the one the
Kubernetes pods run as), ``sla-runner`` as its entry point, no secret built in. Built and
run where a docker engine answers; read as text everywhere."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sla_runner._version import __version__
from sla_runner.k8s import RUN_AS
from tests.support.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
SECRET_WORDS = re.compile(r"token|secret|passw|api_?key|credential|private", re.IGNORECASE)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _all(word: str) -> list[str]:
    return [rest for instruction, rest in _instructions() if instruction == word]


def test_the_base_is_a_slim_python_pinned_by_version() -> None:
    (base,) = _all("FROM")
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base


def test_it_runs_as_the_unprivileged_user_the_pods_run_as() -> None:
    users = _all("USER")
    assert users, "no USER: the image would run as root"
    assert users[-1] == f"{RUN_AS}:{RUN_AS}"
    # the user is made with that id, and USER comes after every RUN
    assert f"--uid {RUN_AS}" in " ".join(_all("RUN"))
    words = [w for w, _ in _instructions()]
    assert max(i for i, w in enumerate(words) if w == "RUN") < words.index("USER")


def test_the_package_is_installed_and_is_the_entry_point() -> None:
    assert "pip install ." in " ".join(_all("RUN"))
    assert [json.loads(e) for e in _all("ENTRYPOINT")] == [["sla-runner"]]
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    assert "**\n" in ignored  # the context is only what is let in: no .git, .venv, reports
    for copied in _all("COPY"):
        assert not re.search(r"(^|\s)\.(\s|$)|\.env|\.git", copied), copied


def test_no_secret_is_built_in() -> None:
    for word in ("ENV", "ARG", "LABEL"):
        for rest in _all(word):
            assert not SECRET_WORDS.search(rest), f"{word} {rest}"
    assert not re.search(
        r"(?m)^\s*(ADD|COPY)\s.*(id_rsa|\.pem|\.key|netrc)", DOCKERFILE.read_text()
    )


def _context_files() -> list[str]:
    """The files of the repository ``docker build .`` sends: .dockerignore's patterns in
    order, the last one a path matches deciding (``!`` lets it back in), as docker reads them."""
    rules = []
    for written in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = written.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True
    )
    sent = []
    for path in listed.stdout.splitlines():
        keep = True
        for include, pattern in rules:
            parts = path.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or (
                pattern.startswith("**/") and any(fnmatch.fnmatch(x, pattern[3:]) for x in parts)
            ):
                keep = include
        if keep:
            sent.append(path)
    return sent


def test_the_build_context_is_the_package_and_it_builds(tmp_path: Path) -> None:
    """What ``pip install .`` in the image gets, made into a wheel here (no docker needed)."""
    sent = _context_files()
    assert {"pyproject.toml", "README.md", "LICENSE", "sla_runner/cli/__init__.py"} <= set(sent)
    assert not [p for p in sent if p.startswith(("tests/", "bench/", ".git", "reports/"))]
    context = tmp_path / "context"
    for path in sent:
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, context / path)
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"),
            *("-w", str(tmp_path / "wheels"), str(context)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    assert wheel.name.startswith(f"sla_runner-{__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"sla_runner-{__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode("utf-8")
        licence = archive.read(f"{info}/licenses/LICENSE").decode("utf-8")
    assert "sla_runner/engine/worker.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    # the licence pyproject names ships with the wheel, its text the repository's
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert licence == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License\n\nCopyright (c) the sla-runner authors\n")


def _docker(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=timeout_s
    )


def _docker_engine() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client"
    done = _docker("info")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"the docker client finds no engine: {last}"
    return None


@pytest.mark.slow
def test_the_image_builds_and_runs_as_that_user() -> None:
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(reason)
    tag = f"sla-runner-test:{__version__}"
    build = _docker("build", "-t", tag, str(ROOT), timeout_s=900)
    assert build.returncode == 0, build.stdout + build.stderr
    try:
        version = _docker("run", "--rm", tag, "--version")
        assert version.stdout.strip() == f"sla-runner {__version__}", version.stderr
        uid = _docker("run", "--rm", "--entrypoint", "id", tag, "-u")
        assert uid.stdout.strip() == str(RUN_AS)
    finally:
        _docker("rmi", "-f", tag)
