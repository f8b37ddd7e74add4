"""Layer steps written as the canonical dense Network, exactly: shapes, folding, unit labels, max-pooling.

The steps between two activations compose into one affine map  x ↦ A x + c,  the weights of one hidden
layer.  A is kept in the cheapest exact form while it is built: nothing (the identity), a vector (a
diagonal, from BatchNorm), a sparse matrix (convolutions and pooling) or a dense one (Linear).  BatchNorm
therefore scales the rows of the map before it, or the columns of the map after it, and a dense matrix
exists only for the layers of the Network itself, whose size is charged to the file's Budget (and checked
against the parameter limit) before it is allocated.

Max-pooling with windows of at most two values, on non-negative values (a ReLU's outputs, or pools and
averages of them), is exact with ReLUs:  max(a, b) = relu(a − b) + relu(b),  since b ≥ 0 passes a ReLU
unchanged.  Each window becomes a hidden layer of pooling units (labelled ':compare' and ':pass') whose sum
is the pooled value.  This adds no spurious regions: the pass unit is active iff b > 0, which the earlier
activations already decide (b is a ReLU output, or a sum of them with positive weights), and the compare
unit switches exactly where the window's argmax changes (where a or b is identically zero it does not
switch at all).  Windows of three or more values are refused: any ReLU network computing max(a, b, c)
must compare two values before knowing the third, and that comparison splits regions on which the pooled
value is one linear function, so the activation-region count would exceed the network's.
"""

from __future__ import annotations

import math

import numpy as np

from .budget import Budget
from .steps import Act, Affine, Bias, Conv, Flatten, Pool, Scale
from ..errors import ExplorerError
from ..net import Network

__all__ = ["build_network", "infer_input_shape", "MAX_INFERRED_SIZE"]

MAX_INFERRED_SIZE = 1024  # input sizes tried when a convolutional network does not state its input shape
_MAPS = (Affine, Scale, Bias, Conv, Pool)
_LABEL_COST = 8  # a unit label (a short string) costs about as much memory as 8 float64 elements


def build_network(steps: list, *, input_shape=None, budget: Budget, max_parameters: int) -> Network:
    """The Network  W_L σ(… σ(W_1 x + b_1) …) + b_L  computed by the steps, for inputs of ``input_shape``.

    input_shape : (C, H, W), (n,) or None (then read from the first step, or inferred for convolutions)
    """
    acts = [s for s in steps if isinstance(s, Act)]
    other = next((a for a in acts if (a.name, a.alpha) != (acts[0].name, acts[0].alpha)), None)
    if other is not None:
        raise ExplorerError(f"the network mixes two activations, {acts[0].label} and {other.label}; the "
                            "explorer handles one activation per network. Use the same activation everywhere.")
    if not any(isinstance(s, _MAPS) for s in steps):
        raise ExplorerError("the network is empty: it has no Linear layer with weights. Load a network "
                            "with at least one Linear layer.")
    shape = _start_shape(steps, input_shape)
    name, alpha = (acts[0].name, acts[0].alpha) if acts else ("relu", 0.0)
    return _Folder(shape, name, alpha, budget, max_parameters).run(steps)


def infer_input_shape(steps: list) -> tuple[int, int, int]:
    """(C, H, H): the only square input size (up to MAX_INFERRED_SIZE) for which every layer fits."""
    first = next(s for s in steps if isinstance(s, (Conv, Pool)) or (isinstance(s, Scale) and s.per == "channel"))
    if isinstance(first, Pool):
        raise ExplorerError(f"the network starts with {first.label}, so its input shape is unknown; give its "
                            "input_shape [C, H, W] (in a JSON layer description: --layers FILE.json).")
    channels = first.weight.shape[1] * first.groups if isinstance(first, Conv) else first.s.size
    fits = [h for h in range(1, MAX_INFERRED_SIZE + 1) if _fits(steps, (channels, h, h))]
    if len(fits) != 1:
        found = "no square input fits its layers" if not fits else f"{len(fits)} input sizes fit its layers"
        raise ExplorerError(f"the convolutional network does not record its input size and {found}; give its "
                            f"input_shape [{channels}, H, W] (in a JSON layer description: --layers FILE.json).")
    return (channels, fits[0], fits[0])


