"""Fuzzing the file readers: every mutated file gives a valid Network or one ExplorerError, nothing else.

Seeds are real files (an MLP with BatchNorm as a state_dict, in the legacy format, as safetensors and ONNX; the
explorer's checkpoint; a CNN as TorchScript and as ONNX exported by torch).  Hypothesis flips, inserts, deletes
and repeats bytes, rewrites the pickle inside a valid archive (inserted opcodes, nested pickles, repeated
slices), builds tensor records and ONNX tensors with absurd shapes, types and lengths, and rearranges zip
members (duplicates, lying sizes, compression).  Each load runs under an address-space limit of the process's
size + 1.5 GB and a 20 s alarm, so a memory or time bomb fails the test instead of the machine.

CI runs 100 examples per test, 1,300 in all (about 10 s).  For a long local run set EXPLORER_FUZZ_EXAMPLES
(examples per test), e.g. ``EXPLORER_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/io/test_fuzz.py``.
"""

from __future__ import annotations

import io as pyio
import os
import resource
import signal
import struct
import zipfile
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.errors import ExplorerError
from explorer.io import files as io
from explorer.io.safetensors import safetensors_bytes
from explorer.net import Network
from tests.io import craft
from tests.nets import random_network

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
EXAMPLES = int(os.environ.get("EXPLORER_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXTRA_MB, SECONDS = 1536, 20


class Overtime(BaseException):
    """Raised by the alarm: a BaseException, so that no reader's `except Exception` can swallow it."""


@contextmanager
def bounded():
    """Address space limited to the current size + EXTRA_MB, and an alarm after SECONDS."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        size = int(next(line for line in status if line.startswith("VmSize:")).split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + EXTRA_MB * 2**20, hard))

    def alarm(*_):
        raise Overtime(f"a load took more than {SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def network_or_refusal(data: bytes) -> None:
    """The one acceptable outcome: a Checkpoint holding a Network, or an ExplorerError with a sentence."""
    with bounded():
        try:
            ckpt = io.load(data, filename="fuzz.pt")
        except ExplorerError as exc:
            assert str(exc) and "\n" not in str(exc), repr(str(exc))
            return
    assert isinstance(ckpt.net, Network)


# ---- seeds ------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def seeds() -> dict[str, bytes]:
    """Valid files of every format: an MLP with BatchNorm (state_dict, legacy, safetensors, checkpoint, ONNX by
    hand) and a small CNN with BatchNorm and pooling (TorchScript, ONNX exported by torch)."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 1)).eval()
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).eval()
    out = {}
    for name, kwargs in (("state_dict", {}), ("legacy", {"_use_new_zipfile_serialization": False})):
        buf = pyio.BytesIO()
        torch.save(mlp.state_dict(), buf, **kwargs)
        out[name] = buf.getvalue()
    buf = pyio.BytesIO()
    torch.jit.save(torch.jit.script(cnn), buf)
    out["torchscript"] = buf.getvalue()
    buf = pyio.BytesIO()
    torch.onnx.export(cnn, (torch.zeros(1, 1, 4, 4),), buf, dynamo=False)
    out["onnx cnn"] = buf.getvalue()
    out["safetensors"] = safetensors_bytes({k: v.numpy() for k, v in mlp.state_dict().items()})
    out["checkpoint"] = io.checkpoint_bytes(random_network((3,), seed=1, scale_bias=1.0), box=[[-1, 1], [-1, 1]])
    W1, b1, W2 = (numpy_helper.from_array(np.arange(n, dtype=np.float32).reshape(s) / 7, name)
                  for n, s, name in ((6, (2, 3), "W1"), (3, (3,), "b1"), (3, (3, 1), "W2")))
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["g"]),
             helper.make_node("Relu", ["g"], ["a"]), helper.make_node("MatMul", ["a", "W2"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])], [W1, b1, W2])
    out["onnx"] = helper.make_model(graph).SerializeToString()
    for name, data in out.items():
        assert isinstance(io.load(data).net, Network), name  # every seed is a valid file
    return out


def members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(pyio.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def rezip(entries: list[tuple[str, bytes]], *, compress: bool = False) -> bytes:
    buf = pyio.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for name, payload in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), payload)
    return buf.getvalue()


# ---- mutations --------------------------------------------------------------------------------------
OPCODES = [b"2", b"0", b"1", b"(", b".", b"N", b"}", b"]", b")", b"t", b"u", b"s", b"a", b"e", b"R", b"b", b"Q",
           b"\x81", b"\x85", b"\x86", b"\x87", b"\x88", b"\x8f", b"\x90", b"\x91", b"\x94", b"h\x00", b"h\x07",
           b"q\x00", b"r\xff\xff\xff\xff", b"j\xff\xff\xff\x7f", b"J\xff\xff\xff\x7f", b"\x8a\x09" + b"\xff" * 9,
           b"X\xff\xff\xff\x7f", b"\x8e" + b"\xff" * 8, b"\x95" + b"\xff" * 8, b"ctorch._utils\n_rebuild_tensor_v2\n",
           b"ccollections\nOrderedDict\n", b"ctorch\nSize\n", b"cbuiltins\neval\n", b"ctorch\nComplexFloatStorage\n",
           b"\x80\x02", b"C\x05\x80\x02N2.", b"B\x04\x00\x00\x00\x80\x02N.", b"d", b"l", b"\x93", b"\x92", b"\x8c\x01a"]


