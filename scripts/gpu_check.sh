#!/bin/sh
# gpu_check.sh - runs every GPU spec and GPU benchmark in one go and prints one summary.
# Works on a bare GPU machine (NVIDIA driver only) given the build folder and
# .deps/gpu-bundle (scripts/gpu_bundle.sh); on a machine with the Debian packages installed
# it needs only the build.
#
#   scripts/gpu_check.sh [BUILD_DIR]      (default: build)
#   GPU_CHECK_QUICK=1 scripts/gpu_check.sh   (specs only, no benchmarks)
#
# What it checks, in order (docs/gpu.md):
#   1. the machine: GPU and driver (nvidia-smi), and where cuDNN 9 and cuBLAS come from: the
#      system's loader cache, else a Python environment's site-packages/nvidia/*/lib (put on
#      LD_LIBRARY_PATH; the build loads both with dlopen when the first layer runs there);
#   2. the GPU specs (busted -r gpu: tensors, every layer forward and backward against the
#      CPU, the loss, the optimisers, training steps of the three nets, the cascade on
#      ../shared/images);
#   3. the benchmarks: tensor bandwidth; bench.lua train --device cuda for each net at batch
#      384 (--preset torch, the configuration of ../shared/anchors/train_bench.py, and the
#      full MTCNN one) beside train_bench.py --device cuda when PyTorch with CUDA is there;
#      bench.lua detect --device cuda on the 640x480 image at min face 20, one image and 8
#      batched, and the same on the CPU.
# Exit status: 0 when a GPU was found and every check passed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
host="$root/$build/mtcnn"
out=$(mktemp -d /tmp/gpu_check.XXXXXX)
quick=${GPU_CHECK_QUICK:-0}

bundle="$root/.deps/gpu-bundle"
if [ -d "$bundle" ]; then
    export LD_LIBRARY_PATH="$bundle/usr/lib/x86_64-linux-gnu:$bundle/usr/lib/x86_64-linux-gnu/openblas-pthread:$bundle/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LUA_PATH="$bundle/usr/share/lua/5.4/?.lua;$bundle/usr/share/lua/5.4/?/init.lua;;"
    export LUA_CPATH="$bundle/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;;"
    busted="$bundle/usr/bin/busted"
else
    busted=$(command -v busted || true)
fi

echo "== gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---- 1. the machine ------------------------------------------------------------------------
gpu_line=none
if command -v nvidia-smi >/dev/null; then
    gpu_line=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
    echo "nvidia-smi: $gpu_line"
    # this build's static CUDA 13 runtime needs a driver of the 580 series or later
    driver_major=$(echo "$gpu_line" | awk -F', ' '{ split($2, v, "."); print v[1] + 0 }')
    if [ "${driver_major:-0}" -gt 0 ] && [ "$driver_major" -lt 580 ]; then
        echo "gpu_check: note: driver $driver_major is older than CUDA 13 needs (580 or later):" \
             "the build cannot use this GPU; build with a CUDA 12 toolkit for it"
    fi
else
    echo "nvidia-smi: not found"
fi

# Where a library is: the loader cache, else the folders of LD_LIBRARY_PATH. Prints the path.
find_lib() {
    for name in "$@"; do
        p=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n { print $NF; exit }')
        if [ -n "$p" ]; then echo "$p"; return 0; fi
        old_ifs=$IFS; IFS=:
        for d in ${LD_LIBRARY_PATH:-}; do
            if [ -n "$d" ] && [ -e "$d/$name" ]; then IFS=$old_ifs; echo "$d/$name"; return 0; fi
        done
        IFS=$old_ifs
    done
    return 1
}

libs_status=ok
cudnn=$(find_lib libcudnn.so.9) || cudnn=""
cublas=$(find_lib libcublas.so.13 libcublas.so.12) || cublas=""
if [ -z "$cudnn" ] || [ -z "$cublas" ]; then
    # cuDNN and cuBLAS from a Python environment's nvidia-* wheels
    nvlibs=$(python3 - 2>/dev/null <<'PY'
import glob, os, site, sys
dirs = set()
try:
    bases = site.getsitepackages() + [site.getusersitepackages()]
except AttributeError:
    bases = []
for base in bases + sys.path:
    for lib in glob.glob(os.path.join(base, "nvidia", "*", "lib")):
        dirs.add(lib)
print(":".join(sorted(dirs)))
PY
)
    if [ -n "$nvlibs" ]; then
        export LD_LIBRARY_PATH="$nvlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        echo "python nvidia wheels: $nvlibs"
    fi
    cudnn=$(find_lib libcudnn.so.9) || cudnn=""
    cublas=$(find_lib libcublas.so.13 libcublas.so.12) || cublas=""
fi
echo "cuDNN:  ${cudnn:-MISSING (libcudnn.so.9)}"
echo "cuBLAS: ${cublas:-MISSING (libcublas.so.13 or .12)}"
[ -z "$cudnn" ] || [ -z "$cublas" ] && libs_status=missing

if ! "$host" scripts/info.lua > "$out/info.txt" 2>&1; then
    cat "$out/info.txt"
    echo "== gpu_check summary: FAIL: $host does not run (missing libraries? see scripts/gpu_bundle.sh)"
    exit 1
