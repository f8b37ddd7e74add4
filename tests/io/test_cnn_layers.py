"""Every CNN layer folded into the dense Network equals torch's float64 forward pass, and its activation
patterns are torch's activations; BatchNorm never becomes a dense diagonal; refusals say why."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from torch import nn

from explorer.errors import ExplorerError
from explorer.io import files as io

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seeded(layers: list, seed: int) -> nn.Sequential:
    """An eval-mode float64 Sequential; BatchNorms get non-trivial statistics."""
    torch.manual_seed(seed)
    module = nn.Sequential(*layers).double().eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module:
            if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = layer.num_features
                layer.running_mean.copy_(torch.randn(n, generator=gen, dtype=torch.float64))
                layer.running_var.copy_(torch.rand(n, generator=gen, dtype=torch.float64) + 0.3)
                layer.weight.copy_(torch.randn(n, generator=gen, dtype=torch.float64))
                layer.bias.copy_(torch.randn(n, generator=gen, dtype=torch.float64))
    return module


def torch_forward(module: nn.Sequential, x: np.ndarray, shape: tuple) -> tuple[np.ndarray, list]:
    """Output (B, n_out) and the input of every activation layer (B, units), flattened in torch's order."""
    h = torch.from_numpy(x.reshape(len(x), *shape))
    pre = []
    with torch.no_grad():
        for layer in module:
            if isinstance(layer, (nn.ReLU, nn.LeakyReLU)):
                pre.append(h.reshape(len(x), -1).numpy().copy())
            h = layer(h)
    return h.reshape(len(x), -1).numpy(), pre


def assert_folds_exactly(module: nn.Sequential, shape: tuple, *, seed: int = 0):
    """Forward equality to 1e-12 (relative to the output's scale) and patterns equal torch's activations."""
    net = io.from_module(module, input_shape=shape)
    x = np.random.default_rng(seed).standard_normal((64, int(np.prod(shape))))
    ref, pre = torch_forward(module, x, shape)
    out = net.forward(x)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))
    ours = net.preactivations(x)
    assert len(ours) >= len(pre)
    for g, p in zip(ours, pre):  # the conv / linear layers' units are torch's pre-activations
        if g.shape == p.shape:
            clear = np.abs(p) > 1e-9 * max(1.0, np.abs(p).max())
            assert np.array_equal((g > 0)[clear], (p > 0)[clear])
    return net


# ---- convolutions ---------------------------------------------------------------------------------------
@st.composite
def conv_layers(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    ci, co = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("valid"),
                             st.just("same") if stride == (1, 1) else st.just(0)))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    layer = nn.Conv2d(ci, co, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups,
                      bias=draw(st.booleans()))
    return layer, (ci, H, W)


def fits(layers: list, shape: tuple) -> tuple | None:
    """torch's output shape of the layers on one input, or None if torch refuses it (or gives -inf)."""
    try:
        with torch.no_grad():
            out = nn.Sequential(*layers).double()(torch.zeros(1, *shape, dtype=torch.float64))
    except RuntimeError:
        return None
    return tuple(out.shape[1:]) if torch.isfinite(out).all() else None


@SETTINGS
@given(conv=conv_layers(), leaky=st.booleans(), seed=st.integers(0, 999))
def test_conv2d_equals_torch(conv, leaky, seed):
    layer, shape = conv
    out = fits([layer], shape)
    assume(out is not None)
    act = nn.LeakyReLU(0.1) if leaky else nn.ReLU()
    module = seeded([layer, act, nn.Flatten(), nn.Linear(int(np.prod(out)), 2)], seed)
    net = assert_folds_exactly(module, shape, seed=seed)
    assert net.n_hidden == int(np.prod(out)) and net.unit_labels[0] == "conv1[c=0,y=0,x=0]"


# ---- pooling --------------------------------------------------------------------------------------------
@st.composite
def avgpools(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    return nn.AvgPool2d(k, stride=stride, padding=padding, ceil_mode=draw(st.booleans()),
                        count_include_pad=draw(st.booleans()),
                        divisor_override=draw(st.one_of(st.none(), st.integers(1, 5))))


@SETTINGS
@given(pool=avgpools(), H=st.integers(1, 7), W=st.integers(1, 7), seed=st.integers(0, 999))
def test_avgpool2d_equals_torch_alone_and_after_a_convolution(pool, H, W, seed):
    assume(fits([pool], (2, H, W)) is not None)
    assert_folds_exactly(seeded([pool], seed), (2, H, W), seed=seed)
    conv = nn.Conv2d(1, 2, 2, padding=1)
    out = fits([conv, pool], (1, H, W))
    assume(out is not None)
    module = seeded([conv, nn.ReLU(), pool, nn.Flatten(), nn.Linear(int(np.prod(out)), 3)], seed)
    assert_folds_exactly(module, (1, H, W), seed=seed)


@st.composite
def maxpools(draw):
    k = draw(st.sampled_from([(1, 1), (1, 2), (2, 1)]))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 2), st.integers(1, 2))))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    return nn.MaxPool2d(k, stride=stride, padding=padding, dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
                        ceil_mode=draw(st.booleans()))


