"""Loading and saving: format equality, BatchNorm folding, the torch-free reader, and every refusal."""

from __future__ import annotations

import io as pyio
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from explorer.io import torchfile as _torchfile
from explorer.io import files as io
from explorer.io.budget import Budget
from explorer.errors import ExplorerError
from explorer.net import Network
from tests.conftest import ASSETS
from tests.nets import random_network

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit / legacy ONNX export notices
X = np.random.default_rng(7).uniform(-3, 3, (200, 2))


def identical(a: Network, b: Network) -> bool:
    """Bitwise-identical float64 parameters and the same activation."""
    return (a.activation, a.alpha) == (b.activation, b.alpha) and len(a.weights) == len(b.weights) and all(
        x.dtype == y.dtype == np.float64 and x.shape == y.shape and x.tobytes() == y.tobytes()
        for x, y in zip(a.weights + a.biases, b.weights + b.biases))


def torch_bytes(obj, **kwargs) -> bytes:
    f = pyio.BytesIO()
    torch.save(obj, f, **kwargs)
    return f.getvalue()


def module_out(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.double().eval()(torch.from_numpy(x)).numpy()


def bn(n: int, seed: int, *, affine: bool = True, eps: float = 1e-3) -> nn.BatchNorm1d:
    """BatchNorm1d with non-trivial running statistics (and γ, β)."""
    gen = torch.Generator().manual_seed(seed)
    layer = nn.BatchNorm1d(n, affine=affine, eps=eps)
    with torch.no_grad():
        layer.running_mean.copy_(torch.randn(n, generator=gen))
        layer.running_var.copy_(torch.rand(n, generator=gen) + 0.2)
        if affine:
            layer.weight.copy_(torch.randn(n, generator=gen))
            layer.bias.copy_(torch.randn(n, generator=gen))
    return layer


# ---- three formats, one network ------------------------------------------------------------------
@pytest.mark.parametrize("activation, alpha", [("relu", 0.0), ("leaky_relu", 0.2)])
def test_state_dict_torchscript_and_checkpoint_give_identical_networks(tmp_path, activation, alpha):
    net = random_network((7, 5, 3), n_out=2, activation=activation, alpha=alpha, seed=3, scale_bias=1.0)
    io.save_state_dict(tmp_path / "sd.pt", net)
    io.save_torchscript(tmp_path / "ts.pt", net)
    io.save_checkpoint(tmp_path / "ck.pt", net)
    from_sd = io.load_network(tmp_path / "sd.pt", activation=f"{activation}:{alpha}" if alpha else None)
    from_ts, from_ck = io.load_network(tmp_path / "ts.pt"), io.load_network(tmp_path / "ck.pt")
    assert identical(from_sd, net) and identical(from_ts, net) and identical(from_ck, net)
    assert io.load(tmp_path / "ts.pt").provenance["source"]["format"] == "torchscript"


def test_shipped_examples_agree_and_frame_their_data():
    nets = [io.load_network(ASSETS / f) for f in ("moons_2x16.pt", "state_dict_2x16.pt", "torchscript_2x16.pt")]
    assert identical(nets[0], nets[1]) and identical(nets[0], nets[2])
    for name, arch, n0 in [("moons_2x16.pt", "2-16-16-1", 2), ("spiral_3x32.pt", "2-32-32-32-1", 2),
                           ("clusters_8d.pt", "8-12-12-1", 8)]:
        ckpt = io.load(ASSETS / name)
        assert ckpt.net.architecture == arch
        np.testing.assert_array_equal(ckpt.box, np.tile([-3.0, 3.0], (n0, 1)))
        assert ckpt.provenance["dataset"]["dim"] == n0 and ckpt.provenance["history"]["train_acc"][-1] > 0.9
        assert (ASSETS / name).stat().st_size < 200_000


def test_checkpoint_round_trip_keeps_box_provenance_and_names(leaky_net, tmp_path):
    net = Network(leaky_net.weights, leaky_net.biases, "leaky_relu", 0.1, input_names=("x1", "x2"))
    box = [[-1.0, 2.0], [-3.0, 0.5]]
    prov = {"dataset": {"name": "moons", "noise": 0.1}, "history": {"loss": [0.5, float("nan")]}, "é": "ü"}
    data = io.checkpoint_bytes(net, box=box, provenance=prov)
    assert data == io.checkpoint_bytes(net, box=box, provenance=prov)  # deterministic
    buf = pyio.BytesIO()
    io.save_checkpoint(buf, net, box=box, provenance=prov)
    assert buf.getvalue() == data
    for source in (data, pyio.BytesIO(data), _write(tmp_path / "c.bin", data)):
        ckpt = io.load(source)
        assert identical(ckpt.net, net) and ckpt.net.input_names == ("x1", "x2")
        np.testing.assert_array_equal(ckpt.box, box)
        assert ckpt.provenance["dataset"] == prov["dataset"] and ckpt.provenance["é"] == "ü"
        assert np.isnan(ckpt.provenance["history"]["loss"][1])
    assert io.load(io.checkpoint_bytes(net)).box is None


def test_checkpoint_is_a_plain_tensor_dict_for_torch_load(small_net):
    d = torch.load(pyio.BytesIO(io.checkpoint_bytes(small_net, box=[[-3, 3], [-3, 3]])), weights_only=True)
    assert d["format"] == io.CHECKPOINT_FORMAT and d["activation"] == "relu" and json.loads(d["provenance"]) == {}
    for t, W in zip(d["weights"], small_net.weights):
        assert t.dtype == torch.float64 and np.array_equal(t.numpy(), W)
    assert d["domain"].shape == (2, 2)


def test_to_module_computes_the_network(leaky_net):
    np.testing.assert_allclose(module_out(io.to_module(leaky_net), X), leaky_net.forward(X), rtol=0, atol=1e-12)
    assert identical(io.from_module(io.to_module(leaky_net)), leaky_net)


# ---- the torch-free reader -------------------------------------------------------------------------
def test_torch_free_reader_equals_torch_load():
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {
        "f32": torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), "f64": base,
        "transposed": base.t(), "sliced": base[1:, ::2], "shared": base[2], "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3), "i64": torch.arange(5), "i32": torch.arange(3, dtype=torch.int32),
        "bool": torch.tensor([True, False]), "f16": torch.tensor([0.5, -1.25], dtype=torch.float16),
        "bf16": torch.tensor([1.5, -3.0, 1e30], dtype=torch.bfloat16), "param": nn.Parameter(torch.ones(2)),
        "list": [1, "a", None, 2.5], "nested": {"deep": torch.ones(1)},
    }
    data = torch_bytes(obj)
    ours = _torchfile.read_pickle(_torchfile.open_archive(data, max_bytes=2**30, budget=Budget(2**26, "t")))
    ref = torch.load(pyio.BytesIO(data), weights_only=True)
    for key in obj:
        if isinstance(ref[key], torch.Tensor):
            expected = (ref[key].float() if ref[key].dtype == torch.bfloat16 else ref[key]).detach().numpy()
            assert ours[key].dtype == expected.dtype and ours[key].shape == expected.shape, key
            np.testing.assert_array_equal(ours[key], expected)
    assert ours["list"] == [1, "a", None, 2.5] and np.array_equal(ours["nested"]["deep"], [1.0])


