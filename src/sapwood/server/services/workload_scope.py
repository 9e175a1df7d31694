"""What a workload's own token may call: a pure decision over (scope, call).

Every workload (a Job, a Service, a Workspace or a Feed replica) gets a token scoped to its
object. Such a token is not a viewer of the team: it reaches its own object and what that
object needs, and nothing else. The allowed calls, by kind:

- every kind: ``GET`` its own object, its events, logs and metrics; ``POST`` its metrics;
  ``GET /whoami``;
- a Job: push model versions into its team's registry (``POST …/models/{name}/versions``);
- a Feed: lease and ack batches of its own feed, and read the model its spec names;
- a model Service: read the model its spec names, and its canary's.

Anything else is refused: a call about an object or a model the token cannot see answers
404 (its name does not leak), and any other call 403, saying what the token may do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sapwood.server.auth.scope import WorkloadScope
from sapwood.server.services.errors import ForbiddenError, NotFoundError, ServiceError
from sapwood.specs.objects import PLURALS

API = "/api/v1"
OBJECT = f"{API}/{{plural}}/{{name}}"  # an object's routes all start so
FEED = f"{API}/feeds/{{name}}"
MODELS = f"{API}/teams/{{team}}/models"
MODEL = f"{MODELS}/{{name}}"
MODEL_READS = frozenset({MODEL, f"{MODEL}/versions/{{ref}}", f"{MODEL}/versions/{{ref}}/artifact"})
MODEL_PUSH = f"{MODEL}/versions"
OWN_WRITES = frozenset({f"{OBJECT}/metrics"})
FEED_WORK = frozenset({f"{FEED}/lease", f"{FEED}/ack"})
ANY_SCOPE = frozenset({("GET", f"{API}/whoami")})


@dataclass(frozen=True)
class ApiCall:
    """One API request as the decision sees it: the matched route's template, not the URL."""

    method: str
    route: str  # e.g. "/api/v1/{plural}/{name}/metrics"
    params: Mapping[str, str] = field(default_factory=dict)  # the path's parameters
    team: str | None = None  # the ``?team=`` query parameter, if given


def check_call(scope: WorkloadScope, call: ApiCall) -> None:
    """Returns when ``scope`` may make ``call``; raises NotFoundError or ForbiddenError."""
    refusal = refuse(scope, call)
    if refusal is not None:
        raise refusal


def refuse(scope: WorkloadScope, call: ApiCall) -> ServiceError | None:
    """None when ``scope`` may make ``call``, else the error to answer with."""
    method, route = call.method.upper(), call.route
    if (method, route) in ANY_SCOPE:
        return None
    if route == OBJECT or route.startswith(f"{OBJECT}/"):
        return _object_call(scope, call, PLURALS.get(call.params.get("plural", ""), ""))
    if route.startswith(f"{FEED}/"):
        return _object_call(scope, call, "Feed")
    if route == MODEL or route.startswith(f"{MODEL}/"):
        return _model_call(scope, call)
    return _forbidden(scope, call)


def _object_call(scope: WorkloadScope, call: ApiCall, kind: str) -> ServiceError | None:
    name = call.params.get("name", "")
    team = call.team or scope.team
    if not scope.owns(kind, team, name):
        return NotFoundError(f"{kind.lower() or 'object'}/{name} not found in team {team}")
    if call.method.upper() == "GET":
        return None
    if call.method.upper() == "POST" and (
        call.route in OWN_WRITES or (kind == "Feed" and call.route in FEED_WORK)
    ):
        return None
    return _forbidden(scope, call)


def _model_call(scope: WorkloadScope, call: ApiCall) -> ServiceError | None:
    team, name = call.params.get("team", ""), call.params.get("name", "")
    method = call.method.upper()
    if team != scope.team:
        return NotFoundError(f"model/{name} not found in team {team}")
    if method == "POST" and call.route == MODEL_PUSH:
        if scope.kind == "Job":
            return None
        return ForbiddenError(
            f"the workload token of {scope} reads models; only a Job's token "
            "pushes them, into its own team"
        )
    if method == "GET":
        if name in scope.models and call.route in MODEL_READS:
            return None
        return NotFoundError(f"model/{name} not found in team {team}")
    return _forbidden(scope, call)


def _forbidden(scope: WorkloadScope, call: ApiCall) -> ForbiddenError:
    return ForbiddenError(
        f"this token belongs to the workload {scope}: it may {abilities(scope)}; "
        f"not {call.method.upper()} {call.route}",
        hint="a workload's token reaches its own object only; use a user's token for the rest",
    )


def abilities(scope: WorkloadScope) -> str:
    """What the token may do, in words (for refusals and docs)."""
    parts = [f"read {scope.kind.lower()}/{scope.name} and write its metrics"]
    if scope.kind == "Job":
        parts.append(f"push model versions into team {scope.team}")
    if scope.kind == "Feed":
        parts.append("lease and ack its batches")
    if scope.models:
        parts.append(
            f"read the model{'s' if len(scope.models) > 1 else ''} "
            + ", ".join(sorted(scope.models))
        )
    return ", ".join(parts)
