"""Authentication and RBAC authorisation for the Kubernetes API double, as kube-apiserver does.

A bearer token names a user: ``double-token`` is the cluster admin (group
``system:masters``, never authorised, as the real privileged group), and
`Authorizer.token_for` issues a token for a ServiceAccount
(``system:serviceaccount:<ns>:<name>`` in the groups ``system:serviceaccounts``,
``system:serviceaccounts:<ns>`` and ``system:authenticated``), valid while the account
exists. Anything else is 401. ``Impersonate-User`` / ``Impersonate-Group`` headers are
honoured for callers allowed the ``impersonate`` verb, as the real impersonation filter does.

Every request is turned into attributes (verb, API group, resource/subresource, namespace,
name) and authorised from the RBAC objects in the store (ClusterRole(Binding),
Role(Binding)) with the real rule matching (``*``, ``*/sub``, resourceNames); a refusal is
403 with the real message. A server-side apply of an absent object needs ``create`` too.
Creating or updating a (Cluster)RoleBinding runs the escalation check (``bind`` on the role,
or every permission of it already held) and a (Cluster)Role the ``escalate`` check. Every
decision is kept in `Authorizer.decisions`, so tests can see which grants were used.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sapwood.testing.kube_store import ApiError, KubeStore, Obj

ADMIN_TOKEN = "double-token"
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
RBAC_GROUP = "rbac.authorization.k8s.io"
Rule = Mapping[str, Any]


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = (AUTHENTICATED,)

    @property
    def is_master(self) -> bool:
        return MASTERS in self.groups


ADMIN = UserInfo("kubernetes-admin", (MASTERS, AUTHENTICATED))


def service_account_user(namespace: str, name: str) -> UserInfo:
    """The user a ServiceAccount's token authenticates as."""
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED)
    return UserInfo(f"system:serviceaccount:{namespace}:{name}", groups)


def _go_strings(values: Iterable[str]) -> str:
    """A Go ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def qualified_resource(resource: str, group: str) -> str:
    """``pods``, ``rolebindings.rbac.authorization.k8s.io``: a GroupResource as Go prints it."""
    return f"{resource}.{group}" if group else resource


def forbidden(resource: str, group: str, name: str, message: str) -> ApiError:
    """apierrors.NewForbidden: ``<resource>[ "<name>"] is forbidden: <message>``."""
    what = qualified_resource(resource, group) + (f' "{name}"' if name else "")
    return ApiError(403, "Forbidden", f"{what} is forbidden: {message}")


@dataclass(frozen=True)
class Attributes:
    """What a request asks, as the API server's RequestInfo and authorizer see it."""

    user: UserInfo
    verb: str
    api_group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def refusal(self, reason: str = "") -> ApiError:
        """The 403 of the real authorization filter (responsewriters.Forbidden)."""
        who = (
            f'User "{self.user.name}" cannot {self.verb} resource "{self.full_resource}" '
            f'in API group "{self.api_group}"'
        )
        where = (
            f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        )
        message = who + where + (f": {reason}" if reason else "")
        return forbidden(self.resource, self.api_group, self.name, message)


def request_verb(method: str, *, name: str, watch: bool) -> str:
    """The RBAC verb of an HTTP request (the API server's RequestInfoFactory)."""
    if method == "GET":
        return "watch" if watch else ("get" if name else "list")
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


# --- rules ---------------------------------------------------------------------------------


def _has(values: Iterable[str], wanted: str) -> bool:
    return any(v in ("*", wanted) for v in values)


def resource_matches(rule: Rule, attrs: Attributes) -> bool:
    """rbac's ResourceMatches: ``*``, the exact ``res[/sub]``, or ``*/sub``."""
    for resource in rule.get("resources") or []:
        if resource in ("*", attrs.full_resource):
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def rule_allows(rule: Rule, attrs: Attributes) -> bool:
    names = rule.get("resourceNames") or []
    return (
        _has(rule.get("verbs") or [], attrs.verb)
        and _has(rule.get("apiGroups") or [], attrs.api_group)
        and resource_matches(rule, attrs)
        and (not names or attrs.name in names)
    )


def subject_matches(subject: Mapping[str, Any], user: UserInfo) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or ""
        return bool(namespace) and user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def role_rules(
    objects: Mapping[Any, Obj], role_ref: Mapping[str, Any], namespace: str
) -> list[Rule]:
    """The rules a roleRef names; ApiError(404) when the role does not exist."""
    kind, name = role_ref.get("kind"), role_ref.get("name", "")
    if kind == "ClusterRole":
        role = objects.get(("clusterroles", "", name))
        what = f'clusterrole.{RBAC_GROUP} "{name}" not found'
    else:
        role = objects.get(("roles", namespace, name))
        what = f'role.{RBAC_GROUP} "{name}" not found'
    if role is None:
        raise ApiError(404, "NotFound", what)
    return list(role.get("rules") or [])


