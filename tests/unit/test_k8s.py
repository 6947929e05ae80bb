"""``sla-runner k8s``: manifests Kubernetes accepts (validated offline against its schemas),
an Indexed Job of N segments, a merge that waits for them, the spec byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sla_runner.api import load_spec
from sla_runner.errors import PlanError, UsageError
from sla_runner.k8s import VALIDATED_WITH, K8sOptions, data_files, dns_name, manifests
from sla_runner.spec.document import LoadedSpec
from tests.support.cli import run_cli
from tests.support.faultkit import spec_data, spec_file

FULL = K8sOptions(
    parallelism=4,
    image="registry.example/sla-runner:1.2.3",
    name="Checkout API",
    namespace="perf",
    run_id="nightly-42",
    overrides={"load.stages[1].users": "8", "target.base_url": "http://checkout:8000"},
    workers=2,
    secret="checkout-tokens",
    storage_class="nfs",
    merge_timeout_s=90,
)


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedSpec:
    """A spec of 8 users, as FULL's overrides make it (4 pods of 2 workers: 1 user each)."""
    data = spec_data("http://checkout:8000")
    data["load"]["stages"] = [{"name": s, "duration": "2s", "users": 8} for s in ("warm", "on")]
    return load_spec(spec_file(tmp_path, data, "checkout.yaml"), overrides=FULL.overrides)


def _pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


@pytest.mark.parametrize("version", VALIDATED_WITH)
@pytest.mark.parametrize("options", [K8sOptions(parallelism=1), FULL], ids=["defaults", "full"])
def test_kubernetes_accepts_every_manifest(
    loaded: LoadedSpec, options: K8sOptions, version: str
) -> None:
    made = manifests(loaded, options)
    documents = list(yaml.safe_load_all(made.text()))
    assert [d["kind"] for d in documents] == ["ConfigMap", "PersistentVolumeClaim", "Job", "Job"]
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validator_can_fail(loaded: LoadedSpec) -> None:
    job = manifests(loaded, FULL).by_kind("Job")[0]
    job["spec"]["completionMod"] = "Indexed"
    with pytest.raises(kubernetes_validate.ValidationError, match="completionMod"):
        kubernetes_validate.validate(job, VALIDATED_WITH[0], strict=True)


def test_an_indexed_job_runs_one_segment_per_pod(loaded: LoadedSpec) -> None:
    made = manifests(loaded, FULL)
    segments, merge = made.by_kind("Job")
    spec = segments["spec"]
    assert segments["metadata"] == {
        "name": "checkout-api-segments",
        "labels": {
            "app.kubernetes.io/name": "sla-runner",
            "app.kubernetes.io/instance": "checkout-api",
            "app.kubernetes.io/component": "segment",
        },
        "namespace": "perf",
    }
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 4, 4)
    assert spec["backoffLimitPerIndex"] == 0  # a segment never runs twice
    pod = _pod_spec(segments)
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/sla-runner:1.2.3"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "512Mi"}
    assert "cpu" not in container["resources"]["limits"]  # a throttled generator lies
    assert container["envFrom"] == [{"secretRef": {"name": "checkout-tokens"}}]
    assert container["command"] == ["/bin/sh", "-c"]
    assert container["args"] == [
        "exec sla-runner run /spec/checkout.yaml --segment $((JOB_COMPLETION_INDEX+1))/4 "
        "--json /results/nightly-42/segment-$((JOB_COMPLETION_INDEX+1)).json --workers 2 "
        "--set 'load.stages[1].users=8' --set target.base_url=http://checkout:8000"
    ]
    assert merge["spec"]["backoffLimit"] == 0
    script = _pod_spec(merge)["containers"][0]["args"][0]
    assert "for i in $(seq 1 4)" in script
    assert "deadline=$(( $(date +%s) + 90 ))" in script
    merged = 'exec sla-runner merge "$@" --junit "$dir/junit.xml" --json "$dir/verdict.json"'
    assert merged in script


