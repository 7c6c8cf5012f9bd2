#!/usr/bin/env bash
# Builds the CUDA configuration on the GPU machine in one step (see
# ../shared/device/README.md): run from the project root after
# `source .gpu-deps/env.sh`. Output in build-gpu/.
set -euo pipefail
cmake -S . -B build-gpu -G Ninja -DZEROD_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" -Wno-dev > build-gpu.cmake.log 2>&1 || {
  cat build-gpu.cmake.log; exit 1; }
ninja -C build-gpu
