#!/usr/bin/env bash
# The floor check: deepc's sources are layered in floors, and a file may include and call only
# its own floor and the floors below it. Lowest first:
#   base tensor kernels autograd ops nn optim model data io dist plot zoo
# (optim does not need nn; it is simply ranked above it.) Each floor is the folder src/<floor>/.
#
#   scripts/check_floors.sh [--includes-only] [ROOT]
#
# ROOT (default: this script's repository) holds src/ and include/; a scratch copy can be checked
# the same way. Three checks, each failure printed on its own line:
#  (a) every `#include "..."` (and <deepc.h> / <deepc/...>) of src/<floor>/**/*.c|h, resolved as
#      the compiler does (the file's folder, then include/, then src/), must name a file of the
#      same or a lower floor. include/deepc.h, the public header, may be included from any floor.
#      A file under src/ outside the floors' folders, or an include that resolves nowhere or
#      outside src/ and include/, is a failure too.
#  (b) every floor's .c files compiled (-O0 -c, with the include paths and definitions CMake
#      uses: OpenBLAS's OpenMP headers, cJSON, DC_HAVE_MPI and MPI's headers when `mpicc
#      --showme:compile` answers), plus the registries CMake generates (dc_registry in
#      CMakeLists.txt, made here the same way: nn_registry.c in nn, optim_registry.c and
#      schedule_registry.c in optim; onnx.pb-c.h from ONNX's onnx.proto by protoc-c, as CMake
#      makes it, for the io floor's ONNX files);
#      then, by nm, every undefined dc_* symbol of floor F's objects must be defined in F or a
#      lower floor. A dc_* symbol defined nowhere, or defined twice, fails too (a link error).
#      A file that does not compile fails, and the other files are still checked.
#  (c) when include/deepc/ exists (one public header per floor, include/deepc/<floor>.h), each
#      such header includes only headers of its own or lower floors (never the umbrella
#      deepc.h), and every header there is named after a floor.
# --includes-only runs (a) and (c), without a compiler.
# Exit status 0 with a one-line summary when clean, 1 with the failures listed otherwise, 2 on a
# usage error. CC (default cc) and CFLAGS_EXTRA may be set in the environment; CHECK_FLOORS_KEEP=1
# keeps the temporary folder of objects and generated registries (its path goes to stderr).
set -u

FLOORS="base tensor kernels autograd ops nn optim model data io dist plot zoo"

includes_only=0
root=""
for a in "$@"; do
    case "$a" in
    --includes-only) includes_only=1 ;;
    -h | --help)
        sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "check_floors: unknown option $a" >&2
        exit 2
        ;;
    *)
        if [ -n "$root" ]; then
            echo "check_floors: one ROOT at most" >&2
            exit 2
        fi
        root=$a
        ;;
    esac
done
[ -n "$root" ] || root="$(dirname "$0")/.."
if [ ! -d "$root/src" ]; then
    echo "check_floors: $root has no src/ folder" >&2
    exit 2
fi
cd "$root" || exit 2

declare -A RANK
i=0
for f in $FLOORS; do
    RANK[$f]=$i
    i=$((i + 1))
done

fails=0
fail() {
    echo "$*"
    fails=$((fails + 1))
}

