#!/bin/sh
# Runs every libFuzzer target in DIR for SECONDS each, starting from its committed seed corpus
# (tests/fuzz/corpus/<target>). A crash, a leak, an out-of-bounds read or an over-limit
# allocation fails the run; the input that caused it is kept under out/fuzz/.
#   scripts/fuzz.sh build-fuzz/fuzz 30
set -eu
dir=${1:?usage: scripts/fuzz.sh FUZZ_BIN_DIR SECONDS}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/out/fuzz"
status=0
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work=$(mktemp -d)
  seeds="$root/tests/fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  echo "== $name: ${secs}s"
  if ! DEEPC_THREADS=1 "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
       -print_final_stats=1 -artifact_prefix="$root/out/fuzz/$name-" "$work" $seeds > "$work.log" 2>&1; then
    tail -40 "$work.log"
    echo "== $name FAILED (input kept in out/fuzz/)"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work.log" | tr '\n' ' '; echo
  fi
  rm -rf "$work" "$work.log"
done
exit $status
