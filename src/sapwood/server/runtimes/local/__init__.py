"""The local runtime: units are supervised processes on this machine.

See docs/runtimes.md for the mechanisms (shim, adoption, cgroups, CPU pinning, logs).
"""

from sapwood.server.runtimes.local.runtime import LocalRuntime
from sapwood.server.runtimes.local.settings import LocalRuntimeSettings

__all__ = ["LocalRuntime", "LocalRuntimeSettings"]
