"""Who is calling: the caller, the scope of a workload's token, and the one token check
that the API and the gateway share.

It stands below both the services and the gateway (which are independent of each other),
so neither reaches into the other to learn who a token belongs to.
"""
