"""An independent oracle for CNN folding: a torch nn.Sequential written as a dense MLP with explicit loops.

Nothing here uses explorer.io: convolution and pooling matrices are filled entry by entry from torch's
definitions (im2col by loops), BatchNorm is a dense diagonal, and 2-value max-pooling is the ReLU pair
relu(a − b), relu(b).  Used to check region counts of folded networks on 2-D slices.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from explorer.net import Network


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _out(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def conv_dense(layer: nn.Conv2d, C: int, H: int, W: int):
    """(M, b, (Co, Ho, Wo)) of a zero-padded Conv2d, one matrix entry per (output, kernel tap)."""
    w = layer.weight.detach().double().numpy()
    Co, Cig, kh, kw = w.shape
    sh, sw = layer.stride
    dh, dw = layer.dilation
    if layer.padding == "same":
        ph = (dh * (kh - 1) // 2, dh * (kh - 1) - dh * (kh - 1) // 2)
        pw = (dw * (kw - 1) // 2, dw * (kw - 1) - dw * (kw - 1) // 2)
    else:
        p = (0, 0) if layer.padding == "valid" else layer.padding
        ph, pw = (p[0], p[0]), (p[1], p[1])
    Ho = (H + ph[0] + ph[1] - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + pw[0] + pw[1] - dw * (kw - 1) - 1) // sw + 1
    M = np.zeros((Co * Ho * Wo, C * H * W))
    per_group = Co // layer.groups
    for co in range(Co):
        for oy in range(Ho):
            for ox in range(Wo):
                row = (co * Ho + oy) * Wo + ox
                for cl in range(Cig):
                    ci = (co // per_group) * Cig + cl
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * sh - ph[0] + ky * dh, ox * sw - pw[0] + kx * dw
                            if 0 <= iy < H and 0 <= ix < W:
                                M[row, (ci * H + iy) * W + ix] += w[co, cl, ky, kx]
    b = np.zeros(Co) if layer.bias is None else layer.bias.detach().double().numpy()
    return M, np.repeat(b, Ho * Wo), (Co, Ho, Wo)


def avgpool_dense(layer: nn.AvgPool2d, C: int, H: int, W: int):
    """(M, (C, Ho, Wo)) of AvgPool2d, following torch's CPU kernel window by window."""
    (kh, kw), (ph, pw) = _pair(layer.kernel_size), _pair(layer.padding)
    sh, sw = _pair(layer.stride or layer.kernel_size)
    Ho, Wo = _out(H, kh, sh, ph, 1, layer.ceil_mode), _out(W, kw, sw, pw, 1, layer.ceil_mode)
    M = np.zeros((C * Ho * Wo, C * H * W))
    for c in range(C):
        for oy in range(Ho):
            for ox in range(Wo):
                y0, x0 = oy * sh - ph, ox * sw - pw
                y1, x1 = min(y0 + kh, H + ph), min(x0 + kw, W + pw)
                size = (y1 - y0) * (x1 - x0)
                y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, H), min(x1, W)
                if layer.divisor_override:
                    size = layer.divisor_override
                elif not layer.count_include_pad:
                    size = (y1 - y0) * (x1 - x0)
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        M[(c * Ho + oy) * Wo + ox, (c * H + y) * W + x] = 1.0 / size
    return M, (C, Ho, Wo)


def maxpool_units(layer: nn.MaxPool2d, C: int, H: int, W: int):
    """(D, S, (C, Ho, Wo)): units relu(D h) and pooled = S · units, for windows of one or two values."""
    (kh, kw), (sh, sw) = _pair(layer.kernel_size), _pair(layer.stride or layer.kernel_size)
    (ph, pw), (dh, dw) = _pair(layer.padding), _pair(layer.dilation)
    Ho, Wo = _out(H, kh, sh, ph, dh, layer.ceil_mode), _out(W, kw, sw, pw, dw, layer.ceil_mode)
    rows, owner = [], []
    for c in range(C):
        for oy in range(Ho):
            for ox in range(Wo):
                window = [(c * H + y) * W + x for y in range(oy * sh - ph, oy * sh - ph + kh * dh, dh)
                          for x in range(ox * sw - pw, ox * sw - pw + kw * dw, dw) if 0 <= y < H and 0 <= x < W]
                assert 1 <= len(window) <= 2
                if len(window) == 2:
                    rows.append({window[0]: 1.0, window[1]: -1.0})
                    owner.append((c * Ho + oy) * Wo + ox)
                rows.append({window[-1]: 1.0})
                owner.append((c * Ho + oy) * Wo + ox)
    D = np.zeros((len(rows), C * H * W))
    for r, entries in enumerate(rows):
        for col, v in entries.items():
            D[r, col] = v
    S = np.zeros((C * Ho * Wo, len(rows)))
    S[owner, np.arange(len(rows))] = 1.0
    return D, S, (C, Ho, Wo)


def dense_network(module: nn.Sequential, input_shape: tuple) -> Network:
    """The Sequential as a Network, layer by layer with dense matrices (ReLU or one LeakyReLU slope)."""
    shape, alpha = tuple(input_shape), 0.0
    n = int(np.prod(shape))
    A, c, layers = np.eye(n), np.zeros(n), []
    for layer in module:
        if isinstance(layer, (nn.ReLU, nn.LeakyReLU)):
            alpha = getattr(layer, "negative_slope", 0.0)
            layers.append((A, c))
            A, c = np.eye(A.shape[0]), np.zeros(A.shape[0])
        elif isinstance(layer, nn.Conv2d):
            M, b, shape = conv_dense(layer, *shape)
            A, c = M @ A, M @ c + b
        elif isinstance(layer, nn.AvgPool2d):
            M, shape = avgpool_dense(layer, *shape)
            A, c = M @ A, M @ c
        elif isinstance(layer, nn.MaxPool2d):
            D, S, shape = maxpool_units(layer, *shape)
            layers.append((D @ A, D @ c))
            A, c = S, np.zeros(S.shape[0])
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            s = (layer.weight / (layer.running_var + layer.eps).sqrt()).detach().double().numpy()
            t = layer.bias.detach().double().numpy() - s * layer.running_mean.double().numpy()
            per = A.shape[0] // s.size
            Dg = np.diag(np.repeat(s, per))
            A, c = Dg @ A, Dg @ c + np.repeat(t, per)
        elif isinstance(layer, nn.Linear):
            M = layer.weight.detach().double().numpy()
            A, c = M @ A, M @ c + layer.bias.detach().double().numpy()
        elif isinstance(layer, nn.Flatten):
            shape = (int(np.prod(shape)),)
    layers.append((A, c))
    return Network(tuple(W for W, _ in layers), tuple(b for _, b in layers), "leaky_relu" if alpha else "relu",
                   alpha)
