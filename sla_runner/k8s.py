"""``sla-runner k8s``: the Kubernetes manifests of one run split over N pods, and its merge.

The documents, in the order they apply (one multi-document YAML, or one file each):

``configmap.yaml``
    The spec file byte for byte (so every verdict names its sha256), and the data files a
    format-2 spec names (``data.<table>.file``), mounted at :data:`SPEC_DIR` in the layout
    they have beside the spec.
``pvc.yaml``
    A ``ReadWriteMany`` PersistentVolumeClaim mounted at :data:`RESULTS_DIR` by every pod:
    each segment writes its JSON verdict there, the merge reads them. Each generated set
    of manifests has its own run id (a folder on the volume), so runs never read each
    other's verdicts.
``job-segments.yaml``
    An Indexed Job (``completionMode: Indexed``, completions = parallelism = N). Pod ``i``
    (``JOB_COMPLETION_INDEX``, from 0) runs ``sla-runner run /spec/SPEC --segment
    $((JOB_COMPLETION_INDEX+1))/N --json /results/RUN/segment-$((JOB_COMPLETION_INDEX+1)).json``.
    ``backoffLimitPerIndex: 0``: a segment is never run twice (its load would count twice),
    and one that fails (a threshold of its share missed: exit 1) does not stop the others.
    ``restartPolicy: Never``; a non-root, read-only, capability-free container; CPU and
    memory requested, memory limited, CPU not (a throttled generator measures itself).
``job-merge.yaml``
    A Job that waits until every segment's verdict is on the volume (or the merge timeout
    passes), then runs ``sla-runner merge`` on those present, writing ``junit.xml`` and
    ``verdict.json`` beside them. Missing segments make the merge ``invalid`` (exit 4),
    naming them, as ``merge`` says.

Kubernetes 1.33 or later (``backoffLimitPerIndex`` is GA there); the tests validate the
manifests against the schemas of :data:`VALIDATED_WITH`. Nothing here talks to a cluster.

A spec that names this machine (:func:`local_warnings`: a target, endpoint, channel or
metrics URL on 127.0.0.1, ``localhost`` or ``::1``; a process found by port, pid, pid file,
name or cgroup) is warned of, one line per field, and the manifests are made all the same:
inside a pod those are the pod itself, unless a sidecar the user adds (kustomize) serves
there, which is why it is a warning and not a refusal.
"""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml

from sla_runner._version import __version__
from sla_runner.errors import PlanError, UsageError
from sla_runner.plan import build_plan
from sla_runner.report.files import write_atomic
from sla_runner.spec.document import LoadedSpec
from sla_runner.spec.format2 import Spec
from sla_runner.spec.rawfile import read_bytes
from sla_runner.timeline import Segment

SPEC_DIR = "/spec"
RESULTS_DIR = "/results"
RUN_AS = 10001  # the image's user (Dockerfile)
VALIDATED_WITH = ("1.33.0", "1.37.0")
CONFIGMAP_MAX_BYTES = 1_000_000  # Kubernetes refuses larger ConfigMaps (1 MiB with metadata)
MERGE_SLACK_S = 15 * 60  # scheduling and image pulls, before the merge gives up waiting
POLL_S = 5


@dataclass(frozen=True)
class K8sOptions:
    parallelism: int
    image: str = f"sla-runner:{__version__}"
    name: str | None = None  # default: the spec's name
    namespace: str | None = None
    run_id: str | None = None  # default: the time the manifests were made
    overrides: Mapping[str, str] = field(default_factory=dict)
    workers: int = 1  # run --workers in each pod
    secret: str | None = None  # a Secret whose keys become the segments' environment
    storage_class: str | None = None
    storage: str = "1Gi"
    memory: str = "512Mi"
    merge_timeout_s: float | None = None  # default: the planned duration + 15 minutes


@dataclass(frozen=True)
class Manifests:
    documents: tuple[tuple[str, dict[str, Any]], ...]  # (file name, manifest)
    warnings: tuple[str, ...] = ()  # what in the spec a pod cannot reach (local_warnings)

    def text(self) -> str:
        return "".join(f"---\n{dump(doc)}" for _, doc in self.documents)

    def write(self, directory: Path | str) -> list[Path]:
        return [write_atomic(Path(directory) / name, dump(doc)) for name, doc in self.documents]

    def by_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for _, doc in self.documents if doc["kind"] == kind]


class _Dumper(yaml.SafeDumper):
    """Text of several lines (the spec, the scripts) as YAML block literals; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(document: Mapping[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def dns_name(text: str, limit: int = 40) -> str:
    """A DNS-1123 label from ``text``: lower case, ``a-z0-9-``, at most ``limit`` long."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return name or "sla-runner"


