"""The server's command line, with environment fallbacks, parsed into :class:`ServingOptions`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sapwood.serving.fetch import parse_model_ref


@dataclass(frozen=True)
class ServingOptions:
    models: list[str]  # NAME@REF, fetched from the registry
    model_path: Path | None
    name: str | None
    version: str
    host: str
    port: int
    max_batch_size: int
    max_wait_ms: float
    threads: int
    log_level: str


def default_threads() -> int:
    """The CPUs this process may run on (the local runtime pins replicas to CPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sapwood.serving",
        description="Serve ONNX models over the Open Inference Protocol (KServe v2), "
        "with dynamic micro-batching.",
    )
    source = parser.add_argument_group("what to serve (one of)")
    source.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="NAME@REF",
        help="a registry model, by version or alias; may be repeated "
        "[env SAPWOOD_MODEL, comma-separated]",
    )
    source.add_argument(
        "--model-path",
        type=Path,
        default=None,
        metavar="FILE.onnx",
        help="an ONNX file [env SAPWOOD_MODEL_PATH]",
    )
    source.add_argument("--name", default=None, help="the name to serve --model-path under")
    source.add_argument("--version", default="1", help="the version of --model-path (1)")
    parser.add_argument("--host", default=env.get("HOST", "127.0.0.1"), help="[env HOST]")
    parser.add_argument(
        "--port", type=int, default=int(env.get("PORT", "8080")), help="[env PORT, else 8080]"
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=int(env.get("SAPWOOD_MAX_BATCH_SIZE", "64")),
        help="most rows in one model call (64) [env SAPWOOD_MAX_BATCH_SIZE]",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=float(env.get("SAPWOOD_MAX_WAIT_MS", "2")),
        help="how long the first request of a batch waits for more (2) [env SAPWOOD_MAX_WAIT_MS]",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(env.get("SAPWOOD_THREADS", "0")) or default_threads(),
        help="ONNX Runtime intra-op threads (the CPUs given) [env SAPWOOD_THREADS]",
    )
    parser.add_argument("--log-level", default=env.get("SAPWOOD_LOG_LEVEL", "info"))
    return parser


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> ServingOptions:
    """Parses ``argv``; exits with status 2 and a message naming the bad option."""
    parser = _parser(env)
    args = parser.parse_args(list(argv))
    models: list[str] = args.model or []
    if not models and args.model_path is None:  # the environment only when no flag says
        models = [m.strip() for m in env.get("SAPWOOD_MODEL", "").split(",") if m.strip()]
        if not models and env.get("SAPWOOD_MODEL_PATH"):
            args.model_path = Path(env["SAPWOOD_MODEL_PATH"])
    if args.model_path is None and not models:
        parser.error("give --model NAME@REF or --model-path FILE.onnx")
    if args.model_path is not None and models:
        parser.error("give --model or --model-path, not both")
    for ref in models:
        try:
            parse_model_ref(ref)
        except ValueError as e:
            parser.error(f"--model: {e}")
    if len({parse_model_ref(ref)[0] for ref in models}) != len(models):
        parser.error("--model: each model name may be served once")
    if args.model_path is not None and not args.model_path.is_file():
        parser.error(f"--model-path: {args.model_path} is not a file")
    if args.max_batch_size < 1:
        parser.error("--max-batch-size must be at least 1")
    if args.max_wait_ms < 0:
        parser.error("--max-wait-ms must not be negative")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    name = args.name
    if args.model_path is not None and name is None:
        name = args.model_path.stem
    return ServingOptions(
        models=models,
        model_path=args.model_path,
        name=name,
        version=args.version,
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
        threads=args.threads,
        log_level=args.log_level.lower(),
    )