# A path relative to the root, with "." and ".." segments resolved ("" if it leaves the root).
norm() {
    local p=$1 seg out="" rest
    while [ -n "$p" ]; do
        case "$p" in
        */*)
            seg=${p%%/*}
            rest=${p#*/}
            ;;
        *)
            seg=$p
            rest=""
            ;;
        esac
        p=$rest
        case "$seg" in
        "" | .) ;;
        ..)
            [ -n "$out" ] || {
                REPLY=""
                return
            }
            case "$out" in
            */*) out=${out%/*} ;;
            *) out="" ;;
            esac
            ;;
        *) out=${out:+$out/}$seg ;;
        esac
    done
    REPLY=$out
}

# The floor of a file relative to the root: a floor's name, "public" for include/deepc.h,
# "?<what>" otherwise.
floor_of() {
    local p=$1 top
    case "$p" in
    include/deepc.h) REPLY=public ;;
    include/deepc/*.h)
        top=${p#include/deepc/}
        top=${top%.h}
        if [ -n "${RANK[$top]+x}" ]; then REPLY=$top; else REPLY="?$p"; fi
        ;;
    src/*/*)
        top=${p#src/}
        top=${top%%/*}
        if [ -n "${RANK[$top]+x}" ]; then REPLY=$top; else REPLY="?$p"; fi
        ;;
    *) REPLY="?$p" ;;
    esac
}

# Resolves an include as the compiler would: the including file's folder first (quoted form
# only), then include/, then src/. REPLY: the path, or "" when none exists.
resolve() {
    local from_dir=$1 inc=$2 quoted=$3 d
    for d in ${quoted:+"$from_dir"} include src; do
        norm "$d/$inc"
        if [ -n "$REPLY" ] && [ -f "$REPLY" ]; then return; fi
    done
    REPLY=""
}

# Checks the includes of the files given, each belonging to floor $1 (for headers of include/deepc/,
# the umbrella deepc.h is refused as well).
check_includes() {
    local floor=$1 public_hdr=$2
    shift 2
    [ $# -gt 0 ] || return
    local file line text inc quoted g
    while IFS= read -r hit; do
        file=${hit%%:*}
        hit=${hit#*:}
        line=${hit%%:*}
        text=${hit#*:}
        case "$text" in
        *\"*\"*)
            inc=${text#*\"}
            inc=${inc%%\"*}
            quoted=1
            ;;
        *\<deepc*\>*)
            inc=${text#*<}
            inc=${inc%%>*}
            quoted=""
            ;;
        *) continue ;;
        esac
        # ONNX's protobuf messages, generated from ONNX's onnx.proto by protoc-c (CMake, and (b)
        # below), belong to no floor: the io floor's ONNX files include them
        [ "$inc" = onnx.pb-c.h ] && [ "$floor" = io ] && continue
        resolve "$(dirname "$file")" "$inc" "$quoted"
        if [ -z "$REPLY" ]; then
            fail "$file:$line: includes \"$inc\", which resolves to no file (floor $floor)"
            continue
        fi
        floor_of "$REPLY"
        g=$REPLY
        case "$g" in
        public)
            [ -n "$public_hdr" ] && fail "$file:$line: floor $floor's public header includes the umbrella include/deepc.h"
            ;;
        \?*)
            fail "$file:$line: includes ${g#\?}, which is in no floor (floor $floor)"
            ;;
        *)
            [ "${RANK[$g]}" -gt "${RANK[$floor]}" ] &&
                fail "$file:$line: floor $floor includes ${inc} of higher floor $g"
            ;;
        esac
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*("|<deepc(/|\.h))' /dev/null "$@")
}

# (a) the sources' includes
nfiles=0
for d in src/*/; do
    d=${d%/}
    f=${d#src/}
    if [ -z "${RANK[$f]+x}" ]; then
        fail "$d/: src/$f is not a floor (floors: $FLOORS)"
        continue
    fi
done
for s in src/*.c src/*.h; do
    [ -e "$s" ] && fail "$s: a source outside the floors' folders"
done
declare -A SRCS # floor -> its .c files, newline-separated
for f in $FLOORS; do
    [ -d "src/$f" ] || continue
    mapfile -t files < <(find "src/$f" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
    nfiles=$((nfiles + ${#files[@]}))
    check_includes "$f" "" "${files[@]}"
    SRCS[$f]=$(printf '%s\n' "${files[@]}" | grep '\.c$')
done

# (c) the per-floor public headers
npub=0
if [ -d include/deepc ]; then
    for h in include/deepc/*.h; do
        [ -e "$h" ] || continue
        npub=$((npub + 1))
        floor_of "$h"
        case "$REPLY" in
        \?*) fail "$h: not named after a floor (floors: $FLOORS)" ;;
        *) check_includes "$REPLY" public "$h" ;;
        esac
    done
    for h in include/deepc/*; do
        case "$h" in *.h) ;; *) [ -e "$h" ] && fail "$h: not a header of a floor" ;; esac
    done
fi

if [ "$includes_only" = 1 ]; then
    if [ "$fails" -gt 0 ]; then
        echo "check_floors: $fails failure(s)"
        exit 1
    fi
    echo "check_floors: ok: $nfiles sources, $npub public floor headers: every include stays on its floor or below"
    exit 0
fi

# (b) the objects' symbols
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_floors.XXXXXX") || exit 2
if [ -n "${CHECK_FLOORS_KEEP:-}" ]; then echo "check_floors: objects kept in $tmp" >&2; else trap 'rm -rf "$tmp"' EXIT; fi

cflags="-std=gnu11 -O0 -fopenmp -fno-math-errno -Werror=implicit-function-declaration -Iinclude -Isrc"
for d in /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp \
    /usr/include/x86_64-linux-gnu /usr/include/openblas /usr/include; do
    if [ -f "$d/cblas.h" ]; then
        cflags="$cflags -I$d"
        break
    fi
done
for d in /usr/include /usr/local/include; do
    if [ -f "$d/cjson/cJSON.h" ]; then
        [ "$d" = /usr/include ] || cflags="$cflags -I$d"
        break
    fi
done
mpi_note="without MPI"
if mpi_inc=$(mpicc --showme:compile 2>/dev/null) && [ -n "$mpi_inc" ]; then
    cflags="$cflags -DDC_HAVE_MPI $mpi_inc"
    mpi_note="with MPI"
fi
cflags="$cflags ${CFLAGS_EXTRA:-}"

# The registries, as CMakeLists.txt's dc_registry writes them: every "MACRO(sym);" line at the
# start of a line of src/<dir>/*.c (sorted by path), in a table dc_<name>_registry declared in
# src/<dir>/<name>_registry.h (name: the optional fifth argument, else dir).
gen_registry() {
    local kind=$1 macro=$2 dir=$3 out=$4 name=${5:-$3} decls="" items="" n=0 sym
    while IFS= read -r sym; do
        decls="${decls}extern const $kind $sym;
"
        items="${items}    &$sym,
"
        n=$((n + 1))
    done < <(for f in $(printf '%s\n' src/"$dir"/*.c | LC_ALL=C sort); do
        [ -f "$f" ] && sed -n "s/^$macro(\([A-Za-z0-9_][A-Za-z0-9_]*\));.*/\1/p" "$f"
    done)
    printf '/* Generated by check_floors.sh from the %s lines of src/%s/. */\n#include "%s/%s_registry.h"\n\n%s\nconst %s *const dc_%s_registry[] = {\n%s    NULL,\n};\nconst int dc_%s_registry_count = %d;\n' \
        "$macro" "$dir" "$dir" "$name" "$decls" "$kind" "$name" "$items" "$name" "$n" >"$out"
}

# jobs: "floor<TAB>source<TAB>object"
jobs=$tmp/jobs
: >"$jobs"
for f in $FLOORS; do
    [ -n "${SRCS[$f]:-}" ] || continue
    mkdir -p "$tmp/obj/$f"
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        o=${s#src/"$f"/}
        printf '%s\t%s\t%s\n' "$f" "$s" "$tmp/obj/$f/${o//\//__}.o" >>"$jobs"
    done <<<"${SRCS[$f]}"
done
if [ -f src/nn/nn_registry.h ]; then
    mkdir -p "$tmp/gen" "$tmp/obj/nn"
    gen_registry dc_layer_type DC_REGISTER_LAYER nn "$tmp/gen/nn_registry.c"
    printf 'nn\t%s\t%s\n' "$tmp/gen/nn_registry.c" "$tmp/obj/nn/generated__nn_registry.c.o" >>"$jobs"
fi
if [ -f src/optim/optim_registry.h ]; then
    mkdir -p "$tmp/gen" "$tmp/obj/optim"
    gen_registry dc_optimizer_type DC_REGISTER_OPTIMIZER optim "$tmp/gen/optim_registry.c"
    printf 'optim\t%s\t%s\n' "$tmp/gen/optim_registry.c" "$tmp/obj/optim/generated__optim_registry.c.o" >>"$jobs"
fi
if [ -f src/optim/schedule_registry.h ]; then
    mkdir -p "$tmp/gen" "$tmp/obj/optim"
    gen_registry dc_schedule_type DC_REGISTER_SCHEDULE optim "$tmp/gen/schedule_registry.c" schedule
    printf 'optim\t%s\t%s\n' "$tmp/gen/schedule_registry.c" "$tmp/obj/optim/generated__schedule_registry.c.o" >>"$jobs"
fi

# ONNX's messages as CMake generates them (protoc-c on onnx.proto of libonnx-dev), for src/io/onnx*.c
onnx_proto=""
for d in /usr/include /usr/local/include; do
    [ -f "$d/onnx/onnx.proto" ] && onnx_proto=$d/onnx/onnx.proto && break
done
if [ -n "$onnx_proto" ] && command -v protoc-c >/dev/null 2>&1; then
    mkdir -p "$tmp/gen/onnx"
    cp "$onnx_proto" "$tmp/gen/onnx/onnx.proto"
    if protoc-c --proto_path="$tmp/gen/onnx" --c_out="$tmp/gen/onnx" "$tmp/gen/onnx/onnx.proto" 2>"$tmp/protoc.log"; then
        cflags="$cflags -I$tmp/gen/onnx"
    else
        fail "protoc-c could not generate onnx.pb-c.h from $onnx_proto: $(head -c 300 "$tmp/protoc.log")"
    fi
fi

ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
export CC cflags
# each job prints "FAILED<TAB>source" and the compiler's first lines when its file does not compile
# shellcheck disable=SC2016 # the inner shell expands $CC, $cflags and its arguments
cut -f2,3 "$jobs" | tr '\t' '\n' | xargs -d '\n' -n 2 -P "$ncpu" sh -c '
    if ! err=$($CC $cflags -c "$1" -o "$2" 2>&1); then
        printf "FAILED\t%s\n" "$1"
        printf "%s\n" "$err" | grep -m 3 "error" | sed "s/^/    /"
    fi' sh >"$tmp/compile.log"
ncomp=0
while IFS= read -r l; do
    case "$l" in
    FAILED*)
        s=${l#FAILED	}
        fail "$s: does not compile ($CC $mpi_note):"
        ncomp=$((ncomp + 1))
        ;;
    *) echo "$l" ;;
    esac
done <"$tmp/compile.log"

# nm -A: "object: [address] TYPE symbol"; the floor is the object's folder under obj/
mapfile -t objs < <(find "$tmp/obj" -name '*.o' | LC_ALL=C sort)
nobj=${#objs[@]}
if [ "$nobj" -gt 0 ]; then
    nm -A -g "${objs[@]}" 2>/dev/null >"$tmp/syms" || true
    while IFS= read -r l; do fail "$l"; done < <(awk -v obj="$tmp/obj/" -v floors="$FLOORS" '
        BEGIN { n = split(floors, fl, " "); for (i = 1; i <= n; i++) rank[fl[i]] = i }
        {
            o = $1; sub(/:[0-9a-fA-F]*$/, "", o); sym = $NF; type = $(NF - 1)
            if (sym !~ /^dc_/) next
            rel = substr(o, length(obj) + 1); f = rel; sub(/\/.*/, "", f); name = rel; sub(/^[^\/]*\//, "", name)
            sub(/\.o$/, "", name); gsub(/__/, "/", name); if (name !~ /^generated\//) name = "src/" f "/" name
            if (type == "U") { nu++; uo[nu] = name; uf[nu] = f; us[nu] = sym; next }
            if (type == "w" || type == "v") next
            if (sym in def && def[sym] != name) print name ": defines " sym ", already defined by " def[sym] " (floor " dfl[sym] ")"
            else { def[sym] = name; dfl[sym] = f }
        }
        END {
            for (i = 1; i <= nu; i++) {
                s = us[i]
                if (!(s in def)) print uo[i] ": uses " s ", which no floor defines (floor " uf[i] ")"
                else if (rank[dfl[s]] > rank[uf[i]])
                    print uo[i] ": floor " uf[i] " uses " s " of higher floor " dfl[s] " (" def[s] ")"
            }
        }' "$tmp/syms")
fi

if [ "$fails" -gt 0 ]; then
    echo "check_floors: $fails failure(s) ($ncomp file(s) did not compile)"
    exit 1
fi
echo "check_floors: ok: $nfiles sources, $npub public floor headers, $nobj objects ($mpi_note): every include and dc_* call stays on its floor or below"
