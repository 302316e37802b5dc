#!/bin/sh
# The command-line program as a user meets it: help and version on stdout with exit 0, unknown
# commands and options named, files recognised by content, one error prefix per message, and
# every kind of configuration mistake answered with the file, the place and what is allowed.
# Then a short training run whose model `deepc evaluate` scores to the same figures, and a
# checkpointed run stopped and resumed to the same weights as one uninterrupted run.
#   tests/cli/test_cli.sh BUILD_DIR   (run from the source tree)
set -u
DEEPC="$1/tools/deepc"
T=$(mktemp -d "${TMPDIR:-/tmp}/deepc_cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0

# run EXPECTED_RC STREAM(out|err) PATTERN -- ARGS...: the command's exit status and a grep -E pattern
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
  # one prefix per message: never "deepc: x: x:" nor "deepc: deepc:"
  if grep -Eq '^deepc: ([a-z]+): \1:|deepc: deepc:' "$T/err"; then
    echo "FAIL: deepc $*: a repeated prefix: $(head -c 300 "$T/err")"
    fails=$((fails + 1))
  fi
}

# cfg NAME: writes $T/NAME.json from stdin
cfg() { cat >"$T/$1.json"; }

# ---- conventions ----
run 0 out '^usage: deepc' -- --help
run 0 out 'Commands:' -- -h
for c in train summary info predict evaluate layers; do run 0 out "usage: deepc $c|^[A-Z]" -- "$c" --help; done
run 0 out "^deepc [0-9]+\.[0-9]+\.[0-9]+$" -- --version
run 2 err 'unknown command "bogus"' -- bogus
run 2 err 'usage: deepc' --
run 2 err 'unknown option "--frobnicate"' -- --frobnicate info x
run 2 err '--threads must be a whole number' -- --threads 0 info data/iris.csv
run 2 err 'unknown option "--nope"' -- train --nope x.json
run 2 err 'no configuration file' -- train

# ---- files recognised by content ----
run 0 out 'CSV, 150 rows of 5 numbers' -- info data/iris.csv
run 0 out 'CSV \(gzip\), 1797 rows of 65 numbers' -- info data/digits.csv.gz
run 1 err 'data/iris.csv is text, not a deepc model' -- predict data/iris.csv data/iris.csv
run 1 err 'nothing-here.safetensors: cannot open' -- evaluate nothing-here.safetensors a b
printf 'just some words\n' >"$T/words.txt"
run 1 err 'not numeric CSV' -- info "$T/words.txt"

# ---- configuration mistakes: the file, the place, what is allowed ----
XOR_DATA='"data": {"format": "inline", "x": [[0,0],[0,1],[1,0],[1,1]], "y": [[0],[1],[1],[0]]}'
OPT='"compile": {"optimizer": {"class": "SGD", "lr": 0.5}, "loss": "mse"}'
printf '{\n  "data": {\n    "format": "inline",,\n  }\n}\n' >"$T/syntax.json"
run 1 err 'syntax.json:3:[0-9]+: invalid JSON' -- train "$T/syntax.json"
cfg top <<EOF
{$XOR_DATA, "modle": {}, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}}
EOF
run 1 err 'top.json: top level: unknown key "modle" \(keys: data, model' -- train "$T/top.json"
cfg cls <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 4}, {"class": "Dense2", "units": 1}]}, $OPT}
EOF
run 1 err 'cls.json: layer 1 \(Dense2\): unknown layer class "Dense2" \(known: .*Conv2D.*Dense' -- summary "$T/cls.json"
cfg opt <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "unit": 1}]}, $OPT}
EOF
run 1 err 'opt.json: layer 0 \(Dense\): unknown option "unit" \(options: units, activation' -- summary "$T/opt.json"
cfg act <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1, "activation": "rellu"}]}, $OPT}
EOF
run 1 err 'act.json: layer 0 \(Dense\): "activation" must be one of .*"relu".* got "rellu"' -- train "$T/act.json"
cfg range <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 0}]}, $OPT}
EOF
run 1 err 'range.json: layer 0 \(Dense\): (Dense: )?"units" must be a whole number in \[1, [0-9]+\], got 0' -- train "$T/range.json"
cfg loss <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]},
 "compile": {"optimizer": {"class": "SGD", "lr": 0.5}, "loss": "mean_squared"}}
EOF
run 1 err 'loss.json: compile: "loss" names an unknown loss "mean_squared"; one of .*mse' -- train "$T/loss.json"
cfg optim <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]},
 "compile": {"optimizer": {"class": "Adam", "lr": 0.5, "beta": 0.9}, "loss": "mse"}}
