"""How the Slack reports read: lists capped to Slack's limits, empty lists that say so,
open links, job times, capacity per node, and logs as a code block or a file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sapwood.schemas import Object, ObjectMeta, QueueEntry
from sapwood.server.services.overview import Holding, node_groups
from sapwood.server.slack.message import Message
from sapwood.server.slack.report_blocks import (
    MAX_ROWS,
    NO_CONTROLLER,
    SECTION_CHARS,
    StatusView,
    env_list_message,
    error_message,
    help_message,
    jobs_message,
    log_message,
    queue_message,
    status_message,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GATEWAY = "https://gw.example.org"


def obj(
    kind: str,
    name: str,
    *,
    team: str = "research",
    status: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
    age: timedelta = timedelta(minutes=5),
) -> Object:
    created = NOW - age
    meta = ObjectMeta(
        name=name,
        team=team,
        uid=f"uid-{name}",
        generation=1,
        resource_version=1,
        created_at=created,
        updated_at=created,
    )
    return Object(kind=kind, metadata=meta, spec=spec or {}, status=status or {})


def all_text(message: Message) -> str:
    """What a reader sees: every block's text, in order."""
    out = []
    for block in message.blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            out.append(element["text"])
    return "\n".join(out)


def within_slack_limits(message: Message) -> None:
    assert len(message.blocks) <= 50
    for block in message.blocks:
        texts = [block["text"]["text"]] if "text" in block else []
        texts += [e["text"] for e in block.get("elements", [])]
        assert all(len(t) <= SECTION_CHARS for t in texts)


# environments


def test_an_empty_env_list_says_how_to_create_one() -> None:
    message = env_list_message([], team="research", gateway_url=GATEWAY, now=NOW)
    assert message.text == (
        "No environments in team research. Create one with `/sapwood env create`."
    )
    mine = env_list_message([], team=None, gateway_url=GATEWAY, now=NOW)
    assert "in your teams" in mine.text


def test_a_running_environment_has_an_open_link_through_the_gateway() -> None:
    running = obj(
        "Workspace",
        "nb",
        status={"phase": "Running"},
        spec={"resources": {"cpu": "2", "memory": "8Gi", "gpu": 1, "gpuModel": "A100"}},
    )
    pending = obj(
        "Workspace",
        "queued",
        status={"phase": "Pending", "reason": "Waiting", "message": "team quota is full"},
    )
    message = env_list_message([running, pending], team=None, gateway_url=GATEWAY, now=NOW)
    rows = {b["text"]["text"].split("*")[1]: b for b in message.blocks[1:]}
    button = rows["nb"]["accessory"]
    assert button["url"] == "https://gw.example.org/w/research/nb/"
    assert json.loads(button["value"]) == {"team": "research", "name": "nb"}
    assert "cpu 2 · memory 8Gi · 1 GPU A100" in rows["nb"]["text"]["text"]
    assert "accessory" not in rows["queued"]
    assert "Pending (Waiting: team quota is full)" in rows["queued"]["text"]["text"]
    assert message.text == "2 environments in your teams"


def test_an_environment_with_a_time_to_live_says_when_it_expires() -> None:
    soon = obj("Workspace", "soon", spec={"ttl": "8h"}, age=timedelta(hours=3))
    gone = obj("Workspace", "gone", spec={"ttl": "1h"}, age=timedelta(hours=3))
    text = all_text(env_list_message([soon, gone], team=None, gateway_url=GATEWAY, now=NOW))
    assert "created 3h ago · expires in 5h" in text
    assert "created 3h ago · expired 2h ago" in text


def test_a_long_env_list_is_capped_and_says_how_many_more() -> None:
    many = [obj("Workspace", f"ws-{i}", age=timedelta(minutes=100 - i)) for i in range(57)]
    message = env_list_message(many, team="research", gateway_url=GATEWAY, now=NOW)
    within_slack_limits(message)
    text = all_text(message)
    assert "and 37 more: `sapwood get workspaces --team research`" in text
    assert "*ws-56*" in text  # newest first
    assert "*ws-0*" not in text
    assert text.count("· team research ·") == MAX_ROWS


def test_free_text_is_escaped_and_cut_to_a_section() -> None:
    huge = obj(
        "Workspace",
        "nb",
        status={"phase": "Failed", "reason": "InvalidSpec", "message": "<!channel> " + "x" * 5000},
    )
    message = env_list_message([huge], team=None, gateway_url=GATEWAY, now=NOW)
    within_slack_limits(message)
    assert "<!channel>" not in all_text(message)
    assert "&lt;!channel&gt;" in all_text(message)
    assert all_text(message).endswith("…")


# queue


def test_the_queue_shows_position_reason_and_waiting_time() -> None:
    entries = [
        QueueEntry(
            position=1,
            kind="Job",
            team="research",
            name="train",
            priority="high",
            reason="waiting for 2 GPUs",
            waiting_since=NOW - timedelta(hours=3),
        ),
        QueueEntry(
            position=0, kind="Workspace", team="research", name="nb", priority="normal", reason="x"
        ),
    ]
    message = queue_message(entries, team=None, now=NOW)
    text = all_text(message)
    assert "#1 *job/train* · team research · priority high · waiting since 3h ago" in text
    assert "waiting for 2 GPUs" in text
    assert "new *workspace/nb*" in text
    assert queue_message([], team="ops", now=NOW).text == "Nothing is waiting in team ops."


