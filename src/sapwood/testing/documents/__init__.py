"""Valid documents to apply, one module per kind, and stored objects as the API returns them.

Each factory returns a plain dict that ``sapwood apply`` (or ``Client.apply``) accepts as it
is; keyword arguments override spec fields, so a test states only what it is about::

    from sapwood.testing.documents import job, service

    client.apply([job("train", gpu=1), service("web", replicas=2)])
"""

from sapwood.testing.documents.envelope import document, stored
from sapwood.testing.documents.feed import feed
from sapwood.testing.documents.job import job
from sapwood.testing.documents.service import model_service, service
from sapwood.testing.documents.workspace import workspace

__all__ = ["document", "feed", "job", "model_service", "service", "stored", "workspace"]
