#!/bin/sh
# Spoken digit strings for speech recognition (examples/speech_ctc): espeak-ng speaks random
# strings of 3 to 8 digits, one word per digit ("three one four"), with a range of voices,
# speeds, pitches, loudness and gaps between words, into 16-bit mono WAV files at 22050 Hz.
#
#   scripts/gen_speech_digits.sh [OUT_DIR] [N_TRAIN] [N_TEST] [SEED]
#     defaults: out/speech_digits 2000 400 1
#
# writes
#   OUT_DIR/train/00000.wav ...  and OUT_DIR/train/labels.tsv
#   OUT_DIR/test/00000.wav ...   and OUT_DIR/test/labels.tsv
#   OUT_DIR/settings.txt         the arguments, the voice lists and espeak-ng's version
# labels.tsv: a '#' header line, then one line per file:
#   file<TAB>digits<TAB>voice<TAB>speed<TAB>pitch<TAB>amplitude<TAB>gap     e.g.
#   00000.wav<TAB>314<TAB>en-us+m3<TAB>163<TAB>41<TAB>95<TAB>1
# (dc_labels_tsv_load reads the first two columns).
#
# The test set is spoken by voice variants training never hears: each utterance's voice is an
# accent (a base voice, shared by both sets) with a variant (the timbre: pitch range, formants,
# breathiness), and the two sets' variant lists are disjoint. Speed (words per minute), pitch
# (0-99), amplitude and the gap between words (in 10 ms) are drawn from the same ranges for
# both. The files are clean; add noise when reading them if wanted.
# Environment overrides (space-separated lists; ranges "LO HI"):
#   VOICES ("en-us en en-gb-x-rp en-029 en-gb-x-gbclan en-gb-scotland")
#   TRAIN_VARIANTS ("m1 m2 m3 m4 m7 f1 f2 f3")   TEST_VARIANTS ("m5 m6 f4 f5")
#   SPEED ("130 190")  PITCH ("25 75")  AMPLITUDE ("70 130")  GAP ("0 3")  LENGTH ("3 8")
#   JOBS (2): espeak-ng processes at once (the files do not depend on it)
#
# Regenerating: the same arguments and overrides give the same digit strings, voices and
# settings (the random numbers are a Lehmer generator written out in awk, the same in every
# awk), and, with the same espeak-ng version, byte-identical WAV files; settings.txt records
# what was used. Needs espeak-ng (Debian: apt-get install espeak-ng) and a POSIX shell and awk.
set -eu

out=${1:-out/speech_digits}
n_train=${2:-2000}
n_test=${3:-400}
seed=${4:-1}
jobs=${JOBS:-2}
voices=${VOICES:-"en-us en en-gb-x-rp en-029 en-gb-x-gbclan en-gb-scotland"}
train_variants=${TRAIN_VARIANTS:-"m1 m2 m3 m4 m7 f1 f2 f3"}
test_variants=${TEST_VARIANTS:-"m5 m6 f4 f5"}
speed=${SPEED:-"130 190"}
pitch=${PITCH:-"25 75"}
amplitude=${AMPLITUDE:-"70 130"}
gap=${GAP:-"0 3"}
length=${LENGTH:-"3 8"}

die() {
  echo "gen_speech_digits: $*" >&2
  exit 1
}
for v in "$n_train" "$n_test" "$seed" "$jobs"; do
  case "$v" in '' | *[!0-9]*) die "N_TRAIN, N_TEST, SEED and JOBS must be whole numbers, got '$v'" ;; esac
done
[ "$jobs" -ge 1 ] || die "JOBS must be at least 1"
[ $((n_train + n_test)) -le 100000 ] || die "at most 100000 utterances in all"
command -v espeak-ng >/dev/null 2>&1 || die "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
for var in "$voices" "$train_variants" "$test_variants"; do
  for v in $var; do
    case "$v" in *[!A-Za-z0-9_-]*) die "voice or variant '$v' has characters other than letters, digits, '-' and '_'" ;; esac
  done
done