EOF
run 1 err 'optim.json: compile.optimizer: unknown option "beta" \(options: .*beta1' -- train "$T/optim.json"
cfg fmt <<EOF
{"data": {"format": "parquet"}, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}, $OPT}
EOF
run 1 err 'fmt.json: data: "format" must be one of "csv", "npy", "idx"' -- train "$T/fmt.json"
cfg datakey <<EOF
{"data": {"format": "csv", "path": "data/iris.csv", "headers": true}, "model": {"input_shape": [4], "layers": [{"class": "Dense", "units": 3}]}, $OPT}
EOF
run 1 err 'datakey.json: data: unknown key "headers" \(keys: format, split, scale, one_hot, limit, path, test_path, header' -- train "$T/datakey.json"
cfg missing <<EOF
{"data": {"format": "npy", "x": "$T/no_x.npy", "y": "$T/no_y.npy"}, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}, $OPT}
EOF
run 1 err 'no_x.npy' -- train "$T/missing.json"
cfg split <<EOF
{"data": {"format": "csv", "path": "data/iris.csv", "header": true, "split": {"test": 1.0}}, "model": {"input_shape": [4], "layers": [{"class": "Dense", "units": 3}]}, $OPT}
EOF
run 1 err 'split.json: data.split: "test" 1 of 150 rows leaves 0 training and 150 test rows' -- train "$T/split.json"
cfg rows <<EOF
{"data": {"format": "inline", "x": [[0,0],[0,1],[1,0]], "y": [[0],[1],[1],[0]]}, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}, $OPT}
EOF
run 1 err 'rows.json: data: 3 input rows but 4 labels' -- train "$T/rows.json"
cfg ragged <<EOF
{"data": {"format": "inline", "x": [[0,0],[0,1],[1],[1,1]], "y": [[0],[1],[1],[0]]}, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}, $OPT}
EOF
run 1 err 'ragged.json: data: "x" is ragged' -- train "$T/ragged.json"
cfg epochs <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}, $OPT, "fit": {"epochs": "ten"}}
EOF
run 1 err 'epochs.json: fit: "epochs" must be a (whole )?number in \[1, 1e\+06\], got a non-number' -- train "$T/epochs.json"
cfg shape <<EOF
{$XOR_DATA, "model": {"input_shape": [3], "layers": [{"class": "Dense", "units": 1}]}, $OPT}
EOF
run 1 err 'deepc: train: .*(3|2)' -- train "$T/shape.json"
python3 -c 'print("[" * 100 + "]" * 100)' >"$T/deep.json" 2>/dev/null || printf '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n' >"$T/deep.json"
run 1 err 'deep.json: nested deeper than 16 levels' -- train "$T/deep.json"
printf '{"data": \0}' >"$T/nul.json"
run 1 err 'nul.json: holds a NUL byte' -- summary "$T/nul.json"
printf '[1, 2]' >"$T/array.json"
run 1 err 'array.json: a configuration is a JSON object' -- summary "$T/array.json"
# an output that cannot be written: an error naming it, nothing half-written
cfg badout <<EOF
{$XOR_DATA, "model": {"input_shape": [2], "layers": [{"class": "Dense", "units": 1}]}, $OPT, "fit": {"epochs": 1, "verbose": 0},
 "output": {"model": "$T/words.txt/model.safetensors"}}
EOF
run 1 err 'words.txt' -- train "$T/badout.json"

# ---- a short run, its model scored again by deepc evaluate ----
cfg iris <<EOF
{"data": {"format": "csv", "path": "data/iris.csv", "header": true, "split": {"test": 0.3, "seed": 7}, "scale": "standard"},
 "model": {"input_shape": [4], "layers": [{"class": "Dense", "units": 16, "activation": "tanh"}, {"class": "Dense", "units": 3, "activation": "softmax"}]},
 "compile": {"optimizer": {"class": "SGD", "lr": 0.05}, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 20, "batch_size": 16, "verbose": 0}, "output": {"test_data": true}}
EOF
run 0 out '^test_accuracy=0\.[0-9]+$' -- --quiet train "$T/iris.json" --out "$T/o"
if grep -Ev '^[a-z_]+=[-0-9.e+]+$' "$T/out" >/dev/null; then
  echo "FAIL: --quiet printed more than key=value lines:"; cat "$T/out"; fails=$((fails + 1))
fi
acc=$(grep '^test_accuracy=' "$T/out")
for f in iris.safetensors iris_history.csv iris_curves.svg iris_test_x.npy iris_test_y.npy; do
  [ -s "$T/o/$f" ] || { echo "FAIL: train did not write $T/o/$f"; fails=$((fails + 1)); }
