"""``python -m sapwood.server.gateway``: the gateway process (see docs/gateway.md)."""

from sapwood.server.gateway.server import main

main()
