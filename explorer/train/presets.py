"""Classic constructions with known region counts: line arrangements, the sawtooth, init versus trained.

Each preset is a :class:`Preset`: a Network, the box it is drawn on, the closed-form numbers of activation
and linear regions inside that box (None where no closed form exists) and a one-line explanation.  The
closed forms hold *exactly* for the stated box; ``tests/train/test_presets.py`` checks them by enumeration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import ExplorerError
from ..net import Network, as_box

__all__ = ["Preset", "PRESETS", "BOX", "MAX_LINES", "MAX_DEPTH", "MAX_DEPTH_FOLDED", "lines", "concurrent_lines",
           "parallel_lines", "sawtooth", "init_vs_trained", "build", "parse_spec", "zaslavsky"]

BOX = (-3.0, 3.0, -3.0, 3.0)  # the app's default box
MAX_LINES = 64
MAX_DEPTH = 10  # sawtooth along x: 2^10 = 1,024 regions
MAX_DEPTH_FOLDED = 6  # folding both axes: 4^6 = 4,096 regions
PRESETS = {  # spec name: (title, default parameter, parameter range)
    "lines": ("general-position lines", 5, (1, MAX_LINES)),
    "concurrent": ("lines through one point", 5, (1, MAX_LINES)),
    "parallel": ("parallel lines", 5, (1, MAX_LINES)),
    "sawtooth": ("sawtooth (folding x)", 4, (1, MAX_DEPTH)),
    "folded": ("sawtooth (folding x and y)", 3, (1, MAX_DEPTH_FOLDED)),
}


@dataclass(frozen=True, eq=False, kw_only=True)
class Preset:
    """A named construction.

    Attributes
    ----------
    spec : 'name:parameter', e.g. 'lines:5' (what :func:`build` reads and the URL stores)
    title : short human title, e.g. '5 lines in general position'
    net : Network with 2 inputs
    box : (xmin, xmax, ymin, ymax), the box in which the closed forms hold
    closed_form : exact number of activation regions in the box, or None if there is no closed form
    linear_closed_form : exact number of linear regions (maximal pieces with one affine map), or None
    formula : the closed form as text, e.g. '1 + n + C(n, 2) = 16' ('' if none)
    explanation : one sentence saying why the count is what it is
    """

    spec: str
    title: str
    net: Network
    box: tuple
    closed_form: int | None
    linear_closed_form: int | None
    formula: str
    explanation: str


def zaslavsky(n: int) -> int:
    """Regions of n lines in general position in the plane: 1 + n + C(n, 2) (Zaslavsky's theorem)."""
    return 1 + n + math.comb(n, 2)


def lines(n: int, *, box=BOX) -> Preset:
    """One hidden layer whose n lines are tangents to a circle: no two parallel, no three concurrent.

    Tangent points at angles θ_i = 2π i / m (m = n if n is odd, n + 1 otherwise) never make two directions
    equal mod π; tangents at θ, θ' meet at distance r / cos((θ − θ')/2) ≤ r / sin(π / 2m) from the centre,
    so r = 0.9 · h · sin(π / 2m) (h: half the shorter side of the box) puts every crossing inside the box.
    Every unit has output weight 1, so every line bends the output: activation = linear = 1 + n + C(n, 2).
    """
    n = _check_int(n, "lines", 1, MAX_LINES)
    centre, h = _centre(box)
    m = n if n % 2 else n + 1
    theta = 2 * np.pi * np.arange(n) / m
    normal = np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (n, 2) unit normals
    r = 0.9 * h * np.sin(np.pi / (2 * m))
    # unit i: g_i = r − normal_i·(x − centre), zero on the tangent at θ_i and active on the circle's side
    count = zaslavsky(n)
    return Preset(spec=f"lines:{n}", title=f"{n} line{'s' * (n > 1)} in general position",
                  net=_one_layer(-normal, r + normal @ centre), box=_box(box), closed_form=count,
                  linear_closed_form=count, formula=f"1 + n + C(n, 2) = 1 + {n} + {math.comb(n, 2)} = {count}",
                  explanation=f"{n} lines, no two parallel and no three through one point, with every crossing "
                  "inside the box, cut it into 1 + n + C(n, 2) regions (Zaslavsky); this is the most one layer of n "
                  "units can make.")


def concurrent_lines(n: int, *, box=BOX) -> Preset:
    """One hidden layer whose n lines all pass through the centre of the box, at angles π i / n: 2n sectors."""
    n = _check_int(n, "concurrent", 1, MAX_LINES)
    centre, _ = _centre(box)
    theta = np.pi * np.arange(n) / n
    normal, centre = _exactly_concurrent(np.stack([np.cos(theta), np.sin(theta)], axis=1), centre)  # (n, 2)
    return Preset(spec=f"concurrent:{n}", title=f"{n} line{'s' * (n > 1)} through one point",
                  net=_one_layer(normal, -normal @ centre), box=_box(box), closed_form=2 * n, linear_closed_form=2 * n,
                  formula=f"2n = {2 * n}", explanation=f"{n} distinct lines through one point make 2n sectors: "
                  f"degenerate, far fewer than the {zaslavsky(n)} of general position.")


def parallel_lines(n: int, *, box=BOX) -> Preset:
    """One hidden layer of n parallel vertical lines, evenly spaced inside the box: n + 1 strips."""
    n = _check_int(n, "parallel", 1, MAX_LINES)
    x0, x1, _, _ = _box(box)
    offsets = x0 + (x1 - x0) * np.arange(1, n + 1) / (n + 1)
    normal = np.tile([1.0, 0.0], (n, 1))  # (n, 2)
    return Preset(spec=f"parallel:{n}", title=f"{n} parallel line{'s' * (n > 1)}", net=_one_layer(normal, -offsets),
                  box=_box(box), closed_form=n + 1, linear_closed_form=n + 1, formula=f"n + 1 = {n + 1}",
                  explanation=f"{n} parallel lines make n + 1 strips: the least n distinct lines can make.")


def sawtooth(depth: int, *, both: bool = False, box=BOX) -> Preset:
    """The depth-k composition of the tent map t(s) = 2 relu(s) − 4 relu(s − ½) along x (and y if ``both``).

    Layer 1 maps x to s = (x − xmin) / (xmax − xmin) ∈ [0, 1]; every hidden layer holds the units
    relu(s), relu(s − ½) of the previous tent value s (2 units per folded axis).  t maps [0, 1] onto itself
    twice, so t^k has 2^k linear pieces with slopes ±2^k.  Unit relu(s) never switches inside the box
    (s = t^{l-1} ≥ 0 only touches 0), so the activation regions are exactly the pieces: 2^k stripes
    (4^k cells when both axes fold).  The output t^k(x) − ½ (or t^k(x) − t^k(y)) changes slope across every
    boundary, so linear regions = activation regions.  One hidden layer needs 2^k − 1 units for 2^k pieces.
    """
    depth = _check_int(depth, "folded" if both else "sawtooth", 1, MAX_DEPTH_FOLDED if both else MAX_DEPTH)
    x0, x1, y0, y1 = _box(box)
    axes = 2 if both else 1
    eye = np.eye(axes)
    # first layer: per axis (s, s - 1/2) with s the axis rescaled to [0, 1]
    scale, shift = np.array([_unit_map(x0, x1), _unit_map(y0, y1)])[:axes].T
    W1 = np.zeros((2 * axes, 2))
    W1[0::2, :axes] = W1[1::2, :axes] = np.diag(scale)
    b1 = np.repeat(shift, 2) + np.tile([0.0, -0.5], axes)
    # later layers: per axis the tent value 2 u1 - 4 u2 feeds (t, t - 1/2)
    tent = np.kron(eye, np.array([[2.0, -4.0]]))  # (axes, 2 axes): rows t_axis
    W = np.repeat(tent, 2, axis=0)  # (2 axes, 2 axes)
    b = np.tile([0.0, -0.5], axes)
    out_w = tent[:1] - tent[1:] if both else tent
    out_b = np.zeros(1) if both else np.array([-0.5])
    net = Network((W1,) + (W,) * (depth - 1) + (out_w,), (b1,) + (b,) * (depth - 1) + (out_b,))
    count = (2 ** depth) ** axes
    name = "folded" if both else "sawtooth"
    what = "x and y" if both else "x"
    formula = f"(2^k)^2 = 4^{depth} = {count}" if both else f"2^k = 2^{depth} = {count}"
    return Preset(spec=f"{name}:{depth}", title=f"sawtooth of depth {depth} folding {what}", net=net,
                  box=(x0, x1, y0, y1), closed_form=count, linear_closed_form=count, formula=formula,
                  explanation=f"each layer of {2 * axes} units folds {what} once more, doubling the pieces per axis: "
                  f"{count:,} regions from {2 * axes * depth} units, exponential in depth (Telgarsky); one layer "
                  f"needs {2 ** depth - 1} units per axis for as many.")


def init_vs_trained(dataset, config, *, trained: Network | None = None, box=None) -> tuple[Preset, Preset]:
    """The same architecture at initialisation (``init_network`` with the config's seed) and after training.

    ``dataset`` is an explorer Dataset (2-D) and ``config`` a TrainConfig.  ``trained`` is the network that
    ``train(dataset, config)`` gave (training is deterministic, so pass it when you have it); without it this
    function trains, which costs one training run.  No closed form: both counts come from enumeration.
    The box defaults to the dataset's.
    """
    from .fit import init_network, train

    if dataset.dim != 2:
        raise ExplorerError(f"init versus trained needs a 2-D dataset to draw; got {dataset.dim} inputs.")
    box = _box(dataset.domain if box is None else box)
    n_out = 1 if dataset.n_classes == 2 else dataset.n_classes
    start = init_network(config.hidden, n_outputs=n_out, activation=config.activation, alpha=config.alpha,
                         seed=config.seed)
    if trained is None:
        trained = train(dataset, config).net
    if trained.architecture != start.architecture:
        raise ExplorerError(f"the trained network is {trained.architecture} but the configuration gives "
                            f"{start.architecture}; pass the network trained with this configuration.")
    arch = start.architecture
    no_closed_form = dict(box=box, closed_form=None, linear_closed_form=None, formula="")
    init = Preset(spec="init", title=f"{arch} at initialisation (seed {config.seed})", net=start, **no_closed_form,
                  explanation="PyTorch's uniform ±1/√fan_in initialisation: boundaries are spread with no relation "
                  "to the data.")
    done = Preset(spec="trained", title=f"{arch} after {config.epochs} epochs on {dataset.name}", net=trained,
                  **no_closed_form, explanation=f"the same initial weights after training with {config.optimizer}: "
                  "compare where the boundaries went and how many there are.")
    return init, done


def parse_spec(spec: str) -> tuple[str, int]:
    """Read 'name' or 'name:parameter' (e.g. 'sawtooth:5') into (name, parameter), checking both."""
    name, _, value = str(spec).strip().lower().partition(":")
    if name not in PRESETS:
        raise ExplorerError(f"unknown preset {spec!r}; choose one of {', '.join(PRESETS)} (e.g. 'lines:5').")
    _, default, (lo, hi) = PRESETS[name]
    if not value:
        return name, default
    try:
        number = int(value)
    except ValueError:
        raise ExplorerError(f"the preset parameter in {spec!r} must be an integer in {lo}–{hi}.") from None
    return name, _check_int(number, name, lo, hi)


def build(spec: str, *, box=BOX) -> Preset:
    """The preset a spec names: 'lines:N', 'concurrent:N', 'parallel:N', 'sawtooth:K' or 'folded:K'.

    Examples
    --------
    >>> p = build("lines:5")
    >>> p.closed_form, p.formula
    (16, '1 + n + C(n, 2) = 1 + 5 + 10 = 16')
    >>> build("concurrent:5").closed_form       # degenerate: every line through one point
    10
    >>> build("sawtooth:6").closed_form, build("sawtooth:6").net.hidden_widths
    (64, (2, 2, 2, 2, 2, 2))
    """
    name, n = parse_spec(spec)
    if name in ("sawtooth", "folded"):
        return sawtooth(n, both=name == "folded", box=box)
    return {"lines": lines, "concurrent": concurrent_lines, "parallel": parallel_lines}[name](n, box=box)


# ---- helpers ----------------------------------------------------------------------------------
def _one_layer(normal: np.ndarray, bias: np.ndarray) -> Network:
    """2 → n → 1 ReLU network with unit i = relu(normal_i · x + bias_i) and every output weight 1."""
    n = len(normal)
    return Network((normal, np.ones((1, n))), (bias, np.zeros(1)))


def _box(box) -> tuple[float, float, float, float]:
    """The 2-D box as (xmin, xmax, ymin, ymax) floats, from any form of :func:`explorer.net.as_box`."""
    return tuple(float(v) for v in as_box(box, 2).reshape(-1))


def _exactly_concurrent(normal: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normals and centre rounded to a 2^-k grid (k ≤ 20) on which every bias −normal·centre is exact, so the lines
    meet in one point in float64 too (cos, sin and the centre round otherwise, leaving slivers an exact count sees)."""
    for k in range(20, -1, -1):
        n, c = np.round(normal * 2.0 ** k) / 2.0 ** k, np.round(centre * 2.0 ** k) / 2.0 ** k
        if all(Fraction(float(a)) * Fraction(float(c[0])) + Fraction(float(b)) * Fraction(float(c[1]))
               == Fraction(float(a * c[0] + b * c[1])) for a, b in n):
            return n, c
    return np.round(normal), np.zeros(2)


def _unit_map(lo: float, hi: float) -> tuple[float, float]:
    """(scale, shift) with 0 ≤ scale·x + shift ≤ 1 exactly on [lo, hi], as close to onto as float64 allows, and
    shift − ½ exact: the sawtooth's kinks then lie where its tent maps expect them in float64 too."""
    grid = 2.0 ** (math.frexp(abs(lo / (hi - lo)) + 1)[1] - 53)  # shift and shift − ½ are exact on this grid
    scale = 1 / (hi - lo)
    while True:
        shift = math.ceil(-lo * scale / grid) * grid
        while Fraction(lo) * Fraction(scale) + Fraction(shift) < 0:
            shift += grid
        if Fraction(hi) * Fraction(scale) + Fraction(shift) <= 1:
            return scale, shift
        scale = math.nextafter(scale, 0.0)


def _centre(box) -> tuple[np.ndarray, float]:
    x0, x1, y0, y1 = _box(box)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), min(x1 - x0, y1 - y0) / 2


def _check_int(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ExplorerError(f"the {name} preset takes an integer in {lo}–{hi}; got {value!r}.")
    return int(value)
