"""Generates zerod's gRPC stubs from proto/zerod.proto while the package is built.

The stubs are never copied into the source tree: `build_py` runs grpcio-tools' protoc
over the repository's proto (or $ZEROD_PROTO) and writes zerod/_proto/zerod_pb2.py and
zerod_pb2_grpc.py into the build directory, so what is installed always matches the
proto it was built from. The proto is laid out as zerod/_proto/zerod.proto for protoc, so
the generated modules import each other as `zerod._proto...`.
"""

import os
import shutil
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def proto_path():
    path = os.environ.get("ZEROD_PROTO") or os.path.join(HERE, "..", "..", "proto", "zerod.proto")
    if not os.path.isfile(path):
        raise SystemExit(
            f"zerod client: no proto at {path}: build from the zerod repository "
            "(pip install ./client/python) or set ZEROD_PROTO to proto/zerod.proto")
    return path


def generate_stubs(out_root):
    """Writes zerod/_proto/{__init__,zerod_pb2,zerod_pb2_grpc}.py under `out_root`."""
    from grpc_tools import protoc  # a build requirement (pyproject.toml)

    with tempfile.TemporaryDirectory() as include:
        package_dir = os.path.join(include, "zerod", "_proto")
        os.makedirs(package_dir)
        shutil.copy(proto_path(), os.path.join(package_dir, "zerod.proto"))
        well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        out_dir = os.path.join(out_root, "zerod", "_proto")
        os.makedirs(out_dir, exist_ok=True)
        status = protoc.main([
            "grpc_tools.protoc", f"-I{include}", f"-I{well_known}",
            f"--python_out={out_root}", f"--grpc_python_out={out_root}",
            os.path.join(package_dir, "zerod.proto"),
        ])
        if status != 0:
            raise SystemExit(f"zerod client: protoc failed on {proto_path()} ({status})")
        with open(os.path.join(out_dir, "__init__.py"), "w") as f:
            f.write("# Generated from proto/zerod.proto at build time (setup.py).\n")


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        generate_stubs(self.build_lib)


# Run by the build backend as __main__; tests import generate_stubs without building.
if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithStubs})
