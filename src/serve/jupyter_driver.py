# jupyter_driver.py - corral serve's /run_jupyter, inside the sandbox: runs
# the cells one after another in one Jupyter kernel, as SandboxFusion's
# runtime/jupyter/main.py does, and writes {"status", "cells"} (or
# {"status": "NoKernel", "message"}) to .corral-jupyter.json in the work
# directory, which the worker fetches and removes from `files`.
#
# Input on stdin: {"kernel", "cells", "cell_timeout"}.  The kernel talks to
# us over Unix sockets (transport ipc) in /tmp: the sandbox has no network.
# Per cell: stdout and stderr streams, display_data and execute_result data
# in `display`, error contents in `error`.  A cell over cell_timeout (when
# it is > 0) gets an error entry, and the kernel is interrupted.
import json
import os
import sys

OUT = ".corral-jupyter.json"


def finish(obj, code=0):
    with open(OUT, "w") as f:
        json.dump(obj, f)
    sys.exit(code)


req = json.load(sys.stdin)
try:
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import KernelManager
except ImportError as e:
    finish({"status": "NoKernel",
            "message": "no Jupyter in this root file system (%s): install jupyter_client and "
                       "ipykernel (Debian: python3-jupyter-client python3-ipykernel)" % e}, 3)

# (ipykernel's debugger complains about frozen modules on stderr otherwise)
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
km = KernelManager(kernel_name=req["kernel"], transport="ipc",
                   ip=os.path.join("/tmp", "corral-kernel"),
                   connection_file=os.path.join("/tmp", "corral-kernel.json"))
try:
    km.start_kernel(cwd=os.getcwd())
except NoSuchKernel as e:
    finish({"status": "NoKernel",
            "message": "no Jupyter kernel %r in this root file system (%s): install ipykernel "
                       "(Debian: python3-ipykernel)" % (req["kernel"], e)}, 3)
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)

cells = []
timeout = req.get("cell_timeout") or None
for code in req["cells"]:
    cell = {"stdout": "", "stderr": "", "display": [], "error": []}

    def hook(msg, cell=cell):
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        if kind == "stream":
            cell[content["name"]] += content["text"]
        elif kind in ("display_data", "execute_result"):
            cell["display"].append(content["data"])
        elif kind == "error":
            cell["error"].append(content)

    try:
        # stop_on_error=False: a cell sent right after an error (or an
        # interrupt) must run, not land in the kernel's abort window
        kc.execute_interactive(code, output_hook=hook, timeout=timeout, stop_on_error=False)
    except TimeoutError:
        cell["error"].append({"ename": "TimeoutError", "evalue": "cell timed out after %g s" % timeout,
                              "traceback": []})
        km.interrupt_kernel()
        # its reply first: a request sent before it would be aborted
        try:
            while kc.get_shell_msg(timeout=10)["msg_type"] != "execute_reply":
                pass
        except Exception:
            pass
    cells.append(cell)

kc.stop_channels()
km.shutdown_kernel(now=True)
finish({"status": "Finished", "cells": cells})
