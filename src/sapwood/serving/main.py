"""``python -m sapwood.serving``: parse options, build the app, run it under uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence

import uvicorn

from sapwood.serving.app import ServingApp
from sapwood.serving.fetch import ModelSource, cache_dir, fetch_model
from sapwood.serving.model import LoadedModel, load_model
from sapwood.serving.options import ServingOptions, parse_options

log = logging.getLogger("sapwood.serving")


def sources(options: ServingOptions, env: Mapping[str, str]) -> list[ModelSource]:
    """The files to serve: --model-path as given, or each --model fetched from the registry."""
    if options.model_path is not None:
        assert options.name is not None
        return [ModelSource(name=options.name, version=options.version, path=options.model_path)]
    cache = cache_dir(env)
    return [fetch_model(ref, env=env, cache=cache) for ref in options.models]


def loader(options: ServingOptions, env: Mapping[str, str]) -> list[LoadedModel]:
    """Fetches and loads every model; raises FetchError or ModelLoadError on the first failure."""
    return [
        load_model(
            s.path, name=s.name, version=s.version, threads=options.threads, features=s.features
        )
        for s in sources(options, env)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    options = parse_options(sys.argv[1:] if argv is None else argv, env)
    logging.basicConfig(
        level=options.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def on_fatal(error: BaseException) -> None:
        failures.append(error)
        if server is not None:
            server.should_exit = True

    app = ServingApp(
        lambda: loader(options, env),
        max_batch_size=options.max_batch_size,
        max_wait_s=options.max_wait_ms / 1000,
        on_fatal=on_fatal,
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        log_level=options.log_level,
        server_header=False,
        date_header=False,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    log.info(
        "starting on %s:%d (threads %d, max batch %d rows, max wait %g ms)",
        options.host,
        options.port,
        options.threads,
        options.max_batch_size,
        options.max_wait_ms,
    )
    server.run()
    if failures:
        print(f"sapwood.serving: {failures[0]}", file=sys.stderr)
        return 1
    return 0
