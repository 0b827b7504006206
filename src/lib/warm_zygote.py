# warm_zygote.py - a warm interpreter (see warm.c).  It runs in a corral
# sandbox of its own, as uid 0 of that sandbox's user namespace with its
# capabilities there, and never runs a sample itself.  Each run it forks a
# child that makes a fresh sandbox inside its own and only then runs the
# payload (an eval runner) in it, started but not yet run: the interpreter's
# start-up (~9 ms, most of a short sample's cost) is paid once per worker.
#
# The child, before any sample code: is pid 1 of a new pid namespace;
# joins the run's cgroups (fds the supervisor opened); makes new mount,
# net, ipc, uts and cgroup namespaces, fresh tmpfs on /tmp, /dev/shm and
# /sandbox, and a fresh read-only /proc (masked as the sandbox's); then
# forks the program (pid 2) and stays a small reaper that reports its
# status as corral's init does.  The program takes its own session and the
# run's rlimits, drops every capability (bounding, ambient, securebits
# locked, then the sets), sets no_new_privs, closes every other fd, and
# loads the seccomp filter last, whose listener goes to the supervisor.
#
# Protocol on fd 0 (a SOCK_SEQPACKET socket): the first message is JSON
# {payload, bpf_notify, bpf_kill, masks}; we answer "ready".  Then one
# message a run: JSON {env, cwd, hostname, tmp, shm, sandbox, lo, rlimits}
# with fds [stdin, stdout, stderr, report, channel, cgroup joins...]; we
# answer "p" with a pidfd of the run's process, which ends with the run.
import ctypes
import gc
import json
import os
import resource
import signal
import socket
import struct
import sys

