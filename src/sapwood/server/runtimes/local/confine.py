"""Preparing one unit's place in the sandbox on disk: team uids, its private working
folder, volume ownership and the token file. Blocking: called from launch_unit's thread."""

from __future__ import annotations

import glob
import json
import os
import pwd
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from sapwood.server.runtimes.local.records import write_atomic
from sapwood.server.runtimes.local.sandbox import (
    FIRST_TEAM_UID,
    Confinement,
    Sandbox,
    assign_uid,
    parse_uid_map,
)

UID_MAP = "team-uids.json"
WORK = "work"
TOKEN = "token"
TOKEN_ENV = "SAPWOOD_TOKEN"
GPU_DEVICE_GLOB = "/dev/nvidia*"


class TeamUids:
    """Each team's uid, kept in data_dir/team-uids.json so it never changes across
    restarts (files in a team's volumes stay its own). Thread-safe."""

    def __init__(self, data_dir: Path, *, first: int = FIRST_TEAM_UID) -> None:
        self._path = data_dir / UID_MAP
        self._first = first
        self._lock = threading.Lock()
        self._assigned: dict[str, int] | None = None  # read once; this runtime owns the file

    def uid_of(self, team: str) -> int:
        with self._lock:
            if self._assigned is None:
                text = self._path.read_text(encoding="utf-8") if self._path.exists() else "{}"
                self._assigned = parse_uid_map(text)
            uid = assign_uid(self._assigned, team, first=self._first, taken=_is_system_uid)
            if self._assigned.get(team) != uid:
                write_atomic(self._path, _dump({**self._assigned, team: uid}))
                self._assigned[team] = uid
            return uid


def prepare(
    sandbox: Sandbox,
    *,
    unit_dir: Path,
    team: str,
    env: Mapping[str, str],
    volume_dirs: Mapping[str, Path],
    workdir: str | None,
    gpus: int,
    uids: TeamUids,
    hidden: Sequence[Path],
) -> Confinement:
    """Creates the unit's work folder and token file, owned by the team's uid when teams
    run apart, and gives the team its volumes."""
    uid = uids.uid_of(team) if sandbox.team_uids else None
    work_dir = unit_dir / WORK
    work_dir.mkdir(mode=0o700, exist_ok=True)
    token_file = None
    if TOKEN_ENV in env:
        token_file = unit_dir / TOKEN
        _write_private(token_file, env[TOKEN_ENV])
    if uid is not None:
        _give(work_dir, uid, recursive=True)
        if token_file is not None:
            os.chown(token_file, uid, uid)
        for directory in volume_dirs.values():
            _give(directory, uid, recursive=True)
    return Confinement(
        work_dir=work_dir,
        token_file=token_file,
        volumes=dict(volume_dirs),
        workdir=workdir,
        uid=uid,
        gpu_devices=tuple(sorted(glob.glob(GPU_DEVICE_GLOB))) if gpus else (),
        hidden=tuple(hidden),
    )


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _give(directory: Path, uid: int, *, recursive: bool) -> None:
    """Makes `directory` the team's (mode 0700). Walks its contents only when the folder
    itself is not the team's yet (a volume made before teams ran apart)."""
    if directory.stat().st_uid == uid:
        return
    if recursive:
        for root, dirs, files in os.walk(directory):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), uid, uid)
    os.chown(directory, uid, uid)
    os.chmod(directory, 0o700)


def _is_system_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _dump(assigned: Mapping[str, int]) -> str:
    return json.dumps(dict(sorted(assigned.items())), indent=2) + "\n"
