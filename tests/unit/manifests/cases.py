"""The specs every Kubernetes test renders: the quickstart examples and richer ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sapwood.manifests import Manifest, render_object
from sapwood.specs.documents import load_documents, parse_documents
from sapwood.specs.objects import AnyObject, parse_object

ROOT = Path(__file__).resolve().parents[3]
# The quickstart has no Feed (a feed needs a registered model): the network-defense one.
EXAMPLES = [
    *sorted((ROOT / "examples" / "quickstart").glob("*.yaml")),
    ROOT / "examples" / "network-defense" / "feed.yaml",
]
TEAM = "research"


def obj(kind: str, name: str, spec: dict[str, Any], **meta: Any) -> AnyObject:
    body = {"apiVersion": "sapwood/v1", "kind": kind, "metadata": {"name": name, **meta}}
    return parse_object({**body, "spec": spec})


def example_objects() -> list[AnyObject]:
    out: list[AnyObject] = []
    for path in EXAMPLES:
        out += parse_documents(load_documents(path.read_text(), source=str(path)))
    return out


def rich_objects() -> list[AnyObject]:
    """One of each feature the renderer maps, with a long name to exercise shortening."""
    probe_timing = {"initialDelay": "1500ms", "period": "250ms", "timeout": "2s"}
    return [
        obj(
            "Job",
            "gang-train",
            {
                "command": ["torchrun", "train.py"],
                "image": "ghcr.io/acme/train:1",
                "replicas": 4,
                "restart": "Never",
                "resources": {"cpu": "8", "memory": "32Gi", "gpu": 2, "gpuModel": "A100"},
                "nodeSelector": {"pool": "gpu"},
                "priority": "high",
                "volumes": [{"name": "data", "mountPath": "/data", "size": "100Gi"}],
                "activeDeadline": "12h",
                "workdir": "/work",
                "env": {"EPOCHS": "3"},
            },
            uid="11111111-2222-3333-4444-555555555555",
            generation=4,
        ),
        obj("Job", "sweep", {"command": "python sweep.py", "replicas": 2, "completions": 10}),
        obj("Job", "x" * 63, {"command": "true", "resources": {"cpu": 0, "memory": 0}}),
        obj(
            "Service",
            "web-exec",
            {
                "command": ["serve"],
                "replicas": {"min": 1, "max": 5},
                "readiness": {"exec": {"command": ["cat", "/ready"]}, **probe_timing},
                "liveness": {"http": {"path": "/healthz", "port": 9000}, "successThreshold": 3},
                "volumes": [{"name": "cache", "mountPath": "/cache"}],
                "resources": {"cpu": "1500m", "memory": "1000000", "gpu": 1},
                "terminationGracePeriod": "90s",
            },
        ),
        obj("Service", "1st-web", {"command": "serve", "readiness": {"tcp": {"port": 7000}}}),
        obj("Workspace", "notebook", {"volumes": [{"name": "home", "mountPath": "/home/jovyan"}]}),
        obj(
            "Workspace",
            "paused-shell",
            {
                "tool": "command",
                "command": "sleep infinity",
                "paused": True,
                "image": "ubuntu:24.04",
                "nodeSelector": {"kubernetes.io/arch": "amd64"},
                "volumes": [
                    {"name": "a", "mountPath": "/a", "size": "1Gi"},
                    {"name": "b-2", "mountPath": "/b"},
                ],
            },
        ),
        obj("Workspace", "y" * 63, {"tool": "command", "command": "true"}, team="vision"),
    ]


def all_objects() -> list[AnyObject]:
    return example_objects() + rich_objects()


def render(o: AnyObject, **kwargs: Any) -> list[Manifest]:
    return render_object(o, TEAM, **kwargs)


def find(manifests: list[Manifest], kind: str) -> Manifest:
    """The one manifest of ``kind``; fails when there is not exactly one."""
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1, [m["kind"] for m in manifests]
    return found[0]


def main_container(workload: Manifest) -> Manifest:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Manifest = containers[0]
    return container


def env_of(container: Manifest) -> dict[str, Any]:
    """name -> value, or the valueFrom mapping; fails on a repeated name."""
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names)), names
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
