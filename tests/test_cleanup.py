"""Nothing outlives a run: daemons, stopped processes, cgroups, mounts."""
import json
import os
import time

import pytest

from conftest import host_snapshot, processes_matching


def test_daemonized_grandchild_is_gone(corral):
    r = corral.hostile_run("daemon")
    assert r["status"] == "OK" and r["stdout"].startswith("daemon "), r
    assert processes_matching(b"hostile\x00daemon") == []


def test_stopped_child_is_gone(corral):
    r = corral.hostile_run("stopped")
    assert r["status"] == "OK", r
    assert processes_matching(b"hostile\x00stopped") == []


def test_killed_run_leaves_nothing(corral):
    r = corral.hostile_run("forkbomb", opts=("--pids", "16", "--wall", "1"))
    assert r["status"] in ("OK", "RE", "TLE")
    r = corral.hostile_run("busy", opts=("--wall", "0.5"))
    assert r["status"] == "TLE"
    assert processes_matching(b"hostile\x00busy") == []
    assert processes_matching(b"hostile\x00forkbomb") == []


def test_200_runs_leave_nothing_behind(corral):
    before_procs, before_mounts, before_cg = host_snapshot()
    before_tmp = set(os.listdir("/tmp"))
    for i in range(200):
        p = corral.cli("run", "--", "/bin/true")
        assert p.returncode == 0, p.stderr
    time.sleep(0.2)
    procs, mounts, cg = host_snapshot()
    assert mounts == before_mounts
    assert cg == before_cg == []
    # corral makes no temporary files on the host (other processes on the
    # machine may, so only names of ours count)
    assert {n for n in set(os.listdir("/tmp")) - before_tmp if "corral" in n} == set()
    corral_procs = [p for p in processes_matching(b"corral") if p not in before_procs
                    and p != os.getpid()]
    assert corral_procs == []


def test_sigkilled_supervisor_takes_the_sandbox_along(corral):
    import signal
    import subprocess
    p = subprocess.Popen(corral.argv(["run", "--bind", f"{corral.world}:/h:ro", "--wall", "60",
                                      "--", "/bin/sh", "-c", "/h/hostile daemon; exec sleep 60"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=corral.env())
    assert p.stdout.readline().startswith(b"daemon ")  # the daemon is up
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    deadline = time.time() + 5
    while processes_matching(b"hostile\x00daemon") and time.time() < deadline:
        time.sleep(0.05)
    assert processes_matching(b"hostile\x00daemon") == []
    # its cgroups are left for a later run of corral to remove, once the
    # killed sandbox's last task is released
    deadline = time.time() + 10
    while True:
        corral.cli("run", "--", "/bin/true")
        stale = [c for c in host_snapshot()[2] if f"corral-{p.pid}-" in c]
        if stale == [] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert stale == []


def test_a_dead_supervisors_busy_cgroups_are_killed_and_removed(corral_root):
    """What a SIGKILLed supervisor leaves while its sandbox is still dying
    (cgroups corral-PID-N of a gone PID, a process still in them): the
    next run kills what is there and removes them, not only empty ones."""
    import subprocess
    doc = json.loads(corral_root.cli("doctor", "--json").stdout)
    bases = [b for b in (doc["cgroup"]["v2_base"], doc["cgroup"]["v1"].get("pids")) if b]
    if not bases:
        pytest.skip("no cgroups on this host")
    gone = subprocess.Popen(["true"])
    gone.wait()
    sleeper = subprocess.Popen(["sleep", "60"])
    made = []
    try:
        for b in bases:
            d = os.path.join(b, f"corral-{gone.pid}-7")
            os.mkdir(d)
            made.append(d)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(sleeper.pid))
        r = corral_root.run("/bin/true")
        assert r["status"] == "OK", r
        assert [d for d in made if os.path.exists(d)] == []
        assert sleeper.wait(timeout=5) == -9
    finally:
        sleeper.kill()
        sleeper.wait()
        for d in made:
            if os.path.exists(d):
                os.rmdir(d)
