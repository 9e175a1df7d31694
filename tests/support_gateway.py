"""Requests for driving the gateway's handler directly, without a socket."""

from __future__ import annotations

from sapwood.server.gateway.messages import Headers, Request, RequestBody


def whole_request(method: bytes, target: bytes, headers: Headers, body: bytes = b"") -> Request:
    """A request with its whole body at hand, from loopback."""
    return Request(method, target, headers, client="127.0.0.1", body=RequestBody.whole(body))
