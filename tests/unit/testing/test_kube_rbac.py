"""The double's RBAC rules as the real authorizer and escalation check apply them."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.testing.kube_authz_policy import PolicyAdmission
from sapwood.testing.kube_rbac import (
    Attributes,
    UserInfo,
    compact_rules,
    compact_string,
    escalation_refusal,
    missing_rules,
    request_verb,
    rule_allows,
    service_account_user,
)
from sapwood.testing.kube_store import ApiError, KubeStore

USER = service_account_user("sapwood", "sapwood")


def attrs(verb: str, resource: str, sub: str = "", name: str = "", group: str = "") -> Attributes:
    return Attributes(USER, verb, group, resource, subresource=sub, namespace="ns", name=name)


@pytest.mark.parametrize(
    ("method", "name", "watch", "verb"),
    [
        ("GET", "x", False, "get"),
        ("GET", "", False, "list"),
        ("GET", "", True, "watch"),
        ("POST", "", False, "create"),
        ("PUT", "x", False, "update"),
        ("PATCH", "x", False, "patch"),
        ("DELETE", "x", False, "delete"),
        ("DELETE", "", False, "deletecollection"),
    ],
)
def test_request_verbs(method: str, name: str, watch: bool, verb: str) -> None:
    assert request_verb(method, name=name, watch=watch) == verb


def test_a_subresource_needs_its_own_grant_or_a_star_form() -> None:
    pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    assert rule_allows(pods, attrs("get", "pods"))
    assert not rule_allows(pods, attrs("get", "pods", "log"))
    logs = {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}
    assert rule_allows(logs, attrs("get", "pods", "log"))
    assert not rule_allows(logs, attrs("get", "pods"))


def test_resource_names_restrict_to_named_objects_and_never_allow_list() -> None:
    rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}
    named = {**rule, "resourceNames": ["token"]}
    assert rule_allows(named, attrs("get", "secrets", name="token"))
    assert not rule_allows(named, attrs("get", "secrets", name="other"))
    assert not rule_allows(named, attrs("list", "secrets"))


def test_the_escalation_check_reports_what_is_missing_compacted() -> None:
    owned = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    wanted = [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]}]
    missing = missing_rules(owned, wanted)
    assert [compact_string(r) for r in compact_rules(missing)] == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}',
    ]
    message = escalation_refusal(UserInfo("alice", ("dev",)), missing, [])
    assert message.startswith(
        'user "alice" (groups=["dev"]) is attempting to grant RBAC permissions not currently '
        'held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
    )


def test_star_rules_cover_everything_but_named_rules_do_not_cover_unnamed() -> None:
    star = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    assert (
        missing_rules(star, [{"apiGroups": ["apps"], "resources": ["x/y"], "verbs": ["z"]}]) == []
    )
    named = [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["a"]}
    ]
    assert missing_rules(named, [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])


def _policy_store(validation: dict[str, Any]) -> KubeStore:
    store = KubeStore()
    store.create("namespaces", "", {"metadata": {"name": "ns", "labels": {"team": "a"}}})
    spec = {
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["configmaps"],
                }
            ]
        },
        "validations": [validation],
    }
    store.create("validatingadmissionpolicies", "", {"metadata": {"name": "p"}, "spec": spec})
    binding = {
        "metadata": {"name": "b"},
        "spec": {"policyName": "p", "validationActions": ["Deny"]},
    }
    store.create("validatingadmissionpolicybindings", "", binding)
    return store


def test_a_validating_admission_policy_denies_with_the_dispatcher_s_words() -> None:
    store = _policy_store({"expression": "namespaceObject.metadata.labels['team'] == 'b'"})
    obj = {"metadata": {"name": "cm"}}
    with pytest.raises(ApiError) as denied:
        PolicyAdmission(store).admit(
            attrs("create", "configmaps"), operation="CREATE", obj=obj, old=None
        )
    assert (denied.value.code, denied.value.message) == (
        422,
        "configmaps \"cm\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied "
        "request: failed expression: namespaceObject.metadata.labels['team'] == 'b'",
    )
    # other operations and resources are not matched
    PolicyAdmission(store).admit(
        attrs("update", "configmaps"), operation="UPDATE", obj=obj, old=obj
    )
    PolicyAdmission(store).admit(attrs("create", "secrets"), operation="CREATE", obj=obj, old=None)


def test_a_forbidden_reason_answers_403_and_a_true_expression_admits() -> None:
    store = _policy_store(
        {"expression": "object.metadata.name == 'ok'", "message": "no", "reason": "Forbidden"}
    )
    admission = PolicyAdmission(store)
    admission.admit(
        attrs("create", "configmaps"),
        operation="CREATE",
        obj={"metadata": {"name": "ok"}},
        old=None,
    )
    with pytest.raises(ApiError) as denied:
        admission.admit(
            attrs("create", "configmaps"),
            operation="CREATE",
            obj={"metadata": {"name": "x"}},
            old=None,
        )
    assert denied.value.code == 403
    assert denied.value.message.endswith("denied request: no")
