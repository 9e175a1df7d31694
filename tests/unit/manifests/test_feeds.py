"""A Feed renders as a Deployment of feed workers, with no port and a token by reference."""

from __future__ import annotations

from sapwood.manifests.render import render_object
from sapwood.specs.objects import Feed, parse_object
from sapwood.testing.feeds import feed


def test_a_feed_is_a_deployment_of_workers() -> None:
    obj = parse_object(feed("ids", workers={"min": 1, "max": 4}))
    assert isinstance(obj, Feed)
    [deployment] = render_object(obj, "research")
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["name"] == "feed-ids"
    assert "replicas" not in deployment["spec"]  # autoscaled: the scaler sets it
    assert deployment["metadata"]["annotations"]["sapwood.dev/replicas-max"] == "4"
    [main] = deployment["spec"]["template"]["spec"]["containers"]
    assert main["command"] == ["python", "-m", "sapwood.feeds.worker"]
    assert "ports" not in main
    env = {e["name"]: e for e in main["env"]}
    assert env["SAPWOOD_KIND"]["value"] == "Feed"
    assert "secretKeyRef" in env["SAPWOOD_TOKEN"]["valueFrom"]
