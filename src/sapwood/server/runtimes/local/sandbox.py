"""Keeping teams apart on one machine: what confines a unit's workload, decided once.

A sandboxed workload runs under bubblewrap (a maintained, unprivileged sandboxing tool
from the distribution) in its own mount, PID and IPC namespaces:

- its root is built from the host's top-level folders, read-only, with a private /tmp,
  a private /run, a fresh /proc that lists only its own processes, and a minimal /dev
  (plus the NVIDIA devices when it holds GPUs);
- the server's home and runtime data are hidden under empty tmpfs mounts, last, so no
  bind can expose them again;
- what belongs to the unit appears under ``/sapwood``: ``work`` (its private working
  folder, the default working directory), ``volumes/<name>`` and ``token`` (its API
  token, in a file only it can read, instead of an environment other processes list).

When the server runs as root, bubblewrap starts as root and ``setpriv`` drops the
workload to its team's own unprivileged uid (no capabilities, no new privileges), so
even files the sandbox shows are guarded by the uid. Without root, bubblewrap runs as
the server's user in a user namespace: the namespaces still hide the server's files and
other units' processes, but units share the server's uid.

Everything here is pure except `detect`, which looks for the tools and runs one probe.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_ROOT = "/sapwood"
WORK_DIR = f"{SANDBOX_ROOT}/work"
TOKEN_FILE = f"{SANDBOX_ROOT}/token"
VOLUMES_DIR = f"{SANDBOX_ROOT}/volumes"
# Host folders that a sandbox never binds from the host: it gets its own.
PRIVATE_TOP = frozenset({"proc", "dev", "tmp", "run", "sapwood"})
FIRST_TEAM_UID = 200_000
SOURCE_ROOT = Path(__file__).resolve().parents[4]  # the folder holding the sapwood package
PROBE_TIMEOUT_S = 10.0
BWRAP_INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"


@dataclass(frozen=True)
class Sandbox:
    """How workloads are confined on this machine (see the module docstring).

    `bwrap` is None when namespaces are unavailable; `team_uids` when each team runs as
    its own uid; `missing` says, in words, what could not be enforced and why."""

    bwrap: str | None = None
    setpriv: str | None = None
    team_uids: bool = False
    missing: tuple[str, ...] = ()
    # (closed folder, path below it): software a team uid must run but cannot reach,
    # like a Python installed under /root; shown alone in a passable empty folder.
    exposed: tuple[tuple[str, str], ...] = ()

    @property
    def isolates(self) -> bool:
        """True when one team's workload cannot read the server's files or other units'."""
        return self.bwrap is not None

    def describe(self) -> str:
        """A short word for status and logs: "uid+namespaces", "namespaces" or "none"."""
        if self.bwrap is None:
            return "none"
        return "uid+namespaces" if self.team_uids else "namespaces"


OFF = Sandbox(missing=("isolation is turned off (SAPWOOD_ISOLATION=off)",))


@dataclass(frozen=True)
class Confinement:
    """One unit's place in the sandbox: the host paths behind /sapwood and its uid."""

    work_dir: Path
    token_file: Path | None
    volumes: Mapping[str, Path] = field(default_factory=dict)
    workdir: str | None = None  # the spec's own working directory, bound where it is
    uid: int | None = None  # None: the server's own uid
    gpu_devices: tuple[str, ...] = ()
    hidden: tuple[Path, ...] = ()  # the server's home and data: masked last