def rules_for(
    objects: Mapping[Any, Obj], user: UserInfo, namespace: str
) -> tuple[list[Rule], list[str]]:
    """Every rule `user` holds in `namespace` (cluster-wide ones only when it is ""), and the
    resolution errors (bindings naming a missing role) the real resolver reports."""
    rules: list[Rule] = []
    errors: list[str] = []
    bindings = [o for (p, _, _), o in objects.items() if p == "clusterrolebindings"]
    if namespace:
        bindings += [
            o for (p, ns, _), o in objects.items() if p == "rolebindings" and ns == namespace
        ]
    for binding in bindings:
        if not any(subject_matches(s, user) for s in binding.get("subjects") or []):
            continue
        try:
            rules += role_rules(objects, binding.get("roleRef") or {}, namespace)
        except ApiError as error:
            errors.append(error.message)
    return rules, errors


def _atoms(rule: Rule) -> list[dict[str, Any]]:
    """A rule broken into one-group, one-resource, one-verb (and one-name) rules."""
    names = rule.get("resourceNames") or [None]
    urls = [
        {"nonResourceURLs": [u], "verbs": [v]}
        for u in rule.get("nonResourceURLs") or []
        for v in rule.get("verbs") or []
    ]
    return urls + [
        {
            "apiGroups": [g],
            "resources": [r],
            "verbs": [v],
            **({"resourceNames": [n]} if n is not None else {}),
        }
        for g in rule.get("apiGroups") or []
        for r in rule.get("resources") or []
        for n in names
        for v in rule.get("verbs") or []
    ]


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    for resource in wanted:
        if "*" in owned or resource in owned:
            continue
        if "/" not in resource or f"*/{resource.split('/', 1)[1]}" not in owned:
            return False
    return True


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """rbac validation's ruleCovers: `owner` grants everything `sub` does."""
    owner_names, sub_names = owner.get("resourceNames") or [], sub.get("resourceNames") or []

    def all_in(key: str) -> bool:
        owned = owner.get(key) or []
        return "*" in owned or set(sub.get(key) or []) <= set(owned)

    names_ok = not owner_names or (bool(sub_names) and set(sub_names) <= set(owner_names))
    if sub.get("nonResourceURLs"):
        owned_urls = owner.get("nonResourceURLs") or []
        return all_in("verbs") and all(
            any(o == u or (o.endswith("*") and u.startswith(o[:-1])) for o in owned_urls)
            for u in sub["nonResourceURLs"]
        )
    return (
        all_in("verbs")
        and all_in("apiGroups")
        and _resources_cover(owner.get("resources") or [], sub.get("resources") or [])
        and names_ok
    )


def missing_rules(owned: Sequence[Rule], wanted: Sequence[Rule]) -> list[dict[str, Any]]:
    """The parts of `wanted` no rule in `owned` covers."""
    return [a for rule in wanted for a in _atoms(rule) if not any(rule_covers(o, a) for o in owned)]


def compact_string(rule: Rule) -> str:
    """rbacv1helpers.CompactString: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = [
        f"{label}:{_go_strings(rule[key])}"
        for label, key in (
            ("APIGroups", "apiGroups"),
            ("Resources", "resources"),
            ("NonResourceURLs", "nonResourceURLs"),
            ("ResourceNames", "resourceNames"),
            ("Verbs", "verbs"),
        )
        if rule.get(key)
    ]
    return "{" + ", ".join(parts) + "}"


def compact_rules(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """Simple rules (one group, one resource, no names) of the same resource merged."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for rule in rules:
        groups, resources = rule.get("apiGroups") or [], rule.get("resources") or []
        if len(groups) == 1 and len(resources) == 1 and not rule.get("resourceNames"):
            key = (groups[0], resources[0])
            if key in merged:
                merged[key]["verbs"] += [v for v in rule["verbs"] if v not in merged[key]["verbs"]]
                continue
            merged[key] = {"apiGroups": list(groups), "resources": list(resources), "verbs": []}
            merged[key]["verbs"] = list(rule.get("verbs") or [])
            out.append(merged[key])
        else:
            out.append(dict(rule))
    return out


def escalation_refusal(user: UserInfo, missing: Sequence[Rule], errors: Sequence[str]) -> str:
    """The message of rbac validation's ConfirmNoEscalation."""
    lines = sorted({compact_string(r) for r in compact_rules(missing)})
    message = (
        f'user "{user.name}" (groups={_go_strings(user.groups)}) is attempting to grant RBAC '
        "permissions not currently held:\n" + "\n".join(lines)
    )
    if errors:
        message += f"; resolution errors: [{', '.join(errors)}]"
    return message


# --- the authorizer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    attributes: Attributes
    allowed: bool


