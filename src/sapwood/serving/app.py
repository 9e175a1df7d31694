"""The HTTP side: a lean ASGI app for the Open Inference Protocol and the rows endpoint.

Raw ASGI rather than a framework: on the request path there is only routing on the split
path, reading the body, orjson, numpy and the batcher. Models load in the background after
startup, so ``/v2/health/live`` answers at once and ``/v2/health/ready`` turns 200 only when
every model is loaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from sapwood.serving.batching import MicroBatcher
from sapwood.serving.metrics import ServingMetrics
from sapwood.serving.model import LoadedModel
from sapwood.serving.protocol import (
    ProtocolError,
    decode_infer_request,
    decode_rows,
    dumps,
    encode_infer_response,
    encode_predictions,
    error_body,
)

log = logging.getLogger("sapwood.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Loader = Callable[[], list[LoadedModel]]
"""Loads every model to serve; blocking (it runs in a thread); raises if one fails."""

JSON = b"application/json"
TEXT = b"text/plain; version=0.0.4; charset=utf-8"
SERVER_NAME = "sapwood-serving"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

try:  # ONNX Runtime's exception for inputs a model refuses (not part of its typed API)
    from onnxruntime.capi.onnxruntime_pybind11_state import (
        InvalidArgument as OrtInvalidArgument,
    )
except ImportError:  # pragma: no cover - older or newer layouts
    OrtInvalidArgument = ValueError


@dataclass(frozen=True)
class ServedModel:
    model: LoadedModel
    batcher: MicroBatcher


class ServingApp:
    """The ASGI application. ``on_fatal`` is told when loading fails (the process should end)."""

    def __init__(
        self,
        loader: Loader,
        *,
        max_batch_size: int = 64,
        max_wait_s: float = 0.002,
        metrics: ServingMetrics | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._loader = loader
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.metrics = metrics if metrics is not None else ServingMetrics()
        self._on_fatal = on_fatal
        self.max_body_bytes = max_body_bytes
        self.models: dict[str, ServedModel] = {}
        self.ready = False
        self._load_task: asyncio.Task[None] | None = None

    # Lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Loads the models (in a thread) and starts their batchers; then the app is ready."""
        models = await asyncio.get_running_loop().run_in_executor(None, self._loader)
        for model in models:
            batcher = MicroBatcher(
                model.run,
                # A model without a batch dimension runs each request alone.
                max_batch_size=self.max_batch_size if model.batchable else 1,
                max_wait_s=self.max_wait_s if model.batchable else 0.0,
                on_batch=self.metrics.batch_observer(model.name),
            )
            self.models[model.name] = ServedModel(model=model, batcher=batcher)
            log.info(
                "serving %s version %s (inputs %s, outputs %s)",
                model.name,
                model.version,
                [t.to_metadata() for t in model.inputs],
                [t.to_metadata() for t in model.outputs],
            )
        self.ready = True

    async def _load_or_fail(self) -> None:
        try:
            await self.load()
        except Exception as e:
            log.error("cannot serve: %s", e)
            if self._on_fatal is not None:
                self._on_fatal(e)

    async def close(self) -> None:
        """Stops loading and the batchers. Idempotent."""
        self.ready = False
        if self._load_task is not None:
            self._load_task.cancel()
            try:
                await self._load_task
            except asyncio.CancelledError:
                pass
            self._load_task = None
        for served in self.models.values():
            await served.batcher.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._load_task = asyncio.get_running_loop().create_task(self._load_or_fail())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # Requests ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            status, body, content_type = await self._handle(scope, receive)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        method: str = scope["method"]
        parts: list[str] = scope["path"].rstrip("/").split("/")
        try:
            if len(parts) >= 4 and parts[1] == "v2" and parts[2] == "models":
                return await self._model_route(method, parts[3], parts[4:], receive)
            if method == "POST" and parts == ["", "predict"]:
                return await self._call(self._only_model(), None, "predict", receive)
            if method != "GET":
                raise ProtocolError(f"{method} {scope['path']} is not an endpoint here", 404)
            return self._get(parts)
        except ProtocolError as e:
            return e.status, error_body(e.message), JSON

    def _get(self, parts: list[str]) -> tuple[int, bytes, bytes]:
        path = "/".join(parts)
        if path == "/v2/health/live":
            return 200, b'{"live":true}', JSON
        if path == "/v2/health/ready":
            return (200, b'{"ready":true}', JSON) if self.ready else (503, b'{"ready":false}', JSON)
        if path == "/v2":
            return 200, dumps({"name": SERVER_NAME, "version": "1", "extensions": []}), JSON
        if path == "/metrics":
            return 200, self.metrics.render(), TEXT
        raise ProtocolError(f"GET {path or '/'} is not an endpoint here", 404)

    async def _model_route(
        self, method: str, name: str, rest: list[str], receive: Receive
    ) -> tuple[int, bytes, bytes]:
        version = None
        if len(rest) >= 2 and rest[0] == "versions":
            version, rest = rest[1], rest[2:]
        action = rest[0] if len(rest) == 1 else "" if not rest else None
        if action in ("infer", "predict"):
            if method != "POST":
                raise ProtocolError(f"{action} takes POST", 405)
            return await self._call(self._find(name, version), version, action, receive)
        if method != "GET" or action not in ("", "ready"):
            raise ProtocolError(f"{method} {'/'.join(rest)} is not a model endpoint", 404)
        served = self._find(name, version)
        if action == "ready":
            return 200, dumps({"name": name, "ready": True}), JSON
        return 200, dumps(served.model.metadata()), JSON

    def _find(self, name: str, version: str | None) -> ServedModel:
        if not self.ready:
            raise ProtocolError("the models are still loading", 503)
        served = self.models.get(name)
        if served is None:
            raise ProtocolError(
                f"model '{name}' is not served here; this server serves {sorted(self.models)}",
                404,
            )
        if version is not None and version != served.model.version:
            raise ProtocolError(
                f"model '{name}' has no version '{version}' here; it serves version "
                f"'{served.model.version}'",
                404,
            )
        return served

    def _only_model(self) -> ServedModel:
        if not self.ready:
            raise ProtocolError("the models are still loading", 503)
        if len(self.models) != 1:
            raise ProtocolError(
                f"this server serves {sorted(self.models)}: "
                "POST /v2/models/{name}/predict instead",
                400,
            )
        return next(iter(self.models.values()))

    async def _call(
        self, served: ServedModel, version: str | None, action: str, receive: Receive
    ) -> tuple[int, bytes, bytes]:
        model = served.model
        status = 200
        try:
            body = await self._read_body(receive)
            if action == "infer":
                request = decode_infer_request(body, model)
                outputs = await self._submit(served, request.inputs)
                answer = encode_infer_response(model, request, outputs)
            else:
                outputs = await self._submit(served, decode_rows(body, model))
                answer = encode_predictions(model, outputs)
            return 200, answer, JSON
        except ProtocolError as e:
            status = e.status
            raise
        finally:
            self.metrics.count_request(model.name, action, status)

    async def _submit(self, served: ServedModel, inputs: dict[str, Any]) -> list[Any]:
        try:
            return await served.batcher.submit(inputs)
        except OrtInvalidArgument as e:
            raise ProtocolError(f"the model refused this request: {e}", 400) from e
        except Exception as e:
            log.exception("inference failed for %s", served.model.name)
            raise ProtocolError(f"inference failed: {e}", 500) from e

    async def _read_body(self, receive: Receive) -> bytes:
        message = await receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > self.max_body_bytes:
                raise self._too_large()
            return body
        chunks = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> ProtocolError:
        return ProtocolError(f"the request body is larger than {self.max_body_bytes} bytes", 413)