@st.composite
def mutated(draw, data: bytes, *, max_edits: int = 6) -> bytes:
    """Bytes with up to ``max_edits`` edits: flips, insertions of opcodes or bytes, deletions, repeats, a cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.integers(0, len(out)))
        kind = draw(st.sampled_from(["flip", "opcode", "bytes", "delete", "repeat", "cut"]))
        if kind == "flip" and at < len(out):
            out[at] ^= draw(st.integers(1, 255))
        elif kind == "opcode":
            out[at:at] = draw(st.sampled_from(OPCODES)) * draw(st.sampled_from([1, 2, 7, 1000]))
        elif kind == "bytes":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del out[at:at + draw(st.integers(1, 32))]
        elif kind == "repeat":
            out[at:at] = bytes(out[at:at + draw(st.integers(1, 40))]) * draw(st.sampled_from([2, 50, 5000]))
        elif kind == "cut":
            del out[at:]
    return bytes(out)


@pytest.mark.parametrize("seed", ["state_dict", "legacy", "torchscript", "checkpoint", "safetensors", "onnx",
                                  "onnx cnn"])
@FUZZ
@given(data=st.data())
def test_mutated_files_give_a_network_or_one_sentence(seed, data):
    network_or_refusal(data.draw(mutated(seeds()[seed])))


@pytest.mark.parametrize("seed", ["state_dict", "torchscript", "checkpoint"])
@FUZZ
@given(data=st.data())
def test_mutated_pickles_inside_valid_archives(seed, data):
    """The zip stays valid, so every mutation reaches the pickle machine (or the TorchScript walker)."""
    entries = members(seeds()[seed])
    k = next(i for i, (name, _) in enumerate(entries) if name.endswith("/data.pkl"))
    entries[k] = (entries[k][0], data.draw(mutated(entries[k][1], max_edits=4)))
    network_or_refusal(rezip(entries, compress=data.draw(st.booleans())))


DIMS = st.sampled_from([0, 1, 2, 3, 4, 7, 2**16, 2**31 - 1, 2**31, 2**40, 2**62, 2**63 - 1, -1, -(2**40)])
STORAGES = st.sampled_from(["FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
                            "BoolStorage", "ByteStorage", "ComplexFloatStorage", "QInt8Storage", "NoSuchStorage"])


@FUZZ
@given(shapes=st.lists(st.tuples(st.lists(DIMS, max_size=3), st.lists(DIMS, max_size=3), DIMS, DIMS, STORAGES),
                       min_size=1, max_size=4),
       raw=st.sampled_from([0, 1, 3, 8, 64, 4096]))
def test_tensor_records_with_absurd_shapes_strides_and_storages(shapes, raw):
    entries = {}
    for k, (size, stride, offset, numel, storage) in enumerate(shapes):
        stride = (stride + [1] * len(size))[:len(size)]
        entries[f"{k // 2}.{'weight' if k % 2 == 0 else 'bias'}"] = craft.tensor(
            "0", size, stride, numel=numel, storage=storage, offset=offset)
    network_or_refusal(craft.archive(craft.state_dict(entries), {"0": bytes(raw)}))


@FUZZ
@given(data=st.data())
def test_zip_members_duplicated_dropped_reordered_or_lying_about_their_size(data):
    entries = members(seeds()["state_dict"])
    for _ in range(data.draw(st.integers(1, 4))):
        k = data.draw(st.integers(0, len(entries) - 1))
        kind = data.draw(st.sampled_from(["duplicate", "drop", "swap", "empty", "byteorder"]))
        if kind == "duplicate":
            entries.insert(data.draw(st.integers(0, len(entries))), entries[k])
        elif kind == "drop" and len(entries) > 1:
            entries.pop(k)
        elif kind == "swap":
            j = data.draw(st.integers(0, len(entries) - 1))
            entries[k], entries[j] = (entries[k][0], entries[j][1]), (entries[j][0], entries[k][1])
        elif kind == "empty":
            entries[k] = (entries[k][0], b"")
        else:
            entries.append((entries[0][0].split("/")[0] + "/byteorder", data.draw(st.sampled_from([b"big", b"xx"]))))
    archive = bytearray(rezip(entries, compress=data.draw(st.booleans())))
    if data.draw(st.booleans()):  # a member that lies about its uncompressed size (a zip bomb's trick)
        at = archive.find(b"PK\x01\x02", data.draw(st.integers(0, len(archive) // 2)))
        if at >= 0:
            struct.pack_into("<I", archive, at + 24, data.draw(st.sampled_from([0, 1, 2**31, 2**32 - 1])))
    network_or_refusal(bytes(archive))


@FUZZ
@given(dims=st.lists(DIMS, max_size=4), data_type=st.integers(-1, 30), raw=st.integers(0, 64),
       external=st.booleans(), constant=st.booleans(), typed=st.lists(st.integers(-2**40, 2**40), max_size=8))
def test_onnx_tensors_with_absurd_dims_types_and_data(dims, data_type, raw, external, constant, typed):
    t = TensorProto()
    t.data_type = data_type & 0x7FFFFFFF
    t.dims.extend(dims)
    t.raw_data = bytes(raw)
    t.int64_data.extend(typed)
    if external:
        entry = t.external_data.add()
        entry.key, entry.value = "location", "app.py"
    network_or_refusal(craft.onnx_chain(t, constant=constant))
