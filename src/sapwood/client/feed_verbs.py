"""The SDK's feed verbs: records in, batches out to workers, results; part of AsyncClient."""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import Any

import httpx

from sapwood.client.base import ClientBase, _clean
from sapwood.schemas.feeds import (
    ARROW_STREAM,
    ATTEMPT_HEADER,
    FEATURES_HEADER,
    FILL_MISSING_PARAM,
    FIRST_SEQUENCE_HEADER,
    IDEMPOTENCY_HEADER,
    LEASE_HEADER,
    MODEL_HEADER,
    MODEL_VERSION_HEADER,
    AckResponse,
    FeedFigures,
    FeedResultPage,
    IngestResponse,
    LeasedBatch,
)


class FeedVerbs(ClientBase):
    # feeds

    async def push_records(
        self,
        feed: str,
        body: bytes | builtins.list[dict[str, Any]],
        *,
        content_type: str = "application/json",
        batch_id: str | None = None,
        fill_missing: bool = False,
        team: str | None = None,
    ) -> IngestResponse:
        """Posts records (rows, or bytes in ``content_type``): all are stored or none.

        The same ``batch_id`` with the same body again stores nothing and answers as before
        (``replayed``); with another body it is refused. Records lacking feature columns
        are refused unless ``fill_missing``: then those take the schema's values, and the
        answer's ``filled`` names them."""
        headers = {"Content-Type": content_type}
        if batch_id is not None:
            headers[IDEMPOTENCY_HEADER] = batch_id
        data = json.dumps(body).encode() if isinstance(body, builtins.list) else body
        if isinstance(body, builtins.list):
            headers["Content-Type"] = "application/json"
        response = await self._send(
            "POST",
            f"/feeds/{feed}/records",
            content=data,
            headers=headers,
            params=self._team(team) | ({FILL_MISSING_PARAM: "true"} if fill_missing else {}),
        )
        return IngestResponse.model_validate(response.json())

    async def lease_batch(
        self,
        feed: str,
        *,
        consumer: str = "worker",
        wait_s: float = 0.0,
        team: str | None = None,
    ) -> LeasedBatch | None:
        """One batch to score, or None when none came within ``wait_s`` seconds."""
        params = self._team(team) | {"consumer": consumer, "wait": wait_s}
        response = await self._send(
            "POST",
            f"/feeds/{feed}/lease",
            params=params,
            timeout=httpx.Timeout(30.0 + wait_s),
        )
        if response.status_code == 204:
            return None
        h = response.headers
        return LeasedBatch(
            lease_id=h[LEASE_HEADER],
            model=h[MODEL_HEADER],
            features=[f for f in h.get(FEATURES_HEADER, "").split(",") if f],
            first_sequence=int(h[FIRST_SEQUENCE_HEADER]),
            attempt=int(h.get(ATTEMPT_HEADER, "1")),
            records=response.content,
        )

    async def ack_batch(
        self,
        feed: str,
        lease_id: str,
        results: bytes,
        *,
        model_version: str,
        team: str | None = None,
    ) -> AckResponse:
        """Stores a leased batch's results (Arrow IPC: prediction, score, probabilities)."""
        response = await self._send(
            "POST",
            f"/feeds/{feed}/ack",
            content=results,
            params=self._team(team) | {"lease": lease_id},
            headers={"Content-Type": ARROW_STREAM, MODEL_VERSION_HEADER: model_version},
        )
        return AckResponse.model_validate(response.json())

    async def feed_results(
        self,
        feed: str,
        *,
        team: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        prediction: int | None = None,
        from_sequence: int | None = None,
        to_sequence: int | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> FeedResultPage:
        """One page of results in sequence order; pass its ``continue_`` for the next."""
        params = self._team(team) | _clean(
            {
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "prediction": prediction,
                "fromSequence": from_sequence,
                "toSequence": to_sequence,
                "limit": limit,
                "continue": continue_,
            }
        )
        return await self._call("GET", f"/feeds/{feed}/results", FeedResultPage, params=params)

    async def export_feed_results(
        self,
        feed: str,
        *,
        format: str = "csv",
        team: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        prediction: int | None = None,
    ) -> bytes:
        """Every matching result as a CSV or Parquet file's bytes."""
        params = self._team(team) | _clean(
            {
                "format": format,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "prediction": prediction,
            }
        )
        return (await self._send("GET", f"/feeds/{feed}/results", params=params)).content

    async def feed_figures(self, feed: str, *, team: str | None = None) -> FeedFigures:
        return await self._call(
            "GET", f"/feeds/{feed}/figures", FeedFigures, params=self._team(team)
        )
