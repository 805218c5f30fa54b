#!/bin/sh
# setup.sh - installs the Debian packages mtcnn needs and builds it into build/.
#   scripts/setup.sh            (uses sudo when not run as root)
# Set MT_CUDA=OFF to skip the CUDA backend even when the toolkit is present.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake pkg-config
          liblua5.4-dev lua5.4 libreadline-dev
          libturbojpeg0-dev libspng-dev libopenblas-dev zlib1g-dev gnuplot-nox
          lua-busted tmux"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

log=$(mktemp)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMT_CUDA="${MT_CUDA:-AUTO}" > "$log" 2>&1 ||
    { cat "$log"; exit 1; }
cmake --build build -j"$(nproc)" >> "$log" 2>&1 || { tail -50 "$log"; exit 1; }
rm -f "$log"
echo "setup: built build/mtcnn"
