"""The canonical network: float64 affine layers with a piecewise-linear activation between them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ExplorerError

__all__ = ["Network", "ACTIVATIONS", "parse_activation", "as_box", "interval_bounds", "box_interval_bounds",
           "local_affine", "UnitScaling", "rescale_units"]

ACTIVATIONS = ("relu", "leaky_relu")


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward piecewise-linear network  x -> W_L σ(... σ(W_1 x + b_1) ...) + b_L.

    Hidden layer l computes the pre-activation g^l = W^l h^{l-1} + b^l and h^l = σ(g^l) with
    σ(g) = g for g > 0 and α·g otherwise (α = 0: ReLU, 0 < α: LeakyReLU(α)).  Unit (l, i) is
    *active* iff g^l_i(x) > 0; the activation pattern is the concatenation of these bits over the
    hidden layers, in layer order.  The last layer is affine and creates no regions.

    Parameters
    ----------
    weights : tuple of float64 ndarray, W^l of shape (n_l, n_{l-1})
    biases : tuple of float64 ndarray, b^l of shape (n_l,)
    activation : "relu" or "leaky_relu"
    alpha : negative slope α (0 for ReLU)
    input_names : optional names of the inputs
    input_shape : (C, H, W) when the inputs are an image read in torch's flattening order, else ()
    layer_names : optional name of every hidden layer (e.g. 'conv3x3(4)'), shown in ``architecture``
    unit_labels : optional label of every hidden unit in pattern order (e.g. 'conv1[c=2,y=3,x=1]')

    Validated once, here: shapes must chain, every entry must be finite, the optional names must fit.
    """

    weights: tuple
    biases: tuple
    activation: str = "relu"
    alpha: float = 0.0
    input_names: tuple = field(default=(), compare=False)
    input_shape: tuple = field(default=(), compare=False)
    layer_names: tuple = field(default=(), compare=False)
    unit_labels: tuple = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if len(self.weights) == 0:
            raise ExplorerError("the network is empty: it has no affine layer. Load a network with at "
                                "least one Linear layer.")
        if len(self.weights) != len(self.biases):
            raise ExplorerError(f"got {len(self.weights)} weight matrices but {len(self.biases)} bias vectors.")
        weights, biases = [], []
        for l, (W, b) in enumerate(zip(self.weights, self.biases), start=1):
            W = np.array(W, dtype=np.float64, copy=True)
            b = np.array(b, dtype=np.float64, copy=True).reshape(-1)
            if W.ndim != 2:
                raise ExplorerError(f"layer {l}: the weight must be a matrix; got shape {W.shape}.")
            if W.shape[0] == 0 or W.shape[1] == 0:
                raise ExplorerError(f"layer {l}: the weight matrix has shape {W.shape}; every layer needs "
                                    "at least one input and one output.")
            if b.shape != (W.shape[0],):
                raise ExplorerError(f"layer {l}: bias has {b.size} entries but the weight has {W.shape[0]} rows.")
            if weights and W.shape[1] != weights[-1].shape[0]:
                raise ExplorerError(f"layer {l} expects {W.shape[1]} inputs but layer {l - 1} gives "
                                    f"{weights[-1].shape[0]} outputs.")
            if not (np.isfinite(W).all() and np.isfinite(b).all()):
                raise ExplorerError(f"layer {l} has NaN or infinite weights; the network cannot be used. "
                                    "Retrain it or load another file.")
            W.setflags(write=False)
            b.setflags(write=False)
            weights.append(W)
            biases.append(b)
        activation, alpha = parse_activation(self.activation, self.alpha)
        object.__setattr__(self, "weights", tuple(weights))
        object.__setattr__(self, "biases", tuple(biases))
        object.__setattr__(self, "activation", activation)
        object.__setattr__(self, "alpha", alpha)
        self._check_names()

    def _check_names(self) -> None:
        shape = tuple(self.input_shape)
        if shape and (len(shape) != 3 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in shape)
                      or int(np.prod(shape)) != self.n_inputs):
            raise ExplorerError(f"the input shape {shape} does not describe the network's {self.n_inputs} "
                                "inputs; give (C, H, W) with C·H·W inputs.")
        for what, names, count in (("layer names", self.layer_names, len(self.hidden_widths)),
                                   ("unit labels", self.unit_labels, self.n_hidden)):
            if names and len(names) != count:
                raise ExplorerError(f"got {len(names)} {what} for {count} hidden "
                                    f"{'layers' if what == 'layer names' else 'units'}.")
        object.__setattr__(self, "input_shape", tuple(int(v) for v in shape))
        object.__setattr__(self, "layer_names", tuple(str(n) for n in self.layer_names))
        object.__setattr__(self, "unit_labels", tuple(str(n) for n in self.unit_labels))

    # ---- shape -------------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self.weights[0].shape[1]

    @property
    def n_outputs(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Widths n_1..n_L of the hidden layers (the output layer excluded)."""
        return tuple(W.shape[0] for W in self.weights[:-1])

    @property
    def n_hidden(self) -> int:
        """Total number of hidden units N = Σ n_l, the length of an activation pattern."""
        return int(sum(self.hidden_widths))

    @property
    def architecture(self) -> str:
        """Widths joined by dashes, e.g. '2-16-16-1'; with an input shape and layer names, e.g.
        '1x8x8-conv3x3(4)-conv3x3(8)-10' (layers folded into one hidden layer are joined by '+')."""
        head = "x".join(str(v) for v in self.input_shape) if self.input_shape else str(self.n_inputs)
        hidden = self.layer_names or tuple(str(n) for n in self.hidden_widths)
        return "-".join((head, *hidden, str(self.n_outputs)))

    @property
    def pooling_units(self) -> int:
        """Hidden units that compute max-pooling (layers named 'maxpool…'); they are counted in n_hidden."""
        return int(sum(w for name, w in zip(self.layer_names, self.hidden_widths) if name.startswith("maxpool")))

    def unit_names(self) -> tuple[str, ...]:
        """The label of every hidden unit in pattern order ('layer 2 unit 5' when the network has none)."""
        if self.unit_labels:
            return self.unit_labels
        return tuple(f"layer {l + 1} unit {i + 1}" for l, w in enumerate(self.hidden_widths) for i in range(w))

    def unit_layers(self) -> np.ndarray:
        """Hidden-layer index (0-based) of every unit in pattern order; shape (N,)."""
        return np.repeat(np.arange(len(self.hidden_widths)), self.hidden_widths)

    def equals(self, other: "Network", *, rtol: float = 0.0) -> bool:
        """True iff both networks have the same activation and (up to rtol) the same parameters."""
        if (self.activation, self.alpha, self.architecture) != (other.activation, other.alpha, other.architecture):
            return False
        return all(np.allclose(a, b, rtol=rtol, atol=0.0) for a, b in
                   zip(self.weights + self.biases, other.weights + other.biases))

    # ---- evaluation --------------------------------------------------------------------------
    def act(self, g: np.ndarray) -> np.ndarray:
        """σ(g): identity on g > 0, slope α elsewhere."""
        return np.where(g > 0, g, self.alpha * g)

    def preactivations(self, x: np.ndarray) -> list[np.ndarray]:
        """Pre-activations g^1..g^L of the hidden layers at the points x of shape (B, n0)."""
        h = self._as_batch(x)
        out = []
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            g = h @ W.T + b  # (B, n_l)
            out.append(g)
            h = self.act(g)
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Network output at the points x of shape (B, n0); returns shape (B, n_out)."""
        h = self._as_batch(x)
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            h = self.act(h @ W.T + b)
        return h @ self.weights[-1].T + self.biases[-1]

    def patterns(self, x: np.ndarray) -> np.ndarray:
        """Activation patterns s(x) ∈ {0,1}^N at the points x; bool array of shape (B, N)."""
        gs = self.preactivations(x)
        if not gs:
            return np.zeros((len(self._as_batch(x)), 0), dtype=bool)
        return np.concatenate([g > 0 for g in gs], axis=1)

    def _as_batch(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ExplorerError(f"the network takes {self.n_inputs} inputs; got points of shape {x.shape}.")
        return x

    # ---- transformations ---------------------------------------------------------------------
    def truncated(self, n_layers: int) -> "Network":
        """The first ``n_layers`` hidden layers, outputting h^{n_layers} (its regions: the partition after
        that layer)."""
        if not 0 <= n_layers <= len(self.hidden_widths):
            raise ExplorerError(f"the network has {len(self.hidden_widths)} hidden layers; got {n_layers}.")
        names = dict(input_shape=self.input_shape, layer_names=self.layer_names[:n_layers],
                     unit_labels=self.unit_labels[:sum(self.hidden_widths[:n_layers])])
        if n_layers == 0:
            return Network((np.eye(self.n_inputs),), (np.zeros(self.n_inputs),), self.activation, self.alpha,
                           **names)
        width = self.hidden_widths[n_layers - 1]
        # an identity output layer after the activation: W = I reads h^{n_layers}
        return Network(self.weights[:n_layers] + (np.eye(width),), self.biases[:n_layers] + (np.zeros(width),),
                       self.activation, self.alpha, **names)

    def with_first_layer(self, W: np.ndarray, b: np.ndarray) -> "Network":
        """The same network with the first affine layer replaced (used for slices and folding); layer names
        and unit labels stay, the input shape stays only if the number of inputs does."""
        same_inputs = np.shape(W)[1:] == (self.n_inputs,)
        return Network((W,) + self.weights[1:], (b,) + self.biases[1:], self.activation, self.alpha,
                       input_shape=self.input_shape if same_inputs else (), layer_names=self.layer_names,
                       unit_labels=self.unit_labels)


def parse_activation(activation: str, alpha: float | None = None) -> tuple[str, float]:
    """Normalise 'relu', 'leaky_relu', 'leaky_relu:0.1' (+ optional alpha) to (name, α)."""
    name, _, value = str(activation).strip().lower().partition(":")
    name = name.replace("leakyrelu", "leaky_relu")
    if name not in ACTIVATIONS:
        raise ExplorerError(f"unknown activation {activation!r}; use 'relu' or 'leaky_relu:ALPHA'.")
    if name == "relu":
        return "relu", 0.0
    try:
        a = float(value) if value else (0.01 if alpha in (None, 0.0) else float(alpha))
    except ValueError:
        raise ExplorerError(f"cannot read the LeakyReLU slope in {activation!r}; write e.g. leaky_relu:0.1.") from None
    if not np.isfinite(a) or not (0.0 < a < 1.0):
        raise ExplorerError(f"the LeakyReLU slope must lie in (0, 1); got {a}.")
    return "leaky_relu", a


def interval_bounds(net: Network, lo1: np.ndarray, hi1: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Interval propagation: sound enclosures [lo^l, hi^l] of every hidden pre-activation.

    Starts from an enclosure [lo1, hi1] of g^1 (for a box or a ball it is exact) and propagates
    ĥ = [σ(lo), σ(hi)] (σ is monotone) with  g ∈ W m + b ± |W| ρ  (m, ρ: midpoint and half-width of ĥ).
    Returns one (lo, hi) pair per hidden layer.
    """
    out = [(np.asarray(lo1, dtype=np.float64), np.asarray(hi1, dtype=np.float64))]
    for W, b in zip(net.weights[1:-1], net.biases[1:-1]):
        lo, hi = out[-1]
        hlo, hhi = net.act(lo), net.act(hi)
        mid, rad = (hlo + hhi) / 2, (hhi - hlo) / 2
        centre, spread = W @ mid + b, np.abs(W) @ rad
        out.append((centre - spread, centre + spread))
    return out


def box_interval_bounds(net: Network, lower: np.ndarray, upper: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Interval bounds of every hidden pre-activation over the box [lower, upper] (exact for layer 1)."""
    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    W, b = net.weights[0], net.biases[0]
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    centre, spread = W @ mid + b, np.abs(W) @ rad
    return interval_bounds(net, centre - spread, centre + spread)


def local_affine(net: Network, points, *, patterns: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hidden pre-activations at ``points`` and their input gradients, each point's pattern held fixed.

    Inside the activation region of x every pre-activation is affine, g^l(y) = Γ^l y + c^l.  Returns per hidden
    layer (g^l at the points of shape (B, n_l), Γ^l of shape (B, n_l, n0)).  ``patterns`` (B, N) bool, if given,
    replaces the points' own patterns, so the maps of any region can be read off at any point (e.g. the origin).
    """
    h = net._as_batch(points)
    J = np.broadcast_to(np.eye(h.shape[1]), (len(h), h.shape[1], h.shape[1]))
    out, first = [], 0
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        g, G = h @ W.T + b, np.matmul(W, J)  # (B, n_l), (B, n_l, n0)
        out.append((g, G))
        on = g > 0 if patterns is None else patterns[:, first:first + W.shape[0]]
        first += W.shape[0]
        slope = np.where(on, 1.0, net.alpha)
        h, J = slope * g, slope[..., None] * G
    return out


def as_box(box, n_inputs: int) -> np.ndarray:
    """An axis-aligned box [lo, hi] ⊂ ℝ^{n0} as a float64 (n0, 2) array of [lo, hi] rows.

    Accepted forms: an (n0, 2) array of rows; 2·n0 numbers lo1 hi1 lo2 hi2 … (for two inputs: xmin xmax ymin
    ymax); or LO HI, the same interval on every input.

    Raises
    ------
    ExplorerError : another number of values, a non-finite value, or lo ≥ hi on some input.
    """
    try:
        arr = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExplorerError(f"a box is a list of numbers LO HI or LO1 HI1 LO2 HI2 …; got {box!r:.80}.") from None
    if arr.size == 2 and n_inputs != 1:
        arr = np.tile(arr.reshape(1, 2), (n_inputs, 1))
    if arr.size != 2 * n_inputs:
        two_d = "; in 2-D: XMIN XMAX YMIN YMAX" if n_inputs == 2 else ""
        raise ExplorerError(f"the box needs LO HI or {2 * n_inputs} numbers (LO HI per input{two_d}) for a "
                            f"{n_inputs}-input network; got {arr.size}.")
    arr = arr.reshape(n_inputs, 2)
    if not np.isfinite(arr).all() or not (arr[:, 0] < arr[:, 1]).all():
        two_d = " (XMIN < XMAX and YMIN < YMAX)" if n_inputs == 2 else ""
        raise ExplorerError(f"every box interval must be finite with LO < HI{two_d}; got {arr.tolist()}.")
    return arr


@dataclass(frozen=True, eq=False, kw_only=True)
class UnitScaling:
    """A network rescaled by powers of two, unit by unit: the same activation patterns, exactly.

    With x = 2^input_exp ⊙ x' and h^l = 2^{unit_exp[l]} ⊙ h'^l, ``net`` maps x' to f' and f = 2^output_exp ⊙ f'.
    σ is positively homogeneous and scaling by 2^k is exact in float64 (between the smallest and largest normal
    numbers), so every pre-activation of ``net`` is the original one times a power of two, with the same sign.

    Attributes
    ----------
    net : Network, every row of [W^l | b^l] (hidden and output) has its largest |entry| in [1, 2) or is zero
    input_exp : int64 ndarray (n0,);  unit_exp : tuple of int64 ndarray (n_l,);  output_exp : int64 ndarray (n_out,)
    """

    net: Network
    input_exp: np.ndarray
    unit_exp: tuple
    output_exp: np.ndarray


def rescale_units(net: Network, *, input_exp=None) -> UnitScaling:
    """The power-of-two rescaling of ``net`` whose every row has its largest |entry| in [1, 2).

    Row i of layer l is divided by 2^{e^l_i} and column k multiplied by 2^{e^{l-1}_k} (e^0 = ``input_exp``,
    default 0): with exponents only, so no intermediate value overflows.  Used by the region engine and the ball
    computations so that magnitudes such as 2^±1000 on a unit neither overflow nor dominate a tolerance.

    Raises
    ------
    ExplorerError : an entry of a hidden row would fall below float64's normal range (the row spans more than
        2^1021), which would round it; the message names the layer and the magnitudes.  (Output rows decide no
        sign, so their negligible entries may round.)
    """
    e_prev = np.zeros(net.n_inputs, np.int64) if input_exp is None else np.asarray(input_exp, np.int64)
    weights, biases, exps = [], [], []
    for l, (W, b) in enumerate(zip(net.weights, net.biases), start=1):
        EW, Eb = np.frexp(W)[1].astype(np.int64) + e_prev[None, :], np.frexp(b)[1].astype(np.int64)
        top = np.maximum(np.where(W != 0, EW, np.iinfo(np.int64).min).max(axis=1),
                         np.where(b != 0, Eb, np.iinfo(np.int64).min))
        e = np.where(top > np.iinfo(np.int64).min, top - 1, 0)  # zero rows stay as they are
        shift_W, shift_b = e_prev[None, :] - e[:, None], -e
        W2, b2 = np.ldexp(W, shift_W), np.ldexp(b, shift_b)
        lost = (np.ldexp(W2, -shift_W) != W).any(axis=1) | (np.ldexp(b2, -shift_b) != b)
        if lost.any() and l < len(net.weights):  # output rows decide no sign: entries 2^1021 below the row's
            # largest are already below float64's rounding of that output, and may round here too
            i = int(np.flatnonzero(lost)[0])
            exps_i = np.r_[EW[i][W[i] != 0], Eb[i:i + 1][b[i:i + 1] != 0]]
            raise ExplorerError(f"layer {l}, unit {i}: relative to its inputs' scale its weights span magnitudes from about "
                                f"1e{int(exps_i.min() * np.log10(2))} to 1e{int(exps_i.max() * np.log10(2))}, more "
                                "than float64 can hold in one row, so its values cannot be computed without "
                                "rounding. Remove the negligible weights or rescale the network.")
        weights.append(W2)
        biases.append(b2)
        exps.append(e)
        e_prev = e
    scaled = Network(tuple(weights), tuple(biases), net.activation, net.alpha)
    return UnitScaling(net=scaled, input_exp=np.zeros(net.n_inputs, np.int64) if input_exp is None
                       else np.asarray(input_exp, np.int64), unit_exp=tuple(exps[:-1]), output_exp=exps[-1])
