"""CNNs in every format that carries them: TorchScript (scripted and traced), ONNX (exported and hand-built,
checked against onnx's reference evaluator), safetensors and state_dicts with a JSON layer description."""

from __future__ import annotations

import io as pyio
import json
import struct

import numpy as np
import pytest
import torch
from torch import nn

from explorer.errors import ExplorerError
from explorer.io import files as io
from explorer.io.budget import Budget
from explorer.io.safetensors import read_safetensors, safetensors_bytes
from tests.io.test_cnn_layers import seeded, torch_forward

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def random_cnn(seed: int) -> tuple[nn.Sequential, tuple]:
    """A small random CNN: conv (+BatchNorm) → act → pooling → conv → act → Flatten → Linear."""
    rng = np.random.default_rng(seed)
    C, H = int(rng.integers(1, 3)), int(rng.integers(6, 9))
    c1, c2 = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    leaky = bool(rng.integers(2))
    act = (lambda: nn.LeakyReLU(0.1)) if leaky else nn.ReLU
    pool = nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False) if leaky or rng.integers(2) else \
        nn.MaxPool2d((1, 2))
    layers = [nn.Conv2d(C, c1, 3, padding=int(rng.integers(2))), nn.BatchNorm2d(c1), act(), pool,
              nn.Conv2d(c1, c2, 2, stride=int(rng.integers(1, 3))), act(), nn.Flatten()]
    with torch.no_grad():
        n = nn.Sequential(*layers).eval()(torch.zeros(1, C, H, H)).numel()
    return seeded(layers + [nn.Dropout(), nn.Linear(n, 3)], seed), (C, H, H)


def assert_same_function(net, module, shape, seed=0, rtol=1e-12):
    x = np.random.default_rng(seed).standard_normal((32, int(np.prod(shape))))
    ref, _ = torch_forward(module, x, shape)
    np.testing.assert_allclose(net.forward(x), ref, rtol=0, atol=rtol * max(1.0, np.abs(ref).max()))


# ---- TorchScript and ONNX --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_torchscript_cnns_scripted_and_traced_fold_to_torchs_function(tmp_path, seed):
    module, shape = random_cnn(seed)
    reference = io.from_module(module, input_shape=shape)
    for kind in ("script", "trace"):
        scripted = torch.jit.script(module) if kind == "script" else torch.jit.trace(
            module, torch.zeros(1, *shape, dtype=torch.float64))
        path = tmp_path / f"{kind}.pt"
        torch.jit.save(scripted, str(path))
        net = io.load_network(path, layers={"input_shape": list(shape)})
        assert net.architecture == reference.architecture and net.unit_labels == reference.unit_labels
        assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases,
                                                          reference.weights + reference.biases))
        assert_same_function(net, module, shape, seed)


@pytest.mark.parametrize("seed", range(4))
def test_onnx_exports_of_cnns_read_their_input_shape_and_fold_exactly(tmp_path, seed):
    module, shape = random_cnn(seed)
    for folding in (True, False):  # torch fuses BatchNorm into Conv only when it folds constants
        torch.onnx.export(module, (torch.zeros(1, *shape, dtype=torch.float64),), str(tmp_path / "m.onnx"),
                          dynamo=False, do_constant_folding=folding)
        net = io.load_network(tmp_path / "m.onnx")
        assert net.input_shape == shape and net.architecture == io.from_module(module, input_shape=shape).architecture
        assert_same_function(net, module, shape, seed)


def onnx_model(nodes, inputs: dict, shape: list, output: str = "y") -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, shape)],
                              [helper.make_tensor_value_info(output, TensorProto.DOUBLE, None)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inputs.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def reference_output(model: bytes, x: np.ndarray) -> np.ndarray:
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, {"x": x})[0].reshape(len(x), -1)