@SETTINGS
@given(pool=maxpools(), H=st.integers(2, 6), W=st.integers(2, 6), seed=st.integers(0, 999))
def test_two_value_maxpool_is_exact_and_its_units_compare_the_window(pool, H, W, seed):
    conv = nn.Conv2d(1, 2, 2)
    out = fits([conv, pool], (1, H, W))
    assume(out is not None)
    module = seeded([conv, nn.ReLU(), pool, nn.Flatten(), nn.Linear(int(np.prod(out)), 2)], seed)
    net = assert_folds_exactly(module, (1, H, W), seed=seed)
    assert net.architecture.startswith(f"1x{H}x{W}-conv2x2(2)-maxpool")
    pooled = net.hidden_widths[1]
    assert net.pooling_units == pooled and pooled >= int(np.prod(out))
    labels = net.unit_labels[-pooled:]
    assert all(l.startswith("maxpool1[") and l.endswith((":compare", ":pass")) for l in labels)
    x = np.random.default_rng(seed).standard_normal((64, H * W))
    _, pre = torch_forward(module, x, (1, H, W))
    relu = np.maximum(pre[0], 0)
    g = net.preactivations(x)[1]
    def is_relu_output(values):
        return np.any(np.all(np.isclose(relu, values[:, None], rtol=0, atol=1e-12), axis=0))

    for j, label in enumerate(labels):  # pass: b, one ReLU output; compare: a − b with a another one
        assert is_relu_output(g[:, j] + (g[:, j + 1] if label.endswith(":compare") else 0.0))
        if label.endswith(":compare"):
            assert labels[j + 1] == label.replace(":compare", ":pass")


@pytest.mark.parametrize("layers, message", [
    (lambda: [nn.Conv2d(1, 2, 2), nn.ReLU(), nn.MaxPool2d(2)], r"maximum of 4 values.*counts would be too high"),
    (lambda: [nn.Conv2d(1, 2, 2), nn.LeakyReLU(0.1), nn.MaxPool2d((1, 2))], "negative after a LeakyReLU"),
    (lambda: [nn.MaxPool2d((1, 2)), nn.Flatten(), nn.Linear(6, 1)], "network's input without a ReLU"),
    (lambda: [nn.Conv2d(1, 2, 2), nn.MaxPool2d((1, 2))], "Conv2d '0' without a ReLU"),
    (lambda: [nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Linear(3, 1)], "Put a Flatten layer before it"),
    (lambda: [nn.Conv2d(2, 2, 2)], "expects 2 input channels but receives 1"),
    (lambda: [nn.Conv2d(1, 2, 9)], "larger than the padded input"),
    (lambda: [nn.Conv2d(1, 2, 2, padding_mode="reflect")], "only padding_mode='zeros'"),
    (lambda: [nn.MaxPool2d((1, 2), return_indices=True)], "returns indices"),
    (lambda: [nn.Flatten(), nn.BatchNorm2d(16)], "normalises 16 channels of a feature map but receives 16 features"),
    (lambda: [nn.Conv2d(1, 2, 3, groups=1), nn.Flatten(0)], r"only Flatten\(\)"),
])
def test_unsupported_cnn_layers_are_refused_with_the_reason(layers, message):
    with pytest.raises(ExplorerError, match=message):
        io.from_module(nn.Sequential(*layers()).eval(), input_shape=(1, 4, 4))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)


def test_residual_blocks_are_refused_in_modules_and_torchscript(tmp_path):
    module = nn.Sequential(Residual(), nn.Flatten(), nn.Linear(16, 1)).eval()
    with pytest.raises(ExplorerError, match="unsupported layer Residual '0'.*residual connections"):
        io.from_module(module, input_shape=(1, 4, 4))
    torch.jit.save(torch.jit.script(module), str(tmp_path / "r.pt"))
    with pytest.raises(ExplorerError, match="unsupported layer Residual '0'.*residual blocks"):
        io.load(tmp_path / "r.pt", layers={"input_shape": [1, 4, 4]})


