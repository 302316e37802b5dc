#!/bin/bash
# The documentation's commands, run, so that they cannot rot:
#   scripts/doc_commands.sh BUILD_DIR [FILE.md ...]      (default: README.md and docs/*.md)
# ctest runs it as docs_commands. For each Markdown file, in the file's order:
#   - every ```sh block runs with bash -e in a folder of its own that looks like the source tree
#     (a link to each of its entries), where build/ is BUILD_DIR and out/ a new empty folder, so
#     commands are written as a reader at the top of the tree types them (build/tools/deepc ...,
#     data/digits.csv.gz) and write nothing into the tree; HOME is a folder of the runner's;
#   - every ```c block that holds `int main` is compiled against the build's library (with the
#     flags of the installed deepc-static.pc) and run in the same folder; it is also saved there
#     as prog.c, which the blocks after it may compile as the text says (cc prog.c ...);
#   - other blocks (```json, ```text, ```python, C fragments without main) are not run;
#   - every relative link [text](path#anchor) must name a file that exists and a heading it has.
# Before the first file the build is installed into $HOME/.local (cmake --install, which is what
# `make install PREFIX=$HOME/.local` does after building), so `pkg-config --cflags --libs deepc`
# works as the README says. A block preceded by the line
#   <!-- doc-test: needs PATH -->
# is skipped while PATH (relative to the source tree) is absent: for a block documenting a file
# still to come. A block preceded by
#   <!-- doc-test: file PATH -->
# shows the file PATH (a configuration, say) and must equal it byte for byte. The commands below, matched at the start of a command line, are not run, each
# for the reason given; the programs and make targets they name must still exist.
# A failing block is reported with its file and line, its text and the end of its output; the
# exit status is 1 if any failed, 77 (skipped) without pkg-config.
set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: scripts/doc_commands.sh BUILD_DIR [FILE.md ...]" >&2
    exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
shift
if [ $# -gt 0 ]; then files=("$@"); else
    files=(README.md)
    for f in "$src"/docs/*.md; do files+=("docs/${f##*/}"); done
fi
cmake=${CMAKE:-cmake}
block_timeout=${DOC_BLOCK_TIMEOUT:-900}

# Commands not run here: an extended regular expression on the command line (continuation lines
# joined), and why.
skip_re=(
    '^make test( |$)'
    '^make demo( |$)'
    '^make install( |$)'
    '^make bench|(^|[[:space:]])(build/)?bench/'
    '^([A-Z_]+=[^ ]+ )*mpirun '
    '^build/examples/cnn_fashion( |$)'
    '^scripts/gen_speech_digits\.sh |^build/examples/speech_ctc( |$)'
    '^([A-Z_]+=[^ ]+ )*build/examples/transfer_fashion( |$)'
    '^([A-Z_]+=[^ ]+ )*build/examples/image_classifier( |$)'
    '^([A-Z_]+=[^ ]+ )*build/examples/(autoencoder|vae)_fashion( |$)'
    '^([A-Z_]+=[^ ]+ )*build/examples/recommender( |$)'
    '^([A-Z_]+=[^ ]+ )*build/examples/dcgan_fashion( |$)'
    '^(/usr/bin/)?python3 scripts/onnx/check\.py '
    '^node scripts/onnx/'
)
skip_why=(
    "this runner runs inside it, as a ctest test"
    "its three commands are ctest's example_digits_mlp, tool_deepc_evaluate and example_cnn_fashion"
    "the runner installs the build into \$HOME/.local itself with cmake --install; ctest's install_out_of_tree checks the installation"
    "a benchmark: minutes on a quiet machine, and the PyTorch peers need python3-torch"
    "ctest's test_dist_mpi2 and example_cnn_fashion_mpi2 run 2 MPI ranks"
    "minutes long: ctest's example_cnn_fashion runs it for 3 epochs"
    "minutes long: ctest's speech_digits_data and example_speech_ctc make 460 utterances and train on them"
    "a minute or more: ctest's example_transfer_fashion runs the full configuration"
    "the full run takes about ten minutes: ctest's example_image_classifier runs it shortened"
    "the full runs take many minutes: ctest's example_autoencoder_fashion and example_vae_fashion run them on 10000 images"
    "about two minutes: ctest's example_recommender runs it for 3 epochs"
    "about 25 minutes: ctest's example_dcgan_fashion runs it shortened (3 epochs of 6000 images)"
    "needs Debian's python3-onnx (scripts/deps.sh --onnx): ctest's test_onnx_export and tool_deepc_export run the checker, or print skipped"
    "needs Node.js and onnxruntime-node in ~/.cache/deepc/onnxruntime (scripts/deps.sh --onnx): ctest's test_onnx_export and tool_deepc_export run it, or print skipped"
)

