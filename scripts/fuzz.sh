#!/bin/sh
# Runs every libFuzzer target in DIR for SECONDS each, starting from its committed seed corpus
# (tests/fuzz/corpus/<target>). A crash, a leak, an out-of-bounds read or an over-limit
# allocation fails the run; the input that caused it is kept under out/fuzz/.
#
# Each target must also run often enough to test something: it prints its execution count,
# and fails when the count is below its floor, FUZZ_MIN_RATE executions per second (default
# 3400) times SECONDS: 102000 in CI's 30 seconds, 17000 in `make fuzz FUZZ_SECONDS=5`. A
# target below it after SECONDS (other work on the machine) goes on from its corpus until it
# reaches the floor, for at most 2 x SECONDS more, and fails only if it still falls short.
# FUZZ_MIN_RATE=0 turns the floor off (a slow machine, a debugger). A seed over 256 KiB fails
# its target too: every run that starts from it would be slow.
#   scripts/fuzz.sh build-fuzz/fuzz 30
set -eu
dir=${1:?usage: scripts/fuzz.sh FUZZ_BIN_DIR SECONDS}
secs=${2:-30}
rate=${FUZZ_MIN_RATE:-3400}
case "$secs$rate" in
*[!0-9]*) echo "fuzz.sh: SECONDS ($secs) and FUZZ_MIN_RATE ($rate) must be whole numbers" >&2; exit 2 ;;
esac
floor=$((rate * secs))
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/out/fuzz"
# the fuzzer writes and deletes its corpus files all the time: in memory where possible
tmp=/dev/shm
[ -d "$tmp" ] && [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
# fuzz_run BIN NAME WORKDIR SEEDS ARGS...: one libFuzzer run, its log in WORKDIR.log; on a
# crash or a sanitizer report it prints the log's end, adds to the summary and fails.
fuzz_run() {
  fr_bin=$1 fr_name=$2 fr_work=$3 fr_seeds=$4
  shift 4
  if DEEPC_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive \
     "$fr_bin" "$@" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
     -print_final_stats=1 -artifact_prefix="$root/out/fuzz/$fr_name-" "$fr_work" $fr_seeds > "$fr_work.log" 2>&1; then
    return 0
  fi
  tail -40 "$fr_work.log"
  echo "== $fr_name FAILED (input kept in out/fuzz/)"
  summary="$summary
  $fr_name: FAILED (crash or sanitizer report)"
  return 1
}
stat_of() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -1; }
status=0
summary=""
ran=0
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  ran=$((ran + 1))
  name=$(basename "$bin")
  work=$(mktemp -d -p "$tmp")
  seeds="$root/tests/fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  echo "== $name: ${secs}s"
  # a big seed slows every run that mutates it (libFuzzer also takes the largest seed as its
  # input size limit): seeds stay small
  big=""
  [ -z "$seeds" ] || big=$(find "$seeds" -type f -size +256k | head -3)
  if [ -n "$big" ]; then
    echo "== $name FAILED: seeds over 256 KiB make every run slow: $(echo $big)"
    summary="$summary
  $name: FAILED, seeds over 256 KiB"
    status=1
    rm -rf "$work"
    continue
  fi
  # one thread everywhere: a parallel region's idle threads would only take the fuzzer's CPU
  if ! fuzz_run "$bin" "$name" "$work" "$seeds" -max_total_time="$secs"; then
    status=1
  else
    execs=$(stat_of number_of_executed_units "$work.log")
    per_sec=$(stat_of average_exec_per_sec "$work.log")
    rss=$(stat_of peak_rss_mb "$work.log")
    extra=""
    # below the floor (a machine busy with other work): go on from the corpus found so far
    # until the floor's executions are reached, for at most twice the time again
    if [ -n "$execs" ] && [ "$execs" -lt "$floor" ]; then
      if ! fuzz_run "$bin" "$name" "$work" "" -runs=$((floor - execs + 1000)) -max_total_time=$((2 * secs)); then
        status=1
        rm -rf "$work" "$work.log"
        continue
      fi
      more=$(stat_of number_of_executed_units "$work.log")
      extra=" ($execs, then ${more:-?} more in up to $((2 * secs))s)"
      execs=$((execs + ${more:-0}))
    fi
    line="$name: ${execs:-?} executions in ${secs}s$extra, (${per_sec:-?}/s, peak RSS ${rss:-?} MB; floor $floor)"
    if [ -z "$execs" ] || [ "$execs" -lt "$floor" ]; then
      echo "== $line: FAILED, below the floor of $rate executions per second"
      summary="$summary
  $line: FAILED, too slow"
      status=1
    else
      echo "== $line: ok"
      summary="$summary
  $line: ok"
    fi
  fi
  rm -rf "$work" "$work.log"
done
if [ "$ran" -eq 0 ]; then
  echo "fuzz.sh: no fuzz_* programs in $dir" >&2
  exit 2
fi
echo "== fuzz summary ($ran targets, ${secs}s each, floor $rate/s):$summary"
exit $status
