"""Convolution and pooling written as sparse matrices on flattened feature maps, exactly as torch computes them.

A feature map (C, H, W) is the vector of its C·H·W entries in torch's order (index (c·H + y)·W + x).  Along
one axis of length n, output o of a kernel of size k, stride s, dilation d and padding (p_begin, p_end)
reads the inputs o·s − p_begin + j·d for j < k that lie in [0, n); outside that range the padding is zero
(Conv2d, AvgPool2d) or ignored (MaxPool2d).  Every 2-D window is the product of one window per axis, so

    Conv2d     = Σ_{ky, kx} kron(W[:, :, ky, kx] (block-diagonal over groups), kron(S_y(ky), S_x(kx)))
    AvgPool2d  = kron(I_C, kron(A_y, A_x))

with S(k) the 0/1 matrix selecting input o·s − p + k·d for output o, and A the averaging matrix whose
entries are 1/(window size along that axis), with the window size counted as torch counts it.  Sizes
are computed first and charged to the file's Budget before any array is built.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .budget import Budget
from .steps import Conv, Pool
from ..errors import ExplorerError

__all__ = ["out_shape", "conv_matrix", "avgpool_matrix", "maxpool_windows"]


def out_shape(step: Conv | Pool, shape: tuple) -> tuple[int, int, int]:
    """Shape (C, H, W) of the step's output for an input of shape (C, H, W); raises if they do not fit."""
    C, H, W = shape
    if isinstance(step, Conv):
        in_channels = step.weight.shape[1] * step.groups
        if C != in_channels:
            raise ExplorerError(f"{step.label} expects {in_channels} input channels but receives {C} "
                                f"(a {C}x{H}x{W} feature map); the layer shapes do not chain.")
        kernel, ceil_mode, channels = step.weight.shape[2:], False, step.weight.shape[0]
    else:
        kernel, ceil_mode, channels = step.kernel, step.ceil_mode, C
    sizes = [_axis(n, k, s, pads, d, ceil_mode, step.label, axis) for n, k, s, pads, d, axis in
             zip((H, W), kernel, step.stride, _pads(step, H, W), step.dilation, ("height", "width"))]
    return (channels, *sizes)


def conv_matrix(step: Conv, shape: tuple, budget: Budget):
    """The convolution as a sparse (C_out·H_out·W_out, C_in·H·W) matrix and its bias vector."""
    C, H, W = shape
    Co, Cig, kh, kw = step.weight.shape
    _, Ho, Wo = out_shape(step, shape)
    (pt, pb), (pl, pr) = _pads(step, H, W)
    budget.allocate(3 * Co * Cig * kh * kw * Ho * Wo + Co * Ho * Wo, f"{step.label} as a sparse matrix")
    group = np.arange(Co) // (Co // step.groups)  # group of every output channel
    cols = group[:, None] * Cig + np.arange(Cig)[None, :]  # (Co, Cig) input channel of each weight column
    total = sp.csr_array((Co * Ho * Wo, C * H * W))
    for ky in range(kh):
        Sy = _selection(Ho, H, step.stride[0], pt, ky * step.dilation[0])
        for kx in range(kw):
            Sx = _selection(Wo, W, step.stride[1], pl, kx * step.dilation[1])
            block = sp.csr_array((step.weight[:, :, ky, kx].ravel(), (np.repeat(np.arange(Co), Cig), cols.ravel())),
                                 shape=(Co, C))
            total = total + sp.kron(block, sp.kron(Sy, Sx, format="csr"), format="csr")
    return total.tocsr(), np.repeat(step.bias, Ho * Wo)


