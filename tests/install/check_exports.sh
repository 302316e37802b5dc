#!/bin/sh
# The shared library exports the public API and nothing else:
#   check_exports.sh LIBDEEPC_SO INCLUDE_DIR
# (a) every function the public headers (INCLUDE_DIR/deepc.h and deepc/*.h) declare, as GCC's
#     -aux-info lists them, is a defined dynamic symbol of the library (nm -D --defined-only);
# (b) every symbol the library exports is declared in those headers, so none of the internal
#     dc_* functions shared between the floors leaks. Names that begin with an underscore belong
#     to the toolchain (_init, _fini, __bss_start, sanitizer hooks) and are not counted, nor are
#     the clones NAME.suffix of a declared NAME (function multi-versioning).
# Exit 0 when both hold, 1 with the names listed, 77 (skipped) without gcc or nm.
set -u
lib=$1
inc=$2
for tool in gcc nm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "check_exports: skipped ($tool not found)"
        exit 77
    fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

printf '#include <deepc.h>\n' >"$tmp/all.c"
for h in "$inc"/deepc/*.h; do printf '#include <deepc/%s>\n' "${h##*/}" >>"$tmp/all.c"; done
if ! gcc -std=gnu11 -fsyntax-only -aux-info "$tmp/aux" -I"$inc" "$tmp/all.c"; then
    echo "check_exports: the public headers do not compile"
    exit 1
fi
# "/* INCLUDE_DIR/deepc/base.h:37:NC */ extern const char *dc_version (void);": the declarations
# of the public headers (not their static inline definitions), the name before the first " ("
grep -F "/* $inc/" "$tmp/aux" | grep -v '\*/ static ' |
    sed -n 's/^\/\*[^*]*\*\/ [^(]*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\) (.*/\1/p' | LC_ALL=C sort -u >"$tmp/declared"
if [ ! -s "$tmp/declared" ]; then
    echo "check_exports: no declaration found in $inc"
    exit 1
fi
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | LC_ALL=C sort -u >"$tmp/exported"

fails=0
missing=$(LC_ALL=C comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
    echo "check_exports: declared in $inc but not exported by $lib:"
    printf '%s\n' "$missing" | sed 's/^/    /'
    fails=1
fi
extra=""
for s in $(LC_ALL=C comm -13 "$tmp/declared" "$tmp/exported"); do
    case "$s" in
    _*) continue ;;
    *.*) grep -qx "${s%%.*}" "$tmp/declared" && continue ;;
    esac
    extra="$extra $s"
done
if [ -n "$extra" ]; then
    echo "check_exports: exported by $lib but declared in no public header:"
    printf '    %s\n' $extra
    fails=1
fi
[ "$fails" = 0 ] || exit 1
echo "check_exports: ok: $(wc -l <"$tmp/declared") functions declared in $inc, each exported; nothing else exported"