_ctl = socket.socket(fileno=os.dup(0))
_null = os.open("/dev/null", os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 28, 38, 47
SYS_CAPSET, SYS_SECCOMP = 126, 317
REP_SETUP, REP_EXIT = 1, 2
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(src, dst, fstype, flags, data=None):
    _check(_libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {dst}")


def _report(fd, kind, status, text=""):
    os.write(fd, struct.pack("ii1016s", kind, status, text.encode()[:1015]))


def _drop_caps():
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the kernel's last
                break
            _check(-1, f"drop capability {cap} from the bounding set")
    _libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    # uid 0 of this namespace must not regain capabilities at execve
    _check(_libc.prctl(PR_SET_SECUREBITS, 0x3f, 0, 0, 0), "securebits")
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(SYS_CAPSET, hdr, data), "clear capability sets")


def _load(prog, flags):
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = _Fprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    return _libc.syscall(SYS_SECCOMP, 1, flags, ctypes.byref(fprog))


def _seccomp(chan):
    """Last: the filter whose forbidden calls notify the supervisor (it
    gets the listener), else the one that kills."""
    if _notify:
        fd = _load(_notify, 8)  # SECCOMP_FILTER_FLAG_NEW_LISTENER
        if fd >= 0:
            socket.send_fds(chan, [b"l"], [fd])
            os.close(fd)
            return
    if _kill:
        _check(_load(_kill, 0), "seccomp")


def _init(prog_pid, rep):
    """Pid 1 of the run's pid namespace: reaps, forwards, reports.  It
    needs no capability from here on, and keeps none."""
    _drop_caps()
    for s in FORWARDED:
        signal.signal(s, lambda sig, _f: os.kill(prog_pid, sig))
    status = None
    while True:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == prog_pid:
            status = st
            break
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    if status is not None:
        _report(rep, REP_EXIT, status)
    os._exit(0)


def _program(req, stdin, out, err, chan, rep):
    """Pid 2: the payload's process, locked down before it runs.  Its
    signal dispositions are the zygote's, which are a fresh interpreter's
    (SIGINT raises KeyboardInterrupt, SIGPIPE and SIGXFSZ ignored): left
    as they are."""
    os.setsid()
    os.dup2(stdin, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    for res, soft, hard in req["rlimits"]:
        resource.setrlimit(res, (soft, hard))
    _drop_caps()
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    os.chdir(req["cwd"])
    keep = sorted((chan.fileno(), rep))
    os.closerange(3, keep[0])
    os.closerange(keep[0] + 1, keep[1])
    os.closerange(keep[1] + 1, 1 << 16)
    os.environ.clear()
    for kv in req["env"]:
        k, _, v = kv.partition("=")
        os.environ[k] = v
    _seccomp(chan)
    chan.close()
    os.close(rep)
    # what a fresh `python3 -c PAYLOAD` would have
    main = type(sys)("__main__")
    main.__dict__.update(__builtins__=__builtins__, __annotations__={},
                         __loader__=__loader__, __spec__=None, __package__=None)
    sys.modules["__main__"] = main
    sys.argv = ["-c"]
    code = 0
    try:
        exec(_code, main.__dict__)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _child(req, fds):
    """Pid 1 of the run's pid namespace (the zygote made it before the
    fork): builds the run's sandbox, forks the program, then reaps."""
    stdin, out, err, rep, chan = fds[:5]
    _ctl.close()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    chan = socket.socket(fileno=chan)
    try:
        # the supervisor's fds: the kernel checks their opener's rights
        for j in fds[5:]:
            os.write(j, b"0")
            os.close(j)
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                             | CLONE_NEWCGROUP), "unshare")
        host = req["hostname"].encode()
        _check(_libc.sethostname(host, len(host)), "sethostname")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={req['tmp']},mode=1777")
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={req['shm']},mode=1777")
        _mount("tmpfs", "/sandbox", "tmpfs", MS_NOSUID | MS_NODEV, f"size={req['sandbox']},mode=0755")
        _mount("proc", "/proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        for f in _masks["null"]:
            if os.path.lexists("/proc/" + f):
                _mount("/dev/null", "/proc/" + f, None, MS_BIND)
        for d in _masks["dirs"]:
            if os.path.isdir("/proc/" + d):
                _mount("tmpfs", "/proc/" + d, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                       "size=4k,mode=0555")
        if req["lo"]:
            import fcntl
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ifr = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifr))[1]  # SIOCGIFFLAGS
            fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
            s.close()
    except OSError as e:
        _report(rep, REP_SETUP, 0, str(e))
        os._exit(126)
    prog = os.fork()
    if prog == 0:
        try:
            _program(req, stdin, out, err, chan, rep)
        except BaseException as e:
            _report(rep, REP_SETUP, 0, f"warm sandbox: {e}")
            os._exit(126)
    for f in (stdin, out, err):
        os.close(f)
    chan.close()
    _init(prog, rep)


_start = json.loads(_ctl.recv(1 << 22))
_code = compile(_start["payload"], "<string>", "exec")
# A payload's imports above its preload mark are loaded here, once: each
# sample then finds them in sys.modules, as a fresh run of the payload
# would have them (a module that fails to load here fails there too).
_mark = _start["payload"].find("\n# --- corral: end of the preload ---\n")
if _mark >= 0:
    try:
        exec(compile(_start["payload"][:_mark], "<preload>", "exec"), {"__name__": "__corral_preload__"})
    except BaseException:
        pass
    del _mark
_notify = bytes.fromhex(_start["bpf_notify"])
_kill = bytes.fromhex(_start["bpf_kill"])
_masks = _start["masks"]
_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
# Each run's pid namespace is made here, so that our child is its pid 1;
# afterwards our children are ours again.
_own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
# Objects made so far are never collected: no collection touches (and so
# copies) the pages the children share with us.
gc.freeze()
_ctl.send(b"ready")
while True:
    try:
        _msg, _fds, _flags, _addr = socket.recv_fds(_ctl, 1 << 20, 32)
    except OSError:
        os._exit(0)
    if not _msg:
        os._exit(0)
    _req = json.loads(_msg)
    _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
    _pid = os.fork()
    if _pid == 0:
        _child(_req, _fds)
    _check(_libc.setns(_own_pid_ns, CLONE_NEWPID), "setns pid")
    for _f in _fds:
        os.close(_f)
    _pidfd = os.pidfd_open(_pid)
    socket.send_fds(_ctl, [b"p"], [_pidfd])
    os.close(_pidfd)
    os.waitpid(_pid, 0)
