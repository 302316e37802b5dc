#!/bin/sh
# examples/speech_ctc against its PyTorch peer (bench/peers/speech_ctc.py): the same CRNN on the
# same exported features, interleaved (deepc, torch, deepc, torch, ...) at THREADS threads each;
# prints each run's seconds per epoch and greedy CER, then the medians and their ratio, with the
# load average. Needs python3-torch and the data set:
#   scripts/gen_speech_digits.sh out/speech_digits 2000 400 1
#   bench/speech_ctc.sh [PAIRS (2)] [EPOCHS (5)] [THREADS (1)] [DATA_DIR (out/speech_digits)]
set -eu
cd "$(dirname "$0")/.."
pairs=${1:-2} epochs=${2:-5} threads=${3:-1} data=${4:-out/speech_digits}
BUILD=${BUILD:-build}
exp=out/speech_export
log=out/bench/speech_ctc-$(date +%Y%m%d-%H%M%S)-$$.txt
mkdir -p out/bench
echo "speech_ctc bench: $pairs pairs, $epochs epochs, $threads thread(s), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$log"
# the features once (1 epoch, only to export them)
DEEPC_THREADS=$threads OMP_WAIT_POLICY=passive "$BUILD/examples/speech_ctc" "$data" 1 0 0 1 out "$exp" >/dev/null
for p in $(seq 1 "$pairs"); do
  DEEPC_THREADS=$threads OMP_WAIT_POLICY=passive "$BUILD/examples/speech_ctc" "$data" "$epochs" 0 0 1 out \
    | grep -E '^(seconds_per_epoch|test_cer_greedy|test_cer)=' | sed "s/^/deepc pair=$p /" | tee -a "$log"
  env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads /usr/bin/python3 bench/peers/speech_ctc.py "$exp" "$epochs" "$threads" \
    | grep -E '^(seconds_per_epoch|test_cer_greedy)=' | sed "s/^/torch pair=$p /" | tee -a "$log"
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
done
awk '/^deepc .*seconds_per_epoch/ { split($3, a, "="); d[++nd] = a[2] }
     /^torch .*seconds_per_epoch/ { split($3, a, "="); t[++nt] = a[2] }
     function med(v, n,   i, j, x) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
                                    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
     END { md = med(d, nd); mt = med(t, nt); printf "median seconds per epoch: deepc %.2f, torch %.2f, ratio deepc/torch %.2f\n", md, mt, md / mt }' "$log" | tee -a "$log"
echo "log: $log"