def test_hand_built_onnx_graphs_match_onnx_reference_semantics():
    """Asymmetric pads, auto_pad, ceil_mode, BatchNormalization on a feature map, Add of a per-channel
    constant, a 2-value MaxPool and Reshape, each against onnx's own reference evaluator."""
    from onnx import helper

    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    w2 = rng.standard_normal((4, 3, 2, 2))
    stats = [rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(0.5, 2, 3)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 0, 2, 1], strides=[1, 2]),
        helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"], epsilon=2.0**-10),
        helper.make_node("Add", ["n1", "shift"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 1], strides=[2, 1], ceil_mode=1),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[2, 2], pads=[1, 0, 0, 1],
                         count_include_pad=1),
        helper.make_node("Conv", ["p2", "w2"], ["c2"], auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("LeakyRelu", ["c2"], ["r2"], alpha=0.0),
        helper.make_node("Reshape", ["r2", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w3"], ["y"]),
    ]
    consts = {"w1": w1, "b1": b1, "s": stats[0], "bb": stats[1], "m": stats[2], "v": stats[3], "w2": w2,
              "shift": rng.standard_normal((1, 3, 1, 1)), "shape": np.array([1, -1], dtype=np.int64)}
    probe = onnx_model(nodes[:-1], consts, [1, 2, 7, 6], output="f")
    width = reference_output(probe, np.zeros((1, 2, 7, 6))).shape[1]
    model = onnx_model(nodes, {**consts, "w3": rng.standard_normal((width, 2))}, [1, 2, 7, 6])
    net = io.load_network(model)
    assert net.input_shape == (2, 7, 6) and net.pooling_units > 0
    x = rng.standard_normal((5, 2, 7, 6))
    ref = np.concatenate([reference_output(model, x[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(net.forward(x.reshape(5, -1)), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("node, message", [
    (("Conv", dict(pads=[0, 0, 0, 0]), "w3d"), "not a 2-D convolution"),
    (("AveragePool", dict(kernel_shape=[2, 2], dilations=[2, 2]), None), "uses dilations"),
    (("MaxPool", dict(kernel_shape=[2, 2]), None), "maximum of 4 values"),
    (("Reshape", {}, "shape3"), r"reshapes to \[1, 2, -1\]"),
    (("Conv", dict(auto_pad="WEIRD"), "w"), "unknown auto_pad"),
])
def test_unsupported_onnx_cnn_nodes_are_refused(node, message):
    from onnx import helper

    op, attrs, const = node
    consts = {"w": np.ones((1, 1, 2, 2)), "w3d": np.ones((1, 1, 2)), "shape3": np.array([1, 2, -1], dtype=np.int64)}
    inputs = ["r"] + ([const] if const else [])
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node(op, inputs, ["o"], **attrs),
             helper.make_node("Flatten", ["o"], ["y"])]
    with pytest.raises(ExplorerError, match=message):
        io.load(onnx_model(nodes, {k: consts[k] for k in ([const] if const else [])}, [1, 1, 4, 4]))


def test_onnx_residual_connections_are_refused(tmp_path):
    from onnx import helper

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[0, 0, 0, 0]), helper.make_node("Add", ["c", "x"], ["y"])]
    with pytest.raises(ExplorerError, match="branches at tensor 'x'.*no residual connections"):
        io.load(onnx_model(nodes, {"w": np.ones((1, 1, 1, 1))}, [1, 1, 3, 3]))


# ---- safetensors and JSON descriptions -------------------------------------------------------------------
def description_of(module: nn.Sequential, shape: tuple) -> dict:
    """The JSON description of a Sequential (what a user writes by hand)."""
    layers = []
    for layer in module:
        kind = type(layer).__name__.lower()
        entry = {"type": {"leakyrelu": "leaky_relu"}.get(kind, kind)}
        if isinstance(layer, nn.Conv2d):
            entry.update(stride=list(layer.stride), padding=list(layer.padding), dilation=list(layer.dilation),
                         groups=layer.groups, kernel_size=list(layer.kernel_size))
        elif isinstance(layer, (nn.AvgPool2d, nn.MaxPool2d)):
            entry.update(kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                         ceil_mode=layer.ceil_mode)
            if isinstance(layer, nn.AvgPool2d):
                entry.update(count_include_pad=layer.count_include_pad)
        elif isinstance(layer, nn.LeakyReLU):
            entry.update(negative_slope=layer.negative_slope)
        elif isinstance(layer, (nn.BatchNorm2d, nn.BatchNorm1d)):
            entry.update(eps=layer.eps)
        layers.append(entry)
    return {"input_shape": list(shape), "layers": json.loads(json.dumps(layers))}


@pytest.mark.parametrize("seed", range(3))
def test_state_dict_and_safetensors_with_a_description_equal_the_module(tmp_path, seed):
    module, shape = random_cnn(seed)
    reference = io.from_module(module, input_shape=shape)
    description = description_of(module, shape)
    weights = {k: v.numpy() for k, v in module.state_dict().items()}
    (tmp_path / "m.safetensors").write_bytes(safetensors_bytes(weights))
    torch.save(module.state_dict(), tmp_path / "m.pt")
    (tmp_path / "m.json").write_text(json.dumps(description))  # MODEL.json beside MODEL.*
    for source, kwargs in [(tmp_path / "m.safetensors", {}), (tmp_path / "m.pt", {}),
                           ((tmp_path / "m.safetensors").read_bytes(), {"layers": json.dumps(description)}),
                           ((tmp_path / "m.pt").read_bytes(), {"layers": tmp_path / "m.json"})]:
        ckpt = io.load(source, **kwargs)
        assert ckpt.net.architecture == reference.architecture
        assert all(np.array_equal(a, b) for a, b in zip(ckpt.net.weights, reference.weights))
    assert ckpt.provenance["source"]["format"] == "state_dict"
    assert io.load(tmp_path / "m.safetensors").provenance["source"]["format"] == "safetensors"


def test_uploaded_bytes_never_read_a_description_from_disk(tmp_path):
    module, shape = random_cnn(0)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    (tmp_path / "m.json").write_text(json.dumps(description_of(module, shape)))
    with pytest.raises(ExplorerError, match="Describe the layers in a JSON file"):
        io.load((tmp_path / "m.pt").read_bytes(), filename=str(tmp_path / "m.pt"))


def test_safetensors_reader_matches_a_hand_written_file_and_refuses_damage():
    a, b = np.arange(6, dtype="<f4").reshape(2, 3), np.array([1.5, -2.0], dtype="<f8")
    bf16 = np.array([0x3FC0, 0xC040], dtype="<u2")  # bfloat16 1.5 and -3.0
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "F64", "shape": [2], "data_offsets": [24, 40]},
              "c": {"dtype": "BF16", "shape": [2], "data_offsets": [40, 44]}, "__metadata__": {"format": "pt"}}

    def encode(h, data=a.tobytes() + b.tobytes() + bf16.tobytes()):
        text = json.dumps(h).encode()
        return struct.pack("<Q", len(text)) + text + data

    out = read_safetensors(encode(header), "f", Budget(100, "f"))
    assert np.array_equal(out["a"], a) and np.array_equal(out["b"], b) and out["c"].tolist() == [1.5, -3.0]
    assert set(read_safetensors(safetensors_bytes({"a": a, "b": b}), "f", Budget(100, "f"))) == {"a", "b"}
    bad = [
        ({**header, "a": {**header["a"], "shape": [2, 4]}}, "does not fit its byte range"),
        ({**header, "b": {**header["b"], "data_offsets": [20, 36]}}, "overlap"),
        ({**header, "a": {**header["a"], "dtype": "F8_E4M3"}}, "8-bit float"),
        ({**header, "a": {**header["a"], "dtype": "C64"}}, "not supported"),
        ({**header, "a": {**header["a"], "shape": [-1, 3]}}, "non-negative integers"),
        ({**header, "a": {"dtype": "F32", "shape": [2, 3]}}, "must hold dtype, shape and data_offsets"),
        ({**header, "__metadata__": {"x": 1}}, "__metadata__ must map strings"),
        ({**header, "b": {**header["b"], "data_offsets": [24, 10**12]}}, "does not fit"),
    ]
    for h, message in bad:
        with pytest.raises(ExplorerError, match=message):
            io.load(encode(h))
    with pytest.raises(ExplorerError, match=r"tensor 'a' of shape \(2, 3\) would need 6 array elements"):
        read_safetensors(encode(header), "f", Budget(5, "f"))
    huge = {"w": {"dtype": "F64", "shape": [100_000, 100_000], "data_offsets": [0, 8 * 10**10]}}
    with pytest.raises(ExplorerError, match="does not fit its byte range"):
        io.load(encode(huge, bytes(16)))
    with pytest.raises(ExplorerError, match="header is not JSON"):
        io.load(struct.pack("<Q", 4) + b"{abc" + bytes(8))


DIGITS = {"input_shape": [1, 8, 8], "layers": [{"type": "conv2d", "name": "0"}, {"type": "relu"},
                                               {"type": "flatten"}, {"type": "linear", "name": "3"}]}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(extra=1), "unknown keys 'extra'"),
    (lambda d: d.pop("layers"), "no 'layers' list"),
    (lambda d: d.update(layers=[]), "non-empty list"),
    (lambda d: d.update(input_shape=[1, 8]), r"input_shape must be \[C, H, W\] or \[n\]"),
    (lambda d: d.update(input_shape=[1, 8, 10**6]), "integers from 1 to 65,536"),
    (lambda d: d["layers"].append({"type": "tanh"}), "unknown type 'tanh'"),
    (lambda d: d["layers"][0].update(stride=1.5), "stride must be an integer"),
    (lambda d: d["layers"][0].update(stide=2), r"unknown keys 'stide'.*conv2d takes"),
    (lambda d: d["layers"][0].update(kernel_size=5), "kernel_size 5 does not match the weight's 3x3 kernel"),
    (lambda d: d["layers"][0].update(out_channels=3), "says out_channels 3 but the weights give 4"),
    (lambda d: d["layers"][0].update(padding_mode="circular"), "only padding_mode 'zeros'"),
    (lambda d: d["layers"][0].update(bias=False), "says bias false but the weights hold one"),
    (lambda d: d["layers"][0].update(name="conv"), r"no entries for the described layer\(s\) 'conv'"),
    (lambda d: d["layers"].insert(2, {"type": "avgpool2d"}), "kernel_size is required"),
    (lambda d: d["layers"].insert(2, {"type": "avgpool2d", "kernel_size": 2, "padding": 2}), "at most half"),
    (lambda d: d["layers"].insert(2, {"type": "leaky_relu", "negative_slope": 2}),
     r"negative_slope must be .* \[0, 1\)"),
    (lambda d: d["layers"].insert(2, {"type": "flatten", "start_dim": 2}), "only start_dim 1"),
    (lambda d: d.update(layers=d["layers"][:3]), "which no layer of the description uses"),
    (lambda d: d.update(input_shape=[2, 8, 8]), "expects 1 input channels but receives 2"),
    (lambda d: d["layers"][3].update(name="0"), "share the name '0'"),
])
def test_every_description_problem_gets_its_own_message(change, message):
    module = seeded([nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)], 0)
    data = safetensors_bytes({k: v.numpy() for k, v in module.state_dict().items()})
    description = json.loads(json.dumps(DIGITS))
    assert io.load(data, layers=description).net.architecture == "1x8x8-conv3x3(4)-2"
    change(description)
    with pytest.raises(ExplorerError, match=message):
        io.load(data, layers=description)


