#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/NAME/*): small valid
inputs of each format, from which libFuzzer mutates.  Run from the source
tree: python3 fuzz/make-seeds.py.  The output is committed."""
import gzip
import json
import os
import shutil
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
sys.path.insert(0, os.path.join(top, "tests"))
import imagebuild  # noqa: E402

out = os.path.join(here, "corpus")


def put(name, key, data):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, key), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


shutil.rmtree(out, ignore_errors=True)

# ---- http-head: request heads as clients send them ----
heads = {
    "get": "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    "post": "POST /run_code HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
            "Content-Length: 40\r\nAuthorization: Bearer k\r\n\r\n",
    "chunked": "POST /v1/run HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n",
    "expect": "POST /run_code HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    "leading-crlf": "\r\nGET / HTTP/1.0\r\n\r\n",
    "fold": "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    "two-cl": "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
}
for k, v in heads.items():
    put("http-head", k, v)

# ---- json-token: rows whose completion or codes hold a NUL ----
put("json-token", "completion", json.dumps({"task_id": "t/0", "completion": "    return 1\u0000x\n\"q\" \u00e9 \ud83d\ude00"}))
put("json-token", "codes", json.dumps({"question_id": "q", "code_list": ["a\u0000", "b", {"x": [1, "]"]}, "\\"]}))
put("json-token", "nested", '{"a": {"completion": "inner"}, "completion" : "outer", "completion": "last"}')

# ---- policy: the shipped policy and small variants ----
pol = open(os.path.join(top, "policies", "default.json")).read()
put("policy", "default", pol)
put("policy", "small", json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]}))

# ---- result-json: results as a server returns them ----
put("result-json", "ok", '{"status":"OK","exit_code":0,"signal":null,"wall_ms":7,"cpu_ms":2,'
    '"memory_peak_bytes":262144,"memory_peak_source":"cgroup-v1","oom_killed":false,"stdout":"hi\\n",'
    '"stderr":"","stdout_truncated":false,"stderr_truncated":false,"syscall":null,"tle":null,'
    '"reason":"exited with code 0","limits":{"memory":{"value":1073741824,"backend":"cgroup-v1"},'
    '"pids":{"value":256,"backend":"cgroup-v1"},"cpus":{"value":null,"backend":"none"},'
    '"wall":{"value":60000,"backend":"timer"}}}')
put("result-json", "sys", '{"status":"SYS","exit_code":null,"signal":31,"wall_ms":3,"cpu_ms":1,'
    '"syscall":{"nr":101,"name":"ptrace"},"stdout":"","stderr":"","reason":"killed by seccomp"}')

# ---- serve-requests: the first byte picks the route (see serve-requests.c) ----
bodies = [
    (0, {"code": "print(1)", "language": "python", "run_timeout": 5, "stdin": "",
         "files": {"a.txt": "YQ=="}, "fetch_files": ["a.txt"]}),
    (1, {"cells": ["x = 1", "print(x)"], "kernel": "python3", "cell_timeout": 5, "total_timeout": 10}),
    (2, {"argv": ["/bin/echo", "hi"], "memory": "64m", "wall": 5, "files": {"in": "x"}}),
    (3, {"sandbox_type": "docker", "config": {"image": "python:3.11-slim", "timeout": 30,
                                                "tools_config": {"python_executor": {}}}}),
    (4, {"sandbox_id": "abcdefgh", "tool_name": "python_executor",
         "parameters": {"code": "print(1)", "timeout": 5}}),
    (5, {"sandbox_type": "docker", "pool_size": 2, "config": {}}),
    (6, {"tool_name": "shell_executor", "parameters": {"command": "echo hi"}, "timeout": 5}),
]
for i, (route, body) in enumerate(bodies):
    put("serve-requests", f"r{i}", bytes([route]) + json.dumps(body).encode())
# series of requests, "\n\xff" between them, "@ID" the last sandbox made
cfg = {"timeout": 30, "tools_config": {"shell_executor": {}, "python_executor": {}, "file_operation": {}},
       "working_dir": "/sandbox", "env_vars": {"A": "1"}, "memory_limit": "256m", "cpu_limit": 1.0,
       "network_enabled": False, "image": "python:3.11-slim"}
seq = [bytes([3]) + json.dumps(cfg).encode(),
       bytes([4]) + json.dumps({"sandbox_id": "@ID", "tool_name": "python_executor",
                                "parameters": {"code": "print(1)", "timeout": 5}}).encode(),
       bytes([4]) + json.dumps({"sandbox_id": "@ID", "tool_name": "file_operation",
                                "parameters": {"operation": "write", "file_path": "/sandbox/a.txt",
                                               "content": "x"}}).encode(),
       bytes([7]), bytes([13]), bytes([9]), bytes([10]), bytes([12]), bytes([11]) + b"\x1f\x8b\x08\x00",
       bytes([8])]
put("serve-requests", "sequence", b"\n\xff".join(seq))
put("serve-requests", "pool", b"\n\xff".join([
    bytes([5]) + json.dumps({"sandbox_type": "docker", "pool_size": 1, "config": cfg}).encode(),
    bytes([6]) + json.dumps({"tool_name": "shell_executor", "parameters": {"command": "ls"},
                             "timeout": 3}).encode(),
    bytes([10])]))

# ---- humaneval-data: byte 0 = which file (0 problems, 1 samples, 2 results; +4 gzip) ----
he = os.path.join(top, "tests", "data", "humaneval")
put("humaneval-data", "problems", b"\0" + open(os.path.join(he, "example_problem.jsonl"), "rb").read())
put("humaneval-data", "samples", b"\1" + open(os.path.join(he, "example_samples.jsonl"), "rb").read())
put("humaneval-data", "results", b"\2" + b'{"task_id": "t/0", "completion": "    return 1", '
    b'"result": "failed: AssertionError", "passed": false}\n')

# ---- lcb-data: byte 0 = 0 problems, 1 samples, 2 results, 3 pickle, 4 encoded tests ----
tests = json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}])
row = {"question_id": "abc301_a", "platform": "atcoder", "difficulty": "easy",
       "contest_date": "2023-06-17T00:00:00", "starter_code": "", "public_test_cases": tests,
       "private_test_cases": tests, "metadata": "{}"}
put("lcb-data", "problems", b"\0" + json.dumps(row).encode() + b"\n")
put("lcb-data", "samples-list", b"\1" + json.dumps([{"question_id": "q1", "code_list": ["print(1)"]}]).encode())
put("lcb-data", "samples-jsonl", b"\1" + json.dumps({"question_id": "q2", "code_list": ["x"]}).encode() + b"\n")
put("lcb-data", "results", b"\2" + json.dumps([{"question_id": "q1", "code_list": ["print(1)"],
                                               "graded_list": [False], "metadata": [{"error_code": -2}]}]).encode())
import pickle  # noqa: E402
for proto in (0, 2, 4, 5):
    p = pickle.dumps(tests, protocol=proto)
    put("lcb-data", f"pickle{proto}", b"\3" + p)
    put("lcb-data", f"encoded{proto}", b"\4" + p)

# ---- model-output: program output with a verdict line, model answers with fences ----
put("model-output", "verdict", "hello\n0123456789abcdef01234567\"passed\"\n")
put("model-output", "fenced", "Here is the code:\n```python\ndef f():\n    return 1\n```\nDone.\n")
put("model-output", "two-fences", "```\na\n```\ntext\n```py\nb\n```")

# ---- passwd: first line the User, the rest /etc/passwd and /etc/group ----
put("passwd", "name", "app:staff\nroot:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    "staff:x:50:\n")
put("passwd", "ids", "1000:1000\nroot:x:0:0:root:/root:/bin/sh\n")
put("passwd", "uid", "0\n+::::::\n#comment\n\n")

# ---- image-import: tiny images of each format ----
tiny = tempfile.mkdtemp()
try:
    sh = os.path.join(tiny, "sh")
    with open(sh, "w") as f:
        f.write("#!/bin/true\n")
    imagebuild.BUSYBOX = sh
    imagebuild.APPLETS = ["sh"]
    for kind in ("docker-export", "docker-export-gz", "docker-save", "docker-save-oci", "oci-tar"):
        p = imagebuild.build(kind, os.path.join(tiny, kind))
        put("image-import", kind, open(p, "rb").read())
finally:
    shutil.rmtree(tiny)

for name in sorted(os.listdir(out)):
    files = os.listdir(os.path.join(out, name))
    size = sum(os.path.getsize(os.path.join(out, name, f)) for f in files)
    print(f"{name}: {len(files)} seeds, {size} bytes")
