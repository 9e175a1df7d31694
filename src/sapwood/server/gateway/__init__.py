"""The gateway: routes ``/s/{team}/{service}/…`` to a Service's ready replicas.

It runs as its own process (``python -m sapwood.server.gateway``) so that API and
controller work never slow requests. See docs/gateway.md.
"""
