"""What `make demo` leaves running asks for little enough CPU that, on a 2-core machine,
a `cpu: 1` job of the user's is still admitted beside it."""

from __future__ import annotations

from pathlib import Path

import yaml

from sapwood.specs.objects import Feed, Service, Workspace, parse_object

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
# What the demo applies that keeps running (its Jobs finish).
DEMO_FILES = [
    *sorted((EXAMPLES / "quickstart").glob("*.yaml")),
    EXAMPLES / "network-defense" / "feed.yaml",
    EXAMPLES / "network-defense" / "service.yaml",
]
TWO_CORES_MILLIS = 2000


def _cpu_millis_at_most() -> dict[str, int]:
    """Each long-running demo object's CPU request with all its replicas or workers up."""
    asked: dict[str, int] = {}
    for path in DEMO_FILES:
        for document in yaml.safe_load_all(path.read_text()):
            obj = parse_object(document)
            cpu = obj.spec.resources.cpu
            if isinstance(obj, Service):
                asked[f"service/{obj.metadata.name}"] = cpu * obj.spec.replicas.max
            elif isinstance(obj, Feed):
                asked[f"feed/{obj.metadata.name}"] = cpu * obj.spec.workers.max
            elif isinstance(obj, Workspace):
                asked[f"workspace/{obj.metadata.name}"] = cpu
    return asked


def test_a_one_cpu_job_fits_beside_the_demo_on_two_cores() -> None:
    asked = _cpu_millis_at_most()
    assert {"service/hello-web", "service/antinex", "feed/traffic"} <= set(asked)
    assert TWO_CORES_MILLIS - sum(asked.values()) >= 1000, asked