def data_files(document: Mapping[str, Any], base: Path) -> list[tuple[str, Path]]:
    """The data files a format-2 spec names (``data.<table>.file``), each as (its path
    relative to the spec's folder, its path here). A file outside that folder cannot keep
    its place under the mount: a UsageError."""
    found: list[tuple[str, Path]] = []
    tables = document.get("data")
    if not isinstance(tables, Mapping):
        return found
    for table, entry in tables.items():
        file = entry.get("file") if isinstance(entry, Mapping) else None
        if not isinstance(file, str):
            continue
        relative = PurePosixPath(file)
        if relative.is_absolute() or ".." in relative.parts:
            raise UsageError(
                f"data.{table}.file: {file} is outside the spec's folder; the ConfigMap "
                "mounts files beside the spec only (copy it there and name it relatively)"
            )
        found.append((str(relative), base / relative))
    return found


def is_this_machine(url: str) -> bool:
    """Whether ``url``'s host is a loopback or unspecified address, or ``localhost``."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def local_warnings(spec: Spec) -> tuple[str, ...]:
    """One line per field of ``spec`` that names this machine, which inside a segment pod
    is the pod itself: what it is, and what to give instead."""
    here = "is this machine: in a segment pod it is the pod itself, so every segment would fail"
    fix = "give the service's address in the cluster"
    out: list[str] = []
    if is_this_machine(spec.target.base_url):
        out.append(
            f"target.base_url {spec.target.base_url} {here}; {fix} "
            "(--set target.base_url=http://SERVICE.NAMESPACE.svc:PORT)"
        )
    for kind, parts in (("endpoints", spec.endpoints), ("channels", spec.channels)):
        for name, part in parts.items():
            if part.url is not None and is_this_machine(part.url):
                out.append(f"{kind}.{name}.url {part.url} {here}; {fix}")
    process = spec.target.process
    if process is not None:
        for key in ("port", "pid", "pid_file", "name", "cgroup"):
            if getattr(process, key) is not None:
                out.append(
                    f"target.process.{key} samples a process of this machine, which no "
                    "segment pod can see; sample the service through "
                    "target.process.metrics_url, its Prometheus /metrics, read from any pod "
                    f"(--set target.process.{key}=null --set "
                    "target.process.metrics_url=http://SERVICE.NAMESPACE.svc:PORT/metrics), "
                    "or drop target.process"
                )
        if process.metrics_url is not None and is_this_machine(process.metrics_url):
            out.append(f"target.process.metrics_url {process.metrics_url} {here}; {fix}")
    metrics = spec.target.metrics
    if metrics is not None and is_this_machine(metrics.url):
        out.append(f"target.metrics.url {metrics.url} {here}; {fix}")
    return tuple(out)


def _config_map(
    loaded: LoadedSpec, name: str, labels: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The ConfigMap, and the items that mount its keys where the files were."""
    spec_key = _spec_key(loaded.path)
    raw = read_bytes(loaded.path)
    data = {spec_key: raw.decode("utf-8")}  # as written (the loader read it already)
    items = [{"key": spec_key, "path": spec_key}]
    document = yaml.safe_load(data[spec_key]) or {}
    size = len(raw)
    for i, (relative, path) in enumerate(data_files(document, loaded.path.parent)):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"data file {path}: {exc.strerror or exc}") from None
        key = f"data-{i + 1}-{dns_name(Path(relative).name, 200)}"
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"data file {path} is not UTF-8 text") from None
        items.append({"key": key, "path": relative})
        size += len(content)
    if size > CONFIGMAP_MAX_BYTES:
        raise UsageError(
            f"the spec and its data files are {size:,} bytes; a ConfigMap holds at most "
            f"{CONFIGMAP_MAX_BYTES:,}: build them into the image instead"
        )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-spec", "labels": labels | _part("spec")},
        "data": data,
    }
    return config, items


def _spec_key(path: Path) -> str:
    return path.name if re.fullmatch(r"[-._a-zA-Z0-9]+", path.name) else "spec.yaml"


