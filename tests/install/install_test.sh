#!/bin/sh
# deepc installed and used as a C library from outside its tree:
#   install_test.sh BUILD_DIR CMAKE CC VERSION
# installs BUILD_DIR (cmake --install) into BUILD_DIR/install-test/prefix, then builds
# tests/install/xor.c there
#   - with  cc xor.c $(pkg-config --cflags --libs deepc)          (the shared library)
#   - with  cc xor.c $(pkg-config --cflags --libs deepc-static)   (libdeepc.a)
#   - with  find_package(deepc): deepc::deepc and deepc::deepc_static (tests/install/CMakeLists.txt)
# and runs each: it must print "xor: 0 1 1 0 deepc VERSION". The shared programs must load the
# installed libdeepc.so, the static ones none. Exit 77 (skipped) without pkg-config.
set -u
build=$1
cmake=$2
cc=$3
version=$4
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v pkg-config >/dev/null 2>&1; then
    echo "install_out_of_tree: skipped (no pkg-config; Debian: apt-get install pkg-config)"
    exit 77
fi
work=$build/install-test
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work/app" || exit 1
cp "$here/xor.c" "$here/CMakeLists.txt" "$work/app/" || exit 1

fails=0
fail() {
    echo "install_out_of_tree: FAILED: $*"
    fails=$((fails + 1))
}

# cmake --install rewrites the build directory's install_manifest.txt, which `make uninstall`
# reads: the one of a real installation is put back afterwards.
manifest=$build/install_manifest.txt
[ -f "$manifest" ] && cp "$manifest" "$work/manifest.saved"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1
rc=$?
if [ -f "$work/manifest.saved" ]; then mv "$work/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
if [ $rc != 0 ]; then
    cat "$work/install.log"
    echo "install_out_of_tree: FAILED: cmake --install"
    exit 1
fi
for f in bin/deepc include/deepc.h include/deepc/base.h; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
pc=$(find "$prefix" -name deepc.pc | head -n 1)
cfg=$(find "$prefix" -name deepcConfig.cmake | head -n 1)
[ -n "$pc" ] || fail "deepc.pc not installed"
[ -n "$cfg" ] || fail "deepcConfig.cmake not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in libdeepc.a libdeepc.so; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f not installed"
done
[ "$fails" = 0 ] || exit 1
export PKG_CONFIG_PATH="$libdir/pkgconfig"
want="xor: 0 1 1 0 deepc $version"

# run NAME SHARED: runs the program, checks its output and whether it loads libdeepc.so
run() {
    out=$("$1" 2>&1)
    if [ "$out" != "$want" ]; then
        fail "$1 printed \"$out\", not \"$want\""
    fi
    needed=$(readelf -d "$1" 2>/dev/null | grep -c 'NEEDED.*libdeepc')
    if [ "$2" = shared ]; then
        [ "$needed" = 1 ] || fail "$1 does not load libdeepc.so"
        loaded=$(ldd "$1" 2>/dev/null | sed -n 's/.*libdeepc[^ ]* => \([^ ]*\).*/\1/p')
        case "$loaded" in
        "$libdir"/*) ;;
        *) fail "$1 loads libdeepc from \"$loaded\", not from $libdir" ;;
        esac
    else
        [ "$needed" = 0 ] || fail "$1 loads libdeepc.so, though linked statically"
    fi
    [ "$out" = "$want" ] && echo "  $1: $out ($2)"
}

cd "$work/app" || exit 1
echo "pkg-config --cflags --libs deepc: $(pkg-config --cflags --libs deepc)"
# shellcheck disable=SC2046 # the flags are words
if $cc -o xor_pc xor.c $(pkg-config --cflags --libs deepc); then run ./xor_pc shared; else fail "cc with pkg-config deepc"; fi
echo "pkg-config --cflags --libs deepc-static: $(pkg-config --cflags --libs deepc-static)"
# shellcheck disable=SC2046
if $cc -o xor_pc_static xor.c $(pkg-config --cflags --libs deepc-static); then
    run ./xor_pc_static static
else fail "cc with pkg-config deepc-static"; fi
# --static lists the static library's dependencies after -ldeepc: with -Wl,-Bstatic around the
# library itself (the linker's choice between libdeepc.so and libdeepc.a) it links libdeepc.a
static_libs=$(pkg-config --static --libs deepc | sed 's/-ldeepc/-Wl,-Bstatic -ldeepc -Wl,-Bdynamic/')
# shellcheck disable=SC2086
if $cc -o xor_pc_static2 xor.c $(pkg-config --cflags deepc) $static_libs; then
    run ./xor_pc_static2 static
else fail "cc with pkg-config --static deepc"; fi

if "$cmake" -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
    >"$work/consumer-configure.log" 2>&1 &&
    "$cmake" --build build >"$work/consumer-build.log" 2>&1; then
    run build/xor_shared shared
    run build/xor_static static
else
    cat "$work/consumer-configure.log" "$work/consumer-build.log" 2>/dev/null | tail -n 30
    fail "find_package(deepc) project"
fi
[ "$fails" = 0 ] || exit 1
echo "install_out_of_tree: ok: installed into $prefix; pkg-config (shared, static) and find_package (shared, static) programs run"