def avgpool_matrix(step: Pool, shape: tuple, budget: Budget):
    """Average pooling as a sparse (C·H_out·W_out, C·H·W) matrix (torch's divisor rules)."""
    C, H, W = shape
    _, Ho, Wo = out_shape(step, shape)
    if step.dilation != (1, 1):
        raise ExplorerError(f"{step.label}: average pooling with dilation is not supported.")
    budget.allocate(3 * C * Ho * Wo * step.kernel[0] * step.kernel[1], f"{step.label} as a sparse matrix")
    by_axis = []
    for n, out, k, s, (p0, p1) in zip((H, W), (Ho, Wo), step.kernel, step.stride, _pads(step, H, W)):
        rows, cols, vals = [], [], []
        for o in range(out):
            start = o * s - p0
            end = min(start + k, n + p1)
            lo, hi = max(start, 0), min(end, n)
            if hi <= lo:
                raise ExplorerError(f"{step.label}: a pooling window lies entirely in the padding; reduce the padding.")
            size = (end - start) if step.count_include_pad else (hi - lo)
            weight = 1.0 if step.divisor_override is not None else 1.0 / size
            rows += [o] * (hi - lo)
            cols += range(lo, hi)
            vals += [weight] * (hi - lo)
        by_axis.append(sp.csr_array((vals, (rows, cols)), shape=(out, n)))
    matrix = sp.kron(sp.eye_array(C, format="csr"), sp.kron(*by_axis, format="csr"), format="csr")
    if step.divisor_override is not None:
        matrix = matrix / float(step.divisor_override)
    return matrix.tocsr()


def maxpool_windows(step: Pool, shape: tuple) -> list[list[int]]:
    """For every output entry (C-major order), the flat indices of the inputs its window reads."""
    C, H, W = shape
    _, Ho, Wo = out_shape(step, shape)
    (pt, _), (pl, _) = _pads(step, H, W)
    rows = [_taps(o, step.stride[0], pt, step.kernel[0], step.dilation[0], H) for o in range(Ho)]
    cols = [_taps(o, step.stride[1], pl, step.kernel[1], step.dilation[1], W) for o in range(Wo)]
    if not all(rows) or not all(cols):
        raise ExplorerError(f"{step.label}: a pooling window lies entirely in the padding (torch would give "
                            "-inf there); reduce the padding.")
    return [[(c * H + y) * W + x for y in ry for x in rx] for c in range(C) for ry in rows for rx in cols]


def _pads(step: Conv | Pool, H: int, W: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)); the 'same' modes pad so that the output has ceil(n / stride) entries."""
    if not isinstance(step.padding, str):
        t, b, l, r = step.padding
        return (t, b), (l, r)
    kernel = step.weight.shape[2:] if isinstance(step, Conv) else step.kernel
    out = []
    for n, k, s, d in zip((H, W), kernel, step.stride, step.dilation):
        total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
        small, large = total // 2, total - total // 2
        out.append((small, large) if step.padding == "same_upper" else (large, small))
    return tuple(out)


def _axis(n: int, k: int, s: int, pads: tuple, d: int, ceil_mode: bool, label: str, axis: str) -> int:
    """Output length along one axis: floor (or ceil) of (n + pads − d(k−1) − 1) / s, plus one (torch's rule)."""
    span = n + pads[0] + pads[1] - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + pads[0]:  # the last window must start inside the input or left padding
        out -= 1
    if out < 1:
        raise ExplorerError(f"{label}: its window ({d * (k - 1) + 1} along the {axis}) is larger than the padded "
                            f"input ({n + pads[0] + pads[1]}); the input is too small for this layer.")
    return out


def _selection(out: int, n: int, s: int, p: int, offset: int):
    """Sparse 0/1 matrix (out, n) with a one at (o, o·s − p + offset) where that input exists."""
    o = np.arange(out)
    i = o * s - p + offset
    keep = (i >= 0) & (i < n)
    return sp.csr_array((np.ones(int(keep.sum())), (o[keep], i[keep])), shape=(out, n))


def _taps(o: int, s: int, p: int, k: int, d: int, n: int) -> list[int]:
    return [i for i in range(o * s - p, o * s - p + k * d, d) if 0 <= i < n]
