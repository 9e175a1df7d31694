"""Pod Security admission for the API double (pure): the checks of the Pod Security
Standards' "baseline" and "restricted" levels that matter for Sapwood's pods, with the
API server's own words.

A namespace labelled `pod-security.kubernetes.io/enforce: baseline|restricted` refuses a
pod that fails a check of its level with 403 `pods "x" is forbidden: violates PodSecurity
"restricted:latest": <reason> (<detail>), ...`, the reasons in the order the real
evaluator runs its checks (baseline checks first, then restricted ones). The version label
(`enforce-version`) is read into the message only; every check is the latest version's.
As in the real plugin, only pods are enforced: a Job whose template would fail is
admitted, and its pods are refused when its controller makes them.

Checked: host namespaces, privileged, non-default capabilities, hostPath volumes, host
ports, seccomp Unconfined (baseline); allowPrivilegeEscalation, capabilities (drop ALL,
add only NET_BIND_SERVICE), volume types, runAsNonRoot, runAsUser=0, seccompProfile
(restricted). Not checked: AppArmor, SELinux options, /proc mount type, sysctls,
Windows host processes, probes' and lifecycle hooks' host fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]
Check = Callable[[Obj], tuple[str, str] | None]  # spec -> (reason, detail), None if allowed

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
LEVELS = ("privileged", "baseline", "restricted")

_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_ALLOWED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SECCOMP_OK = ("RuntimeDefault", "Localhost")


def _containers(spec: Obj) -> Iterator[Obj]:
    """Init, regular, then ephemeral containers, as the real visitor walks them."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _context(container: Obj) -> Obj:
    return container.get("securityContext") or {}