def test_reading_a_state_dict_or_checkpoint_does_not_import_torch():
    files = [str(ASSETS / f) for f in ("state_dict_2x16.pt", "torchscript_2x16.pt", "moons_2x16.pt")]
    code = (f"import sys, explorer.io as io; [io.load(f) for f in {files!r}]; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ASSETS.parent)
    assert run.returncode == 0, run.stderr


def test_legacy_format_and_odd_globals_fall_back_to_torch_weights_only():
    sd = io.to_module(random_network((4,), seed=5, scale_bias=1.0)).state_dict()
    legacy = torch_bytes(sd, _use_new_zipfile_serialization=False)
    assert identical(io.load_network(legacy), random_network((4,), seed=5, scale_bias=1.0))
    odd = torch_bytes({**sd, "dtype": torch.float32})  # 'torch float32' is not in the reader's vocabulary
    with pytest.raises(ExplorerError, match="unexpected entries 'dtype'"):
        io.load(odd)


# ---- modules: folding, composition, activations ----------------------------------------------------
@pytest.mark.parametrize("layers", [
    lambda: [nn.Linear(2, 5), bn(5, 1), nn.ReLU(), nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1)],  # into previous
    lambda: [nn.Linear(2, 5), nn.ReLU(), bn(5, 2), nn.Linear(5, 1)],  # after an activation: into next
    lambda: [bn(2, 3), nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2), bn(2, 4)],  # input and output BatchNorm
    lambda: [nn.Linear(2, 4), nn.LeakyReLU(0.3), nn.Dropout(0.5), bn(4, 5, affine=False), nn.Linear(4, 1)],
    lambda: [nn.Flatten(), nn.Linear(2, 6), nn.Identity(), nn.Sequential(nn.ReLU(), nn.Sequential(bn(6, 6))),
             nn.Linear(6, 1, bias=False)],
])
def test_batchnorm_folding_matches_the_eval_module(layers):
    torch.manual_seed(0)
    module = nn.Sequential(*layers()).eval()
    net = io.from_module(module)
    np.testing.assert_allclose(net.forward(X), module_out(module, X), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_torchscript_with_batchnorm_and_leaky_relu_matches_the_module(tmp_path, kind):
    torch.manual_seed(1)
    module = nn.Sequential(nn.Linear(2, 5), nn.LeakyReLU(0.1), bn(5, 7), nn.Dropout(), nn.Linear(5, 2)).eval()
    scripted = torch.jit.script(module) if kind == "script" else torch.jit.trace(module, torch.zeros(3, 2))
    torch.jit.save(scripted, str(tmp_path / "m.pt"))
    net = io.load_network(tmp_path / "m.pt")
    assert (net.activation, net.alpha, net.architecture) == ("leaky_relu", 0.1, "2-5-2")
    np.testing.assert_allclose(net.forward(X), module_out(module, X), rtol=0, atol=1e-10)


def test_batchnorm_in_a_state_dict_is_placed_by_the_index_gaps(tmp_path):
    torch.manual_seed(2)
    for layers in ([nn.Linear(2, 4), bn(4, 1, eps=1e-5), nn.ReLU(), nn.Linear(4, 1)],  # ε: torch's default
                   [nn.Linear(2, 4), nn.ReLU(), bn(4, 2, eps=1e-5), nn.Linear(4, 1)]):
        module = nn.Sequential(*layers).eval()
        net = io.load_network(torch_bytes(module.state_dict()))
        np.testing.assert_allclose(net.forward(X), module_out(module, X), rtol=0, atol=1e-10)


def test_consecutive_linear_layers_compose_into_one_map():
    torch.manual_seed(3)
    module = nn.Sequential(nn.Linear(2, 7), nn.Linear(7, 3), nn.ReLU(), nn.Linear(3, 4), nn.Linear(4, 1)).eval()
    for net in (io.from_module(module), io.load_network(torch_bytes(module.state_dict()))):
        assert net.architecture == "2-3-1"
        np.testing.assert_allclose(net.forward(X), module_out(module, X), rtol=0, atol=1e-10)


def test_state_dict_variants_prefixes_nesting_bias_free_and_leaky():
    torch.manual_seed(4)
    module = nn.Sequential(nn.Linear(2, 3, bias=False), nn.LeakyReLU(0.2), nn.Linear(3, 1)).eval()
    sd = module.state_dict()
    ref = module_out(module, X)
    prefixed = {f"module.layers.{k}": v for k, v in sd.items()}
    for source in (sd, prefixed, {"model_state_dict": sd, "epoch": 3}):
        net = io.load_network(torch_bytes(source), activation="leaky_relu:0.2")
        np.testing.assert_allclose(net.forward(X), ref, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(net.biases[0], np.zeros(3))
    relu_net = io.load_network(torch_bytes(sd))  # ReLU unless told otherwise
    assert relu_net.activation == "relu"


def test_named_modules_get_one_activation_between_linear_layers():
    torch.manual_seed(5)
    sd = {f"fc{k}.{p}": v for k, lin in enumerate([nn.Linear(2, 4), nn.Linear(4, 3), nn.Linear(3, 1)])
          for p, v in lin.state_dict().items()}
    net = io.load_network(torch_bytes(sd))
    assert net.architecture == "2-4-3-1"


# ---- ONNX ------------------------------------------------------------------------------------------
def test_onnx_export_equals_the_state_dict(tmp_path):
    pytest.importorskip("onnx")
    torch.manual_seed(6)
    module = nn.Sequential(nn.Linear(2, 5), nn.LeakyReLU(0.1), nn.Linear(5, 4), nn.LeakyReLU(0.1),
                           nn.Linear(4, 2)).eval()
    torch.onnx.export(module, (torch.zeros(1, 2),), str(tmp_path / "m.onnx"), dynamo=False)
    net = io.load_network(tmp_path / "m.onnx")
    assert identical(net, io.load_network(torch_bytes(module.state_dict()), activation="leaky_relu:0.1"))


def test_onnx_matmul_add_and_unsupported_operators():
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal((3, 1))

    def model(act: str) -> bytes:
        nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["g"]),
                 helper.make_node(act, ["g"], ["a"]), helper.make_node("MatMul", ["a", "W2"], ["y"])]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, 2])],
                                  [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, 1])],
                                  [numpy_helper.from_array(a, n) for a, n in ((W1, "W1"), (b1, "b1"), (W2, "W2"))])
        return helper.make_model(graph).SerializeToString()

    net = io.load_network(model("Relu"))
    np.testing.assert_allclose(net.forward(X), np.maximum(X @ W1 + b1, 0) @ W2, rtol=0, atol=1e-12)
    with pytest.raises(ExplorerError, match="unsupported ONNX operator Tanh"):
        io.load(model("Tanh"))


