from __future__ import annotations

from datetime import datetime, timedelta

from sapwood.cli.describe import describe_text, probe_text, spec_summary
from sapwood.cli.events import event_table
from sapwood.schemas import Event
from tests.unit.cli.conftest import MakeObject


def event(now: datetime, ident: int, reason: str, message: str, *, ago: timedelta) -> Event:
    return Event.model_validate(
        {
            "id": ident,
            "kind": "Service",
            "team": "research",
            "name": "web",
            "uid": "u",
            "type": "Warning" if reason == "Unhealthy" else "Normal",
            "reason": reason,
            "message": message,
            "createdAt": (now - ago).isoformat(),
        }
    )


def test_describe_shows_metadata_spec_status_and_events_oldest_first(
    make_object: MakeObject, now: datetime
) -> None:
    svc = make_object(
        "Service",
        "web",
        labels={"app": "web"},
        status={"phase": "Running", "readyReplicas": 1, "restarts": 2},
    )
    events = [
        event(now, 2, "Unhealthy", "readiness probe failed", ago=timedelta(seconds=30)),
        event(now, 1, "Admitted", "admitted with 1 replica", ago=timedelta(minutes=4)),
    ]
    text = describe_text(svc, events, now=now)
    lines = text.splitlines()

    assert lines[0] == "Name:         web"
    assert "Kind:         Service" in lines
    assert "Labels:       app=web" in lines
    assert "  Command:    python -m http.server $PORT" in lines
    assert "  Resources:  cpu 500m, memory 512Mi, gpu 0" in lines
    assert "  Replicas:   1..3" in lines
    assert "  Readiness:  http :$PORT/healthz every 10s, timeout 1s" in lines
    assert "  Ready replicas: 1" in lines
    assert "  Phase:      Running" in lines
    at = lines.index("Events:")
    assert lines[at + 1].split() == ["AGE", "TYPE", "REASON", "MESSAGE"]
    assert lines[at + 2].split()[:3] == ["4m", "Normal", "Admitted"]
    assert lines[at + 3].split()[:3] == ["30s", "Warning", "Unhealthy"]


def test_describe_without_status_or_events(make_object: MakeObject, now: datetime) -> None:
    text = describe_text(make_object("Job", status={}), [], now=now)
    assert "  <none yet>" in text.splitlines()
    assert text.splitlines()[-1] == "Events:       <none>"


def test_spec_summary_of_a_job(make_object: MakeObject) -> None:
    job = make_object(
        "Job",
        spec={
            "command": ["python", "train.py"],
            "replicas": 4,
            "retries": 3,
            "env": {"B": "1", "A": "2"},
        },
    )
    summary = dict(spec_summary("Job", job.spec))
    assert summary["Command"] == "python train.py"
    assert summary["Replicas"] == "4"
    assert summary["Retries"] == "3"
    assert summary["Env"] == "A, B"


def test_probe_text_for_each_kind_of_probe() -> None:
    assert probe_text({"tcp": {"port": 8080}, "period": "5s"}) == "tcp :8080 every 5s"
    assert probe_text({"exec": {"command": ["test", "-f", "/ready"]}}) == "exec test -f /ready"
    assert probe_text({"http": {"path": "/", "port": None}, "failureThreshold": 3}) == (
        "http :$PORT/, 3 failures"
    )


def test_event_table_names_the_object_when_asked(now: datetime) -> None:
    table = event_table(
        [event(now, 1, "Admitted", "ok", ago=timedelta(0))], now=now, with_object=True
    )
    assert table.splitlines()[1].split() == ["0s", "Normal", "Admitted", "service/web", "ok"]


def test_replicas_are_a_table_with_the_last_exit() -> None:
    from sapwood.cli.describe import replica_table

    text = replica_table(
        [
            {"index": 0, "state": "Running", "ready": True, "restarts": 0, "pid": 41, "port": 8080},
            {
                "index": 1,
                "state": "BackOff",
                "restarts": 2,
                "lastExit": {"code": 137, "reason": "OOMKilled", "at": "2026-01-01T00:00:00"},
            },
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == [
        "REPLICA",
        "STATE",
        "READY",
        "RESTARTS",
        "PID",
        "PORT",
        "LAST",
        "EXIT",
    ]
    assert lines[1].split() == ["0", "Running", "yes", "0", "41", "8080", "-"]
    assert lines[2].split() == ["1", "BackOff", "no", "2", "-", "-", "OOMKilled", "(137)"]


def test_describe_lists_a_rerun_jobs_earlier_runs_newest_first(
    make_object: MakeObject, now: datetime
) -> None:
    def outcome(run: int, phase: str, reason: str, ago: timedelta) -> dict[str, object]:
        return {"run": run, "phase": phase, "reason": reason, "finishedAt": (now - ago).isoformat()}

    history = [
        outcome(1, "Failed", "BackoffLimitExceeded", timedelta(hours=2)),
        outcome(2, "Succeeded", "Completed", timedelta(minutes=5)),
    ]
    job = make_object("Job", "train", status={"phase": "Running", "run": 3, "history": history})

    text = describe_text(job, [], now=now)

    assert "  Run:        3" in text
    assert "History" not in text
    rows = text.split("Earlier runs:\n", 1)[1].splitlines()
    assert rows[0].split() == ["RUN", "PHASE", "REASON", "FINISHED", "MESSAGE"]
    assert rows[1].split() == ["2", "Succeeded", "Completed", "5m", "ago"]
    assert rows[2].split() == ["1", "Failed", "BackoffLimitExceeded", "2h", "ago"]
