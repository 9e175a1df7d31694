"""The images Sapwood runs when a spec names none.

One place for the server's settings and for the Kubernetes manifests, which must not
import each other (the controller reads the settings and never the manifests).
"""

from __future__ import annotations

from sapwood import __version__

DEFAULT_IMAGE = "python:3.11-slim"
DEFAULT_SERVER_IMAGE = f"ghcr.io/sapwood-dev/sapwood:{__version__}"
"""The server's image; it also runs Sapwood's own programs (model server, feed worker)."""
DEFAULT_JUPYTER_IMAGE = "quay.io/jupyter/base-notebook:python-3.11"