# ---- refusals ----------------------------------------------------------------------------------------
class _Payload:
    """Unpickling this would run code: write a marker file via exec or os.system."""

    def __init__(self, marker: str, via: str) -> None:
        self.marker, self.via = marker, via

    def __reduce__(self):
        if self.via == "system":
            return os.system, (f"touch '{self.marker}'",)
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


@pytest.mark.parametrize("via", ["exec", "system"])
@pytest.mark.parametrize("wrap", ["zip", "legacy", "plain pickle", "inside a state_dict"])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, via, wrap):
    marker = tmp_path / "marker"
    payload = _Payload(str(marker), via)
    data = {"zip": lambda: torch_bytes(payload),
            "legacy": lambda: torch_bytes(payload, _use_new_zipfile_serialization=False),
            "plain pickle": lambda: pickle.dumps(payload),
            "inside a state_dict": lambda: torch_bytes({"0.weight": torch.ones(1, 2), "0.bias": payload})}[wrap]()
    message = "plain Python pickle" if wrap == "plain pickle" else "would run code.*nothing was executed"
    with pytest.raises(ExplorerError, match=message):
        io.load(data, filename="evil.pt")
    assert not marker.exists()


def test_non_network_files_are_refused(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    with pytest.raises(ExplorerError, match=r"not a network file.*PNG"):
        io.load(png)
    with pytest.raises(ExplorerError, match="notes.txt' is not a network file"):
        io.load(_write(tmp_path / "notes.txt", b"hello, these are my notes"))
    with pytest.raises(ExplorerError, match="no file"):
        io.load(tmp_path / "missing.pt")
    with pytest.raises(ExplorerError, match="is empty"):
        io.load(b"")
    with pytest.raises(ExplorerError, match="binary mode"):
        io.load(pyio.StringIO("text"))
    with pytest.raises(ExplorerError, match="cannot read a network from a int"):
        io.load(42)
    zipped = pyio.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("readme.txt", "not torch")
    with pytest.raises(ExplorerError, match="holds no PyTorch data.pkl"):
        io.load(zipped.getvalue())


def test_truncated_or_corrupt_archives_are_refused(small_net):
    data = io.checkpoint_bytes(small_net)
    with pytest.raises(ExplorerError, match="not a readable PyTorch file"):
        io.load(data[: len(data) // 2])
    member = "checkpoint/data/0"
    broken = pyio.BytesIO()
    with zipfile.ZipFile(pyio.BytesIO(data)) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name)[:8] if name == member else src.read(name))
    with pytest.raises(ExplorerError, match="damaged, truncated or too large.*storage 0"):
        io.load(broken.getvalue())


@pytest.mark.parametrize("layers, message", [
    (lambda: [nn.Conv1d(1, 2, 3)], "unsupported layer Conv1d"),
    (lambda: [nn.Conv2d(1, 2, 3)], r"does not record its input size.*input_shape \[1, H, W\]"),
    (lambda: [nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)], r"unsupported layer Tanh '1'"),
    (lambda: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(4, 1)], "expects 4 inputs but the layer before it gives 3"),
    (lambda: [], "empty"),
    (lambda: [nn.ReLU(), nn.Dropout()], "empty"),
    (lambda: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.LeakyReLU(0.1), nn.Linear(3, 1)],
     r"mixes two activations, ReLU '1' and LeakyReLU\(0.1\) '3'"),
    (lambda: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.ReLU()], r"ends with an activation \(ReLU '3'\)"),
    (lambda: [nn.Linear(2, 3), nn.LeakyReLU(1.5), nn.Linear(3, 1)], r"slope must lie in \(0, 1\)"),
    (lambda: [nn.Linear(2, 3), nn.BatchNorm1d(3, track_running_stats=False), nn.Linear(3, 1)],
     "no running statistics"),
])
def test_unsupported_or_inconsistent_modules_are_refused(layers, message):
    with pytest.raises(ExplorerError, match=message):
        io.from_module(nn.Sequential(*layers()).eval())


