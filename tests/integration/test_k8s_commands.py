"""The commands the ``sla-runner k8s`` manifests hold, run here as the pods would run them.

Each volume is a local folder (the ConfigMap's items written as the kubelet mounts them,
the results claim an empty folder); a container's command is the manifest's own string with
each mount path replaced by its folder, run by ``sh -c`` with ``JOB_COMPLETION_INDEX`` set
as Kubernetes sets it for an Indexed Job's pod. The segments run side by side against the
test server, then the merge Job's script; the merged verdict is the whole plan.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sla_runner.api import load_spec
from sla_runner.k8s import K8sOptions, Manifests, manifests
from tests.conftest import LiveServer
from tests.support.cli import cli_env
from tests.support.faultkit import read_json, spec_data, spec_file, tag

pytestmark = pytest.mark.load

BIN = Path(sys.executable).parent  # where the sla-runner console script is installed


class Node:
    """What a node does with the manifests: mounts volumes, runs a container's command."""

    def __init__(self, made: Manifests, root: Path) -> None:
        self.made = made
        self.root = root
        (config,) = made.by_kind("ConfigMap")
        self.folders = {"spec": root / "spec", "results": root / "results"}
        for folder in self.folders.values():
            folder.mkdir(parents=True)
        segments = made.by_kind("Job")[0]
        volume = segments["spec"]["template"]["spec"]["volumes"][0]
        for item in volume["configMap"]["items"]:
            path = self.folders["spec"] / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(config["data"][item["key"]], encoding="utf-8")

    def command(self, job: dict[str, Any]) -> str:
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["/bin/sh", "-c"]
        script: str = container["args"][0]
        for mount in container["volumeMounts"]:
            script = script.replace(mount["mountPath"] + "/", f"{self.folders[mount['name']]}/")
        return script

    def start(self, job: dict[str, Any], **env: str) -> subprocess.Popen[str]:
        path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        return subprocess.Popen(
            ["/bin/sh", "-c", self.command(job)],
            env=cli_env({"PATH": path, **env}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=90)
    return proc.returncode, out


def _open_spec(server: LiveServer, ok_path: str) -> dict[str, Any]:
    # 250 arrivals a segment: one that a busy machine starts late is not 1% of them.
    return spec_data(
        server.url,
        endpoints={"ok": {"path": ok_path}},
        load={"stages": [{"duration": "1s", "rate": "300/s"}, {"duration": "2s", "rate": "300/s"}]},
        thresholds=["count(http) >= 750", "success_rate(http) > 99%"],
    )


def test_the_pods_and_the_merge_job_carry_and_judge_the_whole_plan(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    loaded = load_spec(spec_file(tmp_path, _open_spec(test_server, ok_path)))
    made = manifests(loaded, K8sOptions(parallelism=3, run_id="run-1"))
    node = Node(made, tmp_path / "node")
    segments, merge = made.by_kind("Job")
    pods = [
        node.start(segments, JOB_COMPLETION_INDEX=str(i))
        for i in range(segments["spec"]["completions"])
    ]
    for i, pod in enumerate(pods):
        code, out = _finish(pod)
        assert code == 0, f"pod {i}: {out}"
    results = node.folders["results"] / "run-1"
    assert sorted(p.name for p in results.iterdir()) == [f"segment-{i}.json" for i in (1, 2, 3)]
    code, out = _finish(node.start(merge))
    assert code == 0, out
    verdict = read_json(results / "verdict.json")
    assert (results / "junit.xml").is_file()
    # 0 → 300/s over 1 s is 150 arrivals, then 600: the plan's 750, every one of them sent.
    assert verdict["validity"]["planned"] == 750
    assert verdict["metrics"]["http"]["count"] == 750
    assert test_server.counts()[ok_path] == 750
    assert verdict["status"] == "pass"
    assert [t["status"] for t in verdict["thresholds"]] == ["pass", "pass"]


def test_a_segment_that_never_reports_makes_the_merge_invalid(
    test_server: LiveServer, tmp_path: Path
) -> None:
    ok_path = f"/ok?t={tag()}"
    loaded = load_spec(spec_file(tmp_path, _open_spec(test_server, ok_path)))
    made = manifests(loaded, K8sOptions(parallelism=3, run_id="run-2", merge_timeout_s=1))
    node = Node(made, tmp_path / "node")
    segments, merge = made.by_kind("Job")
    for i in (0, 2):  # the pod of index 1 never ran (evicted, its node lost)
        code, out = _finish(node.start(segments, JOB_COMPLETION_INDEX=str(i)))
        assert code == 0, out
    code, out = _finish(node.start(merge))
    assert code == 4, out
    assert "2 of 3 segment verdicts after 1s: merging those present" in out
    verdict = read_json(node.folders["results"] / "run-2" / "verdict.json")
    assert verdict["status"] == "invalid"
    assert any("segment 2/3 is missing" in r for r in verdict["validity"]["reasons"])