def test_a_long_queue_is_capped_in_order() -> None:
    entries = [
        QueueEntry(position=i, kind="Job", team="ops", name=f"j{i}", priority="normal", reason="r")
        for i in range(1, 26)
    ]
    message = queue_message(entries, team="ops", now=NOW)
    within_slack_limits(message)
    text = all_text(message)
    assert "#20 *job/j20*" in text
    assert "job/j21" not in text
    assert "and 5 more: `sapwood queue --team ops`" in text


# jobs


def test_jobs_show_phase_reason_times_and_restarts() -> None:
    failed = obj(
        "Job",
        "train",
        status={
            "phase": "Failed",
            "reason": "BackoffLimitExceeded",
            "startedAt": (NOW - timedelta(hours=2)).isoformat(),
            "finishedAt": (NOW - timedelta(minutes=10)).isoformat(),
            "restarts": 3,
            "run": 2,
        },
        age=timedelta(days=1),
    )
    message = jobs_message([failed], team="research", now=NOW)
    text = all_text(message)
    assert "*train* · team research · Failed (BackoffLimitExceeded)" in text
    assert "created 1d ago · started 2h ago · finished 10m ago · restarts 3 · run 2" in text
    assert message.text == "1 job in team research"
    assert jobs_message([], team=None, now=NOW).text == "No jobs in your teams."


def test_a_deleted_job_reads_terminating() -> None:
    job = obj("Job", "old", status={"phase": "Running"})
    job.metadata.deletion_timestamp = NOW
    assert "Terminating" in all_text(jobs_message([job], team=None, now=NOW))


# status


def test_status_without_a_controller_says_capacity_is_unknown() -> None:
    message = status_message(StatusView(controller=False, nodes=[], everyone=True))
    assert NO_CONTROLLER in message.text


def test_status_shows_capacity_and_allocation_per_node() -> None:
    holdings = [Holding("research", {"cpu": 1500, "memory": 2 * 1024**3, "gpu": 1}, {})]
    cluster = {"cpu": 8000.0, "memory": 32.0 * 1024**3, "gpu": 4.0}
    nodes = node_groups("local", cluster, holdings)
    message = status_message(
        StatusView(controller=True, nodes=nodes, everyone=False, gpu_models=("A100",))
    )
    text = all_text(message)
    assert "*local* · 1 workload holding resources" in text
    assert "cpu: 1.5 cores allocated of 8 cores (19%)" in text
    assert "memory: 2.0 GiB allocated of 32.0 GiB (6%)" in text
    assert "gpu: 1 GPU allocated of 4 GPU (25%)" in text
    assert "GPU models: A100" in text
    assert "your teams' workloads only" in text


def test_status_with_no_capacity_reported_says_so() -> None:
    message = status_message(StatusView(controller=True, nodes=[], everyone=True))
    assert "did not report" in message.text


# help and errors


def test_help_lists_every_command() -> None:
    text = all_text(help_message())
    for verb in ("env create", "env list", "queue", "jobs", "status", "logs", "link", "help"):
        assert f"`/sapwood {verb}`" in text


def test_an_error_is_the_message_text() -> None:
    message = error_message("job/x not found in team research")
    assert message.text == "job/x not found in team research"


# logs


def test_a_short_log_is_a_code_block_of_its_last_lines() -> None:
    log = "".join(f"line {i}\n" for i in range(100)).encode()
    message = log_message("Job", "research", "train", log, lines=40, cut=False, file_bytes=1000)
    assert message.file is None
    code = message.blocks[1]["text"]["text"]
    assert code.startswith("```\nline 60\n")
    assert code.endswith("line 99\n```")
    assert "line 59" not in code
    assert "`sapwood logs job train --team research`" in all_text(message)


def test_a_log_too_long_to_show_comes_as_a_file_of_its_end() -> None:
    log = b"".join(b"%d " % i + b"x" * 300 + b"\n" for i in range(5000))
    message = log_message("Job", "research", "train", log, lines=40, cut=False, file_bytes=4096)
    within_slack_limits(message)
    assert message.file is not None
    assert message.file.filename == "train.log"
    assert message.file.content == log[-4096:]
    code = message.blocks[1]["text"]["text"]
    assert code.rstrip("`\n").endswith("x")  # the newest line is shown
    assert "attached" in message.text


def test_a_log_cannot_close_the_code_block_or_ping_a_channel() -> None:
    log = b"```\n<!here> done\n"
    message = log_message("Job", "research", "train", log, lines=40, cut=False, file_bytes=1000)
    code = message.blocks[1]["text"]["text"]
    assert code.count("```") == 2
    assert "<!here>" not in code


def test_an_empty_log_says_so() -> None:
    message = log_message("Job", "research", "train", b"", lines=40, cut=False, file_bytes=10)
    assert message.text == "job/train in team research has written no log yet."
