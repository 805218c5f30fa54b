#!/bin/bash
# fuzz/run.sh [SECONDS [NAME...]]: runs each libFuzzer harness (default: all) for SECONDS
# (default 60) over its corpus: the seeds (fuzz/seeds.lua, from the spec fixtures), the inputs
# kept from earlier finds (fuzz/regress/NAME/) and what earlier runs added (build-fuzz/corpus/).
# Anything a harness finds is left in build-fuzz/found/NAME/ and the script exits 1; a fixed
# find is then kept in fuzz/regress/NAME/, which spec/fuzz_regress_spec.lua replays.
#
# Build first (clang, libFuzzer):
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMT_FUZZ=ON -DMT_CUDA=OFF \
#         -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build-fuzz -j2
# JOBS (default 1) harnesses run side by side. A summary line per harness gives executions,
# coverage (libFuzzer's "cov", edges; for the Lua parsers the line pairs of fuzz_lua.c) and
# corpus size.
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
names=${*:-"image tensor model record mat json caffemodel prototxt wider list landmarks fddb modelfile jsonl"}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-1}

[ -x "$build/mtcnn" ] || { echo "fuzz/run.sh: no $build/mtcnn: build with -DMT_FUZZ=ON first" >&2; exit 2; }
rm -rf "$build/seeds"
"$build/mtcnn" fuzz/seeds.lua "$build/seeds" 2>/dev/null || { echo "fuzz/run.sh: seeds failed" >&2; exit 2; }

one() {
    name=$1
    corpus=$build/corpus/$name found=$build/found/$name log=$build/fuzz_$name.log
    mkdir -p "$corpus" "$found" "$build/tmp_$name"
    dirs="$corpus $build/seeds/$name"
    [ -d "fuzz/regress/$name" ] && dirs="$dirs fuzz/regress/$name"
    # libFuzzer's dictionary-free defaults; inputs up to 64 KiB (the det1 model is larger and
    # is read whole as a seed), 10 s and 2 GiB per input
    TMPDIR=$build/tmp_$name ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/fuzz/fuzz_$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$found/" -print_final_stats=1 $dirs > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o "ft: [0-9]*" "$log" | tail -1 | cut -d" " -f2)
    units=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    # the plateau: the execution at which cov and ft last grew, as a share of all executions
    # (a run that plateaued spent its last part finding nothing new)
    last=$(awk '/^#[0-9]+\t(NEW|REDUCE|INITED)/ { n = substr($1, 2) + 0
             for (i = 2; i < NF; i++) { if ($i == "cov:") c = $(i+1); if ($i == "ft:") f = $(i+1) }
             if (c != pc || f != pf) { at = n; pc = c; pf = f } }
           END { print at + 0 }' "$log")
    share=$(awk -v a="$last" -v e="${execs:-0}" 'BEGIN { if (e > 0) printf "%.0f%%", 100 * a / e; else print "?" }')
    echo "fuzz_$name: ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus ${units:-?}, last growth at #$last ($share), $(ls "$found" | wc -l) find(s), status $rc"
    return $rc
}

status=0
running=0
for name in $names; do
    if [ "$jobs" -gt 1 ]; then
        one "$name" &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then wait -n 2>/dev/null || wait; running=$((running - 1)); fi
    else
        one "$name" || status=1
    fi
done
wait
for name in $names; do
    [ -n "$(ls "$build/found/$name" 2>/dev/null)" ] && status=1
done
exit $status
