"""Every pure decision the controller makes: what each object's replicas should be, who is
admitted, how a Service scales, when a replica restarts. Plain data in, plain data out.

No database, network, event loop or runtime here (an import contract holds it): the
manager loads, calls these, and acts. What differs per kind is one ``KindPolicy``
(``policy.py``); benchmarks and simulations call the same functions.
"""
