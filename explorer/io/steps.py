"""The layer steps every reader produces: validated, torch-free records of one layer each.

A reader (state_dict, JSON description, TorchScript, ONNX, torch module) turns its source into a flat list
of these steps; ``explorer.io.fold`` then writes them as the canonical dense Network.  Affine and Act are
what an MLP needs; Scale (BatchNorm in eval mode, per feature or per channel), Bias (a constant added),
Conv (torch's Conv2d with zero padding), Pool (AvgPool2d / MaxPool2d) and Flatten carry the shapes of
convolutional networks.  Modules that are the identity at inference (Identity, Dropout) leave no step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import parse_activation
from .dtypes import as_float64

__all__ = ["Affine", "Act", "Scale", "Bias", "Conv", "Pool", "Flatten", "act_step", "batchnorm", "linear",
           "conv", "pool", "pair", "as_vector", "PAD_MODES"]

PAD_MODES = ("same_upper", "same_lower")  # padding fixed only once the input size is known


@dataclass(frozen=True)
class Affine:
    """y = W x + b on a feature vector; W of shape (n_out, n_in), b of shape (n_out,)."""

    W: np.ndarray
    b: np.ndarray
    label: str


@dataclass(frozen=True)
class Act:
    """An activation σ with slope α on the negative side (α = 0: ReLU)."""

    name: str
    alpha: float
    label: str


@dataclass(frozen=True)
class Scale:
    """y = s ⊙ x + t: eval-mode BatchNorm.  ``per`` is 'feature' (BatchNorm1d: entries of a vector),
    'channel' (BatchNorm2d: channels of a feature map) or 'axis1' (ONNX: whichever the input has)."""

    s: np.ndarray
    t: np.ndarray
    per: str
    label: str


@dataclass(frozen=True)
class Bias:
    """y = x + v with a constant v broadcast to the running shape (ONNX Add)."""

    value: np.ndarray
    label: str


@dataclass(frozen=True)
class Conv:
    """torch's Conv2d with zero padding: weight (C_out, C_in / groups, kh, kw), bias (C_out,).

    stride and dilation are (vertical, horizontal); padding is (top, bottom, left, right) or one of
    PAD_MODES (ONNX auto_pad; torch's padding='same' is 'same_upper' at stride 1).
    """

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple
    padding: tuple | str
    dilation: tuple
    groups: int
    label: str

    def describe(self) -> str:
        kh, kw = self.weight.shape[2:]
        return (f"conv{kh}x{kw}{_suffix('s', self.stride, (1, 1))}{_pad_suffix(self.padding)}"
                f"{_suffix('d', self.dilation, (1, 1))}{'' if self.groups == 1 else f'g{self.groups}'}"
                f"({self.weight.shape[0]})")


@dataclass(frozen=True)
class Pool:
    """torch's AvgPool2d (kind 'avg') or MaxPool2d (kind 'max') over windows of a feature map.

    kernel, stride, dilation: (vertical, horizontal); padding as for Conv.  Average pooling divides by
    divisor_override if set, else by the window's size counted with the padding (count_include_pad) or
    without it, exactly as torch does.
    """

    kind: str
    kernel: tuple
    stride: tuple
    padding: tuple | str
    dilation: tuple
    ceil_mode: bool
    count_include_pad: bool
    divisor_override: int | None
    label: str

    def describe(self) -> str:
        kh, kw = self.kernel
        return (f"{self.kind}pool{kh if kh == kw else f'{kh}x{kw}'}{_suffix('s', self.stride, self.kernel)}"
                f"{_pad_suffix(self.padding)}{_suffix('d', self.dilation, (1, 1))}")


@dataclass(frozen=True)
class Flatten:
    """A feature map (C, H, W) read as the vector of C·H·W features, in torch's order; ``size``, if set,
    is the number of features the file expects (an ONNX Reshape to a fixed width)."""

    label: str
    size: int | None = None


def act_step(activation: str | None, label: str) -> Act:
    """The activation step for 'relu' / 'leaky_relu:ALPHA' (None means ReLU)."""
    name, alpha = parse_activation(activation or "relu")
    return Act(name, alpha, label)


def linear(W, b, label: str) -> Affine:
    """A Linear / Gemm step; b None means no bias."""
    if not isinstance(W, np.ndarray) or W.ndim != 2:
        raise ExplorerError(f"{label}: the weight must be a matrix; got {getattr(W, 'shape', type(W).__name__)}.")
    b = np.zeros(W.shape[0]) if b is None else as_vector(b, label, "bias")
    if b.size != W.shape[0]:
        raise ExplorerError(f"{label}: the bias has {b.size} entries but the weight has {W.shape[0]} rows.")
    return Affine(as_float64(W, f"{label}: the weight"), b, label)


def batchnorm(gamma, beta, mean, var, eps: float, label: str, *, per: str = "feature") -> Scale:
    """Eval-mode BatchNorm as y = s ⊙ x + (β − s ⊙ μ) with s = γ / sqrt(var + ε) (γ, β None: 1, 0)."""
    mean, var = as_vector(mean, label, "running_mean"), as_vector(var, label, "running_var")
    n = mean.size
    gamma = np.ones(n) if gamma is None else as_vector(gamma, label, "weight")
    beta = np.zeros(n) if beta is None else as_vector(beta, label, "bias")
    if not (gamma.size == beta.size == var.size == n):
        raise ExplorerError(f"{label}: BatchNorm parameters have different lengths "
                            f"({gamma.size}, {beta.size}, {n}, {var.size}); the file is inconsistent.")
    if not (np.isfinite(eps) and np.all(var + eps > 0)):
        raise ExplorerError(f"{label}: BatchNorm running_var + eps must be positive; got a minimum of "
                            f"{float(np.min(var + eps)) if n else eps}. The file is damaged.")
    s = gamma / np.sqrt(var + eps)
    return Scale(s, beta - s * mean, per, label)


def conv(weight, bias, *, stride, padding, dilation, groups, label: str) -> Conv:
    """A validated Conv step (bias None means no bias); see :class:`Conv` for the forms of the arguments."""
    if not isinstance(weight, np.ndarray) or weight.ndim != 4 or 0 in weight.shape:
        raise ExplorerError(f"{label}: a Conv2d weight must have 4 non-empty axes (C_out, C_in/groups, kh, kw); "
                            f"got shape {getattr(weight, 'shape', type(weight).__name__)}.")
    groups = _int(groups, label, "groups", 1)
    if weight.shape[0] % groups:
        raise ExplorerError(f"{label}: {weight.shape[0]} output channels cannot be split into {groups} groups.")
    bias = np.zeros(weight.shape[0]) if bias is None else as_vector(bias, label, "bias")
    if bias.size != weight.shape[0]:
        raise ExplorerError(f"{label}: the bias has {bias.size} entries for {weight.shape[0]} output channels.")
    return Conv(as_float64(weight, f"{label}: the weight"), bias, pair(stride, label, "stride", 1),
                _padding(padding, label),
                pair(dilation, label, "dilation", 1), groups, label)


def pool(kind: str, *, kernel, stride, padding, dilation=1, ceil_mode=False, count_include_pad=True,
         divisor_override=None, label: str) -> Pool:
    """A validated Pool step; stride None means the kernel size (torch's default)."""
    kernel = pair(kernel, label, "kernel_size", 1)
    stride = kernel if stride is None or stride == [] else pair(stride, label, "stride", 1)
    if divisor_override is not None:
        divisor_override = _int(divisor_override, label, "divisor_override", 1)
    for name, flag in (("ceil_mode", ceil_mode), ("count_include_pad", count_include_pad)):
        if not isinstance(flag, (bool, np.bool_)) and flag not in (0, 1):
            raise ExplorerError(f"{label}: {name} must be true or false; got {flag!r}.")
    return Pool(kind, kernel, stride, _padding(padding, label), pair(dilation, label, "dilation", 1),
                bool(ceil_mode), bool(count_include_pad), divisor_override, label)


def pair(value, label: str, what: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (vertical, horizontal), each at least ``minimum``."""
    values = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(values) != 2:
        raise ExplorerError(f"{label}: {what} must be one integer or two; got {value!r}.")
    return tuple(_int(v, label, what, minimum) for v in values)


def as_vector(v, label: str, what: str) -> np.ndarray:
    if not isinstance(v, np.ndarray) or v.ndim != 1:
        raise ExplorerError(f"{label}: {what} must be a vector; got {getattr(v, 'shape', type(v).__name__)}.")
    return as_float64(v, f"{label}: {what}")


def _padding(value, label: str) -> tuple | str:
    """Zero padding as (top, bottom, left, right), 'valid' as zeros, 'same' (stride 1) as 'same_upper'."""
    if isinstance(value, str):
        mode = value.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode in ("same", *PAD_MODES):
            return "same_upper" if mode == "same" else mode
        raise ExplorerError(f"{label}: unknown padding {value!r}; use an integer, a pair, 'valid' or 'same'.")
    values = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(values) == 2:
        values = [values[0], values[0], values[1], values[1]]
    if len(values) != 4:
        raise ExplorerError(f"{label}: padding must be one integer, a pair or four integers; got {value!r}.")
    return tuple(_int(v, label, "padding", 0) for v in values)


def _int(value, label: str, what: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ExplorerError(f"{label}: {what} must be an integer of at least {minimum}; got {value!r}.")
    return int(value)


def _suffix(prefix: str, values: tuple, default: tuple) -> str:
    if tuple(values) == tuple(default):
        return ""
    return prefix + (str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}")


def _pad_suffix(padding) -> str:
    if isinstance(padding, str):
        return "same" if padding == "same_upper" else padding.replace("_", "")
    t, b, l, r = padding
    if t == b == l == r:
        return "" if t == 0 else f"p{t}"
    return f"p{t}x{l}" if (t, l) == (b, r) else "p" + ",".join(str(v) for v in padding)
