"""Watching what runs and telling people: utilisation samples and idle evidence, retention,
under-use, notifications, the Prometheus exporter and the gateway's load figures.

Composed in the app (server/app.py) beside the controller, not inside it: the controller
sees only the small ``IdleSource`` it is handed.
"""
