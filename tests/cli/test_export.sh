#!/bin/sh
# `deepc export` as a user meets it: a model trained by `deepc train` exported to ONNX (checked
# by onnx.checker and run by ONNX Runtime against `deepc predict` when those tools are
# installed: scripts/deps.sh --onnx), the options, and the errors - a bad opset, an unwritable
# path, a missing model, wrong usage - each named, with no file left behind. (A layer type the
# exporter does not know cannot be in a model file; test_onnx_export tests that error.)
#   tests/cli/test_export.sh BUILD_DIR   (run from the source tree)
set -u
DEEPC="$1/tools/deepc"
T=$(mktemp -d "${TMPDIR:-/tmp}/deepc_export.XXXXXX")
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

"$DEEPC" --quiet train examples/configs/xor.json --epochs 20 --out "$T" >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
run 0 out '^usage: deepc export' -- export --help
run 0 out '^opset=17$' -- export "$T/xor.safetensors" "$T/xor.onnx"
run 0 out '^opset=13$' -- export "$T/xor.safetensors" "$T/xor13.onnx" --opset 13 --batch-name batch
run 1 err 'opset 9 is outside' -- export "$T/xor.safetensors" "$T/bad.onnx" --opset 9
absent "$T/bad.onnx"
run 2 err 'whole number' -- export "$T/xor.safetensors" "$T/bad.onnx" --opset x
run 2 err 'missing arguments' -- export "$T/xor.safetensors"
run 2 err 'unknown option "--bogus"' -- export "$T/xor.safetensors" "$T/bad.onnx" --bogus
run 1 err '/nonexistent-dir' -- export "$T/xor.safetensors" /nonexistent-dir/xor.onnx
run 1 err 'no-such.safetensors' -- export "$T/no-such.safetensors" "$T/bad.onnx"
absent "$T/bad.onnx"

# a model of BERT's layers from a configuration exports as well
cat >"$T/bert.json" <<'JSON'
{"data": {"format": "inline", "x": [[[1, 2], [3, 4], [5, 6]], [[0, 1], [1, 0], [2, 2]]], "y": [[1], [0]]},
 "model": {"input_shape": [3, 2], "layers": [{"class": "BertLayer", "heads": 2, "intermediate_size": 4},
                                             {"class": "BertPooler"}, {"class": "Dense", "units": 1}]},
 "compile": {"optimizer": {"class": "SGD", "lr": 0.01}, "loss": "mse"},
 "fit": {"epochs": 1, "batch_size": 2, "verbose": 0}}
JSON
"$DEEPC" --quiet train "$T/bert.json" --out "$T" >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
run 0 out '^opset=17$' -- export "$T/bert.safetensors" "$T/bert.onnx"

# the exported file under ONNX's checker and ONNX Runtime, against deepc predict
if /usr/bin/python3 scripts/onnx/check.py "$T/xor.onnx" "$T/xor13.onnx" "$T/bert.onnx" >"$T/out" 2>"$T/err"; then
  echo "onnx.checker: $(wc -l <"$T/out") files ok"
elif [ $? -eq 77 ]; then
  echo "onnx.checker: skipped (python3-onnx missing)"
else
  echo "FAIL: onnx.checker: $(cat "$T/err")"; fails=$((fails + 1))
fi
printf '0 0\n0 1\n1 0\n1 1\n' | tr ' ' ',' >"$T/x.csv"
"$DEEPC" predict "$T/xor.safetensors" "$T/x.csv" "$T/deepc.npy" >/dev/null 2>&1 || { echo "FAIL: deepc predict"; fails=$((fails + 1)); }
"$DEEPC" predict "$T/xor.safetensors" "$T/x.csv" "$T/deepc.csv" >/dev/null 2>&1
if command -v node >/dev/null 2>&1; then
  # the inputs as .npy (NumPy writes them; without it the check is skipped)
  if /usr/bin/python3 -c "import numpy as np; np.save('$T/x.npy', np.loadtxt('$T/x.csv', delimiter=',', dtype=np.float32))" 2>/dev/null; then
    node scripts/onnx/ort_run.js "$T/xor.onnx" "$T/x.npy" --out "$T/ort" 2>"$T/err"
    rc=$?
  else
    rc=77
  fi
  if [ $rc -eq 77 ]; then
    echo "onnx runtime: skipped (onnxruntime-node or NumPy missing)"
  elif [ $rc -ne 0 ]; then
    echo "FAIL: ort_run: $(cat "$T/err")"; fails=$((fails + 1))
  elif ! /usr/bin/python3 -c "
import numpy as np, sys
a, b = np.load('$T/ort0.npy'), np.load('$T/deepc.npy')
d = float(np.max(np.abs(a.reshape(b.shape) - b)))
print('onnx runtime vs deepc predict: max abs difference %.3g' % d)
sys.exit(0 if d <= 1e-5 else 1)"; then
    echo "FAIL: ONNX Runtime's outputs differ from deepc predict's"; fails=$((fails + 1))
  fi
else
  echo "onnx runtime: skipped (node missing)"
fi

[ "$fails" -eq 0 ] || { echo "test_export.sh: $fails failed"; exit 1; }
echo "test_export.sh: ok"
