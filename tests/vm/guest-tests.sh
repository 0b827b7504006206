#!/bin/sh
# Runs inside the VM as PID 1 (after switch_root onto a tmpfs): mounts a
# pure cgroup v2 hierarchy with every controller, runs corral against it
# with real programs, prints one "VMTEST ok|not ok - NAME" line per check
# and a closing "VMTEST N passed, M failed", then powers off.
export PATH=/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+memory +pids +cpu" > /sys/fs/cgroup/cgroup.subtree_control
ip link set lo up 2>/dev/null

pass=0
fail=0
ok () { echo "VMTEST ok - $1"; pass=$((pass + 1)); }
bad () { echo "VMTEST not ok - $1: $2"; fail=$((fail + 1)); }
check () { name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "$RES"; fi; }

# field NAME: a top-level scalar of the last result ($RES), quotes removed
field () { echo "$RES" | sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | head -n 1 | tr -d '"'; }
# backend LIMIT: limits.LIMIT.backend of $RES
backend () { echo "$RES" | sed -n "s/.*\"$1\":{\"value\":[^,]*,\"backend\":\"\([^\"]*\)\".*/\1/p"; }
H="--bind /opt/h:/h:ro"
run () { RES=$(corral run --json $H "$@" 2>&1); }

echo "VMTEST kernel $(uname -r), cgroup.controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

# corral doctor names cgroup v2 and the controllers
RES=$(corral doctor --json 2>&1)
check "doctor: cgroup v2 with memory, pids, cpu" sh -c \
  'echo "$0" | grep -q "\"mode\":[[:space:]]*\"v2\"" && echo "$0" | tr -d "\n\t " | grep -q "\"v2_controllers\":\[\"memory\",\"pids\",\"cpu\"\]"' "$RES"
check "doctor: CLONE_INTO_CGROUP, cgroup.kill, memory.peak" sh -c \
  'echo "$0" | tr -d "\n\t " | grep -q "\"kill\":true,\"memory_peak\":true,\"clone_into_cgroup\":true"' "$RES"

# memory.max + memory.swap.max, MLE from memory.events, memory.peak
run --memory 64M -- /h/hostile membomb
peak=$(field memory_peak_bytes)
check "memory bomb is MLE by oom_kill" [ "$(field status)" = MLE -a "$(field oom_killed)" = true ]
check "memory limit backend is cgroup-v2" [ "$(backend memory)" = cgroup-v2 ]
check "memory.peak feeds memory_peak_bytes ($peak)" [ "$(field memory_peak_source)" = cgroup-v2 -a "${peak:-0}" -ge 50000000 -a "${peak:-0}" -le 70000000 ]

# the limits as written into the run's cgroup, read while it runs
corral run --memory 64M --pids 50 --cpus 0.5 -- /bin/sleep 3 &
sleep 1
d=$(ls -d /sys/fs/cgroup/corral-* 2>/dev/null | head -n 1)
RES="dir=$d memory.max=$(cat $d/memory.max) swap=$(cat $d/memory.swap.max) pids=$(cat $d/pids.max) cpu=$(cat $d/cpu.max)"
check "cgroup files: memory.max, swap 0, pids.max, cpu.max 100ms period" \
  [ "$RES" = "dir=$d memory.max=67108864 swap=0 pids=50 cpu=50000 100000" ]
wait

# pids.max holds a fork bomb
run --pids 32 -- /h/hostile forkbomb
forked=$(echo "$RES" | sed -n 's/.*forked \([0-9]*\),.*/\1/p')
check "fork bomb held by pids.max (forked $forked)" [ "${forked:-99}" -lt 32 -a "$(backend pids)" = cgroup-v2 ]

# cpu.max throttles --cpus 0.5: CPU time about half of wall time
run --cpus 0.5 --wall 3 --time 30 -- /h/hostile busy
cpu=$(field cpu_ms)
wall=$(field wall_ms)
check "cpu.max --cpus 0.5: cpu $cpu ms of wall $wall ms" \
  [ "$(field status)" = TLE -a "$((cpu * 100 / wall))" -ge 35 -a "$((cpu * 100 / wall))" -le 65 -a "$(backend cpus)" = cgroup-v2 ]

# CPU-time TLE from cpu.stat
run --time 1 --wall 30 -- /h/hostile busy
check "busy loop is TLE by CPU time from cpu.stat" [ "$(field status)" = TLE -a "$(field tle)" = cpu -a "$(backend time)" = timer ]