fi
cat "$out/info.txt"
gpu=$("$host" -e 'local i, why = require("mtcnn").cuda.device_info(); print(i and i.name or ("none: " .. tostring(why)))')

# ---- 2. the GPU specs ----------------------------------------------------------------------
status=0
passed=0; failed=0; skipped=0
if [ -z "$busted" ]; then
    echo "gpu_check: busted not found (install lua-busted or run scripts/gpu_bundle.sh)"
    status=1
else
    timeout 600 "$host" "$busted" -r gpu -o TAP > "$out/specs.tap" 2>&1
    spec_rc=$?
    passed=$(grep -c '^ok ' "$out/specs.tap" | tr -d ' ')
    skipped=$(grep -c '^ok .*# SKIP' "$out/specs.tap" | tr -d ' ')
    failed=$(grep -c '^not ok' "$out/specs.tap" | tr -d ' ')
    passed=$((passed - skipped))
    grep -v '^ok ' "$out/specs.tap" | head -120
    [ "$spec_rc" -ne 0 ] && status=1
fi

# ---- 3. the benchmarks ---------------------------------------------------------------------
# field NAME from one JSON line (numbers and strings; enough for these flat rows)
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

bench_status=skipped
train_rows=""
detect_rows=""
if [ "$quick" != 1 ] && [ "${gpu#none}" = "$gpu" ]; then
    bench_status=ok
    run_bench() { # label, then the bench.lua arguments; appends JSON lines to $out/bench.jsonl
        label=$1; shift
        if ! timeout 300 "$host" scripts/bench.lua "$@" --json >> "$out/bench.jsonl" 2> "$out/bench.err"; then
            echo "gpu_check: bench $label failed:"; tail -20 "$out/bench.err"
            bench_status=failed; status=1
        fi
    }
    : > "$out/bench.jsonl"
    run_bench tensor tensor --device cuda --reps 10
    run_bench "train torch preset" train --device cuda --preset torch --reps 20
    run_bench "train mtcnn preset" train --device cuda --reps 20
    run_bench "detect cuda" detect --device cuda --min-face 20 --reps 20
    run_bench "detect cuda x8" detect --device cuda --min-face 20 --images 8 --reps 10
    run_bench "detect cpu" detect --device cpu --min-face 20 --reps 10
    cat "$out/bench.jsonl"

    torch_json="$out/torch.json"
    torch_ok=0
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
       && [ -f ../shared/anchors/train_bench.py ]; then
        if timeout 300 python3 ../shared/anchors/train_bench.py --device cuda --steps 20 \
               --json "$torch_json" > "$out/torch.txt" 2>&1; then
            torch_ok=1
            cat "$out/torch.txt"
        else
            echo "gpu_check: train_bench.py --device cuda failed:"; tail -20 "$out/torch.txt"
        fi
    else
        echo "gpu_check: no PyTorch with CUDA (or no ../shared/anchors/train_bench.py): no PyTorch figures"
    fi

    for net in pnet rnet onet; do
        ours_t=$(grep '"bench":"train"' "$out/bench.jsonl" | grep "\"net\":\"$net\"" | grep '"preset":"torch"' | field samples_per_s | head -1)
        ours_m=$(grep '"bench":"train"' "$out/bench.jsonl" | grep "\"net\":\"$net\"" | grep '"preset":"mtcnn"' | field samples_per_s | head -1)
        theirs=""
        if [ "$torch_ok" = 1 ]; then
            theirs=$(python3 -c "import json,sys; rows=json.load(open('$torch_json')); rows=rows if isinstance(rows,list) else rows.get('rows',[]); print(next((r['samples_per_s'] for r in rows if r['net'].lower()=='$net'), ''))" 2>/dev/null)
        fi
        ratio=""
        if [ -n "$theirs" ] && [ -n "$ours_t" ]; then
            ratio=$(awk -v a="$ours_t" -v b="$theirs" 'BEGIN { printf "%.2fx", a / b }')
        fi
        train_rows="$train_rows
  train $net batch 384: ours ${ours_t:-?} samples/s (torch preset), ${ours_m:-?} (mtcnn preset); PyTorch ${theirs:-n/a}; ratio ${ratio:-n/a}"
    done
    while read -r line; do
        case "$line" in
        *'"bench":"detect"'*)
            detect_rows="$detect_rows
  detect $(echo "$line" | field device) images $(echo "$line" | field images): $(echo "$line" | field images_per_s) images/s, median $(echo "$line" | field ms_median) ms per call, faces $(echo "$line" | field faces)";;
        esac
    done < "$out/bench.jsonl"
fi

case "$gpu" in none*) status=1 ;; esac
result=PASS
[ "$status" -ne 0 ] && result=FAIL
echo "== gpu_check summary: result $result; gpu: $gpu (nvidia-smi: $gpu_line); cuDNN ${cudnn:-missing}, cuBLAS ${cublas:-missing} ($libs_status)"
echo "  specs: $passed passed, $failed failed, $skipped skipped; benchmarks: $bench_status$train_rows$detect_rows"
rm -rf "$out"
exit $status