done
run 0 out "^$acc\$" -- evaluate "$T/o/iris.safetensors" "$T/o/iris_test_x.npy" "$T/o/iris_test_y.npy"
run 0 out 'dense_1 \(Dense\)' -- info "$T/o/iris.safetensors"
# CSV input with a header: refused with a hint, read with --header
{ echo "a,b,c,d"; sed -n '2,6p' data/iris.csv | cut -d, -f1-4; } >"$T/head.csv"
run 1 err 'head.csv:1: column 1: "a" is not a number \(a header line\? pass --header\)' -- predict "$T/o/iris.safetensors" "$T/head.csv"
run 0 out '^[0-9.e-]+,[0-9.e-]+,[0-9.e-]+$' -- predict --header "$T/o/iris.safetensors" "$T/head.csv"

# ---- a graph model: two branches from one input, concatenated ----
cfg graph <<EOF
{"data": {"format": "csv", "path": "data/iris.csv", "header": true, "split": {"test": 0.3, "seed": 7}, "scale": "standard"},
 "model": {"graph": true, "layers": [
   {"class": "InputLayer", "name": "x", "shape": [4]},
   {"class": "Dense", "name": "wide", "units": 16, "activation": "relu", "inputs": ["x"]},
   {"class": "Dense", "name": "narrow", "units": 4, "activation": "tanh", "inputs": ["x"]},
   {"class": "Concatenate", "name": "both", "inputs": ["wide", "narrow"]},
   {"class": "Dense", "name": "out", "units": 3, "activation": "softmax", "inputs": ["both"]}]},
 "compile": {"optimizer": {"class": "Adam", "lr": 0.01}, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 30, "batch_size": 16, "verbose": 0}}
EOF
run 0 out '^test_accuracy=0\.(8[5-9]|9)' -- --quiet train "$T/graph.json" --out "$T/o"

# ---- a folder of pictures, one class per sub-folder, resized on loading ----
mkdir -p "$T/pics/png" "$T/pics/jpeg"
for f in tests/data/images/*.png; do cp "$f" "$T/pics/png/"; done
for f in tests/data/images/*.jpg; do cp "$f" "$T/pics/jpeg/"; done
echo "not a picture" >"$T/pics/png/notes.txt"
cfg pics <<EOF
{"data": {"format": "images", "dir": "$T/pics", "size": [12, 12], "channels": 1, "split": {"test": 0.25, "seed": 3}, "scale": 255},
 "model": {"input_shape": [1, 12, 12], "layers": [{"class": "Conv2D", "filters": 4, "kernel_size": [3, 3], "activation": "relu"},
   {"class": "MaxPooling2D"}, {"class": "Flatten"}, {"class": "Dense", "units": 2, "activation": "softmax"}]},
 "compile": {"optimizer": {"class": "Adam", "lr": 0.01}, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 2, "batch_size": 4, "verbose": 0}}
EOF
run 0 out '2 classes of pictures under .*\(jpeg, png\): [0-9]+ training rows, [0-9]+ test rows' -- train "$T/pics.json" --out "$T/o"
run 0 out '^test_accuracy=' -- train "$T/pics.json" --out "$T/o"
mkdir -p "$T/empty"
cfg nopics <<EOF
{"data": {"format": "images", "dir": "$T/empty", "size": [12, 12]},
 "model": {"input_shape": [3, 12, 12], "layers": [{"class": "Flatten"}, {"class": "Dense", "units": 2}]}, $OPT}
EOF
run 1 err 'deepc: train: .*empty' -- train "$T/nopics.json"

# ---- checkpoints: 3 epochs, then resumed to 6, equal to 6 in one go ----
for n in ckpt whole; do
cfg $n <<EOF
{"data": {"format": "csv", "path": "data/iris.csv", "header": true, "split": {"test": 0.3, "seed": 7}, "scale": "standard"},
 "model": {"input_shape": [4], "layers": [{"class": "Dense", "units": 8, "activation": "relu"}, {"class": "Dropout", "rate": 0.2}, {"class": "Dense", "units": 3, "activation": "softmax"}]},
 "compile": {"optimizer": {"class": "Adam", "lr": 0.01}, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 6, "batch_size": 16, "verbose": 0 $( [ $n = ckpt ] && echo ', "checkpoint": {"path": "'"$T"'/o/run.ckpt"}' )}}
EOF
done
run 0 out '^test_loss=' -- --quiet train "$T/ckpt.json" --out "$T/o" --epochs 3
run 0 out '^test_loss=' -- --quiet train "$T/ckpt.json" --out "$T/o"
grep '^test_loss=' "$T/out" >"$T/resumed"
run 0 out '^test_loss=' -- --quiet train "$T/whole.json" --out "$T/o"
grep '^test_loss=' "$T/out" >"$T/whole"
if ! cmp -s "$T/resumed" "$T/whole"; then
  echo "FAIL: resumed run $(cat "$T/resumed") differs from the uninterrupted $(cat "$T/whole")"; fails=$((fails + 1))
fi

if [ "$fails" -gt 0 ]; then echo "test_cli: $fails failures"; exit 1; fi
echo "test_cli: ok"