# cgroup.kill leaves nothing
run -- /h/hostile daemon
run -- /h/hostile stopped
sleep 0.2
left=$(ps | grep -c "hostile [ds][at]")
check "daemonized and stopped children are gone" [ "$left" -eq 0 ]

# no cgroup is left after 100 runs
i=0
while [ $i -lt 100 ]; do corral run -- /bin/true || bad "run $i" "exit $?"; i=$((i + 1)); done
left=$(find /sys/fs/cgroup -maxdepth 3 -name 'corral-[0-9]*' | wc -l)
RES="left=$left"
check "no cgroup left after 100 runs" [ "$left" -eq 0 ]

# "no internal processes": corral alone in a cgroup with processes moves
# itself to a leaf, as a Delegate=yes service must
mkdir /sys/fs/cgroup/svc
RES=$(sh -c 'echo $$ > /sys/fs/cgroup/svc/cgroup.procs; exec corral run --json --memory 64M --bind /opt/h:/h:ro -- /h/hostile membomb' 2>&1)
check "leaf move: limits work from a cgroup corral sits in" [ "$(field status)" = MLE -a "$(backend memory)" = cgroup-v2 ]
check "leaf move: supervisor leaf and controllers enabled" sh -c \
  '[ -d /sys/fs/cgroup/svc/corral-supervisor ] && grep -q memory /sys/fs/cgroup/svc/cgroup.subtree_control'

# a delegated subtree (chowned as Delegate=yes does) works for a rootless run
mkdir /sys/fs/cgroup/deleg
chown 1000:1000 /sys/fs/cgroup/deleg /sys/fs/cgroup/deleg/cgroup.procs \
  /sys/fs/cgroup/deleg/cgroup.subtree_control /sys/fs/cgroup/deleg/cgroup.threads
RES=$(sh -c 'echo $$ > /sys/fs/cgroup/deleg/cgroup.procs; exec /opt/h/hostile runas 1000 1000 corral run --json --memory 64M --pids 40 --bind /opt/h:/h:ro -- /h/hostile membomb' 2>&1)
check "delegated subtree: rootless run is MLE under cgroup v2" \
  [ "$(field status)" = MLE -a "$(backend memory)" = cgroup-v2 -a "$(backend pids)" = cgroup-v2 ]
left=$(find /sys/fs/cgroup/deleg -name 'corral-[0-9]*' | wc -l)
check "delegated subtree: run cgroup removed" [ "$left" -eq 0 ]

# no writable cgroup at all: rlimits, and the result says so
RES=$(/opt/h/hostile runas 1000 1000 corral run --json --memory 64M --bind /opt/h:/h:ro -- /h/hostile membomb 2>&1)
check "no writable cgroup: memory falls back to rlimit" [ "$(backend memory)" = rlimit -a "$(field status)" = RE ]
RES=$(/opt/h/hostile runas 1000 1000 corral doctor 2>&1)
check "no writable cgroup: doctor prints the remedy" sh -c 'echo "$0" | grep -q "Delegate=yes"' "$RES"