def test_the_volumes_hold_the_spec_as_written_and_the_verdicts(loaded: LoadedSpec) -> None:
    made = manifests(loaded, FULL)
    (config,) = made.by_kind("ConfigMap")
    text = config["data"]["checkout.yaml"]
    assert hashlib.sha256(text.encode()).hexdigest() == loaded.sha256
    (claim,) = made.by_kind("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "nfs"
    for job in made.by_kind("Job"):
        volumes = {v["name"]: v for v in _pod_spec(job)["volumes"]}
        assert volumes["spec"]["configMap"]["name"] == config["metadata"]["name"]
        claimed = volumes["results"]["persistentVolumeClaim"]["claimName"]
        assert claimed == claim["metadata"]["name"]


def test_data_files_beside_the_spec_are_mounted_where_they_were(
    loaded: LoadedSpec, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text("user,password\nann,x\n", encoding="utf-8")
    # A format-2 spec names its tables' files; the spec model here is v1, the file says more.
    written = loaded.path.read_text(encoding="utf-8")
    loaded.path.write_text(
        written + "data:\n  accounts: {file: data/accounts.csv}\n  skus: {rows: [{sku: 1}]}\n",
        encoding="utf-8",
    )
    (config,) = manifests(loaded, K8sOptions(parallelism=2)).by_kind("ConfigMap")
    assert config["data"]["data-1-accounts-csv"] == "user,password\nann,x\n"
    job = manifests(loaded, K8sOptions(parallelism=2)).by_kind("Job")[0]
    items = _pod_spec(job)["volumes"][0]["configMap"]["items"]
    assert items == [
        {"key": "checkout.yaml", "path": "checkout.yaml"},
        {"key": "data-1-accounts-csv", "path": "data/accounts.csv"},
    ]


@pytest.mark.parametrize("file", ["../accounts.csv", "/etc/accounts.csv"])
def test_a_data_file_outside_the_spec_folder_is_refused(file: str) -> None:
    with pytest.raises(UsageError, match=r"data\.accounts\.file: .* is outside the spec's folder"):
        data_files({"data": {"accounts": {"file": file}}}, Path("/specs"))


def test_a_configmap_too_large_is_refused(loaded: LoadedSpec, tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_text("a\n" + "x" * 1_100_000 + "\n", encoding="utf-8")
    with loaded.path.open("a", encoding="utf-8") as f:
        f.write("data:\n  big: {file: big.csv}\n")
    with pytest.raises(UsageError, match="a ConfigMap holds at most 1,000,000"):
        manifests(loaded, K8sOptions(parallelism=2))


def test_names_are_dns_labels() -> None:
    assert dns_name("Checkout API v2!") == "checkout-api-v2"
    assert dns_name("---") == "sla-runner"
    assert len(dns_name("x" * 100)) == 40


def test_the_command_prints_yaml_or_writes_files(loaded: LoadedSpec, tmp_path: Path) -> None:
    printed = run_cli("k8s", loaded.path, "--parallelism", "3", "--run-id", "r1")
    assert printed.code == 0, printed.output
    assert printed.stderr == ""  # the target is a name in the cluster: nothing to warn of
    kinds = [d["kind"] for d in yaml.safe_load_all(printed.stdout)]
    assert kinds == ["ConfigMap", "PersistentVolumeClaim", "Job", "Job"]
    out = tmp_path / "manifests"
    wrote = run_cli("k8s", loaded.path, "--parallelism", "3", "--output", out)
    assert wrote.code == 0, wrote.output
    names = ["configmap.yaml", "pvc.yaml", "job-segments.yaml", "job-merge.yaml"]
    assert wrote.stdout.splitlines() == [f"wrote {out / name}" for name in names]
    segments = yaml.safe_load((out / "job-segments.yaml").read_text(encoding="utf-8"))
    assert segments["spec"]["completions"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parallelism", "0"], "--parallelism expects a whole number of 1 or more, got 0"),
        (["--parallelism", "2", "--merge-timeout", "soon"], "--merge-timeout:"),
        (["--parallelism", "2", "--workers", "0"], "--workers expects a whole number"),
        ([], "the following arguments are required: --parallelism"),
    ],
)
def test_bad_arguments_are_usage_errors(loaded: LoadedSpec, args: list[str], message: str) -> None:
    done = run_cli("k8s", loaded.path, *args)
    assert done.code == 2
    assert message in done.stderr


LOCAL = {
    "base_url": "http://127.0.0.1:8000",
    "timeout": "2s",
    "process": {"port": 8000},
}


def test_an_address_of_this_machine_is_named_with_what_to_do(tmp_path: Path) -> None:
    """In a segment pod 127.0.0.1 is the pod itself, and no process of this machine runs
    there: each field that says so is one line, naming the field and the fix."""
    data = spec_data(
        "http://127.0.0.1:8000",
        target=LOCAL,
        endpoints={"ok": {"path": "/ok"}, "far": {"url": "http://localhost:9000/x"}},
    )
    made = manifests(load_spec(spec_file(tmp_path, data, "local.yaml")), K8sOptions(2))
    assert made.warnings == (
        "target.base_url http://127.0.0.1:8000 is this machine: in a segment pod it is the "
        "pod itself, so every segment would fail; give the service's address in the cluster "
        "(--set target.base_url=http://SERVICE.NAMESPACE.svc:PORT)",
        "endpoints.far.url http://localhost:9000/x is this machine: in a segment pod it is "
        "the pod itself, so every segment would fail; give the service's address in the "
        "cluster",
        "target.process.port samples a process of this machine, which no segment pod can "
        "see; sample the service through target.process.metrics_url, its Prometheus "
        "/metrics, read from any pod (--set target.process.port=null --set "
        "target.process.metrics_url=http://SERVICE.NAMESPACE.svc:PORT/metrics), or drop "
        "target.process",
    )
    elsewhere = {**LOCAL, "base_url": "http://checkout:8000", "process": None}
    fine = spec_data("http://checkout:8000", target={k: v for k, v in elsewhere.items() if v})
    assert (
        manifests(load_spec(spec_file(tmp_path, fine, "fine.yaml")), K8sOptions(2)).warnings == ()
    )


def test_the_command_warns_on_stderr_and_still_prints_the_manifests(tmp_path: Path) -> None:
    path = spec_file(tmp_path, spec_data("http://127.0.0.1:8000", target=LOCAL), "local.yaml")
    done = run_cli("k8s", path, "--parallelism", "2")
    assert done.code == 0, done.output
    assert len([d["kind"] for d in yaml.safe_load_all(done.stdout)]) == 4  # the manifests
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("warning: target.base_url http://127.0.0.1:8000 is this machine")
    assert lines[1].startswith("warning: target.process.port samples a process of this machine")
    moved = run_cli(
        "k8s", path, "--parallelism", "2", "--set", "target.base_url=http://shop.perf.svc:80"
    )
    assert moved.code == 0, moved.output
    assert [line.split(" ", 2)[1] for line in moved.stderr.splitlines()] == ["target.process.port"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            K8sOptions(parallelism=9),
            "--parallelism 9: segment 9/9 carries no load: the plan holds at most 8 users, "
            "dealt one by one to 9 segments, so segment 9/9 gets none; split the load in at "
            "most 8 segments",
        ),
        (
            K8sOptions(parallelism=3, workers=3),
            "--parallelism 3 --workers 3: the pods' 9 workers share the load as 9 segments: "
            "segment 9/9 carries no load: the plan holds at most 8 users",
        ),
    ],
)
def test_more_segments_than_the_load_can_be_dealt_to_are_refused_here_not_in_the_pods(
    loaded: LoadedSpec, options: K8sOptions, message: str
) -> None:
    """A pod whose segment (or a worker of it) carries no load exits 2 in the cluster and
    its verdict never comes: the merge is invalid. Refused before any manifest, naming the
    most segments the plan can be split in, as run --segment and run --workers are."""
    with pytest.raises(PlanError) as caught:
        manifests(loaded, options)
    assert str(caught.value).startswith(message), str(caught.value)
    assert manifests(loaded, K8sOptions(parallelism=4, workers=2)).by_kind("Job")


