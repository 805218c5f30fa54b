#!/bin/sh
# gpu_check.sh - runs every GPU spec and GPU benchmark in one go and prints
# one summary. Works on a bare GPU machine (NVIDIA driver only) given the
# build folder and .deps/gpu-bundle (see scripts/gpu_bundle.sh); on a
# machine with the Debian packages installed it needs only the build.
#
#   scripts/gpu_check.sh [BUILD_DIR]      (default: build)
#
# Exit status: 0 when a GPU was found and every check passed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
host="$root/$build/mtcnn"
out=$(mktemp -d /tmp/gpu_check.XXXXXX)

bundle="$root/.deps/gpu-bundle"
if [ -d "$bundle" ]; then
    export LD_LIBRARY_PATH="$bundle/usr/lib/x86_64-linux-gnu:$bundle/usr/lib/x86_64-linux-gnu/openblas-pthread:$bundle/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LUA_PATH="$bundle/usr/share/lua/5.4/?.lua;$bundle/usr/share/lua/5.4/?/init.lua;;"
    export LUA_CPATH="$bundle/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;;"
    busted="$bundle/usr/bin/busted"
else
    busted=$(command -v busted || true)
fi

# cuDNN and cuBLAS from a Python environment's nvidia-* wheels, when present
nvlibs=$(python3 - 2>/dev/null <<'PY'
import glob, os, site, sys
dirs = set()
for base in site.getsitepackages() + [site.getusersitepackages()] + sys.path:
    for lib in glob.glob(os.path.join(base, "nvidia", "*", "lib")):
        dirs.add(lib)
print(":".join(sorted(dirs)))
PY
)
[ -n "$nvlibs" ] && export LD_LIBRARY_PATH="$nvlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
command -v nvidia-smi >/dev/null && nvidia-smi -L
if ! "$host" scripts/info.lua > "$out/info.txt" 2>&1; then
    cat "$out/info.txt"
    echo "gpu_check: FAIL: $host does not run (missing libraries? see scripts/gpu_bundle.sh)"
    exit 1
fi
cat "$out/info.txt"
gpu=$("$host" -e 'local i = require("mtcnn").cuda.device_info(); print(i and i.name or "none")')

# 1. the GPU specs, run by busted inside our host
status=0
if [ -z "$busted" ]; then
    echo "gpu_check: busted not found (install lua-busted or run scripts/gpu_bundle.sh)"
    status=1
    passed=0; failed=0; skipped=0
else
    "$host" "$busted" -r gpu -o TAP > "$out/specs.tap" 2>&1
    spec_rc=$?
    passed=$(grep -c '^ok .*' "$out/specs.tap" | tr -d ' ')
    skipped=$(grep -c '^ok .*# SKIP' "$out/specs.tap" | tr -d ' ')
    failed=$(grep -c '^not ok' "$out/specs.tap" | tr -d ' ')
    passed=$((passed - skipped))
    grep -v '^ok ' "$out/specs.tap" | head -80
    [ "$spec_rc" -ne 0 ] && status=1
fi

# 2. the GPU benchmarks (each mode of bench.lua that can run on cuda)
bench_lines=0
if "$host" scripts/bench.lua tensor --device cuda --reps 10 --json > "$out/bench.jsonl" 2> "$out/bench.err"; then
    bench_lines=$(wc -l < "$out/bench.jsonl" | tr -d ' ')
    cat "$out/bench.jsonl"
else
    cat "$out/bench.err"
    status=1
fi

[ "$gpu" = "none" ] && status=1
result=PASS
[ "$status" -ne 0 ] && result=FAIL
echo "== gpu_check summary: gpu=$gpu specs: $passed passed, $failed failed, $skipped skipped;" \
     "benchmarks: $bench_lines measurements; result: $result"
rm -rf "$out"
exit $status
