"""The feed worker: a workload program that leases batches, scores them, acks results.

It talks to the server only through the SDK (``sapwood.client``), never ``sapwood.server``.
"""
