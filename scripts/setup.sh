#!/bin/sh
# setup.sh - installs the Debian packages mtcnn needs, builds it into build/ (showing the
# build's progress) and makes `mtcnn` a command: a link in ~/.local/bin (no root needed).
#   scripts/setup.sh            (uses sudo for the packages when not root)
# Environment:
#   MT_CUDA=OFF          skip the CUDA backend even when the toolkit is present
#   MTCNN_BIN_DIR=DIR    where the `mtcnn` link goes (default: ~/.local/bin)
#   MTCNN_NO_LINK=1      no link
set -eu
cd "$(dirname "$0")/.."
root=$PWD

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
jobs=$(nproc)
echo "setup: configuring build/ (log: $log)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMT_CUDA="${MT_CUDA:-AUTO}" > "$log" 2>&1 ||
    { cat "$log"; exit 1; }
echo "setup: building build/mtcnn on $jobs CPUs (a few minutes the first time)"
# cmake's "[ 42%]" lines become one progress line on a terminal, a line per tenth otherwise;
# the build's status goes through a file, since sh has no pipefail
tty=0
[ -t 1 ] && tty=1
{ cmake --build build -j"$jobs" 2>&1; echo $? > "$log.rc"; } | tee -a "$log" |
    awk -v tty="$tty" '
        /^\[ *[0-9]+%\]/ {
            p = $0; sub(/^\[ */, "", p); sub(/%.*/, "", p); p += 0
            if (tty) { printf "\rsetup: building %3d%%", p; fflush() }
            else if (p >= next_) { printf "setup: building %d%%\n", p; fflush(); next_ = p - p % 10 + 10 }
        }
        END { if (tty) printf "\n" }'
rc=$(cat "$log.rc")
rm -f "$log.rc"
if [ "$rc" -ne 0 ]; then
    tail -50 "$log"
    echo "setup: the build failed (the whole log: $log)"
    exit 1
fi
rm -f "$log"
echo "setup: built build/mtcnn"

# `mtcnn` as a command: a link to build/mtcnn (which finds the project from where it really is)
if [ -z "${MTCNN_NO_LINK:-}" ]; then
    bindir=${MTCNN_BIN_DIR:-$HOME/.local/bin}
    link="$bindir/mtcnn"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        echo "setup: $link exists and is not a link: left alone (run build/mtcnn, or remove it)"
    elif mkdir -p "$bindir" 2>/dev/null && ln -sfn "$root/build/mtcnn" "$link" 2>/dev/null; then
        echo "setup: linked $link -> $root/build/mtcnn"
        case ":$PATH:" in
        *":$bindir:"*) ;;
        *) echo "setup: $bindir is not on your PATH: add it (e.g. in ~/.profile):"
           echo "         export PATH=\"$bindir:\$PATH\""
           echo "       until then, run build/mtcnn" ;;
        esac
    else
        echo "setup: cannot write $link (set MTCNN_BIN_DIR to a folder of yours on PATH); run build/mtcnn"
    fi
fi
