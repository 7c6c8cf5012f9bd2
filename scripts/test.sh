#!/usr/bin/env bash
# The test suite: installs what it needs, builds everything, runs CTest (unit tests,
# multi-rank tests under mpirun --oversubscribe, end-to-end tests), then the fuzzers
# (tests/tools/fuzz.sh). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
zerod_build

# The GPU path must at least compile where no GPU is: when the CUDA toolkit is here (it is
# on the CI machines), build the -DZEROD_CUDA=ON configuration too. NCCL comes from the
# toolkit or from the nvidia-nccl wheel that the venv's torch brings.
if command -v nvcc >/dev/null 2>&1; then
  echo "test: compiling the CUDA build (build-cuda/) as a check; its GPU tests need a GPU"
  if [ ! -f build-cuda/build.ninja ]; then
    cmake -S . -B build-cuda -G Ninja -DZEROD_CUDA=ON -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -Wno-dev \
      >build-cuda.cmake.log 2>&1 || { cat build-cuda.cmake.log; exit 1; }
  fi
  # The daemon holds every CUDA code path (engine, NCCL, streams); the GPU test binaries
  # are built and run on the GPU machine (bench/gpu_build.sh), not here, to keep CI short.
  ninja -C build-cuda zerod | tail -1
fi

(cd build && ctest --output-on-failure "$@")

# libFuzzer over the torch-free parsers: a clang build of its own in build-fuzz/, then
# ZEROD_FUZZ_SECONDS (45) per target, two at a time; about 4 minutes from cold.
bash tests/tools/fuzz.sh