@dataclass
class Authorizer:
    """Authenticates and authorises the double's requests from the RBAC objects it stores."""

    store: KubeStore
    tokens: dict[str, UserInfo] = field(default_factory=lambda: {ADMIN_TOKEN: ADMIN})
    decisions: list[Decision] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token_for(self, namespace: str, name: str) -> str:
        """A bearer token for the ServiceAccount (valid while the account exists)."""
        token = f"sa-token.{namespace}.{name}"
        with self._lock:
            self.tokens[token] = service_account_user(namespace, name)
        return token

    def authenticate(self, headers: Mapping[str, str]) -> UserInfo:
        """The user of the bearer token (then impersonation); ApiError(401) when unknown."""
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        with self._lock:
            user = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if user is not None and user.name.startswith("system:serviceaccount:"):
            namespace, name = user.name.split(":")[2:4]
            if ("serviceaccounts", namespace, name) not in self.store.objects:
                user = None  # the real token authenticator refuses tokens of deleted accounts
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return self._impersonated(user, headers)

    def _impersonated(self, user: UserInfo, headers: Mapping[str, str]) -> UserInfo:
        wanted = headers.get("impersonate-user")
        groups = [v.strip() for k, v in headers.items() if k == "impersonate-group"]
        if not wanted:
            return user
        if wanted.startswith("system:serviceaccount:") and wanted.count(":") == 3:
            namespace, name = wanted.split(":")[2:4]
            target = Attributes(
                user, "impersonate", "", "serviceaccounts", namespace=namespace, name=name
            )
            base = service_account_user(namespace, name)
        else:
            target = Attributes(user, "impersonate", "", "users", name=wanted)
            base = UserInfo(wanted, ())
        self.authorize(target)
        for group in groups:
            self.authorize(Attributes(user, "impersonate", "", "groups", name=group))
        chosen = tuple(groups) if groups else base.groups
        if AUTHENTICATED not in chosen:
            chosen = (*chosen, AUTHENTICATED)
        return UserInfo(wanted, chosen)

    def allows(self, attrs: Attributes) -> bool:
        """Whether RBAC allows `attrs`; the decision is recorded."""
        if attrs.user.is_master:
            allowed = True
        else:
            with self.store.lock:
                rules, _ = rules_for(self.store.objects, attrs.user, attrs.namespace)
            allowed = any(rule_allows(r, attrs) for r in rules)
        with self._lock:
            self.decisions.append(Decision(attrs, allowed))
        return allowed

    def authorize(self, attrs: Attributes) -> None:
        """Raises the real 403 when RBAC does not allow `attrs`."""
        if not self.allows(attrs):
            with self.store.lock:
                _, errors = rules_for(self.store.objects, attrs.user, attrs.namespace)
            raise attrs.refusal(f"RBAC: [{', '.join(errors)}]" if errors else "")

    def confirm_no_escalation(self, attrs: Attributes, obj: Obj) -> None:
        """The RBAC storage's check on writing a (Cluster)RoleBinding or a (Cluster)Role."""
        user, namespace = attrs.user, attrs.namespace
        if user.is_master:
            return
        name = (obj.get("metadata") or {}).get("name", attrs.name)
        if attrs.resource in ("rolebindings", "clusterrolebindings"):
            ref = obj.get("roleRef") or {}
            kind = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            bind = Attributes(
                user, "bind", RBAC_GROUP, kind, namespace=namespace, name=ref.get("name", "")
            )
            if self.allows(bind):
                return
            with self.store.lock:
                try:
                    wanted = role_rules(self.store.objects, ref, namespace)
                except ApiError as error:
                    raise forbidden(attrs.resource, RBAC_GROUP, name, error.message) from None
        else:
            escalate = Attributes(
                user, "escalate", RBAC_GROUP, attrs.resource, namespace=namespace, name=name
            )
            if self.allows(escalate):
                return
            wanted = list(obj.get("rules") or [])
        with self.store.lock:
            owned, errors = rules_for(self.store.objects, user, namespace)
        missing = missing_rules(owned, wanted)
        if missing:
            message = escalation_refusal(user, missing, errors)
            raise forbidden(attrs.resource, RBAC_GROUP, name, message)

    def used(self, user: UserInfo) -> set[tuple[str, str, str]]:
        """(API group, resource[/sub], verb) of every request `user` was allowed."""
        with self._lock:
            return {
                (d.attributes.api_group, d.attributes.full_resource, d.attributes.verb)
                for d in self.decisions
                if d.allowed and d.attributes.user.name == user.name
            }

    def refused(self, user: UserInfo) -> list[Attributes]:
        with self._lock:
            return [
                d.attributes
                for d in self.decisions
                if not d.allowed and d.attributes.user.name == user.name
            ]


def impersonate(api: Any, user: str, groups: Sequence[str] = ()) -> None:
    """Makes a `kubernetes.client.ApiClient` act as `user` (Impersonate-User, and one
    Impersonate-Group, the header the client can send once): the API server then authorises
    each request as that user, provided the caller may ``impersonate``. For an account
    ``system:serviceaccount:<ns>:<name>``, the server adds its groups itself."""
    api.set_default_header("Impersonate-User", user)
    for group in groups[:1]:
        api.set_default_header("Impersonate-Group", group)