def _start_shape(steps: list, input_shape) -> tuple:
    if input_shape is not None:
        shape = tuple(input_shape)
        if len(shape) not in (1, 3) or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in shape):
            raise ExplorerError(f"the input shape must be [C, H, W] or [n] with positive integers; got {list(shape)}.")
        return tuple(int(v) for v in shape)
    for step in steps:
        if isinstance(step, Affine):
            return (step.W.shape[1],)
        if isinstance(step, Scale) and step.per != "channel":
            return (step.s.size,)
        if isinstance(step, (Conv, Pool, Scale)):
            return infer_input_shape(steps)
    raise ExplorerError("the network's input size is unknown; give it as input_shape in a JSON description.")


def _fits(steps: list, shape: tuple) -> bool:
    try:
        for step in steps:
            shape = _next_shape(step, shape)
    except ExplorerError:
        return False
    return True


def _next_shape(step, shape: tuple) -> tuple:
    """The shape after one step (C, H, W) or (n,); raises ExplorerError where the layers do not chain."""
    spatial = len(shape) == 3
    where = "x".join(str(v) for v in shape) + (" feature map" if spatial else " features")
    if isinstance(step, Affine):
        if spatial:
            raise ExplorerError(f"{step.label} receives a {where}; torch would apply it to the last axis only. "
                                "Put a Flatten layer before it.")
        if step.W.shape[1] != shape[0]:
            raise ExplorerError(f"{step.label} expects {step.W.shape[1]} inputs but the layer before it gives "
                                f"{shape[0]} outputs; the layer shapes do not chain.")
        return (step.W.shape[0],)
    if isinstance(step, (Conv, Pool)):
        if not spatial:
            raise ExplorerError(f"{step.label} needs a feature map (C, H, W) but receives {where}.")
        from .conv import out_shape

        return out_shape(step, shape)
    if isinstance(step, Scale):
        per_channel = step.per == "channel" or (step.per == "axis1" and spatial)
        if per_channel != spatial or step.s.size != shape[0]:
            kind = "channels of a feature map" if per_channel else "features of a vector"
            raise ExplorerError(f"{step.label} normalises {step.s.size} {kind} but receives {where}.")
        return shape
    if isinstance(step, Bias):
        _broadcast(step, shape, values=False)
        return shape
    if isinstance(step, Flatten):
        if step.size is not None and step.size != math.prod(shape):
            raise ExplorerError(f"{step.label} reshapes {where} into {step.size} features; the sizes differ.")
        return (math.prod(shape),)
    return shape


