"""Hostile torch files: memory and time bombs, pickles that try to change the reader, and tensor dtypes.

The bombs run in a child process limited to 2 GB of address space (craft.run_isolated): each must end in one
ExplorerError (or a valid network), never a MemoryError, a kill or a timeout, within 60 s.
"""

from __future__ import annotations

import io as pyio
import re
import struct
import zipfile

import numpy as np
import pytest
import torch

from explorer.errors import ExplorerError
from explorer.io import files as io
from explorer.io import torchfile
from explorer.io.safetensors import safetensors_bytes
from tests.io import craft
from tests.nets import random_network

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit notices
ONE = {"0": craft.floats(1.0)}
LEGACY_HEAD = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.\x80\x02}."


def _lying_zip(claimed: int, actual: int) -> bytes:
    """A deflated data.pkl of ``actual`` zero bytes whose headers claim ``claimed`` bytes."""
    data = bytearray(craft.archive(b"\0" * actual, compress=True))
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig)
        struct.pack_into("<I", data, pos + at, claimed)
    return bytes(data)


def _script_with_code(module: torch.nn.Module, kind: str, code: str) -> bytes:
    """A real TorchScript file of ``module`` whose source for the layer file ``kind`` (e.g. 'batchnorm') is ``code``."""
    buf = pyio.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buf)
    out = pyio.BytesIO()
    with zipfile.ZipFile(pyio.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            ours = f"/{kind}" in info.filename and info.filename.endswith(".py")  # also ___torch_mangle_N.py
            dst.writestr(info.filename, code.encode() if ours else src.read(info))
    return out.getvalue()


BN = lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))  # noqa: E731
CONV = lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 1, 2), torch.nn.Flatten(), torch.nn.Linear(4, 1))  # noqa: E731


def _colliding_keys(n: int) -> bytes:
    """n ints that all hash to 0 (multiples of 2^61 − 1): a dict of them takes quadratic time to build."""
    return b"".join(craft.integer(k * (2**61 - 1)) + b"N" for k in range(1, n + 1))


def _table_from_arguments(head: bytes) -> bytes:
    """OrderedDict(list of 3,000 colliding pairs), called 200,000 times from the memo."""
    pairs = b"".join(craft.integer(k * (2**61 - 1)) + b"N\x86" for k in range(1, 3001))
    calls = b"h\x00h\x01\x85R0" * 200_000
    return b"\x80\x02" + head + b"ccollections\nOrderedDict\nq\x00]q\x01(" + pairs + b"e0" + calls + b"N."


