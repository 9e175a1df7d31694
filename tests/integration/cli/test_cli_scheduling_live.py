"""`sapwood quotas` and `sapwood queue` against a live server."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.conftest import Sapwood, job_yaml


def test_quotas_set_list_delete(sapwood: Sapwood) -> None:
    assert sapwood("teams", "create", "research").exit_code == 0
    result = sapwood(
        "quotas", "set", "research", "--guaranteed", "cpu=8,memory=32Gi,gpu=2", "--max", "gpu=8"
    )
    assert result.exit_code == 0, result.output
    assert "quota/research set: guaranteed cpu 8, memory 32Gi, gpu 2, max gpu 8" in result.output
    listed = sapwood("quotas", "list")
    assert "research" in listed.output
    assert "gpu 8" in listed.output
    assert sapwood("quotas", "delete", "research").exit_code == 0
    assert "No quotas set" in sapwood("quotas", "list").output


def test_bad_quota_amount_names_the_term(sapwood: Sapwood) -> None:
    result = sapwood("quotas", "set", "default", "--guaranteed", "cpus=4")
    assert result.exit_code == 2
    assert "cpus=4" in result.output


def test_queue_lists_waiting_work(sapwood: Sapwood, specs: Path) -> None:
    # The test server runs no controller, so applied work waits unconsidered.
    (specs / "jobs.yaml").write_text(job_yaml("first") + "---\n" + job_yaml("second"))
    assert sapwood("apply", "-f", str(specs / "jobs.yaml")).exit_code == 0
    result = sapwood("queue")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["#", "WORKLOAD", "TEAM", "PRIORITY"]
    assert [line.split()[1] for line in lines[1:]] == ["job/first", "job/second"]
    assert "not yet considered by the scheduler" in result.output
