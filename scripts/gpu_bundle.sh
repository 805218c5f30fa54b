#!/bin/sh
# gpu_bundle.sh - packs what build/mtcnn and the GPU specs need on a machine
# that has an NVIDIA driver but none of this project's Debian packages:
# the shared libraries of the host (Lua 5.4, readline) and busted with its
# Lua dependencies, unpacked from Debian's .debs into .deps/gpu-bundle/.
#
#   scripts/gpu_bundle.sh            # here, after building build/
#   # then copy build/ and .deps/gpu-bundle/ with the source tree and run
#   scripts/gpu_check.sh             # there
#
# The CUDA runtime is linked statically into build/mtcnn, so no CUDA library
# is needed besides the driver's libcuda.so.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="liblua5.4-0 libreadline8 libtinfo6 libturbojpeg0 libspng0 zlib1g libopenblas0-pthread
          libopenblas0 libgfortran5
          lua-busted lua-cliargs lua-dkjson lua-filesystem lua-luassert lua-mediator
          lua-penlight lua-say lua-system lua-term"

rm -rf .deps/gpu-bundle .deps/debs
mkdir -p .deps/gpu-bundle .deps/debs
(cd .deps/debs && apt-get download $PACKAGES)
for deb in .deps/debs/*.deb; do
    dpkg -x "$deb" .deps/gpu-bundle
done
rm -rf .deps/debs
# keep what runs: no documentation, and OpenBLAS without its BLAS/LAPACK copies
rm -rf .deps/gpu-bundle/usr/share/doc .deps/gpu-bundle/usr/share/man .deps/gpu-bundle/usr/share/lintian
rm -f .deps/gpu-bundle/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas* \
      .deps/gpu-bundle/usr/lib/x86_64-linux-gnu/openblas-pthread/liblapack*
echo "gpu_bundle: $(du -sh .deps/gpu-bundle | cut -f1) in .deps/gpu-bundle"
