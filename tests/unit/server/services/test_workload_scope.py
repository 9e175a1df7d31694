"""What a workload's own token may call: its object and what that object needs, nothing else."""

from __future__ import annotations

import pytest

from sapwood.server.auth.scope import WorkloadScope, models_named
from sapwood.server.services.errors import ForbiddenError, NotFoundError
from sapwood.server.services.workload_scope import ApiCall, check_call, refuse

JOB = WorkloadScope("Job", "ml", "train")
FEED = WorkloadScope("Feed", "ml", "ids", frozenset({"clf"}))
SERVICE = WorkloadScope("Service", "ml", "web", frozenset({"clf", "clf2"}))

OBJ = "/api/v1/{plural}/{name}"
FEED_ROUTE = "/api/v1/feeds/{name}"
MODEL = "/api/v1/teams/{team}/models/{name}"


def obj(method: str, suffix: str, plural: str, name: str, team: str | None = None) -> ApiCall:
    return ApiCall(method, OBJ + suffix, {"plural": plural, "name": name}, team=team)


def feed(method: str, suffix: str, name: str) -> ApiCall:
    return ApiCall(method, f"{FEED_ROUTE}/{suffix}", {"name": name})


def model(method: str, suffix: str, name: str, team: str = "ml", **more: str) -> ApiCall:
    return ApiCall(method, MODEL + suffix, {"team": team, "name": name, **more})


ALLOWED = [
    pytest.param(JOB, ApiCall("GET", "/api/v1/whoami"), id="whoami"),
    pytest.param(JOB, obj("GET", "", "jobs", "train"), id="own-object"),
    pytest.param(JOB, obj("GET", "", "jobs", "train", team="ml"), id="own-object-team"),
    pytest.param(JOB, obj("GET", "/events", "jobs", "train"), id="own-events"),
    pytest.param(JOB, obj("GET", "/logs", "jobs", "train"), id="own-logs"),
    pytest.param(JOB, obj("POST", "/metrics", "jobs", "train"), id="own-metrics-write"),
    pytest.param(JOB, model("POST", "/versions", "anything"), id="job-pushes"),
    pytest.param(FEED, feed("POST", "lease", "ids"), id="feed-lease"),
    pytest.param(FEED, feed("POST", "ack", "ids"), id="feed-ack"),
    pytest.param(FEED, model("GET", "/versions/{ref}", "clf", ref="prod"), id="feed-model"),
    pytest.param(
        FEED, model("GET", "/versions/{ref}/artifact", "clf", ref="3"), id="feed-artifact"
    ),
    pytest.param(SERVICE, model("GET", "/versions/{ref}", "clf2", ref="1"), id="canary-model"),
]


@pytest.mark.parametrize(("scope", "call"), ALLOWED)
def test_a_workload_reaches_its_object_and_what_it_needs(
    scope: WorkloadScope, call: ApiCall
) -> None:
    assert refuse(scope, call) is None


HIDDEN = [
    pytest.param(JOB, obj("GET", "", "jobs", "other"), "job/other", id="other-job"),
    pytest.param(JOB, obj("GET", "/logs", "jobs", "other"), "job/other", id="other-logs"),
    pytest.param(JOB, obj("GET", "", "services", "train"), "service/train", id="other-kind"),
    pytest.param(JOB, obj("GET", "", "jobs", "train", team="web"), "team web", id="other-team"),
    pytest.param(JOB, obj("POST", "/metrics", "jobs", "other"), "job/other", id="other-metric"),
    pytest.param(FEED, feed("POST", "lease", "other"), "feed/other", id="other-feed-lease"),
    pytest.param(FEED, feed("GET", "results", "other"), "feed/other", id="other-feed-results"),
    pytest.param(JOB, feed("POST", "lease", "train"), "feed/train", id="job-is-no-feed"),
    pytest.param(JOB, model("GET", "/versions/{ref}", "clf", ref="1"), "model/clf", id="job-read"),
    pytest.param(SERVICE, model("GET", "", "secret"), "model/secret", id="unnamed-model"),
    pytest.param(SERVICE, model("GET", "", "clf", team="web"), "team web", id="model-team"),
    pytest.param(JOB, model("POST", "/versions", "clf", team="web"), "team web", id="push-team"),
]


@pytest.mark.parametrize(("scope", "call", "named"), HIDDEN)
def test_what_the_token_cannot_see_is_not_found(
    scope: WorkloadScope, call: ApiCall, named: str
) -> None:
    with pytest.raises(NotFoundError, match=named):
        check_call(scope, call)


FORBIDDEN = [
    pytest.param(JOB, ApiCall("GET", "/api/v1/{plural}", {"plural": "jobs"}), id="list-jobs"),
    pytest.param(JOB, ApiCall("POST", "/api/v1/apply"), id="apply"),
    pytest.param(JOB, ApiCall("POST", "/api/v1/tokens"), id="create-token"),
    pytest.param(JOB, ApiCall("GET", "/api/v1/events"), id="all-events"),
    pytest.param(JOB, ApiCall("GET", "/metrics"), id="prometheus"),
    pytest.param(JOB, ApiCall("GET", "/api/v1/teams/{team}/models", {"team": "ml"}), id="models"),
    pytest.param(JOB, obj("DELETE", "", "jobs", "train"), id="delete-itself"),
    pytest.param(JOB, obj("POST", "/pause", "jobs", "train"), id="pause-itself"),
    pytest.param(FEED, feed("POST", "records", "ids"), id="feed-ingests-not"),
    pytest.param(SERVICE, model("PUT", "/aliases/{alias}", "clf", alias="p"), id="alias"),
    pytest.param(SERVICE, model("POST", "/versions", "clf"), id="service-pushes-not"),
]


@pytest.mark.parametrize(("scope", "call"), FORBIDDEN)
def test_anything_else_is_forbidden_and_says_what_the_token_may_do(
    scope: WorkloadScope, call: ApiCall
) -> None:
    with pytest.raises(ForbiddenError, match=str(scope)):
        check_call(scope, call)


def test_the_refusal_lists_what_a_feed_token_may_do() -> None:
    refusal = refuse(FEED, ApiCall("GET", "/api/v1/{plural}", {"plural": "jobs"}))
    assert isinstance(refusal, ForbiddenError)
    assert "lease and ack its batches" in refusal.message
    assert "read the model clf" in refusal.message


def test_the_models_a_spec_names() -> None:
    assert models_named("Feed", {"model": "clf@production"}) == {"clf"}
    spec = {"model": "clf@production", "canary": {"model": "clf2@3", "weight": 10}}
    assert models_named("Service", spec) == {"clf", "clf2"}
    assert models_named("Service", {"command": ["python", "app.py"]}) == frozenset()
    assert models_named("Job", {"model": "clf@1"}) == frozenset()


def test_a_scope_parses_from_the_tokens_row_and_prints_back() -> None:
    scope = WorkloadScope.parse("Job/ml/train")
    assert (scope.kind, scope.team, scope.name) == ("Job", "ml", "train")
    assert str(scope) == "Job/ml/train"
    with pytest.raises(ValueError, match="Kind/team/name"):
        WorkloadScope.parse("Job//train")
