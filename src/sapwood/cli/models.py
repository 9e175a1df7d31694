"""`sapwood models`: the team's model registry: push, list, describe, alias, pull, delete."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import typer

from sapwood.cli.output import dump_json, dump_yaml, format_age, format_table, print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas.models import Model, ModelSummary, ModelVersion, TensorInfo

app = typer.Typer(
    name="models",
    help="The model registry: versions of ONNX models, aliases, lineage.",
    no_args_is_help=True,
)


def parse_metric_options(items: Sequence[str]) -> dict[str, float]:
    """``["accuracy=0.97"]`` → {"accuracy": 0.97}; a bad item is a usage error naming it."""
    metrics: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not key.strip() or not math.isfinite(number):
            raise typer.BadParameter(
                f"{item!r} is not NAME=NUMBER (e.g. accuracy=0.97)", param_hint="--metric"
            )
        metrics[key.strip()] = number
    return metrics


@app.command("push")
def push(
    file: Path = typer.Argument(..., help="the ONNX file", exists=True, dir_okay=False),
    name: str = typer.Option(..., "--name", "-n", help="the model's name"),
    alias: str | None = typer.Option(None, "--alias", help="point this alias at the version"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="NAME=NUMBER, repeatable"),
    framework: str | None = typer.Option(None, "--framework", help="e.g. sklearn, pytorch"),
    source: str | None = typer.Option(None, "--source", help="free text: data, commit, run"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Push an ONNX file as a new version (the same bytes again give the existing one)."""
    metrics = parse_metric_options(metric)
    with connect(team=team) as client:
        version = client.push_model(
            file, name=name, alias=alias, metrics=metrics, framework=framework, source=source
        )
    what = "pushed" if version.created else "unchanged (these bytes are already)"
    aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
    print_out(f"model/{version.name} {what} version {version.version}{aliases}")


@app.command("list")
def list_models(team: str | None = TEAM_OPTION) -> None:
    """List the team's models."""
    with connect(team=team) as client:
        models = client.list_models()
    if models:
        print_out(model_table(models, now=datetime.now(UTC)))
    else:
        print_err("No models: push one with `sapwood models push FILE --name NAME`.")