def _part(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/component": component}


def segment_command(spec_key: str, count: int, run_id: str, options: K8sOptions) -> str:
    """The shell command of segment pod ``$JOB_COMPLETION_INDEX``."""
    index = "$((JOB_COMPLETION_INDEX+1))"
    words = [
        "exec sla-runner run",
        shlex.quote(f"{SPEC_DIR}/{spec_key}"),
        f"--segment {index}/{count}",
        f"--json {RESULTS_DIR}/{run_id}/segment-{index}.json",
    ]
    if options.workers > 1:
        words.append(f"--workers {options.workers}")
    words += [f"--set {shlex.quote(f'{k}={v}')}" for k, v in options.overrides.items()]
    return " ".join(words)


def merge_script(count: int, run_id: str, timeout_s: float) -> str:
    """The merge Job's shell script: wait for every segment's verdict (or the timeout),
    then merge those present (missing segments make the merge invalid, naming them)."""
    folder = f"{RESULTS_DIR}/{run_id}"
    wait_s = math.ceil(timeout_s)
    return f"""\
dir={folder}
deadline=$(( $(date +%s) + {wait_s} ))
while :; do
  found=0
  for i in $(seq 1 {count}); do [ -s "$dir/segment-$i.json" ] && found=$((found+1)); done
  [ "$found" -eq {count} ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$found of {count} segment verdicts after {wait_s}s: merging those present" >&2
    break
  fi
  sleep {POLL_S}
done
set --
for i in $(seq 1 {count}); do
  [ -s "$dir/segment-$i.json" ] && set -- "$@" "$dir/segment-$i.json"
done
if [ "$#" -eq 0 ]; then
  echo "no segment verdict arrived in $dir within {wait_s}s" >&2
  exit 4
fi
exec sla-runner merge "$@" --junit "$dir/junit.xml" --json "$dir/verdict.json"
"""


def _container(name: str, image: str, script: str, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "command": ["/bin/sh", "-c"],
        "args": [script],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
            {"name": "results", "mountPath": RESULTS_DIR},
        ],
    }


def _pod(container: dict[str, Any], name: str, labels: dict[str, str], items: list[Any]) -> Any:
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [
                {"name": "spec", "configMap": {"name": f"{name}-spec", "items": items}},
                {"name": "results", "persistentVolumeClaim": {"claimName": f"{name}-results"}},
            ],
        },
    }


def _check_every_part_carries_load(loaded: LoadedSpec, options: K8sOptions) -> None:
    """Each pod's segment (and each of its workers' parts) planned as that pod will plan
    it: a PlanError (exit 2) here when one would carry no load or get no data row, which
    in the cluster would be a pod that exits 2 and a merge without its verdict."""
    count, workers = options.parallelism, options.workers
    asked = f"--parallelism {count}"
    if workers > 1:
        asked += (
            f" --workers {workers}: the pods' {count * workers} workers share the load as "
            f"{count * workers} segments"
        )
    for index in range(1, count + 1):
        for part in Segment(index, count).split(workers):
            try:
                build_plan(loaded.spec, part, loaded.tables)
            except PlanError as exc:
                raise PlanError(f"{asked}: {exc}") from None


def manifests(loaded: LoadedSpec, options: K8sOptions) -> Manifests:
    """The manifests of one run of ``loaded`` split over ``options.parallelism`` pods."""
    count = options.parallelism
    if count < 1:
        raise UsageError(f"--parallelism expects a whole number of 1 or more, got {count}")
    _check_every_part_carries_load(loaded, options)
    name = dns_name(options.name or loaded.spec.name)
    run_id = dns_name(options.run_id or time.strftime("%Y%m%d-%H%M%S", time.gmtime()), 63)
    labels = {"app.kubernetes.io/name": "sla-runner", "app.kubernetes.io/instance": name}
    config, items = _config_map(loaded, name, labels)
    duration_s = build_plan(loaded.spec).duration_ns / 1e9
    timeout_s = options.merge_timeout_s
    if timeout_s is None:
        timeout_s = duration_s + MERGE_SLACK_S
    pvc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{name}-results", "labels": labels | _part("results")},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": options.storage}},
        },
    }
    if options.storage_class:
        pvc["spec"]["storageClassName"] = options.storage_class
    command = segment_command(_spec_key(loaded.path), count, run_id, options)
    segment = _container("segment", options.image, command, str(options.workers), options.memory)
    if options.secret:
        segment["envFrom"] = [{"secretRef": {"name": options.secret}}]
    seg_labels = labels | _part("segment")
    segments = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{name}-segments", "labels": seg_labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": count,
            "parallelism": count,
            "backoffLimitPerIndex": 0,
            "activeDeadlineSeconds": math.ceil(duration_s + MERGE_SLACK_S),
            "template": _pod(segment, name, seg_labels, items),
        },
    }
    merge_labels = labels | _part("merge")
    merger = _container(
        "merge", options.image, merge_script(count, run_id, timeout_s), "100m", "256Mi"
    )
    merge = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{name}-merge", "labels": merge_labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": math.ceil(timeout_s + MERGE_SLACK_S),
            "template": _pod(merger, name, merge_labels, items),
        },
    }
    documents: Sequence[tuple[str, dict[str, Any]]] = [
        ("configmap.yaml", config),
        ("pvc.yaml", pvc),
        ("job-segments.yaml", segments),
        ("job-merge.yaml", merge),
    ]
    if options.namespace:
        for _, doc in documents:
            doc["metadata"]["namespace"] = options.namespace
    return Manifests(tuple(documents), local_warnings(loaded.spec))


__all__ = [
    "K8sOptions",
    "Manifests",
    "data_files",
    "dns_name",
    "is_this_machine",
    "local_warnings",
    "manifests",
    "merge_script",
    "segment_command",
]
