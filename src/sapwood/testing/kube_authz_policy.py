"""ValidatingAdmissionPolicies in the Kubernetes API double, evaluated with a real CEL engine.

`PolicyAdmission.admit` runs after authorisation on every write: each
ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1) whose policy matches the
request (``matchConstraints.resourceRules`` by group, operation and resource, a
``namespaceSelector``/``objectSelector`` with ``matchLabels``, the binding's own
``matchResources`` likewise) and whose ``matchConditions`` all hold has its ``validations``
evaluated by cel-python (``celpy``) over ``object``, ``oldObject``, ``request`` (operation,
userInfo, namespace, name, resource, kind) and ``namespaceObject``. A failed validation of a
binding with the ``Deny`` action answers as the real dispatcher does: ``<resource> "<name>" is
forbidden: ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request:
<message>``, with the validation's ``reason`` (default Invalid: 422; Forbidden: 403). An
expression that cannot be evaluated follows ``failurePolicy`` (default Fail).

Not evaluated: ``params``/``paramRef``, ``variables``, ``messageExpression``,
``auditAnnotations``, ``matchExpressions`` in selectors, and the Warn and Audit actions (only
Deny has an effect here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

from sapwood.testing.kube_rbac import Attributes, qualified_resource
from sapwood.testing.kube_store import RESOURCES, ApiError, KubeStore, Obj

_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413}


class _ExpressionError(Exception):
    pass


def _labels_match(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    wanted = (selector or {}).get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def _rule_matches(rule: Mapping[str, Any], attrs: Attributes, operation: str) -> bool:
    def has(key: str, value: str) -> bool:
        return any(v in ("*", value) for v in rule.get(key) or [])

    resources = rule.get("resources") or []
    names = rule.get("resourceNames") or []
    return (
        has("apiGroups", attrs.api_group)
        and has("operations", operation)
        and any(r in ("*", attrs.full_resource) for r in resources)
        and (not names or attrs.name in names)
    )


def _resources_match(
    match: Mapping[str, Any] | None,
    attrs: Attributes,
    operation: str,
    *,
    obj_labels: Mapping[str, str],
    namespace: Obj | None,
    require_rules: bool,
) -> bool:
    match = match or {}
    rules = match.get("resourceRules") or []
    if (rules or require_rules) and not any(_rule_matches(r, attrs, operation) for r in rules):
        return False
    if namespace is not None:
        ns_labels = (namespace.get("metadata") or {}).get("labels") or {}
        if not _labels_match(match.get("namespaceSelector"), ns_labels):
            return False
    return _labels_match(match.get("objectSelector"), obj_labels)


class PolicyAdmission:
    """Evaluates the store's ValidatingAdmissionPolicies on writes. See the module docstring."""

    def __init__(self, store: KubeStore) -> None:
        self.store = store
        self._env = celpy.Environment()
        self._programs: dict[str, Any] = {}

    def _evaluate(self, expression: str, activation: Mapping[str, Any]) -> bool:
        try:
            program = self._programs.get(expression)
            if program is None:
                program = self._env.program(self._env.compile(expression))
                self._programs[expression] = program
            result = program.evaluate(dict(activation))
        except Exception as error:  # celpy raises its own parse and evaluation errors
            raise _ExpressionError(str(error)) from error
        if isinstance(result, Exception):
            raise _ExpressionError(str(result))
        if not isinstance(result, bool | celtypes.BoolType):
            raise _ExpressionError(f"expression {expression!r} did not evaluate to a bool")
        return bool(result)

    def admit(self, attrs: Attributes, *, operation: str, obj: Obj | None, old: Obj | None) -> None:
        """Raises the dispatcher's refusal for the first binding whose policy denies."""
        with self.store.lock:
            objects = dict(self.store.objects)
        namespaced = RESOURCES.get(attrs.resource, ("", "", False))[2]
        namespace = objects.get(("namespaces", "", attrs.namespace)) if namespaced else None
        subject = obj if obj is not None else (old or {})
        obj_labels = (subject.get("metadata") or {}).get("labels") or {}
        name = (subject.get("metadata") or {}).get("name", attrs.name)
        activation = {
            "object": json_to_cel(obj),
            "oldObject": json_to_cel(old),
            "namespaceObject": json_to_cel(namespace),
            "request": json_to_cel(
                {
                    "operation": operation,
                    "name": name,
                    "namespace": attrs.namespace if namespaced else "",
                    "resource": {"group": attrs.api_group, "resource": attrs.resource},
                    "subResource": attrs.subresource,
                    "userInfo": {"username": attrs.user.name, "groups": list(attrs.user.groups)},
                }
            ),
        }
        bindings = sorted(
            (o for (p, _, _), o in objects.items() if p == "validatingadmissionpolicybindings"),
            key=lambda b: b["metadata"]["name"],
        )
        for binding in bindings:
            spec = binding.get("spec") or {}
            policy = objects.get(("validatingadmissionpolicies", "", spec.get("policyName", "")))
            if policy is None or "Deny" not in (spec.get("validationActions") or []):
                continue
            policy_spec = policy.get("spec") or {}
            matches = [
                _resources_match(
                    match,
                    attrs,
                    operation,
                    obj_labels=obj_labels,
                    namespace=namespace,
                    require_rules=required,
                )
                for match, required in (
                    (policy_spec.get("matchConstraints"), True),
                    (spec.get("matchResources"), False),
                )
            ]
            if not all(matches):
                continue
            message = self._violation(policy_spec, activation)
            if message is None:
                continue
            text, reason = message
            refusal = (
                f"ValidatingAdmissionPolicy '{policy['metadata']['name']}' with binding "
                f"'{binding['metadata']['name']}' denied request: {text}"
            )
            resource = qualified_resource(attrs.resource, attrs.api_group)
            what = f'{resource} "{name}"' if name else resource
            raise ApiError(_CODES.get(reason, 422), reason, f"{what} is forbidden: {refusal}")

    def _violation(
        self, policy_spec: Mapping[str, Any], activation: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """(message, reason) of the first failed validation; None when the request passes."""
        fail_closed = policy_spec.get("failurePolicy", "Fail") == "Fail"
        try:
            for condition in policy_spec.get("matchConditions") or []:
                if not self._evaluate(condition["expression"], activation):
                    return None
        except _ExpressionError as error:
            return (
                (f"failed to evaluate match conditions: {error}", "Invalid")
                if fail_closed
                else None
            )
        for validation in policy_spec.get("validations") or []:
            expression = validation["expression"]
            reason = validation.get("reason") or "Invalid"
            try:
                if self._evaluate(expression, activation):
                    continue
            except _ExpressionError as error:
                if not fail_closed:
                    continue
                return f"expression '{expression}' resulted in error: {error}", reason
            return validation.get("message") or f"failed expression: {expression}", reason
        return None
