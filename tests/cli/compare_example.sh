#!/bin/sh
# A configuration trained by `deepc train` against the C example it mirrors: both run here,
# and each named figure must agree within TOL.
#   tests/cli/compare_example.sh BUILD_DIR CONFIG TOL "EXAMPLE ARGS" CONFIG_KEY=EXAMPLE_KEY...
# With EXAMPLE "-", the figures are checked against a bound instead:
#   test_accuracy>=baseline_accuracy+0.10 compares two figures of the configuration's run.
set -u
build=$1 config=$2 tol=$3 example=$4
shift 4
out=$(mktemp -d "${TMPDIR:-/tmp}/deepc_cmp.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$build/tools/deepc" train "$config" --out "$out" >"$out/config.txt" 2>&1 || { cat "$out/config.txt"; exit 1; }
tail -8 "$out/config.txt"
if [ "$example" != "-" ]; then
  # shellcheck disable=SC2086 # the example's words are its arguments
  "$build/examples/"$example >"$out/example.txt" 2>&1 || { cat "$out/example.txt"; exit 1; }
  echo "-- $example:"; grep -E '^[a-z_]+=' "$out/example.txt"
fi
val() { grep -E "^$2=" "$1" | tail -1 | cut -d= -f2; }
fails=0
for pair in "$@"; do
  case $pair in
  *'>='*) # a bound within the configuration's run: a>=b+margin
    a=${pair%%>=*} rest=${pair#*>=} b=${rest%%+*} margin=${rest#*+}
    va=$(val "$out/config.txt" "$a") vb=$(val "$out/config.txt" "$b")
    if [ -z "$va" ] || [ -z "$vb" ] || ! awk -v a="$va" -v b="$vb" -v m="$margin" 'BEGIN { exit !(a >= b + m) }'; then
      echo "FAIL: $a=$va is not >= $b=$vb + $margin"; fails=$((fails + 1))
    fi ;;
  *)
    ck=${pair%%=*} ek=${pair#*=}
    vc=$(val "$out/config.txt" "$ck") ve=$(val "$out/example.txt" "$ek")
    if [ -z "$vc" ] || [ -z "$ve" ] || ! awk -v a="$vc" -v b="$ve" -v t="$tol" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; then
      echo "FAIL: the configuration's $ck=$vc and the example's $ek=$ve differ by more than $tol"; fails=$((fails + 1))
    fi ;;
  esac
done
[ "$fails" -eq 0 ] || exit 1
echo "compare: $(basename "$config"): ok"