def test_description_sources_and_formats_that_carry_their_own_layers(tmp_path):
    module = seeded([nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)], 0)
    for bad, message in [("{not json", "not valid JSON"), ("[1, 2]", r"no layer description file '\[1, 2\]'"),
                         (b"[1]", "must be a JSON object"), (42, "must be a dict"),
                         (tmp_path / "missing.json", "no layer description file")]:
        with pytest.raises(ExplorerError, match=message):
            io.load(safetensors_bytes({"0.weight": np.ones((2, 2))}), layers=bad)
    torch.jit.save(torch.jit.script(module), str(tmp_path / "s.pt"))
    with pytest.raises(ExplorerError, match="records its own layers.*remove 'layers'"):
        io.load(tmp_path / "s.pt", layers=DIGITS)
    with pytest.raises(ExplorerError, match=r"takes inputs of shape \[1, 8, 8\] but the description says \[1, 9, 9\]"):
        torch.onnx.export(module.float(), (torch.zeros(1, 1, 8, 8),), str(tmp_path / "m.onnx"), dynamo=False)
        io.load(tmp_path / "m.onnx", layers={"input_shape": [1, 9, 9]})
    checkpoint = io.checkpoint_bytes(io.from_module(module))
    with pytest.raises(ExplorerError, match="explorer checkpoint, which records its own layers"):
        io.load(checkpoint, layers={"input_shape": [1, 8, 8]})
    buf = pyio.BytesIO()
    torch.save({"0.weight": torch.ones(4, 1, 3, 3)}, buf)
    with pytest.raises(ExplorerError, match=r"is neither a Linear nor a BatchNorm1d.*MODEL.json beside"):
        io.load(buf.getvalue())
