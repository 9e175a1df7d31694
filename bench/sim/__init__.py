"""A discrete-event GPU-cluster simulator for replaying job traces through scheduling policies.

- ``traces``: loaders for the Philly (Pollux workloads) and Alibaba 2023 GPU traces.
- ``engine``: the simulated clock, the cluster's free capacity and the metrics.
- ``policies``: ``SapwoodPolicy`` (calls the real ``schedule``), ``FifoPolicy`` and
  ``LasPolicy`` (Tiresias-style two-queue least-attained-service).

Used by bench/trace_replay.py.
"""

from sim.engine import Action, Result, SimJob, Simulator, State
from sim.policies import FifoPolicy, LasPolicy, SapwoodPolicy

__all__ = [
    "Action",
    "FifoPolicy",
    "LasPolicy",
    "Result",
    "SapwoodPolicy",
    "SimJob",
    "Simulator",
    "State",
]