def _quote(items: list[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)


def _named(singular: str, names: list[str]) -> str:
    return f"{singular if len(names) == 1 else singular + 's'} {_quote(names)}"


# --- baseline -------------------------------------------------------------------------


def _host_namespaces(spec: Obj) -> tuple[str, str] | None:
    used = sorted(k for k in ("hostIPC", "hostNetwork", "hostPID") if spec.get(k))
    return ("host namespaces", ", ".join(used)) if used else None


def _privileged(spec: Obj) -> tuple[str, str] | None:
    bad = [c["name"] for c in _containers(spec) if _context(c).get("privileged") is True]
    if not bad:
        return None
    return "privileged", f"{_named('container', bad)} must not set securityContext.privileged=true"


def _capabilities_baseline(spec: Obj) -> tuple[str, str] | None:
    bad, added = [], set()
    for c in _containers(spec):
        extra = set((_context(c).get("capabilities") or {}).get("add") or []) - (
            _BASELINE_CAPABILITIES
        )
        if extra:
            bad.append(c["name"])
            added |= extra
    if not bad:
        return None
    detail = (
        f"{_named('container', bad)} must not include {_quote(sorted(added))} "
        "in securityContext.capabilities.add"
    )
    return "non-default capabilities", detail


def _host_path_volumes(spec: Obj) -> tuple[str, str] | None:
    bad = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    return ("hostPath volumes", _named("volume", bad)) if bad else None


def _host_ports(spec: Obj) -> tuple[str, str] | None:
    bad, ports = [], set()
    for c in _containers(spec):
        used = {str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")}
        if used:
            bad.append(c["name"])
            ports |= used
    if not bad:
        return None
    verb = "uses" if len(bad) == 1 else "use"
    noun = "hostPort" if len(ports) == 1 else "hostPorts"
    return "hostPort", f"{_named('container', bad)} {verb} {noun} {', '.join(sorted(ports))}"


def _seccomp_baseline(spec: Obj) -> tuple[str, str] | None:
    setters = []
    if ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get(
        "type"
    ) == "Unconfined":
        setters.append("pod")
    bad = [
        c["name"]
        for c in _containers(spec)
        if (_context(c).get("seccompProfile") or {}).get("type") == "Unconfined"
    ]
    if bad:
        setters.append(_named("container", bad))
    if not setters:
        return None
    detail = (
        f'{" and ".join(setters)} must not set securityContext.seccompProfile.type to "Unconfined"'
    )
    return "seccompProfile", detail


# --- restricted -----------------------------------------------------------------------


def _allow_privilege_escalation(spec: Obj) -> tuple[str, str] | None:
    bad = [
        c["name"]
        for c in _containers(spec)
        if _context(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    detail = f"{_named('container', bad)} must set securityContext.allowPrivilegeEscalation=false"
    return "allowPrivilegeEscalation != false", detail


def _capabilities_restricted(spec: Obj) -> tuple[str, str] | None:
    missing, adding, added = [], [], set()
    for c in _containers(spec):
        caps = _context(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            missing.append(c["name"])
        extra = {a for a in caps.get("add") or [] if a != "NET_BIND_SERVICE"}
        if extra:
            adding.append(c["name"])
            added |= extra
    details = []
    if missing:
        details.append(
            f'{_named("container", missing)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_named('container', adding)} must not include {_quote(sorted(added))} "
            "in securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _restricted_volumes(spec: Obj) -> tuple[str, str] | None:
    bad = sorted(
        v["name"] for v in spec.get("volumes") or [] if not _ALLOWED_VOLUMES & set(v) - {"name"}
    )
    if not bad:
        return None
    listed = " ".join(f'"{name}"' for name in bad)  # Go's %q of a []string
    return "restricted volume types", f"volumes [{listed}] have restricted types"


def _pod_and_containers(
    spec: Obj, field: str, *, bad: Callable[[Any], bool], ok: Callable[[Any], bool]
) -> tuple[list[str], list[str]]:
    """(explicit bad setters, containers left unset without a good pod-level value)."""
    setters: list[str] = []
    pod_value = (spec.get("securityContext") or {}).get(field)
    pod_ok = False
    if pod_value is not None:
        if bad(pod_value):
            setters.append("pod")
        else:
            pod_ok = ok(pod_value)
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _context(c).get(field)
        if value is not None:
            if bad(value):
                explicit.append(c["name"])
        elif not pod_ok:
            implicit.append(c["name"])
    if explicit:
        setters.append(_named("container", explicit))
    return setters, implicit


def _run_as_non_root(spec: Obj) -> tuple[str, str] | None:
    setters, implicit = _pod_and_containers(
        spec, "runAsNonRoot", bad=lambda v: v is False, ok=lambda v: v is True
    )
    if setters:
        detail = f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        return "runAsNonRoot != true", detail
    if implicit:
        detail = (
            f"pod or {_named('container', implicit)} must set securityContext.runAsNonRoot=true"
        )
        return "runAsNonRoot != true", detail
    return None


def _run_as_user(spec: Obj) -> tuple[str, str] | None:
    setters = []
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        setters.append("pod")
    bad = [c["name"] for c in _containers(spec) if _context(c).get("runAsUser") == 0]
    if bad:
        setters.append(_named("container", bad))
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def _seccomp_restricted(spec: Obj) -> tuple[str, str] | None:
    def kind(profile: Any) -> str:
        return str((profile or {}).get("type", ""))

    setters, implicit = _pod_and_containers(
        spec,
        "seccompProfile",
        bad=lambda p: kind(p) not in _SECCOMP_OK,
        ok=lambda p: kind(p) in _SECCOMP_OK,
    )
    if setters:
        values = sorted(
            {
                kind(p)
                for p in [
                    (spec.get("securityContext") or {}).get("seccompProfile"),
                    *(_context(c).get("seccompProfile") for c in _containers(spec)),
                ]
                if p is not None and kind(p) not in _SECCOMP_OK
            }
        )
        detail = (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
            f"to {_quote(values)}"
        )
        return "seccompProfile", detail
    if implicit:
        detail = (
            f"pod or {_named('container', implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
        return "seccompProfile", detail
    return None


# Baseline checks that a restricted check replaces run at the baseline level only.
_BASELINE: tuple[Check, ...] = (_host_namespaces, _host_ports, _privileged)
_BASELINE_ONLY: tuple[Check, ...] = (_capabilities_baseline, _host_path_volumes, _seccomp_baseline)
_RESTRICTED: tuple[Check, ...] = (
    _allow_privilege_escalation,
    _capabilities_restricted,
    _restricted_volumes,
    _run_as_non_root,
    _run_as_user,
    _seccomp_restricted,
)


def violations(level: str, spec: Obj) -> list[tuple[str, str]]:
    """(reason, detail) for each check of `level` the pod spec fails, in the real order."""
    if level == "baseline":
        checks = (*_BASELINE, *_BASELINE_ONLY)
    elif level == "restricted":
        checks = (*_BASELINE, *_RESTRICTED)
    else:
        return []
    return [found for check in checks if (found := check(spec)) is not None]


def refusal(namespace_labels: dict[str, str], spec: Obj) -> str | None:
    """What follows `pods "x" is forbidden: ` when the namespace's enforced level refuses
    the pod; None when it is admitted (no label, "privileged", or no violation)."""
    level = namespace_labels.get(ENFORCE_LABEL, "privileged")
    found = violations(level, spec)
    if not found:
        return None
    version = namespace_labels.get(ENFORCE_VERSION_LABEL, "latest")
    detail = ", ".join(f"{reason} ({text})" if text else reason for reason, text in found)
    return f'violates PodSecurity "{level}:{version}": {detail}'