if ! command -v pkg-config >/dev/null 2>&1; then
    echo "docs_commands: skipped (no pkg-config; Debian: apt-get install pkg-config)"
    exit 77
fi

work=$build/doc-commands
rm -rf "$work"
mkdir -p "$work/home" || exit 1
export HOME=$work/home
export DEEPC_THREADS=${DEEPC_THREADS:-2} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMPI_MCA_mpi_yield_when_idle=1

# cmake --install rewrites the build directory's install_manifest.txt, which `make uninstall`
# reads: the one of a real installation is put back afterwards.
manifest=$build/install_manifest.txt
[ -f "$manifest" ] && cp "$manifest" "$work/manifest.saved"
"$cmake" --install "$build" --prefix "$HOME/.local" >"$work/install.log" 2>&1
irc=$?
if [ -f "$work/manifest.saved" ]; then mv "$work/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
if [ $irc != 0 ]; then
    cat "$work/install.log"
    echo "docs_commands: FAILED: cmake --install $build --prefix \$HOME/.local"
    exit 1
fi
pc=$(find "$HOME/.local" -name deepc-static.pc | head -n 1)
if [ -z "$pc" ]; then
    echo "docs_commands: FAILED: the installation holds no deepc-static.pc"
    exit 1
fi
export PKG_CONFIG_PATH=$(dirname "$pc")
cflags=$(pkg-config --cflags --libs deepc-static) || exit 1

fails=0
ran=0
skipped=0

# report FILE LINE WHAT LOG BLOCKFILE: a failure with its block and the end of its output
report() {
    echo "$1:$2: FAILED: $3"
    echo "---- the block ($1 line $2)"
    sed 's/^/    /' "$5"
    echo "---- the end of its output"
    tail -n 60 "$4" | sed 's/^/    /'
    echo "----"
    fails=$((fails + 1))
}

