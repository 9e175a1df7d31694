"""``python -m sapwood.feeds.worker``: lease a batch, score it, ack its results, repeat.

Runs as a Feed's replica (the controller gives it SAPWOOD_URL, SAPWOOD_TOKEN, SAPWOOD_TEAM
and SAPWOOD_NAME) or by hand with ``--feed``. It loads the model version the feed's
``model`` reference names, looks the reference up again every ``--resolve-every`` seconds,
and switches when an alias moves; every result records the version that scored it. A batch
is acked only after scoring; a worker killed mid-batch leaves it to be delivered again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sapwood.client import AsyncClient, NotFoundError, SapwoodError
from sapwood.client.config import with_token
from sapwood.feeds.scoring import Scorer, ScoringError
from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.schemas.feeds import LeasedBatch

log = logging.getLogger("sapwood.feeds.worker")


class ModelMissingError(ScoringError):
    """The model the feed names does not exist (yet): nothing can be scored."""


@dataclass(frozen=True)
class WorkerConfig:
    feed: str
    team: str | None = None
    consumer: str = "worker-0"
    wait_s: float = 5.0
    resolve_every_s: float = 5.0
    threads: int = 1
    max_batches: int | None = None  # stop after this many (tests, one-off runs)
    exit_when_idle: bool = False  # stop when a lease comes back empty
    prefetch: bool = True  # lease the next batch while scoring this one


class FeedWorker:
    def __init__(
        self,
        client: AsyncClient,
        config: WorkerConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._config = config
        self._monotonic = monotonic
        self._scorer: Scorer | None = None
        self._ref: str | None = None
        self._resolved_at = float("-inf")
        self.batches = 0  # acked
        self.records = 0
        self._scored = 0  # acked or being acked

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Works until ``stop`` is set (finishing the batches in hand), or a configured limit.

        While one batch is scored, the next is already being leased and the one before is
        still being acked, so the server's work and the model's overlap. A batch is acked
        only after it was scored; one whose ack fails comes back after the visibility
        timeout."""
        stop = stop or asyncio.Event()
        failures = 0
        ahead: asyncio.Task[LeasedBatch | None] | None = None
        acking: asyncio.Task[int] | None = None
        try:
            while not stop.is_set() and not self._done(0):
                try:
                    batch = await (ahead if ahead is not None else self._lease())
                    ahead = None
                    if batch is None:
                        if self._config.exit_when_idle:
                            return
                        continue
                    if self._config.prefetch and not self._done(1):
                        ahead = asyncio.create_task(self._lease())
                    scored = await self._score(batch)
                    self._scored += 1
                    previous, acking = acking, asyncio.create_task(self._ack(batch, *scored))
                    if previous is not None:
                        await previous
                    failures = 0
                except (SapwoodError, ScoringError) as exc:
                    if ahead is not None and ahead.done():
                        ahead = None  # its error is the one being handled
                    failures += 1
                    delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                    log.warning("feed %s: %s; retrying in %.1fs", self._config.feed, exc, delay)
                    await _sleep_or_stop(stop, delay)
        finally:
            if acking is not None:
                await self._settle(acking)
            if ahead is not None:
                await self._settle_lease(ahead)

    async def _settle(self, acking: asyncio.Task[int]) -> None:
        """Waits for the last ack, so stopping does not leave a scored batch to time out."""
        try:
            await acking
        except SapwoodError as exc:
            log.warning("feed %s: a batch is left to be redelivered: %s", self._config.feed, exc)

    async def _settle_lease(self, ahead: asyncio.Task[LeasedBatch | None]) -> None:
        """Finishes a batch leased ahead, so stopping does not leave it to time out."""
        try:
            batch = await ahead
            if batch is not None:
                await self.finish(batch)
        except (SapwoodError, ScoringError) as exc:
            log.warning(
                "feed %s: the batch leased ahead is left to be redelivered: %s",
                self._config.feed,
                exc,
            )

    def _done(self, more: int) -> bool:
        limit = self._config.max_batches
        return limit is not None and self._scored + more >= limit

    async def _lease(self) -> LeasedBatch | None:
        return await self._client.lease_batch(
            self._config.feed,
            consumer=self._config.consumer,
            wait_s=self._config.wait_s,
            team=self._config.team,
        )

    async def step(self) -> int | None:
        """Leases and finishes one batch; returns its record count, None when none came."""
        batch = await self._lease()
        if batch is None:
            return None
        return await self.finish(batch)

    async def finish(self, batch: LeasedBatch) -> int:
        """Scores a leased batch and acks its results; returns its record count."""
        return await self._ack(batch, *await self._score(batch))

    async def _score(self, batch: LeasedBatch) -> tuple[bytes, str, int]:
        """The batch's results as Arrow IPC, the version that scored them, the count."""
        scorer = await self.scorer(batch)

        def score() -> tuple[bytes, int]:
            records = from_ipc(batch.records)
            return to_ipc(scorer.score(records)), int(records.num_rows)

        results, count = await asyncio.to_thread(score)
        return results, scorer.version, count

    async def _ack(self, batch: LeasedBatch, results: bytes, version: str, count: int) -> int:
        await self._client.ack_batch(
            self._config.feed,
            batch.lease_id,
            results,
            model_version=version,
            team=self._config.team,
        )
        self.batches += 1
        self.records += count
        return count

    async def scorer(self, batch: LeasedBatch) -> Scorer:
        """The scorer for the version ``batch.model`` names now (re-resolved now and then)."""
        now = self._monotonic()
        fresh = self._ref == batch.model and now - self._resolved_at < self._config.resolve_every_s
        if self._scorer is not None and fresh:
            return self._scorer
        try:
            version = await self._client.resolve_model(batch.model, team=self._config.team)
        except NotFoundError as exc:
            # The feed's status says so too (ModelNotFound); the batch is not acked, so it
            # comes back after the visibility timeout and is scored once the model exists.
            raise ModelMissingError(
                f"model {batch.model} cannot be fetched: {exc.message}; the batch waits "
                "unscored until it is pushed"
            ) from None
        self._ref, self._resolved_at = batch.model, now
        label = str(version.version)
        if self._scorer is not None and self._scorer.version == label:
            return self._scorer
        with tempfile.TemporaryDirectory(prefix="sapwood-feed-") as tmp:
            path = Path(tmp) / "model.onnx"
            await self._client.download_model(
                f"{version.name}@{version.version}", path, team=self._config.team
            )
            model = path.read_bytes()
        features = version.features or batch.features
        previous = self._scorer.version if self._scorer is not None else None
        self._scorer = await asyncio.to_thread(
            Scorer, model, features=features, version=label, threads=self._config.threads
        )
        if previous is not None:
            log.info(
                "feed %s: model %s moved from version %s to %s",
                self._config.feed,
                batch.model,
                previous,
                label,
            )
        else:
            log.info("feed %s: scoring with %s (version %s)", self._config.feed, batch.model, label)
        return self._scorer


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def parse_args(argv: Sequence[str], env: dict[str, str]) -> WorkerConfig:
    parser = argparse.ArgumentParser(prog="python -m sapwood.feeds.worker")
    parser.add_argument("--feed", default=env.get("SAPWOOD_NAME"), help="default: $SAPWOOD_NAME")
    parser.add_argument("--team", default=env.get("SAPWOOD_TEAM"))
    parser.add_argument("--wait", type=float, default=5.0, help="seconds a lease waits")
    parser.add_argument("--resolve-every", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-batches", type=int, default=None)
    parser.add_argument("--exit-when-idle", action="store_true")
    args = parser.parse_args(list(argv))
    if not args.feed:
        parser.error("say which feed: --feed NAME (or set SAPWOOD_NAME)")
    replica = env.get("SAPWOOD_REPLICA", "0")
    return WorkerConfig(
        feed=args.feed,
        team=args.team,
        consumer=f"{args.feed}-{replica}-{os.getpid()}",
        wait_s=args.wait,
        resolve_every_s=args.resolve_every,
        threads=args.threads,
        max_batches=args.max_batches,
        exit_when_idle=args.exit_when_idle,
    )


async def _main(config: WorkerConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncClient(team=config.team, timeout_s=60.0) as client:
        worker = FeedWorker(client, config)
        await worker.run(stop)
    log.info(
        "feed %s: scored %d records in %d batches", config.feed, worker.records, worker.batches
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = parse_args(sys.argv[1:] if argv is None else argv, with_token(os.environ))
    return asyncio.run(_main(config))


if __name__ == "__main__":
    sys.exit(main())
