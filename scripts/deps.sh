#!/bin/sh
# Installs the Debian packages deepc needs when they are missing (with sudo when not root).
#   scripts/deps.sh           build and test dependencies
#   scripts/deps.sh --bench   also the benchmark data and the PyTorch peer
#   scripts/deps.sh --fuzz    also clang, libFuzzer and LLVM's OpenMP (the fuzz targets) and valgrind
# On other systems install: a C11 compiler with OpenMP, CMake >= 3.18, OpenBLAS (cblas.h),
# zlib, cJSON, libpng, libjpeg, libsndfile, FFTW 3 (single precision, fftw3f), espeak-ng (the
# spoken-digits data), protobuf-c with protoc-c and ONNX's onnx.proto (ONNX exchange),
# optionally MPI (data-parallel training; deepc builds without it); for benchmarks
# Fashion-MNIST IDX files (set FMNIST_DIR) and PyTorch.
set -e
pkgs="gcc make cmake pkg-config libopenblas-openmp-dev zlib1g-dev libcjson-dev libpng-dev libjpeg-dev libsndfile1-dev libfftw3-dev espeak-ng libprotobuf-c-dev protobuf-c-compiler libonnx-dev libopenmpi-dev openmpi-bin dataset-fashion-mnist fortunes"
if [ "${1:-}" = "--bench" ]; then
  pkgs="$pkgs python3-torch python3-numpy"
fi
if [ "${1:-}" = "--fuzz" ]; then
  pkgs="$pkgs clang libclang-rt-dev libomp-dev valgrind"
fi
if ! command -v dpkg >/dev/null 2>&1; then
  echo "deps: not a Debian system; install: C compiler with OpenMP, cmake, OpenBLAS, zlib, cJSON, libpng, libjpeg, libsndfile, FFTW 3 (fftw3f), espeak-ng" >&2
  exit 0
fi
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
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
