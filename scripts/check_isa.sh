#!/bin/sh
# The portable build's promise, checked on the library's disassembly: code outside the functions
# chosen at run time uses nothing beyond plain x86-64 (SSE2), so the library runs on any x86-64.
#   scripts/check_isa.sh build/libdeepc.a
# Chosen at run time are GCC's clones of DC_CLONES functions (names with .arch_x86_64_v3 or
# .arch_x86_64_v4, their OpenMP regions included) and the explicit kernels whose names end in
# _avx512 (called only when dc_k_avx512_usable() or dc_k_bf16_available() says so). Elsewhere an
# instruction with a VEX or EVEX encoding (a mnemonic that starts with v, a ymm, zmm or mask
# register) fails the check; so does a zmm register in a v3 clone. Exit 77 (skipped) without
# objdump or on another CPU family.
lib=$1
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
  echo "check_isa: usage: check_isa.sh LIBRARY (no file '$lib')" >&2
  exit 2
fi
if ! command -v objdump >/dev/null 2>&1; then
  echo "check_isa: skipped (no objdump)"
  exit 77
fi
case $(uname -m) in
x86_64 | amd64) ;;
*)
  echo "check_isa: skipped (not x86-64)"
  exit 77
  ;;
esac
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# objdump prints "ADDR <name>:" before each function and "ADDR:<tab>mnemonic operands" per instruction
objdump -d --no-show-raw-insn "$lib" | awk -v out="$out" '
  /^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3); funcs++; next }
  /^ *[0-9a-f]+:\t/ {
    split($0, f, "\t"); ins = f[2]
    if (ins !~ /^v[a-z0-9]/ && ins !~ /%[yz]mm|%k[0-7]/) next
    if (fn ~ /_avx512($|\.)/ || fn ~ /\.arch_x86_64_v4($|\.)/) { dispatched++; next }
    if (fn ~ /\.arch_x86_64_v3($|\.)/ && ins !~ /%zmm|%k[0-7]/) { dispatched++; next }
    if (!(fn in bad)) { bad[fn] = ins; nbad++ }
  }
  END {
    for (b in bad) printf "check_isa: %s: %s\n", b, bad[b] > out
    printf "check_isa: %d functions, %d AVX instructions in run-time dispatched ones, %d functions with AVX outside them\n", funcs, dispatched, nbad
  }'
if [ -s "$out" ]; then
  sort "$out" | head -40
  echo "check_isa: FAILED: $lib has AVX code outside the functions chosen at run time"
  exit 1
fi
echo "check_isa: ok"
