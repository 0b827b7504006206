#!/bin/sh
# fuzz/build.sh - builds corral's libFuzzer harnesses (fuzz/*.c) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer, and runs each on its seed
# corpus (fuzz/corpus/NAME) for FUZZ_SECONDS.  `make fuzz` calls it with the
# paths and the flags configure found:
#
#   FUZZ_SRCDIR FUZZ_BUILDDIR   the source tree and the configured build tree
#   FUZZ_DEP_CFLAGS FUZZ_LIBS   the dependencies' -I flags and libraries
#   FUZZ_CC (clang)  FUZZ_SECONDS (60)  FUZZ_ONLY (all: names, blank-separated)
#   FUZZ_JOBS (1)    the runs in parallel
#
# Everything it makes is under $FUZZ_BUILDDIR/fuzz-out: the objects, the
# harnesses, each one's corpus as it grew, and a crash-*/leak-*/timeout-*
# file for any input that failed.  Exit status 1 when a harness failed.
# As root the harnesses run as nobody (image-import unpacks what the fuzzer
# makes: a layer that escaped the store must not land where root writes).
set -eu

src=${FUZZ_SRCDIR:?}
bld=${FUZZ_BUILDDIR:?}
cc=${FUZZ_CC:-clang}
secs=${FUZZ_SECONDS:-60}
out=$bld/fuzz-out
all=${FUZZ_ALL:-$(cd "$src/fuzz" && ls ./*.c | sed 's|^\./||; s|\.c$||' | grep -v '^util$')}
only=${FUZZ_ONLY:-$all}

command -v "$cc" >/dev/null 2>&1 || { echo "fuzz: $cc not found (apt-get install clang)" >&2; exit 1; }

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=gnu11 -g -O1 $san -Wall -Wno-unused-parameter \
  -I$src/fuzz -I$src/src/lib -I$src/src/common -I$src/src/image -I$src/src/eval -I$src/src/http \
  -I$src/src/serve -I$bld -DPOLICYDIR=\"$src/policies\" -DPKGLIBEXECDIR=\"$bld\" ${FUZZ_DEP_CFLAGS:-}"

# the library sources: everything but the programs' main()s
mkdir -p "$out/obj"
objs=""
for f in $(cd "$src" && ls src/lib/*.c src/common/*.c src/image/*.c src/eval/*.c src/http/*.c src/serve/*.c \
             | grep -v -e '^src/serve/main\.c$'); do
  case $f in
    src/lib/default-policy.c|src/lib/warm-zygote.c|src/eval/*-runner.c|src/serve/jupyter-driver.c)
      [ -f "$bld/$f" ] && f=$bld/$f || f=$src/$f ;;
    *) f=$src/$f ;;
  esac
  o=$out/obj/$(echo "$f" | sed "s|^$bld/||; s|^$src/||; s|/|_|g; s|\.c$|.o|")
  if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer-no-link -c "$f" -o "$o"
  fi
  objs="$objs $o"
done
# shellcheck disable=SC2086
$cc $cflags -c "$src/fuzz/util.c" -o "$out/obj/fuzz-util.o"
rm -f "$out/libcorral-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$out/libcorral-fuzz.a" $objs "$out/obj/fuzz-util.o"

for name in $only; do
  # shellcheck disable=SC2086
  $cc $cflags -fsanitize=fuzzer "$src/fuzz/$name.c" "$out/libcorral-fuzz.a" ${FUZZ_LIBS:-} \
    -o "$out/$name"
done
echo "fuzz: built $only in $out"
[ "$secs" -gt 0 ] || exit 0

# The runs happen in a directory of their own under /tmp that nobody can
# reach (the build tree's parents may be 0700); corpora and findings are
# copied back to $out.
as_user=""
run_dir=$(mktemp -d /tmp/corral-fuzz-run.XXXXXX)
trap 'rm -rf "$run_dir"' EXIT
chmod 755 "$run_dir"
[ "$(id -u)" -ne 0 ] || as_user="setpriv --reuid=65534 --regid=65534 --clear-groups --"
run_one () {
  name=$1
  here=$run_dir/$name
  mkdir -p "$here/corpus" "$out/corpus-$name"
  cp "$out/$name" "$here/"
  for seeds in "$src/fuzz/corpus/$name" "$out/corpus-$name"; do
    [ -d "$seeds" ] && find "$seeds" -maxdepth 1 -type f -exec cp -n {} "$here/corpus/" \;
  done
  [ -z "$as_user" ] || chown -R 65534:65534 "$here"
  dict=""
  [ -f "$src/fuzz/$name.dict" ] && cp "$src/fuzz/$name.dict" "$here/" && dict="-dict=$name.dict"
  rc=0
  # -rss_limit_mb: the dataset readers hold a whole file, many times over;
  # -close_fd_mask=3: the readers' own messages (rows skipped) are not
  # printed (libFuzzer and the sanitizers still report)
  # shellcheck disable=SC2086
  (cd "$here" && $as_user "./$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
     -max_len=65536 -close_fd_mask=3 -print_final_stats=1 $dict corpus >"$out/$name.log" 2>&1) || rc=$?
  find "$here/corpus" -maxdepth 1 -type f -exec cp -n {} "$out/corpus-$name/" \;
  find "$here" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
       -o -name 'oom-*' \) -exec cp {} "$out/" \;
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log" | tail -n 1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$out/$name.log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $name: ${execs:-?} runs in ${secs}s, coverage ${cov:-?} edges, no failure"
  else
    echo "fuzz: $name FAILED (exit $rc): $out/$name.log"
    grep -E "ERROR: |SUMMARY: |Test unit written" "$out/$name.log" | head -n 5
  fi
  return $rc
}

failed=0
jobs=${FUZZ_JOBS:-1}
if [ "$jobs" -le 1 ]; then
  for name in $only; do
    run_one "$name" || failed=1
  done
else
  pids=""
  for name in $only; do
    run_one "$name" > "$out/$name.summary" &
    pids="$pids $!"
    while [ "$(jobs -p | wc -l)" -ge "$jobs" ]; do sleep 1; done
  done
  for p in $pids; do wait "$p" || failed=1; done
  for name in $only; do cat "$out/$name.summary"; done
fi
exit $failed