# plan N SEED VARIANTS: one line per utterance, "file<TAB>digits<TAB>voice<TAB>speed<TAB>
# pitch<TAB>amplitude<TAB>gap<TAB>words", all drawn from the seed.
plan() {
  awk -v n="$1" -v seed="$2" -v voices="$voices" -v variants="$3" -v speed="$speed" -v pitch="$pitch" \
      -v amp="$amplitude" -v gap="$gap" -v len="$length" '
    # Lehmer (MINSTD) generator: x = 48271 x mod (2^31 - 1); every product is below 2^53,
    # so it is exact in any awk
    function next_u() { x = (x * 48271) % 2147483647; return x / 2147483647 }
    function pick(lo, hi) { return lo + int(next_u() * (hi - lo + 1)) }
    function range(s, which,   a) { split(s, a, " "); return a[which] + 0 }
    BEGIN {
      x = seed % 2147483646 + 1
      for (i = 0; i < 10; i++) next_u()
      nv = split(voices, V, " "); nvar = split(variants, VAR, " ")
      split("zero one two three four five six seven eight nine", W, " ")
      if (nv < 1 || nvar < 1) { print "gen_speech_digits: empty voice or variant list" > "/dev/stderr"; exit 1 }
      for (u = 0; u < n; u++) {
        k = pick(range(len, 1), range(len, 2))
        digits = ""; words = ""
        for (j = 0; j < k; j++) {
          d = pick(0, 9)
          digits = digits d
          words = words (j ? " " : "") W[d + 1]
        }
        voice = V[pick(1, nv)] "+" VAR[pick(1, nvar)]
        printf "%05d.wav\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", u, digits, voice, pick(range(speed, 1), range(speed, 2)),
               pick(range(pitch, 1), range(pitch, 2)), pick(range(amp, 1), range(amp, 2)),
               pick(range(gap, 1), range(gap, 2)), words
      }
    }'
}

# speak DIR PLANFILE: the plan's utterances, JOBS espeak-ng processes at once
speak() {
  w=0
  pids=""
  while [ "$w" -lt "$jobs" ]; do
    awk -F '\t' -v w="$w" -v jobs="$jobs" '(NR - 1) % jobs == w' "$2" |
      while IFS='	' read -r file _ voice spd pit amp g words; do
        espeak-ng -v "$voice" -s "$spd" -p "$pit" -a "$amp" -g "$g" -w "$1/$file" "$words" ||
          { echo "gen_speech_digits: espeak-ng failed on $1/$file (voice $voice)" >&2; exit 1; }
      done &
    pids="$pids $!"
    w=$((w + 1))
  done
  status=0
  for p in $pids; do wait "$p" || status=1; done
  [ "$status" -eq 0 ] || die "espeak-ng failed"
}

# the variants must exist: espeak-ng says nothing about an unknown variant and speaks the plain voice
data=$(espeak-ng --version | sed -n 's/.*Data at: *//p')
for v in $train_variants $test_variants; do
  [ -z "$data" ] || [ -f "$data/voices/!v/$v" ] || die "espeak-ng has no voice variant '$v' (in $data/voices/!v)"
done
for v in $voices; do
  espeak-ng -v "$v" -q "one" 2>/dev/null || die "espeak-ng has no voice '$v' (espeak-ng --voices=en lists them)"
done
for v in $train_variants; do
  case " $test_variants " in *" $v "*) die "variant '$v' is in both TRAIN_VARIANTS and TEST_VARIANTS" ;; esac
done

start=$(date +%s)
for split in train test; do
  if [ "$split" = train ]; then n=$n_train s=$((seed * 2 + 1)) vars=$train_variants; else n=$n_test s=$((seed * 2 + 2)) vars=$test_variants; fi
  dir="$out/$split"
  rm -rf "$dir"
  mkdir -p "$dir"
  plan "$n" "$s" "$vars" > "$dir/plan.tmp"
  speak "$dir" "$dir/plan.tmp"
  {
    printf '# file\tdigits\tvoice\tspeed\tpitch\tamplitude\tgap\n'
    cut -f 1-7 "$dir/plan.tmp"
  } > "$dir/labels.tsv"
  rm -f "$dir/plan.tmp"
done
{
  echo "scripts/gen_speech_digits.sh $out $n_train $n_test $seed"
  echo "voices: $voices"
  echo "train variants: $train_variants"
  echo "test variants: $test_variants"
  echo "speed $speed, pitch $pitch, amplitude $amplitude, gap $gap, length $length"
  espeak-ng --version
} > "$out/settings.txt"
secs=$(($(date +%s) - start))
size=$(du -sk "$out" | cut -f 1)
echo "gen_speech_digits: $n_train train and $n_test test utterances in $out ($size KiB) in ${secs}s"
