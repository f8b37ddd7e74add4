"""Hostile ONNX files: external data anywhere reads nothing, malformed tensors and parse bombs get one sentence.

Each test builds the file an attacker would send.  "Nothing is read" is checked by the kernel's count of read
system calls (/proc/self/io), which also sees the C++ file access of onnx's own helpers.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from explorer.errors import ExplorerError  # noqa: E402
from explorer.io import files as io  # noqa: E402
from tests.io import craft  # noqa: E402

TARGET = "app.py"  # a real file of the checkout, relative to the working directory (ROOT)


def read_syscalls() -> int:
    """Read system calls this process has made so far (one of them is this very read)."""
    fd = os.open("/proc/self/io", os.O_RDONLY)
    try:
        text = os.read(fd, 4096).decode()
    finally:
        os.close(fd)
    return int(text.split("syscr:")[1].split()[0])


def reads_during(action) -> int:
    """Read system calls made by ``action`` (beyond the measurement's own)."""
    before = read_syscalls()
    idle = read_syscalls() - before
    start = read_syscalls()
    action()
    return read_syscalls() - start - idle


def _graph(nodes, inits=(), name="g"):
    return helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], list(inits))


def _external_model(place: str) -> bytes:
    """A valid 1-4 MatMul network plus one tensor whose data is the file TARGET, put in ``place``."""
    ext = craft.external_tensor(TARGET)
    ext.name = "stolen"
    W = numpy_helper.from_array(np.ones((1, 4), np.float32), "W")
    nodes, inits = [helper.make_node("MatMul", ["x", "W"], ["y"])], [W]
    extra_nodes, model_kwargs = [], {}
    sub = _graph([helper.make_node("Constant", [], ["y"], value=ext)], name="sub")
    if place == "initializer":
        inits.append(ext)
    elif place == "Constant value":
        extra_nodes.append(helper.make_node("Constant", [], ["c"], value=ext))
    elif place == "Constant sparse_value":
        sparse = helper.make_sparse_tensor(ext, numpy_helper.from_array(np.array([0], np.int64)), [4])
        extra_nodes.append(helper.make_node("Constant", [], ["c"], sparse_value=sparse))
    elif place == "tensors list":
        extra_nodes.append(helper.make_node("Custom", ["x"], ["c"], domain="any", stash=[ext]))
    elif place == "If subgraph":
        extra_nodes.append(helper.make_node("If", ["x"], ["c"], then_branch=sub, else_branch=sub))
    elif place == "Loop body":
        extra_nodes.append(helper.make_node("Loop", ["", "x"], ["c"], body=sub))
    elif place == "sparse initializer":
        graph = _graph(nodes, inits)
        graph.sparse_initializer.append(
            helper.make_sparse_tensor(ext, numpy_helper.from_array(np.array([0], np.int64)), [4]))
        return helper.make_model(graph).SerializeToString()
    elif place == "function body":
        model_kwargs["functions"] = [helper.make_function("any", "f", ["a"], ["b"], [
            helper.make_node("Constant", [], ["b"], value=ext)], [helper.make_opsetid("", 17)])]
    elif place == "training graph":
        model = helper.make_model(_graph(nodes, inits))
        model.training_info.add().initialization.CopyFrom(_graph([], [ext], name="init"))
        return model.SerializeToString()
    return helper.make_model(_graph(nodes + extra_nodes, inits), **model_kwargs).SerializeToString()


@pytest.fixture(scope="module")
def warm():
    """Import everything a load touches, so that the measured loads read no module files."""
    io.load(_external_model("none"))
    return numpy_helper.to_array(craft.external_tensor(TARGET), base_dir=str(craft.ROOT))


PLACES = ["initializer", "Constant value", "Constant sparse_value", "tensors list", "If subgraph", "Loop body",
          "sparse initializer", "function body", "training graph"]


@pytest.mark.parametrize("place", PLACES)
def test_onnx_external_data_anywhere_is_refused_before_any_file_is_read(place, warm, monkeypatch):
    monkeypatch.chdir(craft.ROOT)
    stolen = np.frombuffer((craft.ROOT / TARGET).read_bytes()[:16], "<f4")
    np.testing.assert_array_equal(warm.ravel(), stolen)  # onnx's own helper would hand us the file's bytes
    tensor = craft.external_tensor(TARGET)
    assert reads_during(lambda: numpy_helper.to_array(tensor, base_dir=".")) >= 1  # and the count sees it
    data = _external_model(place)
    outcome = []

    def load():
        with pytest.raises(ExplorerError, match=r"keeps the data of tensor 'stolen' .* in a separate file.*"
                                                r"reads nothing but the uploaded file") as info:
            io.load(data)
        outcome.append(info.value)

    assert reads_during(load) == 0 and outcome


@pytest.mark.parametrize("location", ["/etc/passwd", "../GUIDE.md", ".git/config"])
def test_absolute_and_parent_locations_get_our_message(location, warm):
    data = craft.onnx_chain(craft.external_tensor(location), constant=True)
    assert reads_during(lambda: pytest.raises(ExplorerError, io.load, data)) == 0


def typed(dims, data_type: int, field: str, values):
    """A TensorProto whose values sit in a typed field (float_data, int32_data, …), unchecked."""
    t = craft.raw_tensor(dims, b"", data_type)
    getattr(t, field).extend(values)
    return t