def test_torchscript_with_an_unsupported_layer_names_it(tmp_path):
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))), str(tmp_path / "t.pt"))
    with pytest.raises(ExplorerError, match="unsupported layer Tanh '1'"):
        io.load(tmp_path / "t.pt")


def test_bad_state_dicts_are_refused():
    W = torch.ones(3, 2)
    cases = [
        ({"0.weight": W, "0.bias": torch.ones(3), "0.foo": W}, "unexpected keys '0.foo'"),
        ({"0.weight": torch.ones(4, 1, 3, 3)},
         r"module '0' \(keys weight; weight of shape \(4, 1, 3, 3\)\) is neither.*Conv2d"),
        ({"0.weight": W, "2.weight": torch.ones(1, 4)}, "expects 4 inputs but the layer before it gives 3"),
        ({"0.weight": W, "0.bias": torch.tensor([1.0, float("nan"), 0.0]), "2.weight": torch.ones(1, 3)},
         "NaN or infinite"),
        ({"0.weight": W, "0.bias": torch.ones(4)}, "bias has 4 entries but the weight has 3 rows"),
        ({}, "state_dict is empty"),
        ({"weight": W}, "unexpected entries 'weight'"),
        ({"fc.weight": W, "bn.running_mean": torch.zeros(3), "bn.running_var": torch.ones(3),
          "out.weight": torch.ones(1, 3)}, "BatchNorm 'bn' among named modules"),
        ({**{f"0.{k}": v for k, v in {"weight": W}.items()}, **{f"2.{k}": v for k, v in bn(3, 0).state_dict().items()},
          "4.weight": torch.ones(1, 3)}, "ambiguous"),
    ]
    for sd, message in cases:
        with pytest.raises(ExplorerError, match=message):
            io.load(torch_bytes(sd))
    with pytest.raises(ExplorerError, match="holds a single tensor, not a state_dict"):
        io.load(torch_bytes(W))