# ---- BatchNorm, Flatten, Dropout, Identity -----------------------------------------------------------------
@pytest.mark.parametrize("layers", [
    lambda: [nn.Conv2d(2, 3, 2), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2)],  # rows of conv
    lambda: [nn.BatchNorm2d(2), nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(75, 1)],  # columns
    lambda: [nn.Conv2d(2, 3, 2), nn.ReLU(), nn.BatchNorm2d(3), nn.AvgPool2d(2), nn.Conv2d(3, 2, 2), nn.ReLU(),
             nn.Flatten(), nn.Dropout(), nn.Linear(2, 2)],  # after a ReLU: into pooling and the next conv
    lambda: [nn.Conv2d(2, 2, 3), nn.ReLU(), nn.Flatten(), nn.BatchNorm1d(18), nn.Identity(), nn.Linear(18, 4),
             nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2)],  # 1-D, and at the output
    lambda: [nn.Conv2d(2, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)],  # a feature map as the output
])
def test_batchnorm_folds_into_its_neighbours(layers):
    assert_folds_exactly(seeded(layers(), 3), (2, 5, 5))


def test_a_wide_batchnorm_is_never_a_dense_diagonal():
    """50,000 features: a dense diagonal would take 20 GB; folding as a row or column scaling takes MBs."""
    for layers in ([nn.Linear(2, 50_000), nn.BatchNorm1d(50_000), nn.ReLU(), nn.Linear(50_000, 1)],
                   [nn.Linear(2, 50_000), nn.ReLU(), nn.BatchNorm1d(50_000), nn.Linear(50_000, 1)],
                   [nn.BatchNorm1d(50_000), nn.Linear(50_000, 1)]):
        module = seeded(layers, 1)
        tracemalloc.start()
        start = time.perf_counter()
        net = io.from_module(module)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 30e6 and time.perf_counter() - start < 5
        x = np.random.default_rng(0).standard_normal((8, net.n_inputs))
        with torch.no_grad():
            ref = module(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(net.forward(x), ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


# ---- shapes, names, budgets ---------------------------------------------------------------------------------
def test_input_shape_is_part_of_the_network_and_named_in_its_architecture():
    module = seeded([nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                     nn.Linear(32, 10)], 0)
    net = io.from_module(module, input_shape=(1, 8, 8))
    assert net.input_shape == (1, 8, 8) and net.architecture == "1x8x8-conv3x3(4)-conv3x3(8)-10"
    assert net.unit_labels[:2] == ("conv1[c=0,y=0,x=0]", "conv1[c=0,y=0,x=1]")
    assert net.unit_labels[-1] == "conv2[c=7,y=3,x=3]" and len(net.unit_labels) == net.n_hidden == 272
    assert net.truncated(1).architecture == "1x8x8-conv3x3(4)-144"
    sliced = net.with_first_layer(net.weights[0][:, :2], net.biases[0])
    assert sliced.input_shape == () and sliced.architecture == "2-conv3x3(4)-conv3x3(8)-10"
    ckpt = io.load(io.checkpoint_bytes(net))
    assert ckpt.net.architecture == net.architecture and ckpt.net.unit_labels == net.unit_labels
    plain = io.from_module(seeded([nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)], 0))
    assert plain.architecture == "2-3-1" and plain.unit_labels == () and plain.unit_names()[0] == "layer 1 unit 1"


def test_input_sizes_are_inferred_when_one_square_fits_and_asked_for_otherwise():
    inferred = io.from_module(seeded([nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)], 0))
    assert inferred.input_shape == (1, 8, 8)  # 8x8 is the only square input giving Linear its 144 features
    with pytest.raises(ExplorerError, match=r"2 input sizes fit.*input_shape \[1, H, W\]"):
        io.from_module(seeded([nn.Conv2d(1, 2, 3, stride=2), nn.Flatten(), nn.Linear(18, 1)], 0))
    with pytest.raises(ExplorerError, match=r"starts with AvgPool2d '0'.*input_shape"):
        io.from_module(seeded([nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 1)], 0))


def test_large_convolutions_are_refused_before_allocating(monkeypatch):
    module = seeded([nn.Conv2d(1, 64, 3), nn.ReLU(), nn.Conv2d(64, 1, 1)], 0)
    start = time.perf_counter()
    with pytest.raises(ExplorerError, match=r"Conv2d '0' as a sparse matrix would need 115,612,672 array elements"):
        io.from_module(module, input_shape=(1, 256, 256))
    pointwise = seeded([nn.Conv2d(1, 8, 1), nn.ReLU(), nn.Conv2d(8, 1, 1)], 0)  # sparse: 131,072 entries
    with pytest.raises(ExplorerError, match=r"parameters once its layers are written as dense matrices "
                                            r"\(hidden layer 1 \(conv1x1\(8\)\): 32,768 x 4,096\).*5,000,000"):
        io.from_module(pointwise, input_shape=(1, 64, 64))
    monkeypatch.setattr(io, "MAX_FILE_ELEMENTS", 1000)
    with pytest.raises(ExplorerError, match=r"Conv2d '0' as a sparse matrix would need [\d,]+ array elements.*1,000"):
        io.from_module(module, input_shape=(1, 8, 8))
    assert time.perf_counter() - start < 2
