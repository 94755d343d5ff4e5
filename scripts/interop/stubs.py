"""Generates the Python protobuf and grpcio stubs for Protos/ into a temporary directory at run
time (nothing generated is committed for Python) and makes them importable.

    from stubs import load
    pb = load()          # pb.echo_pb2, pb.echo_pb2_grpc, pb.health_pb2, pb.health_pb2_grpc
"""

import atexit
import os
import shutil
import sys
import tempfile
import types

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTOS = os.path.join(ROOT, "Protos")
# The protos the interop programs use, relative to Protos/.
FILES = ["grpc/health/v1/health.proto", "infinity/testing/v1/echo.proto"]


def load(out_dir=None):
    """Runs grpc_tools.protoc over FILES into `out_dir` (a fresh temporary directory, removed at
    exit, when None) and returns a namespace of the generated modules."""
    from grpc_tools import protoc
    import grpc_tools

    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="infinity-stubs-")
        atexit.register(shutil.rmtree, out_dir, True)
    # grpc_tools ships the well-known types' .proto files; protoc needs them on its path.
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    arguments = ["grpc_tools.protoc", f"--proto_path={PROTOS}", f"--proto_path={well_known}",
                 f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"] + FILES
    if protoc.main(arguments) != 0:
        raise SystemExit(f"stubs: grpc_tools.protoc failed on {FILES} (in {PROTOS})")
    # The generated modules import each other as packages (`from grpc.health.v1 import ...`)
    # mirroring Protos/; `grpc` itself is the grpcio package, so import by file instead of
    # shadowing it with a `grpc/` directory on sys.path.
    modules = types.SimpleNamespace()
    for name, relative in [("health_pb2", "grpc/health/v1/health_pb2.py"),
                           ("echo_pb2", "infinity/testing/v1/echo_pb2.py")]:
        modules.__dict__[name] = _import_file(f"_stubs_{name}", os.path.join(out_dir, relative))
    for name, relative, message_module in [
            ("health_pb2_grpc", "grpc/health/v1/health_pb2_grpc.py", "health_pb2"),
            ("echo_pb2_grpc", "infinity/testing/v1/echo_pb2_grpc.py", "echo_pb2")]:
        modules.__dict__[name] = _import_file(f"_stubs_{name}", os.path.join(out_dir, relative),
                                              {message_module: modules.__dict__[message_module]})
    return modules


def _import_file(module_name, path, replacements=None):
    """Imports the Python file at `path` as `module_name`. `replacements` maps names that the
    generated grpc module imports from its package (`from grpc.health.v1 import health_pb2`)
    to already-loaded modules."""
    source = open(path).read()
    for name in (replacements or {}):
        # e.g. "from grpc.health.v1 import health_pb2 as grpc_dot_health_dot_v1_dot_health__pb2"
        lines = []
        for line in source.splitlines():
            if line.startswith("from ") and f" import {name} as " in line:
                alias = line.split(" as ")[1].strip()
                line = f"{alias} = _replacements[{name!r}]"
            lines.append(line)
        source = "\n".join(lines) + "\n"
    module = types.ModuleType(module_name)
    module.__file__ = path
    module.__dict__["_replacements"] = replacements or {}
    sys.modules[module_name] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module
