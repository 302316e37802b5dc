#!/bin/sh
# `deepc import` as a user meets it: PyTorch's exports (tests/data/onnx) converted to deepc model
# files that `deepc predict` runs to PyTorch's outputs and `deepc info` describes, --output, and
# the errors - an unsupported operator, a malformed file, a missing file, an unwritable path,
# wrong usage - each named, with no file left behind.
#   tests/cli/test_import.sh BUILD_DIR   (run from the source tree)
set -u
DEEPC="$1/tools/deepc"
D=tests/data/onnx
T=$(mktemp -d "${TMPDIR:-/tmp}/deepc_import.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0

# run EXPECTED_RC STREAM(out|err) PATTERN -- ARGS...
run() {
  want_rc=$1 stream=$2 pat=$3
  shift 4
  "$DEEPC" "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ "$rc" != "$want_rc" ] || ! grep -Eq -- "$pat" "$T/$stream"; then
    echo "FAIL: deepc $* (rc $rc, want $want_rc; $stream should match: $pat)"
    echo "  stdout: $(head -c 600 "$T/out")"
    echo "  stderr: $(head -c 600 "$T/err")"
    fails=$((fails + 1))
  fi
}
absent() {
  if [ -e "$1" ]; then echo "FAIL: $1 was left behind"; fails=$((fails + 1)); fi
}

run 0 out '^usage: deepc import' -- import --help
run 0 out 'Total params: 43,706' -- import "$D/cnn.onnx" "$T/cnn.safetensors"
run 0 out '^layers=8 params=43706 out=' -- --quiet import "$D/cnn.onnx" "$T/cnn.safetensors"
run 0 out 'Conv2D' -- info "$T/cnn.safetensors"
run 0 out '^layers=7 ' -- --quiet import "$D/lstm.onnx" "$T/lstm.safetensors"
run 0 out '^layers=30 ' -- --quiet import "$D/transformer.onnx" "$T/transformer.safetensors"
# an inner value as the output: x . w of the small model (MatMul before Add and Relu)
run 0 out '^layers=2 params=16 ' -- --quiet import --output h "$D/ok_small.onnx" "$T/small.safetensors"
for m in cnn lstm transformer; do
  "$DEEPC" predict "$T/$m.safetensors" "$D/${m}_x.npy" "$T/${m}_y.npy" >/dev/null 2>"$T/err" ||
    { echo "FAIL: deepc predict $m: $(cat "$T/err")"; fails=$((fails + 1)); }
done
# the predictions are PyTorch's (NumPy compares them; skipped without it)
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  for m in cnn lstm transformer; do
    /usr/bin/python3 -c "
import numpy as np, sys
a, b = np.load('$T/${m}_y.npy'), np.load('$D/${m}_y.npy')
d = float(np.abs(a - b).max())
print('$m: max |deepc - pytorch| = %.3g' % d)
sys.exit(0 if a.shape == b.shape and d <= 1e-5 else 1)" || { echo "FAIL: $m differs from PyTorch"; fails=$((fails + 1)); }
  done
else
  echo "comparison with PyTorch's outputs: skipped (NumPy missing)"
fi

run 1 err 'Hardmax.*not supported' -- import "$D/bad_unsupported.onnx" "$T/bad.safetensors"
absent "$T/bad.safetensors"
run 1 err 'cycle' -- import "$D/bad_cycle.onnx" "$T/bad.safetensors"
run 1 err 'external file' -- import "$D/bad_external.onnx" "$T/bad.safetensors"
run 1 err 'no_such.onnx: cannot open' -- import "$D/no_such.onnx" "$T/bad.safetensors"
run 1 err 'no value "nothing"' -- import --output nothing "$D/ok_small.onnx" "$T/bad.safetensors"
absent "$T/bad.safetensors"
run 1 err '/nonexistent-dir' -- import "$D/ok_small.onnx" /nonexistent-dir/m.safetensors
run 2 err '^usage: deepc import' -- import "$D/ok_small.onnx"
run 2 err 'unknown option "--bogus"' -- import --bogus "$D/ok_small.onnx" "$T/m.safetensors"
run 2 err 'one input and one output' -- import a.onnx b.safetensors c

if [ $fails -ne 0 ]; then echo "test_import: $fails failure(s)"; exit 1; fi
echo "test_import: ok"