def test_a_pod_whose_segment_gets_no_data_row_is_refused_here(tmp_path: Path) -> None:
    """A data table dealt per segment must give every segment a row, as run checks for its
    own: the table of 2 unique rows cannot serve 3 pods."""
    (tmp_path / "rows.csv").write_text("user\nann\nbob\n", encoding="utf-8")
    data = {
        "version": 2,
        "name": "rows",
        "sla_version": "1.0.0",
        "target": {"base_url": "http://shop:8080"},
        "data": {"accounts": {"file": "rows.csv", "unique": True}},
        "endpoints": {"a": {"path": "/a"}},
        "scenarios": {
            "s": {
                "load": {"stages": [{"duration": "2s", "users": 6}]},
                "data": {"accounts": "user"},
                "flow": ["a"],
            }
        },
    }
    loaded = load_spec(spec_file(tmp_path, data, "rows.yaml"))
    assert manifests(loaded, K8sOptions(parallelism=2)).by_kind("Job")
    with pytest.raises(PlanError, match=r"^--parallelism 3: .*accounts"):
        manifests(loaded, K8sOptions(parallelism=3))


def test_the_sets_a_warning_suggests_are_ones_that_work(tmp_path: Path) -> None:
    """The --set a warning gives, with the placeholders filled, silences it."""
    path = spec_file(tmp_path, spec_data("http://127.0.0.1:8000", target=LOCAL), "local.yaml")
    warned = manifests(load_spec(path), K8sOptions(2)).warnings
    suggested = [
        word.replace("SERVICE.NAMESPACE.svc:PORT", "shop.perf.svc:8080")
        for warning in warned
        for word in warning.partition("(--set ")[2].partition(")")[0].split(" --set ")
    ]
    assert suggested == [
        "target.base_url=http://shop.perf.svc:8080",
        "target.process.port=null",
        "target.process.metrics_url=http://shop.perf.svc:8080/metrics",
    ]
    overrides = dict(s.split("=", 1) for s in suggested)
    assert manifests(load_spec(path, overrides=overrides), K8sOptions(2)).warnings == ()