@pytest.mark.parametrize("tensor, message", [
    (lambda: craft.raw_tensor([1, 4], b"\0" * 15), r"of shape \(1, 4\) needs 16 bytes of data but holds 15"),
    (lambda: craft.raw_tensor([1, -4], b""), "negative dimension -4"),
    (lambda: craft.raw_tensor([1, 2**40], b""), "dimension of 1,099,511,627,776"),
    (lambda: craft.raw_tensor([2**25, 2**25, 2**25], b""), r"of shape \(33554432, 33554432, 33554432\) would need"),
    (lambda: craft.raw_tensor([60000, 60000], b""),
     r"of shape \(60000, 60000\) would need 3,600,000,000 array elements \(27,466 MB\)"),
    (lambda: craft.raw_tensor([1, 4], b"\0" * 16, data_type=99), "data type 99"),
    (lambda: craft.raw_tensor([1, 2], b"\0" * 16, data_type=TensorProto.COMPLEX64), "holds complex tensors"),
    (lambda: craft.raw_tensor([1, 4], b"\0" * 4, data_type=TensorProto.FLOAT8E4M3FN), "8-bit float"),
    (lambda: craft.raw_tensor([1, 4], b"", data_type=TensorProto.UNDEFINED), "data type 0"),
    (lambda: typed([1, 4], TensorProto.FLOAT, "float_data", [1.0, 2.0]), "needs 4 values but holds 2"),
    (lambda: typed([1, 2], TensorProto.INT8, "int32_data", [1, 300]), "outside the range of its data type"),
    (lambda: typed([1, 2], TensorProto.FLOAT16, "int32_data", [1, -1]), "outside the range of its data type"),
    (lambda: helper.make_tensor("W", TensorProto.INT64, [1, 1], [2**60]), r"beyond ±2\^53"),
    (lambda: helper.make_tensor("W", TensorProto.STRING, [1, 1], [b"a"]), "holds string tensors"),
])
@pytest.mark.parametrize("constant", [False, True])
def test_malformed_onnx_tensors_get_one_sentence(tensor, message, constant):
    with pytest.raises(ExplorerError, match=message):
        io.load(craft.onnx_chain(tensor(), constant=constant))


VALUES = np.array([[1.5, -2.0, 0.0, 3.0]])


@pytest.mark.parametrize("tensor, want", [
    (lambda: numpy_helper.from_array(VALUES.astype(np.float16)), VALUES),
    (lambda: numpy_helper.from_array(VALUES.astype(np.float32)), VALUES),
    (lambda: helper.make_tensor("W", TensorProto.FLOAT, [1, 4], VALUES.ravel()), VALUES),
    (lambda: helper.make_tensor("W", TensorProto.FLOAT16, [1, 4], VALUES.ravel()), VALUES),
    (lambda: helper.make_tensor("W", TensorProto.BFLOAT16, [1, 4], VALUES.ravel()), VALUES),
    (lambda: craft.raw_tensor([1, 4], np.array([0x3FC0, 0xC000, 0, 0x4040], "<u2").tobytes(), TensorProto.BFLOAT16),
     VALUES),
    (lambda: numpy_helper.from_array(np.array([[1, -2, 0, 127]], np.int8)), [[1, -2, 0, 127]]),
    (lambda: helper.make_tensor("W", TensorProto.INT8, [1, 4], [1, -2, 0, 127]), [[1, -2, 0, 127]]),
    (lambda: numpy_helper.from_array(np.array([[1, 2, 0, 65535]], np.uint16)), [[1, 2, 0, 65535]]),
    (lambda: numpy_helper.from_array(np.array([[1, -2, 0, 2**53]], np.int64)), [[1, -2, 0, 2**53]]),
    (lambda: helper.make_tensor("W", TensorProto.UINT64, [1, 4], [1, 2, 0, 2**53]), [[1, 2, 0, 2**53]]),
    (lambda: helper.make_tensor("W", TensorProto.BOOL, [1, 4], [1, 0, 0, 1]), [[1, 0, 0, 1]]),
])
def test_onnx_dtypes_convert_exactly(tensor, want):
    """Every real data type becomes float64 exactly: bfloat16 from its bits, int32_data as the type says."""
    W = io.load_network(craft.onnx_chain(tensor())).weights[0]
    assert W.dtype == np.float64
    np.testing.assert_array_equal(W, np.asarray(want, dtype=np.float64).T)


@pytest.mark.parametrize("bomb", ["empty nodes", "packed dims", "deep attributes", "wide Add"])
def test_onnx_parse_bombs_are_refused_in_bounded_memory_and_time(bomb):
    """A 20 MB ONNX file of empty nodes would make onnx's parser build ~1.5 GB; a packed 'dims' field of 20 MB
    ~300 MB; MatMul 1×30000 then Add built a 30000² identity (7 GB) before the Add became a diagonal."""
    if bomb == "empty nodes":
        data = b"\x08\x08" + craft.field(7, craft.field(1, b"") * 10_000_000)
    elif bomb == "packed dims":
        data = b"\x08\x08" + craft.field(7, craft.field(5, craft.field(1, b"\x01" * 20_000_000)))
    elif bomb == "deep attributes":
        inner = b""
        for _ in range(200):
            inner = craft.field(1, craft.field(5, craft.field(6, inner)))  # node.attribute.g (a graph)
        data = b"\x08\x08" + craft.field(7, inner)
    else:
        data = craft.onnx_chain(numpy_helper.from_array(np.ones((1, 30000), np.float32)),
                                bias=numpy_helper.from_array(np.ones(30000, np.float32)))
    outcome = craft.run_isolated(data, memory_mb=2048, timeout=60)
    if bomb == "wide Add":
        assert outcome.kind == "network" and outcome.message == "1-30000", outcome
    else:
        assert outcome.kind == "ExplorerError", outcome
    assert outcome.peak_mb < 1024 and outcome.seconds < 30, outcome
