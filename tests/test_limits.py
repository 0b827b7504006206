"""Limits: CPU and wall time, memory, processes, output, file size, CPU share."""
import os
import subprocess


def test_busy_loop_is_TLE_by_cpu(corral):
    r = corral.hostile_run("busy", opts=("--time", "1", "--wall", "10"))
    assert r["status"] == "TLE" and r["tle"] == "cpu", r
    assert 900 <= r["cpu_ms"] <= 3500
    assert r["_rc"] == 124


def test_sleep_is_TLE_by_wall(corral):
    r = corral.hostile_run("sleep", "30", opts=("--time", "5", "--wall", "1"))
    assert r["status"] == "TLE" and r["tle"] == "wall", r
    assert 1000 <= r["wall_ms"] < 3000
    assert r["cpu_ms"] < 500


def test_memory_bomb_is_MLE(corral):
    r = corral.hostile_run("membomb", opts=("--memory", "64M"))
    be = r["limits"]["memory"]["backend"]
    if be.startswith("cgroup"):
        assert r["status"] == "MLE" and r["oom_killed"], r
        assert r["memory_peak_bytes"] >= 48 << 20
        assert r["memory_peak_bytes"] <= 80 << 20
        assert r["_rc"] == 123
    else:
        # No writable cgroup for this user: RLIMIT_AS makes malloc fail,
        # and the result says the limit came from an rlimit.
        assert be == "rlimit"
        assert r["status"] == "RE" and "malloc failed" in r["stdout"], r
    assert r["limits"]["memory"]["value"] == 64 << 20


def test_python_memory_bomb(corral):
    r = corral.py("x = bytearray(400 << 20); print('survived')", opts=("--memory", "128M"))
    assert "survived" not in r["stdout"]
    assert r["status"] in ("MLE", "RE"), r
    if r["limits"]["memory"]["backend"].startswith("cgroup"):
        assert r["status"] == "MLE"


def test_fork_bomb_is_held_and_host_unaffected(corral):
    r = corral.hostile_run("forkbomb", opts=("--pids", "32", "--wall", "20"))
    assert r["status"] in ("OK", "RE"), r
    forked = int(r["stdout"].split()[1].rstrip(","))
    assert forked < 32, r["stdout"]
    # the host still forks fine
    assert subprocess.run(["/bin/true"]).returncode == 0


def test_output_flood_is_OLE_and_capped(corral):
    r = corral.hostile_run("flood", opts=("--output", "100K"))
    assert r["status"] == "OLE", r
    assert len(r["stdout"]) == 100 * 1024
    assert r["stdout_truncated"] is True and r["stderr_truncated"] is False
    assert r["_rc"] == 122


def test_output_limit_passthrough(corral):
    p = corral.cli("run", "--output", "10K", "--bind", f"{corral.world}:/h:ro", "--",
                   "/h/hostile", "flood")
    assert p.returncode == 122
    assert len(p.stdout) == 10 * 1024
    assert "OLE" in p.stderr


def test_fsize_is_OLE(corral):
    r = corral.hostile_run("write-file", "/sandbox/big", str(4 << 20), opts=("--fsize", "1M"))
    assert r["status"] == "OLE", r
    assert r["signal"] == 25  # SIGXFSZ


def test_tmpfs_is_size_limited(corral):
    r = corral.hostile_run("write-file", "/tmp/big", str(8 << 20),
                           opts=("--tmpfs", "/tmp:4M", "--fsize", "unlimited"))
    assert r["status"] == "RE" and "errno 28" in r["stdout"], r  # ENOSPC


def test_nofile_limit(corral):
    r = corral.py("import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))",
                  opts=("--nofile", "64"))
    assert r["stdout"] == "(64, 64)\n"


def test_cpus_share_halves_cpu_time(corral_root):
    r = corral_root.hostile_run("busy", opts=("--cpus", "0.5", "--wall", "2", "--time", "10"))
    assert r["limits"]["cpus"]["backend"].startswith("cgroup"), r["limits"]
    assert r["status"] == "TLE" and r["tle"] == "wall"
    ratio = r["cpu_ms"] / r["wall_ms"]
    assert 0.35 <= ratio <= 0.65, (r["cpu_ms"], r["wall_ms"])


def test_limits_report_values_and_backends(corral):
    r = corral.run("/bin/true", opts=("--memory", "256M", "--pids", "64", "--time", "2",
                                      "--wall", "3", "--output", "2M"))
    lim = r["limits"]
    assert lim["memory"]["value"] == 256 << 20
    assert lim["pids"]["value"] == 64
    assert lim["time"]["value"] == 2000 and lim["wall"]["value"] == 3000
    assert lim["output"] == {"value": 2 << 20, "backend": "pipe"}
    assert lim["wall"]["backend"] == "timer"
    assert lim["cpus"]["value"] is None
    for name, l in lim.items():
        if l["value"] is not None:
            assert l["backend"] != "none", name


def test_thread_bomb_is_held_by_pids(corral):
    r = corral.py(
        "import threading, time\n"
        "n = 0\n"
        "try:\n"
        "    while n < 10000:\n"
        "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); n += 1\n"
        "except RuntimeError as e:\n"
        "    print('stopped at', n)\n",
        opts=("--pids", "40", "--wall", "20"))
    assert r["stdout"].startswith("stopped at"), r
    assert int(r["stdout"].split()[-1]) < 40
