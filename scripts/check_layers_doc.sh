#!/bin/sh
# docs/layers.md is the output of `deepc layers --markdown` (the registries of layer types,
# optimisers and schedules, with the loss and metric tables), so the reference cannot drift:
#   scripts/check_layers_doc.sh DEEPC docs/layers.md
# Fails when they differ (a class or an option was added or changed without `make docs`) or when
# a class has no summary in tools/layers.c. ctest runs it as docs_layers.
set -u
deepc=$1
doc=$2
tmp=${TMPDIR:-/tmp}/docs_layers.$$
trap 'rm -f "$tmp"' EXIT
if ! "$deepc" layers --markdown >"$tmp"; then
    echo "docs_layers: FAILED: $deepc layers --markdown exits non-zero"
    exit 1
fi
if grep -q "no summary yet" "$tmp"; then
    echo "docs_layers: FAILED: these classes have no summary; add one to the tables of tools/layers.c:"
    grep -B 2 "no summary yet" "$tmp" | sed -n 's/^### /  /p'
    exit 1
fi
if ! cmp -s "$tmp" "$doc"; then
    echo "docs_layers: FAILED: $doc is not what 'deepc layers --markdown' prints now (a layer type,"
    echo "optimiser, schedule, option or summary changed). Regenerate it with 'make docs' (or"
    echo "build/tools/deepc layers --markdown > docs/layers.md) and commit it. The difference:"
    diff -u "$doc" "$tmp" | head -n 60
    exit 1
fi
echo "docs_layers: $doc is what 'deepc layers --markdown' prints"