# The block's script with the skipped commands replaced by a line saying so. Prints the skipped
# commands' own checks' failures on stderr and returns 1 if a skipped command names a program
# or make target that does not exist.
filter_block() {
    local in=$1 out=$2 wd=$3 line logical i rc=0
    : >"$out"
    logical=""
    while IFS= read -r line || [ -n "$line" ]; do
        if [[ "$line" == *\\ ]]; then
            logical+="${line%\\} "
            continue
        fi
        logical+="$line"
        local cmd=${logical#"${logical%%[![:space:]]*}"} hit=-1
        for i in "${!skip_re[@]}"; do
            if [[ "$cmd" =~ ${skip_re[$i]} ]]; then hit=$i; break; fi
        done
        if [ $hit -ge 0 ]; then
            local w
            for w in $cmd; do
                case "$w" in
                build/* | bench/* | scripts/* | examples/* | tools/*)
                    [ -e "$wd/$w" ] || { echo "  skipped command names $w, which does not exist" >&2; rc=1; } ;;
                esac
            done
            if [[ "$cmd" =~ ^make[[:space:]]+([a-z-]+) ]] && ! grep -q "^${BASH_REMATCH[1]}:" "$src/Makefile"; then
                echo "  skipped command names make target ${BASH_REMATCH[1]}, which the Makefile lacks" >&2
                rc=1
            fi
            local shown=${cmd%%#*}
            shown=${shown%"${shown##*[![:space:]]}"}
            shown=$(printf '%s' "$shown" | tr -s ' ')
            printf 'echo %q\n' "doc-test: not run: $shown: ${skip_why[$hit]}" >>"$out"
            skipped=$((skipped + 1))
        else
            printf '%s\n' "$logical" >>"$out"
        fi
        logical=""
    done <"$in"
    return $rc
}

# The Markdown headings of a file, as the anchors GitHub gives them (code blocks skipped).
anchors() {
    awk '/^```/ { inb = !inb; next } !inb && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
        tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}

# Every relative link [text](path#anchor) of a file must name a file that exists and, in a
# Markdown file, a heading it has.
check_links() {
    local f=$1 doc=$src/$1 dir link path anchor target
    dir=$(dirname "$doc")
    awk '/^```/ { inb = !inb; next } !inb' "$doc" | grep -o '\]([^)]*)' | sed 's/^](//; s/)$//' | sort -u |
        while IFS= read -r link; do
            case "$link" in http://* | https://* | mailto:*) continue ;; esac
            path=${link%%#*}
            anchor=
            [[ "$link" == *#* ]] && anchor=${link#*#}
            target=$doc
            [ -n "$path" ] && target=$dir/$path
            if [ ! -e "$target" ]; then
                echo "$f: FAILED: the link ($link) names $path, which does not exist"
                continue
            fi
            if [ -n "$anchor" ] && [[ "$target" == *.md ]] && ! anchors "$target" | grep -qx -- "$anchor"; then
                echo "$f: FAILED: the link ($link): ${path:-this file} has no heading #$anchor"
            fi
        done
}

for f in "${files[@]}"; do
    doc=$src/$f
    if [ -f "$doc" ]; then
        bad=$(check_links "$f")
        if [ -n "$bad" ]; then
            echo "$bad"
            fails=$((fails + $(echo "$bad" | wc -l)))
        else
            echo "$f: links ok"
        fi
    fi
    [ -f "$doc" ] || { echo "docs_commands: FAILED: no file $f"; fails=$((fails + 1)); continue; }
    name=$(echo "$f" | tr '/.' '__')
    wd=$work/$name
    blocks=$work/blocks-$name
    mkdir -p "$wd/out" "$blocks"
    for e in "$src"/* "$src"/.[!.]*; do
        [ -e "$e" ] || continue
        b=${e##*/}
        case "$b" in build | build-* | out | .git) continue ;; esac
        ln -sfn "$e" "$wd/$b"
    done
    ln -sfn "$build" "$wd/build"
    # The blocks of the file: blocks/LINE.LANG, and the index "LINE LANG NEEDS" in file order.
    awk -v dir="$blocks" '
        function flush() {
            file = sprintf("%s/%06d.%s", dir, start, lang == "" ? "none" : lang)
            printf "%s", body > file
            close(file)
            printf "%d %s %s\n", start, lang == "" ? "none" : lang, needs == "" ? "-" : needs
        }
        !inb && /^<!-- doc-test: (needs|file) [^ ]+ -->$/ { needs = $3 ":" $4; next }
        !inb && /^```/ { lang = substr($0, 4); sub(/[ \t].*$/, "", lang); inb = 1; start = NR; body = ""; next }
        !inb && !/^[ \t]*$/ { needs = "" }
        inb && /^```[ \t]*$/ { flush(); inb = 0; needs = ""; next }
        inb { body = body $0 "\n" }
        END { if (inb) printf "%d unclosed -\n", start }
    ' "$doc" >"$blocks/index"
    while read -r line lang needs; do
        block=$(printf '%s/%06d.%s' "$blocks" "$line" "$lang")
        log=$block.log
        if [ "$lang" = unclosed ]; then
            echo "$f:$line: FAILED: a code block opened here is never closed"
            fails=$((fails + 1))
            continue
        fi
        mark=${needs%%:*} path=${needs#*:}
        if [ "$needs" != - ] && [ ! -e "$src/$path" ]; then
            echo "$f:$line: skipped: the block needs $path, which does not exist yet"
            continue
        fi
        if [ "$mark" = file ]; then
            if cmp -s "$block" "$src/$path"; then
                echo "$f:$line: block equals $path"
            else
                diff -u "$src/$path" "$block" >"$log"
                report "$f" "$line" "the block shows $path, but differs from it (diff below: - the file, + the block)" "$log" "$block"
            fi
            continue
        fi
        case "$lang" in
        sh | bash | shell)
            if ! filter_block "$block" "$block.run" "$wd" 2>"$log"; then
                report "$f" "$line" "a command it does not run names something missing" "$log" "$block"
                continue
            fi
            start_s=$(date +%s)
            (cd "$wd" && timeout "$block_timeout" bash -e -o pipefail "$block.run") >>"$log" 2>&1
            rc=$?
            ran=$((ran + 1))
            if [ $rc != 0 ]; then
                report "$f" "$line" "the sh block exits $rc" "$log" "$block"
            else
                echo "$f:$line: sh block ok ($(($(date +%s) - start_s)) s)"
                grep '^doc-test: not run' "$log" | sed 's/^/    /'
            fi
            ;;
        c)
            grep -q 'int main' "$block" || continue
            cp "$block" "$wd/prog.c"
            cp "$block" "$wd/block_$line.c"
            start_s=$(date +%s)
            # shellcheck disable=SC2086
            if ! (cd "$wd" && cc -std=c11 -Wall -Werror=implicit-function-declaration "block_$line.c" $cflags \
                -o "block_$line") >"$log" 2>&1; then
                report "$f" "$line" "the C program does not compile" "$log" "$block"
                continue
            fi
            (cd "$wd" && timeout "$block_timeout" "./block_$line") >>"$log" 2>&1
            rc=$?
            ran=$((ran + 1))
            if [ $rc != 0 ]; then
                report "$f" "$line" "the C program exits $rc" "$log" "$block"
            else
                echo "$f:$line: C program ok ($(($(date +%s) - start_s)) s)"
            fi
            ;;
        esac
    done <"$blocks/index"
done

echo "docs_commands: $ran blocks run, $skipped commands not run (reasons above), $fails failed"
[ "$fails" = 0 ]
