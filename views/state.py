"""Shareable app state: every setting that determines the view, to and from URL query parameters.

A link ``…/?dataset=circles&hidden=8,8&seed=3`` reproduces a view: :func:`to_query` writes only the fields
that differ from :class:`AppState`'s defaults, in field order, as human-readable text; :func:`from_query`
reads any user-edited URL back without raising, clamping values to the app's limits and collecting one
warning per value it could not use as given.  ``from_query(to_query(s)) == (s, [])`` for every valid state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from explorer.ball.certify import CERTIFIERS
from explorer.train.data import DATASETS
from explorer.errors import ExplorerError
from explorer.ball.primitives import NORMS
from explorer.plot.figures import COLOR_BY, PALETTES
from explorer.net import ACTIVATIONS
from explorer.train.presets import parse_spec
from explorer.train.fit import MAX_EPOCHS, MAX_HIDDEN_LAYERS, MAX_UNITS, OPTIMIZERS, TrainConfig

__all__ = ["AppState", "to_query", "from_query", "dataset_kwargs", "train_config", "LIMITS", "LEARNING_RATES",
           "TABS", "COMPARISON", "ALIASES", "MAX_PINNED"]

LIMITS = {  # inclusive ranges of the app's widgets (a URL asking for more is clamped)
    "n_points": (20, 2000), "n_classes": (2, 10), "noise": (0.0, 0.5), "test_fraction": (0.0, 0.9),
    "seed": (0, 2**31 - 1), "alpha": (0.01, 0.5), "lr": (1e-5, 10.0), "epochs": (1, MAX_EPOCHS),
    "batch_size": (1, 4096), "weight_decay": (0.0, 1.0), "radius": (1e-6, 100.0), "domain": (-1e4, 1e4),
    "layers": (1, MAX_HIDDEN_LAYERS), "units": (1, MAX_UNITS),
}
LEARNING_RATES = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # TF Playground's choices
MAX_PINNED = 16
TABS = ("explore", "higher", "findings", "teach")
COMPARISON = "init_vs_trained"  # the preset value that shows one architecture at initialisation and trained
ALIASES = {"networkShape": "hidden", "learningRate": "lr", "batchSize": "batch_size"}  # TF Playground names


@dataclass(frozen=True)
class AppState:
    """What a shared link fixes: data, architecture, training and view (defaults: the app's start-up view).

    dataset, n_classes, n_points, noise, test_fraction, seed : arguments of ``make_dataset`` (seed also
        seeds training; n_classes matters for spiral and blobs only)
    hidden, activation, alpha, optimizer, lr, epochs, batch_size, weight_decay : the ``TrainConfig``
        (alpha is the LeakyReLU slope, used when activation is 'leaky_relu'; lr one of LEARNING_RATES)
    color_by, palette : region colouring, keys of explorer.plot.figures.COLOR_BY and PALETTES
    show_layers : 0-based hidden layers whose neurons' boundaries are drawn (the URL writes them 1-based)
    show_decision, show_data, show_test : draw the decision boundary, the training points, the test points
    pinned : points (x, y) pinned for inspection, at most MAX_PINNED
    radius, norm, certifier : the ball around inspected points and how its regions are bounded
    domain : (xmin, xmax, ymin, ymax) of the region map
    classroom : hide the controls a demonstration does not need
    preset : '' (the trained or loaded network), a preset spec such as 'sawtooth:4', or COMPARISON
    tab : the tab to open, one of TABS

    Construction validates strictly (ExplorerError); :func:`from_query` is the lenient reader.
    """

    dataset: str = "moons"
    n_classes: int = 2
    n_points: int = 500
    noise: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    hidden: tuple[int, ...] = TrainConfig.hidden  # training defaults live in TrainConfig
    activation: str = TrainConfig.activation
    alpha: float = 0.01  # the LeakyReLU slope offered when the user switches to it
    optimizer: str = TrainConfig.optimizer
    lr: float = TrainConfig.lr
    epochs: int = TrainConfig.epochs
    batch_size: int = TrainConfig.batch_size
    weight_decay: float = TrainConfig.weight_decay
    color_by: str = "region"
    palette: str = "okabe-ito"
    show_layers: tuple[int, ...] = ()
    show_decision: bool = True
    show_data: bool = True
    show_test: bool = False
    pinned: tuple[tuple[float, float], ...] = ()
    radius: float = 0.5
    norm: str = "2"
    certifier: str = "symbolic"
    domain: tuple[float, float, float, float] = (-3.0, 3.0, -3.0, 3.0)
    classroom: bool = False
    preset: str = ""
    tab: str = "explore"

    def __post_init__(self) -> None:
        for f in fields(self):
            value, problem = _PARSERS[f.name](_to_text(f.name, getattr(self, f.name)))  # the URL's path
            if problem:
                raise ExplorerError(f"invalid app state: {problem}.")
            object.__setattr__(self, f.name, value)


def to_query(state: AppState) -> dict[str, str]:
    """Query parameters {field: text} of the fields that differ from the defaults, in field order.

    Text forms: numbers as the shortest round-tripping decimal ('0.1', '3', '1e-05'), tuples joined by ','
    ('16,16'), pinned points as 'x,y;x,y', booleans as '1' / '0', hidden layers 1-based.

    Examples
    --------
    >>> to_query(AppState(dataset="circles", hidden=(8, 8), lr=0.03, pinned=((0.5, 1.0),), show_layers=(0,)))
    {'dataset': 'circles', 'hidden': '8,8', 'lr': '0.03', 'show_layers': '1', 'pinned': '0.5,1'}
    >>> to_query(AppState())                     # the start-up view: an empty query
    {}
    """
    default = AppState()
    return {f.name: _to_text(f.name, getattr(state, f.name)) for f in fields(AppState)
            if getattr(state, f.name) != getattr(default, f.name)}


def from_query(params: Mapping) -> tuple[AppState, list[str]]:
    """The state a URL's query parameters describe, and one warning per value not used as given.

    ``params`` maps names to text (or lists of text, as ``urllib.parse.parse_qs`` gives: the last one
    counts), or to native values as widgets hold them (numbers, booleans, tuples such as hidden=(8, 8)),
    which are read through their text form; so the app can build its state leniently from its widgets.
    Unknown names, unreadable values and unknown choices fall back to the default; numbers out of range
    are clamped to LIMITS.  Never raises on user input.  TF Playground's networkShape, learningRate and
    batchSize are read as hidden, lr and batch_size.

    Examples
    --------
    >>> state, warnings = from_query({"networkShape": "4,2", "epochs": "99999", "colour": "red"})
    >>> state.hidden, state.epochs
    ((4, 2), 10000)
    >>> warnings
    ["epochs='99999' is outside 1–10000; using epochs=10000.", "ignored unknown parameter 'colour'."]
    """
    warnings: list[str] = []
    values: dict = {}
    names = {f.name for f in fields(AppState)}
    for raw_key, raw in params.items():
        key = ALIASES.get(str(raw_key), str(raw_key))
        if key not in names:
            warnings.append(f"ignored unknown parameter {str(raw_key)[:40]!r}.")
            continue
        value, problem = _PARSERS[key](_as_text(key, raw))
        if value is not _DEFAULT:
            values[key] = value
        if problem:
            shown = _to_text(key, values.get(key, _default(key)))
            warnings.append(f"{problem}; using {key}={shown or '(none)'}.")
    return replace(AppState(), **values), warnings


def dataset_kwargs(state: AppState) -> dict:
    """Keyword arguments of ``make_dataset`` for the state (n_classes only where the dataset has a choice)."""
    return {"name": state.dataset, "n_points": state.n_points, "noise": state.noise,
            "test_fraction": state.test_fraction, "seed": state.seed,
            "n_classes": state.n_classes if state.dataset in ("spiral", "blobs") else 2}


def train_config(state: AppState, *, snapshot_every: int = 0) -> TrainConfig:
    """The TrainConfig the state describes (alpha only matters for LeakyReLU; the data seed seeds training)."""
    return TrainConfig(hidden=state.hidden, activation=state.activation,
                       alpha=state.alpha if state.activation == "leaky_relu" else 0.0, optimizer=state.optimizer,
                       lr=state.lr, epochs=state.epochs, batch_size=state.batch_size,
                       weight_decay=state.weight_decay, seed=state.seed, snapshot_every=snapshot_every)


# ---- text forms ---------------------------------------------------------------------------------
_DEFAULT = object()  # a parser's "use the default" answer


def _to_text(name: str, value) -> str:
    if name == "pinned":
        return ";".join(f"{_num(x)},{_num(y)}" for x, y in value)
    if name == "show_layers":
        return ",".join(str(int(v) + 1) for v in value)
    if name == "color_by":
        return str(value).replace(" ", "-")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return ",".join(_num(v) for v in value)
    if isinstance(value, (int, float)):
        return _num(value)
    return str(value)


def _as_text(key: str, raw) -> str:
    """A query value as text: the last of a list of strings, a string as is, a native value via _to_text."""
    if isinstance(raw, (list, tuple)) and all(isinstance(v, str) for v in raw):
        return raw[-1] if raw else ""
    if isinstance(raw, str):
        return raw
    if raw is None:
        return ""
    try:
        return _to_text(key, raw)
    except (TypeError, ValueError):
        return repr(raw)


def _num(v) -> str:
    """Shortest text that reads back as the same number: '3' for 3.0, repr otherwise."""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))


def _default(name: str):
    return next(f.default for f in fields(AppState) if f.name == name)


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


# ---- parsers: text -> (value or _DEFAULT, the problem with the text or None) -------------------------
def _number(name: str, integer: bool):
    lo, hi = LIMITS[name]

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isnan(value) or (integer and math.isfinite(value) and not value.is_integer()):
            return _DEFAULT, f"{name}={_show(text)} is not {'an integer' if integer else 'a number'}"
        clamped = min(max(value, lo), hi)
        value = int(clamped) if integer else clamped
        if clamped != float(text):
            return value, f"{name}={_show(text)} is outside {_num(lo)}–{_num(hi)}"
        return value, None
    return parse


def _choice(name: str, choices):
    """One of ``choices``; case, and '-' or '_' for spaces, are forgiven."""
    canon = {c.lower().replace(" ", "-").replace("_", "-"): c for c in choices}

    def parse(text):
        value = canon.get(text.strip().lower().replace(" ", "-").replace("_", "-"))
        if value is not None:
            return value, None
        return _DEFAULT, f"{name}={_show(text)} is not one of {', '.join(c.replace(' ', '-') for c in choices)}"
    return parse


def _learning_rate(text):
    value, problem = _number("lr", False)(text)
    if value is _DEFAULT:
        return value, problem
    nearest = min(LEARNING_RATES, key=lambda r: abs(math.log(r / value)))
    if nearest != value:
        return nearest, f"lr={_show(text)} is not one of the app's learning rates"
    return value, problem


def _flag(name: str):
    def parse(text):
        value = text.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True, None
        if value in ("0", "false", "no", "off"):
            return False, None
        return _DEFAULT, f"{name}={_show(text)} is not 1 or 0"
    return parse


def _hidden(text):
    (lo, hi), most = LIMITS["units"], LIMITS["layers"][1]
    try:
        widths = [float(p) for p in re.split(r"[,\s]+", text.strip()) if p]
        if not widths or not all(math.isfinite(w) and w.is_integer() for w in widths):
            raise ValueError
    except ValueError:
        return _DEFAULT, f"hidden={_show(text)} is not a list of layer widths like 16,16"
    clamped = tuple(int(min(max(w, lo), hi)) for w in widths[:most])
    if len(widths) > most or any(c != w for c, w in zip(clamped, widths)):
        return clamped, f"hidden={_show(text)} needs 1–{most} layers of {lo}–{hi} units"
    return clamped, None


def _layers(text):
    most = LIMITS["layers"][1]
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not all(p.isdigit() for p in parts):
        return _DEFAULT, f"show_layers={_show(text)} is not a list of layer numbers like 1,2"
    keep = tuple(sorted({int(p) - 1 for p in parts if 1 <= int(p) <= most}))  # 1-based text, 0-based value
    if len(keep) != len(parts):
        return keep, f"show_layers={_show(text)} must list distinct layers 1–{most}"
    return keep, None


def _pinned(text):
    lo, hi = LIMITS["domain"]
    points, bad = [], False
    for part in (p for p in text.split(";") if p.strip()):
        try:
            x, y = (float(v) for v in part.split(","))
            if not (lo <= x <= hi and lo <= y <= hi):
                raise ValueError
            points.append((x, y))
        except ValueError:
            bad = True
    if bad or len(points) > MAX_PINNED:
        return tuple(points[:MAX_PINNED]), (f"pinned={_show(text)} must be at most {MAX_PINNED} points x,y;x,y "
                                            f"within ±{_num(hi)} (others dropped)")
    return tuple(points), None


def _domain(text):
    lo, hi = LIMITS["domain"]
    try:
        box = tuple(float(v) for v in text.split(","))
        if len(box) != 4 or not all(lo <= v <= hi for v in box) or not (box[0] < box[1] and box[2] < box[3]):
            raise ValueError
    except ValueError:
        return _DEFAULT, (f"domain={_show(text)} is not XMIN,XMAX,YMIN,YMAX with XMIN < XMAX and YMIN < YMAX "
                          f"within ±{_num(hi)}")
    return box, None


def _preset(text):
    value = text.strip().lower()
    if value in ("", COMPARISON):
        return value, None
    try:
        name, n = parse_spec(value)
    except ExplorerError as exc:
        return _DEFAULT, f"preset={_show(text)}: {str(exc).rstrip('.')}"
    return f"{name}:{n}", None


_PARSERS = {
    "dataset": _choice("dataset", DATASETS), "n_classes": _number("n_classes", True),
    "n_points": _number("n_points", True),
    "noise": _number("noise", False), "test_fraction": _number("test_fraction", False),
    "seed": _number("seed", True), "hidden": _hidden, "activation": _choice("activation", ACTIVATIONS),
    "alpha": _number("alpha", False), "optimizer": _choice("optimizer", OPTIMIZERS), "lr": _learning_rate,
    "epochs": _number("epochs", True), "batch_size": _number("batch_size", True),
    "weight_decay": _number("weight_decay", False), "color_by": _choice("color_by", COLOR_BY),
    "palette": _choice("palette", tuple(PALETTES)), "show_layers": _layers, "show_decision": _flag("show_decision"),
    "show_data": _flag("show_data"), "show_test": _flag("show_test"), "pinned": _pinned,
    "radius": _number("radius", False), "norm": _choice("norm", NORMS), "certifier": _choice("certifier", CERTIFIERS),
    "domain": _domain, "classroom": _flag("classroom"), "preset": _preset, "tab": _choice("tab", TABS),
}