def _broadcast(step: Bias, shape: tuple, *, values: bool = True) -> np.ndarray | None:
    """The added constant broadcast to ``shape`` and flattened (``values=False``: only check that it fits)."""
    value = step.value
    while value.ndim > len(shape) and value.shape[0] == 1:  # a batch axis of 1
        value = value[0]
    try:
        fits = np.broadcast_shapes(value.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ExplorerError(f"{step.label} adds a tensor of shape {step.value.shape} to "
                            f"{'x'.join(str(v) for v in shape)} values; the shapes do not match.")
    return np.broadcast_to(value, shape).reshape(-1) if values else None


class _Folder:
    """The walk: a pending map (A, c) since the last activation, the layers emitted so far, label state."""

    def __init__(self, shape: tuple, name: str, alpha: float, budget: Budget, max_parameters: int) -> None:
        self.name, self.alpha, self.budget, self.max_parameters = name, alpha, budget, max_parameters
        self.input_shape, self.spatial = shape, len(shape) == 3
        self.shape, self.width = shape, math.prod(shape)
        self.A, self.c, self.ops, self.touched = None, np.zeros(self.width), [], False
        self.nonneg, self.before = False, "the network's input"
        self.layers, self.names, self.labels, self.params = [], [], [], 0
        self.tag, self.label_shape, self.counts = "input", shape, {}

    def run(self, steps: list) -> Network:
        for step in steps:
            prev, self.shape = self.shape, _next_shape(step, self.shape)
            if isinstance(step, Act):
                self._emit(self._unit_labels(), "+".join(self.ops) or ("affine" if self.touched else "id"))
                self.nonneg, self.before = step.alpha == 0, step.label
            elif isinstance(step, Pool) and step.kind == "max":
                self._maxpool(step, prev)
            elif isinstance(step, _MAPS):
                self._map(step, prev)
        if not self.touched:
            raise ExplorerError(f"the network ends with an activation ({self.before}) after its last Linear "
                                "layer; the explorer needs an affine output (logits). Remove the final activation.")
        W = self._dense("the output layer")
        self.layers.append((W, self.c))
        names = dict(input_shape=self.input_shape, layer_names=tuple(self.names),
                     unit_labels=tuple(l for layer in self.labels for l in layer)) if self.spatial else {}
        return Network(tuple(W for W, _ in self.layers), tuple(b for _, b in self.layers), self.name, self.alpha,
                       **names)

    # ---- the pending map -----------------------------------------------------------------------
    def _map(self, step, prev: tuple) -> None:
        self.touched, self.nonneg, self.before = True, self.nonneg and isinstance(step, Pool), step.label
        if isinstance(step, Scale):
            repeat = self.width // step.s.size  # per channel: every position of the channel
            self._scale(np.repeat(step.s, repeat), np.repeat(step.t, repeat))
            return
        if isinstance(step, Bias):
            self.c = self.c + _broadcast(step, self.shape)
            return
        if isinstance(step, Affine):
            M, d, kind, desc = step.W, step.b, "linear", str(step.W.shape[0])
        else:
            from . import conv

            if isinstance(step, Conv):
                (M, d), kind = conv.conv_matrix(step, prev, self.budget), "conv"
            else:
                M, d, kind = conv.avgpool_matrix(step, prev, self.budget), np.zeros(math.prod(self.shape)), "avgpool"
            desc = step.describe()
        self._apply(M, d, step.label)
        self.ops.append(desc)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.tag, self.label_shape = f"{kind}{self.counts[kind]}", self.shape

    def _apply(self, M, d: np.ndarray, what: str) -> None:
        """(A, c) ← (M A, M c + d), charging every product to the budget before it is formed."""
        A, m, dense_M = self.A, M.shape[0], isinstance(M, np.ndarray)
        if A is None:
            new = M
        elif isinstance(A, np.ndarray) and A.ndim == 1:  # a diagonal: scale the columns of M
            self.budget.allocate(m * A.size if dense_M else M.nnz, f"{what} composed with a BatchNorm")
            new = M * A[None, :] if dense_M else (M @ _sparse().diags_array(A)).tocsr()
        elif isinstance(A, np.ndarray) or dense_M:
            self.budget.allocate(m * A.shape[1], f"{what} composed with the layers before it ({m:,} x {A.shape[1]:,})")
            new = M @ A if isinstance(A, np.ndarray) else (A.T @ M.T).T
        else:  # sparse times sparse: bound the non-zeros by column counts times row counts
            bound = int(np.bincount(M.indices, minlength=M.shape[1]) @ np.diff(A.indptr))
            self.budget.allocate(2 * bound, f"{what} composed with the layers before it")
            new = (M @ A).tocsr()
        self.c = M @ self.c + d
        self.A, self.width = new, m

    def _scale(self, s: np.ndarray, t: np.ndarray) -> None:
        """(A, c) ← (diag(s) A, s ⊙ c + t) without forming diag(s): the rows of A are scaled."""
        A = self.A
        if A is None:
            self.budget.allocate(s.size, "a BatchNorm scale")
            self.A = s.copy()
        elif isinstance(A, np.ndarray):
            self.budget.allocate(A.size, "a BatchNorm folded into the layer before it")
            self.A = A * s if A.ndim == 1 else s[:, None] * A
        else:
            self.A = (_sparse().diags_array(s) @ A).tocsr()
        self.c = s * self.c + t

    def _dense(self, what: str) -> np.ndarray:
        """The pending map as the dense weight matrix of one Network layer (charged before it is built)."""
        A, m = self.A, self.width
        n = self.layers[-1][0].shape[0] if self.layers else math.prod(self.input_shape)
        if self.params + m * n + m > self.max_parameters:
            raise ExplorerError(f"the network has {self.params + m * n + m:,} or more parameters once its layers are "
                                f"written as dense matrices ({what}: {m:,} x {n:,}); the limit is "
                                f"{self.max_parameters:,}. Use a smaller network.")
        self.params += m * n + m
        if isinstance(A, np.ndarray) and A.ndim == 2:
            return A
        self.budget.allocate(m * n, f"{what} as a dense {m:,} x {n:,} matrix")
        if A is None:
            return np.eye(m)
        return np.diag(A) if isinstance(A, np.ndarray) else A.toarray()

    def _emit(self, labels: list, name: str) -> None:
        """Close the pending map as one hidden layer and start an identity map on its outputs."""
        W = self._dense(f"hidden layer {len(self.layers) + 1} ({name})")
        self.layers.append((W, self.c))
        self.names.append(name)
        self.labels.append(labels)
        self.A, self.c, self.ops, self.touched = None, np.zeros(self.width), [], False

    # ---- labels and max-pooling --------------------------------------------------------------------
    def _unit_labels(self) -> list:
        if not self.spatial:
            return []
        self.budget.allocate(_LABEL_COST * self.width, "the unit labels")
        if not self.touched and self.labels:  # an activation right after another: the same units again
            return [label + "'" for label in self.labels[-1]]
        return _positions(self.tag, self.label_shape)

    def _maxpool(self, step: Pool, prev: tuple) -> None:
        from .conv import maxpool_windows

        if not self.nonneg:
            why = ("its inputs can be negative after a LeakyReLU" if self.alpha > 0 else
                   f"it follows {self.before} without a ReLU in between, so its inputs can be negative")
            raise ExplorerError(f"{step.label} is supported only on non-negative values (right after a ReLU), where "
                                f"max(a, b) = relu(a − b) + relu(b) is exact; here {why}.")
        windows = maxpool_windows(step, prev)
        widest = max(len(w) for w in windows)
        if widest > 2:
            raise ExplorerError(f"{step.label} takes the maximum of {widest} values; written with ReLUs, a maximum "
                                "of three or more values compares values that are not the largest and splits "
                                "regions where the network is one linear piece, so counts would be too high. Use "
                                "windows of at most two values (kernel (1, 2) or (2, 1)), AvgPool2d or a strided "
                                "convolution.")
        self.counts["maxpool"] = self.counts.get("maxpool", 0) + 1
        tag = f"maxpool{self.counts['maxpool']}"
        places = _positions(tag, self.shape) if self.spatial else [""] * len(windows)
        rows, cols, vals, owner, labels = [], [], [], [], []
        for o, window in enumerate(windows):
            if len(window) == 2:  # compare unit relu(a − b)
                rows += [len(owner)] * 2
                cols += window
                vals += [1.0, -1.0]
                owner.append(o)
                labels.append(places[o] + ":compare")
            rows.append(len(owner))  # pass unit relu(b) = b
            cols.append(window[-1])
            vals.append(1.0)
            owner.append(o)
            labels.append(places[o] + ":pass")
        sp, units = _sparse(), len(owner)
        self.budget.allocate(3 * len(vals) + 3 * units + (_LABEL_COST * units if self.spatial else 0),
                             f"{step.label} as pooling units")
        self._apply(sp.csr_array((vals, (rows, cols)), shape=(units, self.width)), np.zeros(units), step.label)
        self.ops.append(step.describe())
        self._emit(labels if self.spatial else [], "+".join(self.ops))
        pooled = sp.csr_array((np.ones(units), (np.array(owner), np.arange(units))), shape=(len(windows), units))
        self._apply(pooled, np.zeros(len(windows)), step.label)  # the maximum: the sum of its window's units
        self.ops.append("max")
        self.touched, self.nonneg, self.before = True, True, step.label
        self.tag, self.label_shape = tag, self.shape


def _positions(tag: str, shape: tuple) -> list:
    if len(shape) == 3:
        C, H, W = shape
        return [f"{tag}[c={c},y={y},x={x}]" for c in range(C) for y in range(H) for x in range(W)]
    return [f"{tag}[{i}]" for i in range(shape[0])]


def _sparse():
    import scipy.sparse as sp

    return sp
