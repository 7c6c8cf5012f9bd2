#!/usr/bin/env bash
# Installs what the CPU build needs, once: Debian packages (compiler tools, Open MPI,
# GoogleTest, nlohmann-json, yaml-cpp, CLI11, gRPC/Protobuf, ccache, Slurm + munge for
# the Slurm test, clang with its libFuzzer runtime and OpenMP for tests/tools/fuzz.sh)
# and a project venv (.venv/) holding PyPI's torch==2.11.0, whose CMake config and
# libraries are the LibTorch we build against. Safe to run again: every step checks first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

TORCH_VERSION=2.11.0
# transformers is the reference zerod's models are tested against (tests/tools).
TRANSFORMERS_VERSION=5.23.0
# tensorboard's own reader checks the event files zerod writes (tests/tools/read_tensorboard.py).
TENSORBOARD_VERSION=2.21.0
# grpcio-tools builds the Python client's stubs (client/python).
GRPCIO_TOOLS_VERSION=1.85.1
# Parquet datasets: the Arrow and Parquet C++ libraries and headers ship inside the
# pyarrow wheel (as LibTorch inside torch). jinja2: transformers renders chat templates
# with it, the reference the chat fixtures are made against.
PYARROW_VERSION=22.0.0
JINJA2_VERSION=3.1.6
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  openmpi-bin libopenmpi-dev
  libgtest-dev libgmock-dev googletest
  nlohmann-json3-dev libyaml-cpp-dev zlib1g-dev libcli11-dev prometheus-cpp-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  python3-venv
  slurm-wlm munge openssl
  clang libclang-rt-dev libomp-dev  # the libFuzzer build (tests/tools/fuzz.sh)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The venv: torch's wheel brings LibTorch's headers, CMake config and shared libraries,
# plus the CUDA runtime libraries that even libtorch_cpu.so needs at load time.
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import torch,sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "bootstrap: installing torch==$TORCH_VERSION into .venv (large download, once)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "torch==$TORCH_VERSION" numpy
fi
if ! .venv/bin/python -c "import transformers,sys; sys.exit(transformers.__version__ != '$TRANSFORMERS_VERSION')" 2>/dev/null; then
  echo "bootstrap: installing transformers==$TRANSFORMERS_VERSION into .venv"
  .venv/bin/pip install -q "transformers==$TRANSFORMERS_VERSION"
fi
if ! .venv/bin/python -c "import tensorboard,sys; sys.exit(tensorboard.__version__ != '$TENSORBOARD_VERSION')" 2>/dev/null; then
  echo "bootstrap: installing tensorboard==$TENSORBOARD_VERSION into .venv"
  .venv/bin/pip install -q "tensorboard==$TENSORBOARD_VERSION"
fi
if ! .venv/bin/python -c "import pyarrow,jinja2,sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION' or jinja2.__version__ != '$JINJA2_VERSION')" 2>/dev/null; then
  echo "bootstrap: installing pyarrow==$PYARROW_VERSION and jinja2==$JINJA2_VERSION into .venv"
  .venv/bin/pip install -q "pyarrow==$PYARROW_VERSION" "jinja2==$JINJA2_VERSION"
fi
# The Python client (client/python): grpcio and protobuf at run time; grpcio-tools
# generates its stubs from proto/zerod.proto when it is built (and in the python_client
# test). Reinstalled every time, so it always matches the proto.
if ! .venv/bin/python -c "import grpc, grpc_tools, google.protobuf" 2>/dev/null; then
  echo "bootstrap: installing grpcio, grpcio-tools and protobuf into .venv"
  # grpcio-tools wants setuptools >= 77 and torch wants < 82: one that suits both.
  .venv/bin/pip install -q "grpcio>=$GRPCIO_TOOLS_VERSION" "grpcio-tools==$GRPCIO_TOOLS_VERSION" protobuf \
    "setuptools>=77,<82"
fi
.venv/bin/pip install -q --no-deps ./client/python
echo "bootstrap: ready (torch $(.venv/bin/python -c 'import torch;print(torch.__version__)'))"
