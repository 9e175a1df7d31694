"""Which cgroup hierarchy the local runtime uses and where (pure parsing and planning)."""

from __future__ import annotations

from pathlib import Path

from sapwood.server.runtimes.local import cgroups

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
"""
V2_MOUNTINFO = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V2_CGROUP = "0::/system.slice/sapwood.service\n"
COMBINED_V1 = (
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
)


def test_parse_mountinfo_finds_v1_and_v2() -> None:
    mounts = cgroups.parse_mountinfo(HYBRID_MOUNTINFO)
    assert [(m.version, sorted(m.controllers)) for m in mounts] == [
        (1, ["cpu"]),
        (1, ["cpuacct"]),
        (1, ["memory"]),
        (1, []),
        (2, []),
    ]


def test_parse_proc_cgroup() -> None:
    membership = cgroups.parse_proc_cgroup(HYBRID_CGROUP)
    assert membership["memory"] == "/process_api/abc"
    assert membership["cpu"] == "/"
    assert membership[""] == "/"


def plans(mountinfo: str, cgroup: str, v2: frozenset[str]) -> list[cgroups.CgroupPlan]:
    return cgroups.candidate_plans(
        cgroups.parse_mountinfo(mountinfo),
        cgroups.parse_proc_cgroup(cgroup),
        v2_controllers=v2,
        namespace="sapwood-ns",
    )


def test_hybrid_without_v2_controllers_nests_under_each_v1_cgroup() -> None:
    (plan,) = plans(HYBRID_MOUNTINFO, HYBRID_CGROUP, frozenset({"hugetlb"}))
    assert plan.mechanism == cgroups.V1
    assert plan.unit_dirs("job.a.b.0") == (
        Path("/sys/fs/cgroup/memory/process_api/abc/sapwood-ns/job.a.b.0"),
        Path("/sys/fs/cgroup/cpu/sapwood-ns/job.a.b.0"),
    )
    assert plan.memory_dir("u") == Path("/sys/fs/cgroup/memory/process_api/abc/sapwood-ns/u")


def test_v2_is_preferred_when_it_offers_the_controllers() -> None:
    (plan,) = plans(V2_MOUNTINFO, V2_CGROUP, frozenset({"cpu", "memory", "io"}))
    assert plan.mechanism == cgroups.V2
    unit = Path("/sys/fs/cgroup/system.slice/sapwood.service/sapwood-ns/u")
    assert plan.unit_dirs("u") == (unit,)
    first, *_ = plans(HYBRID_MOUNTINFO, HYBRID_CGROUP, frozenset({"cpu", "memory"}))
    assert first.mechanism == cgroups.V2


def test_no_usable_hierarchy_means_no_plan() -> None:
    assert plans(V2_MOUNTINFO, V2_CGROUP, frozenset({"io"})) == []
    assert plans("", "", frozenset()) == []


def test_combined_controllers_and_namespaced_mount_roots() -> None:
    cgroup = "5:cpu,cpuacct:/docker/x\n4:memory:/docker/x\n"
    (plan,) = plans(COMBINED_V1, cgroup, frozenset())
    assert plan.unit_dirs("u") == (
        Path("/sys/fs/cgroup/memory/sapwood-ns/u"),
        Path("/sys/fs/cgroup/cpu,cpuacct/docker/x/sapwood-ns/u"),
    )


def test_oom_kills() -> None:
    v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"
    assert cgroups.oom_kills_from(cgroups.V1, v1) == 2
    assert cgroups.oom_kills_from(cgroups.V1, "oom_kill_disable 0\nunder_oom 1\n") == 1
    assert cgroups.oom_kills_from(cgroups.V1, "oom_kill_disable 0\nunder_oom 0\n") == 0
    v2 = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"
    assert cgroups.oom_kills_from(cgroups.V2, v2) == 1


def test_memory_limits() -> None:
    assert cgroups.parse_memory_limit("max\n") is None
    assert cgroups.parse_memory_limit("9223372036854771712\n") is None
    assert cgroups.parse_memory_limit("1073741824\n") == 1 << 30


def test_namespace_differs_per_data_dir(tmp_path: Path) -> None:
    first = cgroups.namespace_for(tmp_path / "a")
    assert first == cgroups.namespace_for(tmp_path / "a")
    assert first != cgroups.namespace_for(tmp_path / "b")
    assert first.startswith("sapwood-")