def wrap_command(
    sandbox: Sandbox, confinement: Confinement, command: Sequence[str], *, top: Sequence[str]
) -> list[str]:
    """The argv that runs `command` confined; `top` lists the host's root entries."""
    assert sandbox.bwrap is not None
    args = [sandbox.bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--hostname", "sapwood-unit"]
    for name in sorted(top):
        if name in PRIVATE_TOP:
            continue
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        else:
            args += ["--ro-bind", host, host]
    # A private /tmp anyone in the sandbox may write (as a host's: sticky, 1777).
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    args += ["--tmpfs", "/run"]
    args += expose_args(sandbox.exposed)
    args += ["--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve"]
    for device in confinement.gpu_devices:
        args += ["--dev-bind-try", device, device]
    args += ["--dir", SANDBOX_ROOT, "--bind", str(confinement.work_dir), WORK_DIR]
    if confinement.volumes:
        # bubblewrap makes missing parents 0700 root: the workload must pass through.
        args += ["--perms", "0755", "--dir", VOLUMES_DIR]
    for name, host_dir in sorted(confinement.volumes.items()):
        args += ["--bind", str(host_dir), f"{VOLUMES_DIR}/{name}"]
    if confinement.token_file is not None:
        args += ["--ro-bind", str(confinement.token_file), TOKEN_FILE]
    if confinement.workdir is not None:
        for parent in private_parents(confinement.workdir):
            # Made by the sandbox (under its private /tmp or /run): passable, so
            # absolute paths into the workdir work as they do outside.
            args += ["--perms", "0755", "--dir", parent]
        args += ["--bind", confinement.workdir, confinement.workdir]
    for hidden in confinement.hidden:
        args += ["--tmpfs", str(hidden)]
    args += ["--chdir", confinement.workdir or WORK_DIR]
    if confinement.uid is not None:
        assert sandbox.setpriv is not None
        uid = str(confinement.uid)
        args += ["--", sandbox.setpriv, "--reuid", uid, "--regid", uid, "--clear-groups"]
        args += ["--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
    return [*args, "--", *command]


def expose_args(exposed: Sequence[tuple[str, str]]) -> list[str]:
    """bubblewrap arguments that show each path read-only where it is. Its anchor is
    either a private top folder of the sandbox (/tmp, /run: a tmpfs already) or a closed
    folder, replaced by an empty, passable one; the folders between are passable."""
    args: list[str] = []
    masked: set[str] = set()
    for anchor, path in exposed:
        private = Path(anchor).parent == Path("/") and Path(anchor).name in PRIVATE_TOP
        if not private and anchor not in masked:
            args += ["--perms", "0755", "--tmpfs", anchor]
            masked.add(anchor)
        below = Path(path).relative_to(anchor).parts[:-1]
        for i in range(len(below)):
            args += ["--perms", "0755", "--dir", str(Path(anchor, *below[: i + 1]))]
        args += ["--ro-bind", path, path]
    return args


def exposures(paths: Sequence[Path]) -> tuple[tuple[str, str], ...]:
    """(anchor, path) for each path a workload must reach but would not: one under a
    private top folder (a checkout in /tmp: the sandbox has its own /tmp), anchored
    there; or one under a folder other users cannot enter, anchored at that folder
    (blocking: reads folder modes)."""
    found = []
    for path in paths:
        top = Path(*path.parts[:2]) if len(path.parts) > 2 else None
        if top is not None and top.name in PRIVATE_TOP:
            found.append((str(top), str(path)))
            continue
        closed = closed_folder(path / "x")
        if closed is not None and closed != path and closed != Path("/"):
            found.append((str(closed), str(path)))
    return tuple(found)


def private_parents(path: str) -> list[str]:
    """The folders above `path` that the sandbox itself creates: those below a private
    top-level folder (/tmp, /run), outermost first."""
    parts = Path(path).parts[1:-1]
    if not parts or parts[0] not in PRIVATE_TOP:
        return []
    return ["/" + "/".join(parts[: i + 1]) for i in range(1, len(parts))]


def unwrapped_returncode(code: int) -> int:
    """The workload's own returncode from bubblewrap's: bubblewrap exits 128 + N when the
    workload died of signal N, which Popen style writes as -N (an exit(137) of the
    workload's own reads the same way, as it does through a shell)."""
    if 128 < code < 128 + 65:
        return -(code - 128)
    return code


def sandbox_env(env: Mapping[str, str], confinement: Confinement, *, team: str) -> dict[str, str]:
    """The workload's environment inside the sandbox: paths as the workload sees them,
    and the token as a file rather than a variable."""
    out = {k: v for k, v in env.items() if k != "SAPWOOD_TOKEN"}
    if confinement.token_file is not None:
        out["SAPWOOD_TOKEN_FILE"] = TOKEN_FILE
    for name in confinement.volumes:
        out[volume_env_name(name)] = f"{VOLUMES_DIR}/{name}"
    out["HOME"] = WORK_DIR
    out["USER"] = out["LOGNAME"] = f"sapwood-{team}"
    out.pop("TMPDIR", None)  # the host's may not exist here; /tmp is private
    return out


def volume_env_name(volume: str) -> str:
    return "SAPWOOD_VOLUME_" + "".join(c if c.isalnum() else "_" for c in volume.upper())


def inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` or lies below it (both resolved)."""
    return path == folder or folder in path.parents


def exposes(workdir: Path, hidden: Sequence[Path]) -> Path | None:
    """The hidden folder a workdir would put within a workload's reach, or None."""
    for folder in hidden:
        if inside(workdir, folder):
            return folder
    return None


def other_teams(team: str, running: Sequence[str]) -> list[str]:
    """The teams other than `team` that have running units, sorted."""
    return sorted(set(running) - {team})


def assign_uid(
    assigned: Mapping[str, int], team: str, *, first: int, taken: Callable[[int], bool]
) -> int:
    """The uid of `team`: the one it has, else the lowest free one from `first` that is
    neither assigned to another team nor `taken` (a user of this machine)."""
    if team in assigned:
        return assigned[team]
    used = set(assigned.values())
    uid = first
    while uid in used or taken(uid):
        uid += 1
    return uid


def parse_uid_map(text: str) -> dict[str, int]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the team uid map is not an object")
    return {str(k): int(v) for k, v in data.items()}


def detect(*, enabled: bool, is_root: bool, which: Callable[[str], str | None]) -> Sandbox:
    """What this machine can enforce: looks for bubblewrap (and setpriv, as root) and
    runs one confined `true` to prove they work. Blocking."""
    if not enabled:
        return OFF
    bwrap = which("bwrap")
    if bwrap is None:
        return Sandbox(missing=(f"bubblewrap (bwrap) is not installed: {BWRAP_INSTALL_HINT}",))
    setpriv = which("setpriv") if is_root else None
    missing: list[str] = []
    if not is_root:
        missing.append("the server is not root: every team's workloads share its uid")
    elif setpriv is None:
        missing.append("setpriv (util-linux) is not installed: workloads keep the server's uid")
    candidate = Sandbox(bwrap=bwrap, setpriv=setpriv, team_uids=setpriv is not None)
    probe_uid = FIRST_TEAM_UID if candidate.team_uids else None
    failure = _probe(candidate, probe_uid)
    if failure is not None:
        return Sandbox(missing=(f"bubblewrap cannot create namespaces here: {failure}",))
    # Workloads run the server's interpreter and import Sapwood (run, serving, feeds):
    # its Python, its environment and its source tree (an editable install) must be
    # reachable, even under /root (pyenv as root) or in a checkout under /tmp.
    needed = (sys.base_prefix, sys.prefix, str(SOURCE_ROOT))
    exposed = exposures(sorted({Path(os.path.realpath(p)) for p in needed}))
    return Sandbox(
        bwrap=bwrap,
        setpriv=setpriv,
        team_uids=candidate.team_uids,
        missing=tuple(missing),
        exposed=exposed,
    )


def closed_folder(path: Path) -> Path | None:
    """The first folder above `path` that other users may not enter, or None."""
    for folder in reversed(path.parents):
        try:
            mode = folder.stat().st_mode
        except OSError:
            return folder
        if not mode & stat.S_IXOTH:
            return folder
    return None


def _probe(sandbox: Sandbox, uid: int | None) -> str | None:
    """None when a confined `true` runs; else what went wrong, in bubblewrap's words."""
    work = Path("/")
    confinement = Confinement(work_dir=work, token_file=None, uid=uid)
    argv = wrap_command(sandbox, confinement, ["true"], top=os.listdir("/"))
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "exit status"
    return None


def system_which(name: str) -> str | None:
    return shutil.which(name)