# corral eval: samples forked from warm interpreters, each into its own
# sandbox and its own v2 cgroups (joined by fds the supervisor opened)
mkdir -p /tmp/he && cp /opt/he/* /tmp/he/ && chmod 777 /tmp/he && chmod 666 /tmp/he/*
RES=$(corral eval humaneval --problems /tmp/he/p.jsonl --samples /tmp/he/s.jsonl --json -j 2 --memory 64M 2>&1 | tail -n 1)
check "eval: warm samples, MLE by the run's v2 memory cgroup" sh -c \
  'echo "$0" | tr -d " " | grep -q "\"passed\":2,.*\"sandbox_statuses\":{.*\"MLE\":1.*},\"warm\":4"' "$RES"
left=$(find /sys/fs/cgroup -name 'corral-[0-9]*' | wc -l)
RES="$RES left=$left $(ps | grep -c '[p]ython3')"
check "eval: no cgroup and no interpreter left" [ "$left" -eq 0 -a "$(ps | grep -c '[p]ython3')" -eq 0 ]
mkdir /sys/fs/cgroup/deleg2
chown 1000:1000 /sys/fs/cgroup/deleg2 /sys/fs/cgroup/deleg2/cgroup.procs \
  /sys/fs/cgroup/deleg2/cgroup.subtree_control /sys/fs/cgroup/deleg2/cgroup.threads
RES=$(sh -c 'echo $$ > /sys/fs/cgroup/deleg2/cgroup.procs; exec /opt/h/hostile runas 1000 1000 corral eval humaneval --problems /tmp/he/p.jsonl --samples /tmp/he/s.jsonl --out /tmp/he/u.jsonl --json -j 2 --memory 64M' 2>&1 | tail -n 1)
check "eval: rootless warm samples in a delegated subtree, MLE by cgroup v2" sh -c \
  'echo "$0" | tr -d " " | grep -q "\"passed\":2,.*\"sandbox_statuses\":{.*\"MLE\":1.*},\"warm\":4"' "$RES"
left=$(find /sys/fs/cgroup/deleg2 -name 'corral-[0-9]*' | wc -l)
check "eval: rootless, no run cgroup left in the delegated subtree" [ "$left" -eq 0 ]

# images: an overlay root on this kernel, as root and rootless
corral image import /opt/img/save.tar --name t --store /tmp/store >/dev/null 2>&1
RES=$(corral run --image t --store /tmp/store -- /bin/sh -c 'echo $(ls /data) / $(ls /opq) / $(cat /etc/motd) / $FOO' 2>&1)
check "image: docker save layers, whiteout and opaque dir on overlayfs" [ "$RES" = "added keep / new / v2 / from-image" ]
RES=$(corral run --image t --store /tmp/store --uid 0 --gid 0 -- /bin/sh -c 'echo x > /data/written-by-run; ls /data | wc -l' 2>&1)
check "image: writes go to the run's upper layer, not the store" \
  [ "$RES" = 3 -a "$(find /tmp/store -name written-by-run | wc -l)" -eq 0 ]
mkdir -p /tmp/ustore && chown 1000:1000 /tmp/ustore
/opt/h/hostile runas 1000 1000 corral image import /opt/img/export.tar --name e --store /tmp/ustore/s >/dev/null 2>&1
RES=$(/opt/h/hostile runas 1000 1000 corral run --image e --store /tmp/ustore/s -- /bin/sh -c 'echo $(ls /data) / $(id -u); echo y > /data/w && echo wrote' 2>&1)
check "image: rootless run on an overlay in a user namespace (userxattr)" [ "$(echo $RES)" = "added keep / 1000 wrote" ]

# corral serve as a systemd unit with Delegate=yes runs it: alone in a
# cgroup of its own.  Its workers' runs get cgroup v2 limits, and SIGTERM
# leaves no cgroup behind.
if [ -x /usr/bin/corral-serve ]; then
  mkdir /sys/fs/cgroup/corral-serve.service
  sh -c 'echo $$ > /sys/fs/cgroup/corral-serve.service/cgroup.procs; exec corral serve --port 8080 --max-concurrency 1' \
    > /tmp/serve.log 2>&1 &
  spid=$!
  i=0
  while [ $i -lt 300 ] && ! wget -q -O /dev/null http://127.0.0.1:8080/health 2>/dev/null; do
    sleep 0.1; i=$((i + 1))
  done
  RES=$(wget -q -O - --header 'Content-Type: application/json' \
    --post-data '{"argv":["/usr/bin/hostile","membomb"],"memory":67108864,"pids":40}' \
    http://127.0.0.1:8080/v1/run 2>&1)
  check "serve in a service's cgroup: a run is MLE under cgroup v2" \
    [ "$(field status)" = MLE -a "$(backend memory)" = cgroup-v2 -a "$(backend pids)" = cgroup-v2 ]
  RES=$(ls /sys/fs/cgroup/corral-serve.service)
  check "serve: the server and workers moved to a leaf, controllers enabled" sh -c \
    '[ -d /sys/fs/cgroup/corral-serve.service/corral-supervisor ] && grep -q memory /sys/fs/cgroup/corral-serve.service/cgroup.subtree_control'
  kill -TERM $spid
  wait $spid
  src=$?
  left=$(find /sys/fs/cgroup/corral-serve.service -name 'corral-[0-9]*' | wc -l)
  RES="exit=$src left=$left $(tail -n 3 /tmp/serve.log | tr '\n' ' ')"
  check "serve: SIGTERM stops it cleanly, no run cgroup left" [ "$src" -eq 0 -a "$left" -eq 0 ]
else
  bad "serve in a service's cgroup" "corral-serve was not copied into the VM"
fi

echo "VMTEST $pass passed, $fail failed"
sync
poweroff -f
