"""Hand-made network files for the hostile and fuzz tests: torch zip archives with any pickle, ONNX models
with any tensor, written byte by byte so that a test can say exactly what an attacker would send.

Also :func:`run_isolated`, which loads one file in a child process under an address-space limit and reports
what happened (a network, an ExplorerError, or anything else), the child's peak RSS and the time taken.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import time
import zlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# ---- pickles ---------------------------------------------------------------------------------------
def text(value: str) -> bytes:
    """BINUNICODE: a str."""
    raw = value.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(value: int) -> bytes:
    """BININT for 32-bit values, LONG1 otherwise."""
    if -2**31 <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def ints(values) -> bytes:
    """A tuple of ints."""
    return b"(" + b"".join(integer(v) for v in values) + b"t"


def tensor(key: str, size, stride=None, *, numel: int | None = None, storage: str = "FloatStorage",
           offset: int = 0) -> bytes:
    """_rebuild_tensor_v2(storage pid, offset, size, stride, False, OrderedDict()) as torch.save writes it."""
    if stride is None:
        stride = [1] * len(size)
        for k in range(len(size) - 2, -1, -1):
            stride[k] = stride[k + 1] * size[k + 1]
    count = numel if numel is not None else max(1, _product(size))
    pid = b"(" + text("storage") + f"ctorch\n{storage}\n".encode() + text(key) + text("cpu") + integer(count) + b"t"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"Q" + integer(offset) + ints(size) + ints(stride)
            + b"\x89ccollections\nOrderedDict\n)Rt" + b"R")


def state_dict(entries: dict[str, bytes], *, head: bytes = b"") -> bytes:
    """A protocol-2 pickle of a dict {name: pickled value}; ``head`` runs first (its result is popped)."""
    body = b"".join(text(k) + v for k, v in entries.items())
    return b"\x80\x02" + (head + b"0" if head else b"") + b"}(" + body + b"u."


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


# ---- torch zip archives ----------------------------------------------------------------------------
def archive(pkl: bytes, storages: dict[str, bytes] | None = None, *, name: str = "archive",
            compress: bool = False, extra: list[tuple[str, bytes]] = ()) -> bytes:
    """A torch zip archive: name/data.pkl, name/byteorder, name/data/<key> and any extra (member, bytes)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        members = [(f"{name}/data.pkl", pkl), (f"{name}/byteorder", b"little")]
        members += [(f"{name}/data/{k}", raw) for k, raw in (storages or {}).items()] + list(extra)
        for member, payload in members:
            zf.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), payload, compress_type=method)
    return buf.getvalue()


def floats(*values: float) -> bytes:
    """Little-endian float32 storage bytes."""
    return struct.pack(f"<{len(values)}f", *values)


# ---- ONNX ------------------------------------------------------------------------------------------
def onnx_chain(weight, *, constant: bool = False, bias=None) -> bytes:
    """x (1 × n) -> MatMul W [-> Add b]: W an initializer, or the tensor of a Constant node; any TensorProto."""
    from onnx import TensorProto, helper

    nodes, inits = [], []
    if constant:
        nodes.append(helper.make_node("Constant", [], ["W"], value=weight))
    else:
        weight.name = "W"
        inits.append(weight)
    nodes.append(helper.make_node("MatMul", ["x", "W"], ["h" if bias is not None else "y"]))
    if bias is not None:
        bias.name = "b"
        inits.append(bias)
        nodes.append(helper.make_node("Add", ["h", "b"], ["y"]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None])], inits)
    return helper.make_model(graph).SerializeToString()


def raw_tensor(dims, raw: bytes, data_type: int = 1):
    """A TensorProto with the given dims, data type (1 = FLOAT) and raw bytes, unchecked."""
    from onnx import TensorProto

    t = TensorProto()
    t.data_type = data_type
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def external_tensor(location: str, dims=(1, 4), *, length: int = 16):
    """A TensorProto whose data lives in the file ``location`` (relative to the model), as ONNX allows."""
    from onnx import TensorProto

    t = TensorProto()
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


# ---- running a load in a child process ---------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What loading one file in a child process gave: kind is 'network', 'ExplorerError' or another exception
    name ('killed' if the child died); peak_mb is the child's peak resident memory."""

    kind: str
    message: str
    peak_mb: float
    seconds: float


_CHILD = """
import json, resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
data = sys.stdin.buffer.read()
from explorer.errors import ExplorerError
import explorer.io as io
try:
    net = io.load_network(data, filename="hostile.pt")
    kind, message = "network", net.architecture
except ExplorerError as exc:
    kind, message = "ExplorerError", str(exc)
except BaseException as exc:
    kind, message = type(exc).__name__, str(exc)[:300]
# VmHWM, not ru_maxrss: after fork + exec, ru_maxrss still holds the parent's peak
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) / 1024
print(json.dumps({"kind": kind, "message": message, "peak_mb": peak}))
"""


def run_isolated(data: bytes, *, memory_mb: int = 2048, timeout: float = 60.0) -> Outcome:
    """Load ``data`` with explorer.io in a fresh process limited to ``memory_mb`` of address space."""
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    try:
        run = subprocess.run([sys.executable, "-c", _CHILD, str(memory_mb * 2**20)], input=data, capture_output=True,
                             timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return Outcome(kind="timeout", message=f"no answer within {timeout:g} s", peak_mb=float("nan"),
                       seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    lines = run.stdout.decode("utf-8", "replace").strip().splitlines()
    if run.returncode != 0 or not lines:
        return Outcome(kind="killed", message=run.stderr.decode("utf-8", "replace")[-300:], peak_mb=float("nan"),
                       seconds=seconds)
    report = json.loads(lines[-1])
    return Outcome(kind=report["kind"], message=report["message"], peak_mb=report["peak_mb"], seconds=seconds)


def zip_of_empty_members(n: int, *, head: bytes) -> bytes:
    """A stored zip archive: member 'archive/data.pkl' holding ``head``, then n empty members (fast to build)."""
    names = [b"archive/data.pkl"] + [b"archive/x%d" % k for k in range(n)]
    payloads = [head] + [b""] * n
    local, central, offset = [], [], 0
    for name, payload in zip(names, payloads):
        crc = zlib.crc32(payload)
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(payload), len(payload),
                             len(name), 0) + name + payload
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, len(payload),
                                   len(payload), len(name), 0, 0, 0, 0, 0, offset) + name)
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    count = min(len(names), 0xFFFF)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), offset, 0)
    return b"".join(local) + directory + end