BOMBS = {  # name: (file, expected kind, what the message says)
    "BatchNorm of 50,000 features folded into a Linear (a dense diagonal took 21 GB)": (lambda: craft.archive(
        craft.state_dict({"0.running_mean": craft.tensor("0", (50000,), (0,), numel=1),
                          "0.running_var": craft.tensor("0", (50000,), (0,), numel=1),
                          "1.weight": craft.tensor("0", (1, 50000), (0, 0), numel=1)}), ONE), "network", "50000-1"),
    "ten stride-0 tensors of 50 M elements (4 GB)": (lambda: craft.archive(craft.state_dict(
        {f"{k}.weight": craft.tensor("0", (10000, 5000), (0, 0), numel=1, storage="DoubleStorage")
         for k in range(10)}), {"0": bytes(8)}), "ExplorerError",
        r"would need .* one file may use 67,108,864 \(512 MB\) in all"),
    "200 M DUP opcodes, deflated (3 GB)": (lambda: craft.archive(b"\x80\x02N" + b"2" * 200_000_000 + b".",
                                                                compress=True), "ExplorerError", "stack grows past"),
    "DUP and POP, 100 M times": (lambda: craft.archive(b"\x80\x02N" + b"20" * 50_000_000 + b".", compress=True),
                                 "ExplorerError", "runs more than 1,000,000 opcodes"),
    "memo entries far apart": (lambda: craft.archive(b"\x80\x02N" + b"".join(
        b"r" + struct.pack("<I", 2**32 - 1 - k) for k in range(1_100_000)) + b".", compress=True),
        "ExplorerError", "opcodes|memo grows past"),
    "a zero-by-2^40 tensor (MemoryError)": (lambda: craft.archive(craft.state_dict(
        {"0.weight": craft.tensor("0", (2**40, 0), (1, 1), numel=1)}), ONE), "ExplorerError",
        "dimension of 1,099,511,627,776"),
    "a zip member claiming 4 GB": (lambda: _lying_zip(2**32 - 1, 1000), "ExplorerError",
                                    "would expand to more than 200 MB"),
    "a zip member claiming 1 kB that inflates to 100 MB": (lambda: _lying_zip(1000, 100_000_000), "ExplorerError",
                                                          "damaged|cannot be read"),
    "120,000 empty zip members": (lambda: craft.zip_of_empty_members(120_000, head=b"\x80\x02}."), "ExplorerError",
                                  "about 120,0.. members; the limit is 100,000"),
    "a bytes object claiming 2^60 bytes": (lambda: craft.archive(b"\x80\x02\x8e" + struct.pack("<Q", 2**60) + b"."),
                                           "ExplorerError", "would need"),
    "190,000 nested lists": (lambda: craft.archive(b"\x80\x02]q\x00" + b"]q\x01a0h\x01" * 190_000 + b"0h\x00.",
                                                   compress=True), "ExplorerError", "holds a list"),
    "40,000 dictionary keys that share one hash (quadratic time)": (lambda: craft.archive(
        b"\x80\x02}" + b"".join(b"(" + _colliding_keys(20_000) + b"u" for _ in range(2)) + b"."), "ExplorerError",
        "uses a key of type int in a dictionary"),
    "OrderedDict of colliding pairs, 200,000 times": (lambda: craft.archive(_table_from_arguments(b""),
                                                                              compress=True), "ExplorerError",
                                                        "builds an OrderedDict from arguments"),
    "the same through torch.load": (lambda: craft.archive(_table_from_arguments(b"ctorch\nSize\n0"), compress=True),
                                    "ExplorerError", "fills a table through a constructor"),
    "legacy file of DUP opcodes (torch's unpickler has no limits)": (
        lambda: LEGACY_HEAD + b"\x80\x02N" + b"2" * 50_000_000 + b".", "ExplorerError", "stack grows past"),
    "odd torch global, then DUP opcodes": (lambda: craft.archive(
        b"\x80\x02ctorch\nSize\n0N" + b"2" * 50_000_000 + b".", compress=True), "ExplorerError", "stack grows past"),
    "odd torch global and a storage claiming 10^12 elements": (lambda: craft.archive(
        craft.state_dict({"0.weight": craft.tensor("0", (2, 2), numel=10**12)}, head=b"ctorch\nSize\n"), ONE),
        "ExplorerError", "a storage the file claims would need"),
    "TorchScript code that makes a regex backtrack": (lambda: _script_with_code(BN(), "batchnorm",
        "class BatchNorm1d(Module):\n" + "\n" * 1_000_000 + "torch.batch_norm(" + ("a," + " " * 3000) * 7 + "x"),
        "ExplorerError", "cannot read eps"),
    "TorchScript constant of 15 MB (ast.literal_eval)": (lambda: _script_with_code(CONV(), "conv",
        "class Conv2d(Module):\n  stride : Final[Tuple[int, int]] = (" + "1, " * 5_000_000 + ")\n"),
        "ExplorerError", "longer than 10,000 characters"),
    "TorchScript call that never closes (ast.parse)": (lambda: _script_with_code(CONV(), "conv",
        "class Conv2d(Module):\n  def forward(self, x):\n    return torch._convolution(x, " + "1, " * 5_000_000),
        "ExplorerError", "does not end within 10,000 characters"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_memory_and_time_bombs_end_in_one_sentence_under_2_gb(name):
    make, kind, message = BOMBS[name]
    outcome = craft.run_isolated(make(), memory_mb=2048, timeout=60)
    assert outcome.kind == kind, outcome
    assert re.search(message, outcome.message), outcome
    assert outcome.peak_mb < 1024 and outcome.seconds < 60, outcome


# ---- a reader that changes nothing global --------------------------------------------------------------
REBUILD = b"ctorch._utils\n_rebuild_tensor_v2\n"
POISONS = {  # each ends with a good state_dict, so only the poisoning can make the load fail
    "BUILD on a rebuild function": REBUILD + b"N}" + craft.text("__defaults__") + b"(J\x01\x00\x00\x00ts\x86b",
    "BUILD on its __dict__": REBUILD + b"}" + craft.text("__kwdefaults__") + b"}sb",
    "BUILD on OrderedDict": b"ccollections\nOrderedDict\n}" + craft.text("x") + b"Nsb",
    "BUILD on a storage type": b"ctorch\nFloatStorage\n}" + craft.text("name") + craft.text("LongStorage") + b"sb",
    "SETITEM on a rebuild function": REBUILD + craft.text("k") + b"Ns",
    "APPEND to a rebuild function": REBUILD + b"Na",
    "BUILD on a tensor": REBUILD + b"((" + craft.text("storage") + b"ctorch\nFloatStorage\n" + craft.text("0")
                         + craft.text("cpu") + b"J\x01\x00\x00\x00tQJ\x00\x00\x00\x00)))tR}b",
}


@pytest.mark.parametrize("name", list(POISONS))
def test_a_poisoned_pickle_changes_nothing_and_the_next_load_works(name):
    functions = [torchfile._rebuild_parameter, torchfile.ScriptObject.__setstate__, torchfile.ScriptObject.__new__]
    before = [(f.__defaults__, f.__kwdefaults__, dict(f.__dict__)) for f in functions]
    good = {"0.weight": craft.tensor("0", (1, 1)), "0.bias": craft.tensor("0", (1,))}
    poisoned = craft.archive(craft.state_dict(good, head=POISONS[name]), ONE)
    with pytest.raises(ExplorerError, match="damaged"):
        io.load(poisoned)
    assert [(f.__defaults__, f.__kwdefaults__, dict(f.__dict__)) for f in functions] == before
    assert torchfile._StorageType("x").name == "x" and not hasattr(torchfile.OrderedDict, "x")
    assert io.load_network(craft.archive(craft.state_dict(good), ONE)).architecture == "1-1"
    net = random_network((4,), seed=3, scale_bias=1.0)
    assert io.load_network(io.checkpoint_bytes(net)).weights[0].tobytes() == net.weights[0].tobytes()


def test_build_is_still_applied_to_the_objects_torch_writes_it_for(tmp_path):
    """torch's state_dicts BUILD their OrderedDict (metadata); TorchScript BUILDs its module records."""
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
    buf = pyio.BytesIO()
    torch.save(module.state_dict(), buf)
    assert io.load_network(buf.getvalue()).architecture == "2-3-1"
    torch.jit.save(torch.jit.script(module), str(tmp_path / "s.pt"))
    assert io.load_network(tmp_path / "s.pt").architecture == "2-3-1"


# ---- dtypes ----------------------------------------------------------------------------------------
def _torch_file(W: torch.Tensor, route: str = "reader") -> bytes:
    """A state_dict holding W, read by our reader, by torch.load behind a global the reader does not know
    (torch.Size), or by torch.load as a legacy (pre-1.6) file."""
    state = {"0.weight": W, "0.bias": torch.zeros(W.shape[0])}
    buf = pyio.BytesIO()
    if route == "reader":
        torch.save(state, buf)
    else:
        torch.save({"shape": torch.Size([1]), "state_dict": state}, buf,
                   _use_new_zipfile_serialization=route == "torch fallback")
    return buf.getvalue()


ROUTES = ["reader", "torch fallback", "legacy"]


DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.int8, torch.uint8, torch.int16, torch.int32,
          torch.int64, torch.uint16, torch.uint32, torch.bool]
LEGACY_CANNOT = (torch.uint16, torch.uint32, "sparse", "quantized", "8-bit float")  # torch cannot reload these


@pytest.mark.parametrize("dtype, route", [(d, r) for d in DTYPES for r in ROUTES
                                          if not (r == "legacy" and d in LEGACY_CANNOT)])
def test_half_bfloat16_integer_and_bool_weights_convert_exactly(dtype, route):
    values = torch.tensor([[1.5, -2.0, 0.0, 3.0], [2**8 - 1, 1, 100, 7]])
    W = values.to(dtype) if dtype != torch.bool else values > 1
    net = io.load_network(_torch_file(W, route))
    np.testing.assert_array_equal(net.weights[0], W.double().numpy())
    assert net.weights[0].dtype == np.float64


KINDS = [
    (lambda: torch.ones(1, 2, dtype=torch.complex64), "complex"),
    (lambda: torch.ones(1, 2, dtype=torch.complex128), "complex"),
    (lambda: torch.quantize_per_tensor(torch.ones(1, 2), 0.1, 0, torch.qint8), "quantized"),
    (lambda: torch.ones(1, 2).to_sparse(), "sparse"),
    (lambda: torch.ones(1, 2).to_sparse_csr(), "sparse"),
    (lambda: torch.ones(1, 2, dtype=torch.float8_e4m3fn), "8-bit float"),
]


@pytest.mark.parametrize("make, kind, route", [(m, k, r) for m, k in KINDS for r in ROUTES
                                               if not (r == "legacy" and k in LEGACY_CANNOT)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_complex_quantized_sparse_and_8_bit_tensors_are_refused(make, kind, route):
    data = _torch_file(make(), route)
    with pytest.raises(ExplorerError, match=f"holds {kind} tensors, which the explorer does not read"):
        io.load(data)


def test_integers_beyond_2_to_the_53_are_refused():
    with pytest.raises(ExplorerError, match=r"holds the integer 9007199254740993, beyond ±2\^53"):
        io.load(_torch_file(torch.tensor([[2**53 + 1, 1]])))
    with pytest.raises(ExplorerError, match=r"holds the integer -9007199254740993, beyond ±2\^53"):
        io.load(safetensors_bytes({"0.weight": np.array([[1, -(2**53) - 1]]), "0.bias": np.zeros(1)}))


def test_safetensors_shapes_are_budgeted_and_integers_exact():
    exact = io.load_network(safetensors_bytes({"0.weight": np.array([[65535, 7]], np.uint16),
                                               "0.bias": np.array([2**53], np.int64)}))
    assert exact.weights[0].tolist() == [[65535.0, 7.0]] and exact.biases[0].tolist() == [2.0**53]
    header = b'{"0.weight":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[0,0]}}'
    with pytest.raises(ExplorerError, match="dimension of 1,099,511,627,776"):
        io.load(struct.pack("<Q", len(header)) + header)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicated_members_are_refused_and_nested_pickles_stay_data():
    """Two data.pkl members with one name are refused; a pickle inside bytes stays bytes (never unpickled)."""
    good = craft.state_dict({"0.weight": craft.tensor("0", (1, 1)), "0.bias": craft.tensor("0", (1,))})
    evil = b"\x80\x02cos\nsystem\n" + craft.text("true") + b"\x85R."
    doubled = craft.archive(craft.state_dict({}), ONE, extra=[("archive/data.pkl", good)])
    with pytest.raises(ExplorerError, match="not a readable PyTorch file: it holds 2 top-level data.pkl members"):
        io.load(doubled)
    nested = craft.archive(craft.state_dict({"blob.weight": b"B" + struct.pack("<I", len(evil)) + evil}), ONE)
    with pytest.raises(ExplorerError, match="unexpected entries 'blob.weight'"):
        io.load(nested)


def test_names_from_a_file_stay_on_one_line():
    """File names, globals and operators with newlines: the refusal is still one line (the CLI prints one)."""
    from onnx import TensorProto, helper

    stack_global = b"\x80\x02" + craft.text("os\nEvil: ran") + craft.text("system") + b"\x93."
    graph = helper.make_graph([helper.make_node("A\nd", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    cases = [(craft.archive(stack_global), "evil.pt", r"\(os\?Evil: ran\.system\) that would run code"),
             (helper.make_model(graph).SerializeToString(), "m.onnx", "unsupported ONNX operator A\\?d"),
             (b"not a network", "two\nlines.pt", "'two\\?lines.pt' is not a network file")]
    for data, name, message in cases:
        with pytest.raises(ExplorerError, match=message) as info:
            io.load(data, filename=name)
        assert "\n" not in str(info.value)


def test_a_load_keeps_no_memory_after_it_returns():
    """The pickle machine holds bound methods of itself; without breaking that cycle every load's tensors stayed
    alive until the next garbage collection (30 MB after a 4 M-parameter file)."""
    import gc
    import tracemalloc

    buf = pyio.BytesIO()
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000)).state_dict(),
               buf)
    data = buf.getvalue()
    io.load_network(data)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        io.load_network(data)
        left, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert peak > 8_000_000 and left < 100_000, (left, peak)
