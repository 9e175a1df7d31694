"""The shim: a small supervisor process between the runtime and one unit's workload.

Usage: python -m sapwood.server.runtimes.local.shim UNIT_DIR

The runtime starts it in a new session, so it outlives the server (even a kill -9). It:

1. reads launch.json and becomes a child subreaper, so every orphaned descendant of the
   workload (double forks, setsid) is re-parented to it and can be found and reaped;
2. spawns the command in its own process group, joining the unit's cgroups, setting the
   CPU affinity and rlimits between fork and exec so no process of the unit escapes them;
3. writes workload.json (pid and start time), pumps stdout+stderr into the rotating log,
   forwards SIGTERM/SIGINT to the workload's process group;
4. when the workload's main process ends, SIGKILLs whatever it left behind (as a container
   does when its main process exits), then writes exit.json atomically and exits.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from sapwood.server.runtimes.base import UnitReason
from sapwood.server.runtimes.local import cgroups
from sapwood.server.runtimes.local.logfile import RotatingLogWriter
from sapwood.server.runtimes.local.procfs import (
    ProcessId,
    group_members,
    identify,
    live_descendants,
    read_stat,
    signal_group,
    signal_pids,
)
from sapwood.server.runtimes.local.records import (
    CURRENT_LOG,
    EXIT,
    LAUNCH,
    WORKLOAD,
    ExitInfo,
    LaunchSpec,
    exit_to_json,
    parse_launch,
    workload_to_json,
    write_atomic,
)
from sapwood.server.runtimes.local.sandbox import unwrapped_returncode

PR_SET_CHILD_SUBREAPER = 36
PIPE_DRAIN_TIMEOUT_S = 5.0


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


class Shim:
    """Runs one workload to its end; see the module docstring for the steps."""

    def __init__(self, unit_dir: Path, spec: LaunchSpec) -> None:
        self._unit_dir = unit_dir
        self._spec = spec
        self._child: subprocess.Popen[bytes] | None = None
        self._pending_signal: signal.Signals | None = None

    def run(self) -> ExitInfo:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._forward)
        # The shim has no terminal, but a handler (not SIG_IGN) keeps the default for the
        # child: ignored signals would be inherited across exec.
        signal.signal(signal.SIGHUP, lambda signum, frame: None)
        writer = RotatingLogWriter(self._unit_dir / CURRENT_LOG, self._spec.log_max_bytes)
        read_end, write_end = os.pipe()
        try:
            try:
                self._child = self._spawn(write_end)
            finally:
                os.close(write_end)
        except OSError as exc:
            os.close(read_end)
            writer.close()
            return self._spawn_failure(exc)
        except subprocess.SubprocessError as exc:
            os.close(read_end)
            writer.close()
            return self._finished(None, spawn_error=UnitReason.ERROR, detail=str(exc))
        child = self._child
        identity = identify(child.pid) or ProcessId(child.pid, 0)
        write_atomic(self._unit_dir / WORKLOAD, workload_to_json(identity))
        if self._pending_signal is not None:
            self._signal_workload(child.pid, self._pending_signal)
        pump = threading.Thread(target=_pump, args=(read_end, writer), daemon=True)
        pump.start()
        returncode = self._wait_for(child.pid)
        if self._spec.sandboxed:
            returncode = unwrapped_returncode(returncode)
        child.returncode = returncode  # reaped by us, not by Popen
        self._kill_leftovers(child.pid)
        pump.join(PIPE_DRAIN_TIMEOUT_S)
        writer.close()
        memory_dir = Path(self._spec.memory_dir) if self._spec.memory_dir else None
        oom_kills = cgroups.read_oom_kills(self._spec.mechanism, memory_dir)
        return self._finished(returncode, oom_kills=oom_kills)

    def _spawn(self, output_fd: int) -> subprocess.Popen[bytes]:
        spec = self._spec

        def prepare_child() -> None:
            # Between fork and exec: everything the workload forks later inherits these.
            cgroups.join(spec.procs_files)
            if spec.cpus:
                os.sched_setaffinity(0, spec.cpus)
            if spec.rlimit_as_bytes > 0:
                limit = spec.rlimit_as_bytes
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            os.umask(0o022)  # the shim's own files are private; the workload's as usual

        return subprocess.Popen(
            spec.command,
            env=spec.env,
            cwd=spec.workdir,
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=output_fd,
            process_group=0,
            preexec_fn=prepare_child,  # the shim is single-threaded until the pump starts
            close_fds=True,
        )

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        if self._child is None:
            self._pending_signal = sig
        else:
            self._signal_workload(self._child.pid, sig)

    def _signal_workload(self, pgid: int, sig: signal.Signals) -> None:
        if not self._spec.sandboxed:
            signal_group(pgid, sig)
            return
        # bubblewrap's monitor and its init inside the namespace die of a default-action
        # signal, taking the workload with them: the workload gets the signal instead.
        members = group_members(pgid)
        sandbox = {pgid} | {pid for pid in members if _parent_of(pid) == pgid}
        signal_pids(members - sandbox, sig)

    def _wait_for(self, pid: int) -> int:
        """Reap children (orphans come to us as subreaper) until `pid` ends; its exit code."""
        while True:
            reaped, status = os.waitpid(-1, 0)
            if reaped == pid:
                return os.waitstatus_to_exitcode(status)

    def _kill_leftovers(self, pgid: int) -> None:
        me = identify(os.getpid())
        dirs = [Path(d) for d in self._spec.cgroup_dirs]
        for _ in range(100):
            pids = cgroups.list_procs(dirs) | group_members(pgid)
            if me is not None:
                pids |= live_descendants(me)
            pids.discard(os.getpid())
            _reap_any()
            if not pids:
                return
            signal_pids(pids, signal.SIGKILL)
            time.sleep(0.02)

    def _spawn_failure(self, exc: OSError) -> ExitInfo:
        workdir = self._spec.workdir
        if isinstance(exc, FileNotFoundError | NotADirectoryError) and exc.filename != workdir:
            return self._finished(127, spawn_error=UnitReason.COMMAND_NOT_FOUND, detail=str(exc))
        return self._finished(126, spawn_error=UnitReason.ERROR, detail=str(exc))

    def _finished(
        self,
        returncode: int | None,
        *,
        oom_kills: int = 0,
        spawn_error: str | None = None,
        detail: str = "",
    ) -> ExitInfo:
        info = ExitInfo(
            finished_at=datetime.now(UTC),
            returncode=returncode,
            oom_kills=oom_kills,
            spawn_error=spawn_error,
            detail=detail,
        )
        write_atomic(self._unit_dir / EXIT, exit_to_json(info))
        return info


def _pump(read_fd: int, writer: RotatingLogWriter) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as source:
        while chunk := source.read(64 * 1024):
            writer.write(chunk)


def _parent_of(pid: int) -> int | None:
    stat = read_stat(pid)
    return stat.ppid if stat is not None else None


def _reap_any() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sapwood.server.runtimes.local.shim UNIT_DIR", file=sys.stderr)
        return 2
    unit_dir = Path(args[0])
    os.umask(0o077)  # logs and reports are the server's alone
    spec = parse_launch((unit_dir / LAUNCH).read_text(encoding="utf-8"))
    try:
        become_subreaper()
    except OSError as exc:
        # Not fatal: cgroups (when present) still find every process of the unit.
        print(f"shim: {exc}", file=sys.stderr)
    Shim(unit_dir, spec).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