def test_size_limits_and_activation_conflicts(monkeypatch, small_net, tmp_path):
    data = io.checkpoint_bytes(small_net)
    with pytest.raises(ExplorerError, match="leave the activation out"):
        io.load(data, activation="leaky_relu:0.1")
    assert identical(io.load_network(data, activation="relu"), small_net)
    expanded = torch_bytes({"0.weight": torch.zeros(1, 1).expand(100_000, 10_000)})  # 1.6 kB, 10⁹ elements
    with pytest.raises(ExplorerError, match=r"tensor of shape \(100000, 10000\) would need 1,000,000,000 array "
                                            r"elements \(7,629 MB\).*\(512 MB\) in all"):
        io.load(expanded)
    monkeypatch.setattr(io, "MAX_PARAMETERS", 10)
    with pytest.raises(ExplorerError, match="parameters; the limit is 10"):
        io.load(data)
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ExplorerError, match="big.pt' is larger than the limit of 0.000953674 MB"):
        io.load(_write(tmp_path / "big.pt", data))
    with pytest.raises(ExplorerError, match="the uploaded file is larger than the limit"):
        io.load(pyio.BytesIO(data))


def test_bad_checkpoint_requests_are_refused(small_net):
    with pytest.raises(ExplorerError, match=r"box must be 2 finite \[lo, hi\] pairs"):
        io.checkpoint_bytes(small_net, box=[[1, 0], [0, 1]])
    with pytest.raises(ExplorerError, match="JSON-able"):
        io.checkpoint_bytes(small_net, provenance={"x": object()})
    with pytest.raises(ExplorerError, match="needs an explorer Network"):
        io.checkpoint_bytes(nn.Linear(2, 1))
    newer = _torchfile.archive_bytes({"format": io.CHECKPOINT_FORMAT, "version": 99})
    with pytest.raises(ExplorerError, match="version 99"):
        io.load(newer)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
