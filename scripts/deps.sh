#!/bin/sh
# Installs the Debian packages deepc needs when they are missing (with sudo when not root).
#   scripts/deps.sh           build and test dependencies
#   scripts/deps.sh --bench   also the benchmark data and the PyTorch peer
#   scripts/deps.sh --fuzz    also clang, libFuzzer and LLVM's OpenMP (the fuzz targets) and valgrind
#   scripts/deps.sh --onnx    also the ONNX checks' tools: python3-onnx (onnx.checker), ONNX's
#                             backend test data (libonnx-testdata: ctest onnx_suite), Node.js and
#                             npm's onnxruntime-node (ONNX Runtime) in $DEEPC_ORT_DIR (default
#                             ~/.cache/deepc/onnxruntime), which scripts/onnx/ort_run.js loads
# Options combine (scripts/deps.sh --fuzz --onnx).
# On other systems install: a C11 compiler with OpenMP, CMake >= 3.18, OpenBLAS (cblas.h),
# zlib, cJSON, libpng, libjpeg, libsndfile, FFTW 3 (single precision, fftw3f), espeak-ng (the
# spoken-digits data), the oxygen icon theme's PNGs (the image classifier's pictures),
# protobuf-c with protoc-c and ONNX's onnx.proto (ONNX exchange),
# optionally MPI (data-parallel training; deepc builds without it); for benchmarks
# Fashion-MNIST IDX files (set FMNIST_DIR) and PyTorch.
set -e
pkgs="gcc make cmake pkg-config libopenblas-openmp-dev zlib1g-dev libcjson-dev libpng-dev libjpeg-dev libsndfile1-dev libfftw3-dev espeak-ng libprotobuf-c-dev protobuf-c-compiler libonnx-dev libopenmpi-dev openmpi-bin dataset-fashion-mnist fortunes oxygen-icon-theme"
onnx=0
for a in "$@"; do
  case $a in
  --bench) pkgs="$pkgs python3-torch python3-numpy" ;;
  --fuzz) pkgs="$pkgs clang libclang-rt-dev libomp-dev valgrind" ;;
  --onnx) # Node.js and npm as Debian packages unless they are installed already (another way)
    pkgs="$pkgs python3-onnx python3-numpy libonnx-testdata"
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
    onnx=1 ;;
  *) echo "deps: unknown option $a (--bench, --fuzz, --onnx)" >&2; exit 2 ;;
  esac
done
# ONNX Runtime for the ONNX checks: npm's onnxruntime-node carries its Linux x64 library
# (libonnxruntime.so) in the package; --ignore-scripts skips its install script (which would
# download GPU libraries). Installed as the calling user, outside the source tree.
ort_install() {
  dir=${DEEPC_ORT_DIR:-$HOME/.cache/deepc/onnxruntime}
  [ -d "$dir/node_modules/onnxruntime-node" ] && return 0
  command -v npm >/dev/null 2>&1 || { echo "deps: npm is missing: no onnxruntime-node (the ONNX Runtime checks will be skipped)" >&2; return 0; }
  mkdir -p "$dir"
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1 >/dev/null)
  echo "deps: onnxruntime-node installed in $dir"
}
if ! command -v dpkg >/dev/null 2>&1; then
  echo "deps: not a Debian system; install: C compiler with OpenMP, cmake, OpenBLAS, zlib, cJSON, libpng, libjpeg, libsndfile, FFTW 3 (fftw3f), espeak-ng" >&2
  exit 0
fi
# apt's package lists are the recommender example's data (examples/recommender): a fresh
# system may have none; apt-get update fetches them
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  echo "deps: fetching apt's package lists (apt-get update)"
  if [ "$(id -u)" = 0 ]; then up=""; elif command -v sudo >/dev/null 2>&1; then up=sudo; else up=none; fi
  if [ "$up" = none ]; then echo "deps: not root: run apt-get update for the recommender example's data" >&2
  else $up apt-get update -qq || echo "deps: apt-get update failed: the recommender example will be skipped" >&2; fi
fi
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
  [ "$onnx" = 0 ] || ort_install
  exit 0
fi
echo "deps: installing$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps: need root to install:$missing (run: apt-get install$missing)" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
[ "$onnx" = 0 ] || ort_install
