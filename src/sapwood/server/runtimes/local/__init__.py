"""The local runtime: units are supervised processes on this machine.

See docs/runtimes.md for the mechanisms (shim, adoption, cgroups, CPU pinning, logs).
Import ``LocalRuntime`` from ``.runtime``: this package imports nothing, so the shim,
which every unit start launches, loads only what it needs.
"""
