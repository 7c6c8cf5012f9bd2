# Sourced by the scripts: where LibTorch lives and how mpirun may run here.
# shellcheck shell=bash
ZEROD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ZEROD_ROOT
TORCH_PREFIX=$("$ZEROD_ROOT/.venv/bin/python" -c 'import torch;print(torch.utils.cmake_prefix_path)')
export TORCH_PREFIX
# Open MPI refuses root unless told; containers and CI run as root.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# More ranks than cores is normal on small machines (CI has 2 cores).
export OMPI_MCA_rmaps_base_oversubscribe=1

# Configures (once) and builds the CPU build in build/. Extra args go to ninja.
zerod_build() {
  if [ ! -f "$ZEROD_ROOT/build/build.ninja" ]; then
    cmake -S "$ZEROD_ROOT" -B "$ZEROD_ROOT/build" -G Ninja -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
      -Wno-dev >"$ZEROD_ROOT/build.cmake.log" 2>&1 || { cat "$ZEROD_ROOT/build.cmake.log"; return 1; }
  fi
  ninja -C "$ZEROD_ROOT/build" "$@"
}