@app.command("describe")
def describe(
    name: str = typer.Argument(..., help="the model, or NAME@REF for one version"),
    output: str = typer.Option("text", "--output", "-o", help="text, yaml or json"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Show a model's versions and aliases, or one version's inputs, outputs and lineage."""
    if output not in ("text", "yaml", "json"):
        raise typer.BadParameter("use text, yaml or json", param_hint="--output")
    with connect(team=team) as client:
        found: Model | ModelVersion = (
            client.resolve_model(name) if "@" in name else client.get_model(name)
        )
    if output != "text":
        data = found.model_dump(mode="json", by_alias=True, exclude_none=True)
        print_out(dump_yaml(data) if output == "yaml" else dump_json(data))
    elif isinstance(found, Model):
        print_out(model_text(found, now=datetime.now(UTC)))
    else:
        print_out(version_text(found))


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="the model"),
    alias: str = typer.Argument(..., help="the alias, e.g. production"),
    version: int = typer.Argument(..., help="the version it points to", min=1),
    team: str | None = TEAM_OPTION,
) -> None:
    """Point an alias at a version (create it or move it)."""
    with connect(team=team) as client:
        client.set_alias(name, alias, version)
    print_out(f"model/{name}@{alias} -> version {version}")


@app.command("unalias")
def unalias(
    name: str = typer.Argument(..., help="the model"),
    alias: str = typer.Argument(..., help="the alias to remove"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Remove an alias no Service uses."""
    with connect(team=team) as client:
        client.delete_alias(name, alias)
    print_out(f"model/{name}@{alias} removed")


@app.command("delete")
def delete(
    name: str = typer.Argument(..., help="the model"),
    version: int = typer.Argument(..., help="the version to delete", min=1),
    team: str | None = TEAM_OPTION,
) -> None:
    """Delete a version no Service serves and no alias names."""
    with connect(team=team) as client:
        client.delete_model_version(name, version)
    print_out(f"model/{name} version {version} deleted")


@app.command("pull")
def pull(
    ref: str = typer.Argument(..., help="NAME@VERSION, NAME@ALIAS, or NAME for the latest"),
    out: Path | None = typer.Option(None, "--output", "-o", help="file to write [NAME-vN.onnx]"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Download a version's ONNX file (checked against its sha256)."""
    with connect(team=team) as client:
        if out is None:
            found = client.resolve_model(ref)
            out = Path(f"{found.name}-v{found.version}.onnx")
            ref = f"{found.name}@{found.version}"
        version = client.download_model(ref, out)
    print_out(f"model/{version.name} version {version.version} -> {out} ({version.size} bytes)")


def model_table(models: Sequence[ModelSummary], *, now: datetime) -> str:
    rows = [
        (
            m.name,
            str(m.latest_version) if m.latest_version is not None else "-",
            str(m.versions),
            ",".join(f"{a}={v}" for a, v in m.aliases.items()) or "-",
            format_age(m.updated_at, now),
        )
        for m in models
    ]
    return format_table(("NAME", "LATEST", "VERSIONS", "ALIASES", "UPDATED"), rows)


def model_text(model: Model, *, now: datetime) -> str:
    lines = [f"Model:    {model.name}", f"Team:     {model.team}"]
    aliases = ", ".join(f"{a} -> {v}" for a, v in model.aliases.items())
    lines.append(f"Aliases:  {aliases or '-'}")
    if not model.versions:
        lines.append("Versions: none")
        return "\n".join(lines)
    rows = [
        (
            str(v.version),
            v.sha256[:12],
            _size(v.size),
            v.framework or "-",
            ",".join(f"{k}={val:g}" for k, val in v.metrics.items()) or "-",
            _made_by(v),
            ",".join(v.aliases) or "-",
            format_age(v.created_at, now),
        )
        for v in model.versions
    ]
    headers = ("VERSION", "SHA256", "SIZE", "FRAMEWORK", "METRICS", "MADE BY", "ALIASES", "AGE")
    lines += ["Versions:", _indent(format_table(headers, rows))]
    return "\n".join(lines)


def version_text(v: ModelVersion) -> str:
    lines = [
        f"Model:     {v.name}",
        f"Team:      {v.team}",
        f"Version:   {v.version}",
        f"Aliases:   {', '.join(v.aliases) or '-'}",
        f"SHA256:    {v.sha256}",
        f"Size:      {_size(v.size)}",
        f"Opset:     {v.opset if v.opset is not None else '-'}",
        f"Framework: {v.framework or '-'}",
        f"Created:   {v.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Made by:   {_made_by(v)}",
    ]
    if v.lineage.source:
        lines.append(f"Source:    {v.lineage.source}")
    if v.metrics:
        lines.append("Metrics:   " + ", ".join(f"{k}={val:g}" for k, val in v.metrics.items()))
    lines.append("Inputs:")
    lines += [_indent(_tensor(t)) for t in v.inputs]
    lines.append("Outputs:")
    lines += [_indent(_tensor(t)) for t in v.outputs]
    if v.features is not None:
        shown = ", ".join(v.features[:10]) + (", …" if len(v.features) > 10 else "")
        lines.append(f"Features:  {len(v.features)} ({shown})")
    return "\n".join(lines)


def _made_by(v: ModelVersion) -> str:
    lineage = v.lineage
    if lineage.kind and lineage.name:
        return f"{lineage.kind.lower()}/{lineage.name}"
    return lineage.user or "-"


def _tensor(t: TensorInfo) -> str:
    shape = (
        "?"
        if t.shape is None
        else "[" + ", ".join("?" if d is None else str(d) for d in t.shape) + "]"
    )
    return f"{t.name}: {t.dtype} {shape}"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    amount = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024 or unit == "GiB":
            break
    return f"{amount:.1f} {unit}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
