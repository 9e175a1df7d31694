"""`sapwood feed`: push records from a file, tail results as they arrive, export results."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from sapwood.cli.errors import CliError
from sapwood.cli.feed_chunks import (
    FALLBACK_MAX_REQUEST_BYTES,
    Chunk,
    RecordTooLargeError,
    file_chunks,
)
from sapwood.cli.feed_output import PushTally
from sapwood.cli.output import print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.client import Client, NotFoundError, SapwoodError
from sapwood.schemas.feeds import FeedResult, IngestResponse

app = typer.Typer(
    name="feed", help="Feeds: push records, tail and export results.", no_args_is_help=True
)

FORMATS = ("csv", "parquet", "jsonl")


def detect_format(path: Path, given: str | None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise CliError(f"--format must be one of {', '.join(FORMATS)}, got {given!r}")
        return given
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise CliError(f"cannot tell the format of {path.name}", hint="pass --format csv|parquet|jsonl")


def batch_prefix(path: Path) -> str:
    """Stable for the same file: a retried push reuses its batch ids and stores nothing twice."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return f"push-{digest.hexdigest()[:20]}"


def request_limit(given: int | None, client: Client) -> int:
    """The largest body to send: ``--max-request-bytes`` when given, else the server's own
    limit, else (a server too old to say) a size under its default."""
    if given is not None:
        return given
    try:
        return client.limits().max_body_bytes
    except NotFoundError:
        return FALLBACK_MAX_REQUEST_BYTES


@app.command("push")
def push(
    name: str = typer.Argument(..., help="the feed"),
    file: Path = typer.Argument(..., help="CSV (with a header), Parquet or JSON lines"),
    format: str | None = typer.Option(None, "--format", "-f", help="csv, parquet or jsonl"),
    chunk_records: int = typer.Option(
        50_000, "--chunk-records", min=1, max=1_000_000, help="at most this many records a request"
    ),
    max_request_bytes: int | None = typer.Option(
        None,
        "--max-request-bytes",
        min=1024,
        help="at most this many bytes a request [default: the server's body limit]",
    ),
    fill_missing: bool = typer.Option(
        False,
        "--fill-missing",
        help="let feature columns the file lacks take the schema's values (else refused)",
    ),
    team: str | None = TEAM_OPTION,
) -> None:
    """Push a file's records in chunks under the server's body limit, each stored all or
    none under its own batch id, so running it again after a failure stores nothing twice."""
    if not file.is_file():
        raise CliError(f"no such file: {file}")
    fmt = detect_format(file, format)
    prefix = batch_prefix(file)
    pushed = 0
    tally = PushTally()
    started = time.monotonic()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} records"),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )
    with connect(team=team) as client:
        limit = request_limit(max_request_bytes, client)
        try:
            planned = file_chunks(file, fmt, max_records=chunk_records, max_bytes=limit)
        except RecordTooLargeError as exc:
            raise CliError(str(exc)) from None
        with progress:
            task = progress.add_task(f"feed/{name}", total=planned.records)
            for index, chunk in enumerate(planned.chunks):
                answer = _push_chunk(
                    client, name, chunk, batch_id=f"{prefix}-{index:06d}", fill=fill_missing
                )
                tally.add(answer)
                pushed += answer.accepted
                progress.update(task, advance=chunk.rows)
    elapsed = time.monotonic() - started
    if not pushed:
        print_err(f"{file.name} holds no records")
        return
    for line in tally.lines(name, elapsed_s=elapsed):
        print_out(line)


def _push_chunk(
    client: Client, name: str, chunk: Chunk, *, batch_id: str, fill: bool
) -> IngestResponse:
    try:
        return client.push_records(
            name,
            chunk.body,
            content_type=chunk.content_type,
            batch_id=batch_id,
            fill_missing=fill,
        )
    except SapwoodError as exc:
        last = chunk.first_row + chunk.rows - 1
        exc.message = f"records {chunk.first_row}..{last} of the file: {exc.message}"
        raise


@app.command("tail")
def tail(
    name: str = typer.Argument(..., help="the feed"),
    lines: int = typer.Option(10, "--lines", "-n", min=0, help="results shown first"),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="keep printing new results"),
    prediction: int | None = typer.Option(None, "--prediction", help="only this prediction"),
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="seconds between polls"),
    output: str = typer.Option("text", "--output", "-o", help="text or json (one per line)"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Print results as they arrive: the last few first, then new ones until Ctrl-C."""
    with connect(team=team) as client:
        figures = client.feed_figures(name)
        after = max(0, figures.records - lines)
        if output == "text":
            print_out(
                f"{'SEQUENCE':>10}  {'PREDICTION':>10}  {'SCORE':>7}  {'VERSION':>7}  LATENCY"
            )
        try:
            while True:
                page = client.feed_results(
                    name, from_sequence=after + 1, prediction=prediction, limit=1000
                )
                for result in page.items:
                    print_out(_result_line(result, output))
                    after = result.sequence
                if page.continue_:
                    continue
                if not follow:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            return


def _result_line(result: FeedResult, output: str) -> str:
    if output == "json":
        return json.dumps(result.model_dump(mode="json", by_alias=True))
    latency = (result.scored_at - result.ingested_at).total_seconds()
    # No prediction or score: the model gave no finite score for the record.
    prediction = "-" if result.prediction is None else str(result.prediction)
    score = "n/a" if result.score is None else f"{result.score:.3f}"
    return (
        f"{result.sequence:>10}  {prediction:>10}  {score:>7}  "
        f"{result.model_version:>7}  {latency * 1000:.0f}ms"
    )


@app.command("results")
def results(
    name: str = typer.Argument(..., help="the feed"),
    format: str = typer.Option("csv", "--format", "-f", help="csv or parquet"),
    out: Path | None = typer.Option(None, "--out", help="file to write; default stdout (CSV)"),
    prediction: int | None = typer.Option(None, "--prediction"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Export every result as CSV or Parquet."""
    if format == "parquet" and out is None:
        raise CliError("Parquet is binary: pass --out FILE")
    with connect(team=team) as client:
        data = client.export_feed_results(name, format=format, prediction=prediction)
    if out is None:
        sys.stdout.write(io.BytesIO(data).read().decode())
    else:
        out.write_bytes(data)
        print_err(f"wrote {len(data)} bytes to {out}")
