"""The app's settings, defined once, and the shareable state they make: URL codec, TrainConfig and widget values.

:data:`SETTINGS` is the one table: for every setting its kind (:mod:`views.codec`), default, range or choices,
widget label and help.  From it come :class:`AppState` (the shared settings as a frozen dataclass, checked
field by field on construction), the URL codec (:func:`to_query`, the lenient :func:`from_query`), the
arguments of make_dataset and the TrainConfig of a state, and the session-state values of the widgets.
Defaults are written once: data defaults are make_dataset's, training defaults TrainConfig's.

A link ``…/?dataset=circles&hidden=8,8&seed=3`` reproduces a view: :func:`to_query` writes only the fields
that differ from the defaults, in table order, as readable text; :func:`from_query` reads any user-edited
URL without raising, clamping values to the table's ranges and collecting one warning per value it could
not use as given.  ``from_query(to_query(s)) == (s, [])`` for every valid state.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import field, fields, make_dataclass, replace

from explorer.ball.certify import CERTIFIERS
from explorer.ball.primitives import NORMS
from explorer.net import ACTIVATIONS
from explorer.plot.figures import COLOR_BY, PALETTES
from explorer.plot.words import CERTIFIER_NAMES
from explorer.train.data import DATASETS, HALF_WIDTH, make_dataset
from explorer.train.fit import MAX_EPOCHS, MAX_HIDDEN_LAYERS, MAX_UNITS, OPTIMIZERS, TrainConfig
from explorer.train.presets import parse_spec

from .codec import DEFAULT, Box, Choice, Flag, LayerSet, LearningRate, Number, Points, Spec, Widths
from .netlink import NetLink

__all__ = ["SETTINGS", "SETTING", "AppState", "to_query", "from_query", "dataset_kwargs", "train_config",
           "needs_training", "made_with", "recipe_problem", "session_defaults", "session_values", "state_values",
           "TABS", "TAB_LABELS", "LEARNING_RATES", "COMPARISON", "ALIASES", "MAX_PINNED", "MAX_REGIONS", "MULTICLASS",
           "HIGHER_DATA", "HIGHER_DATA_LABELS", "SLICE_CERTIFIERS"]

LEARNING_RATES = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # TF Playground's choices
MAX_PINNED = 16
MAX_REGIONS = 60_000  # default size budget of the map's enumeration
MULTICLASS = ("spiral", "blobs")  # the datasets whose number of classes is a choice
TAB_LABELS = {"explore": "Explore", "higher": "Higher dimensions", "findings": "Local findings", "teach": "Teach"}
TABS = tuple(TAB_LABELS)
HIGHER_DATA = ("digits", "wine", "breast_cancer", "iris", "table", "clusters")  # what the Higher tab trains on
HIGHER_DATA_LABELS = {"digits": "digits (8×8 images, 64 inputs)", "wine": "wine (13 inputs)",
                      "breast_cancer": "breast cancer (30 inputs)", "iris": "iris (4 inputs)",
                      "table": "your table (CSV or NPZ)", "clusters": "Gaussian clusters (2–64 inputs)"}
SLICE_CERTIFIERS = tuple(c for c in CERTIFIERS if c != "exact")  # the exact certifier is for small networks
COMPARISON = "init_vs_trained"  # the preset value that shows one architecture at initialisation and trained
ALIASES = {"networkShape": "hidden", "learningRate": "lr", "batchSize": "batch_size"}  # TF Playground names
_DATA = {k: p.default for k, p in inspect.signature(make_dataset).parameters.items()}  # make_dataset's defaults
_TRAINING = {f.name: f.default for f in fields(TrainConfig)}  # TrainConfig's defaults


def _preset(text: str) -> str:
    name, n = parse_spec(text)
    return f"{name}:{n}"


SETTINGS = (
    # data: the arguments of make_dataset (the seed also seeds training)
    Choice(name="dataset", default=DATASETS[0], group="data", choices=DATASETS, label="Dataset"),
    Number(name="n_classes", default=_DATA["n_classes"], group="data", lo=2, hi=10, integer=True, label="Classes",
           help="Spiral and blobs only; the other datasets have two classes."),
    Number(name="n_points", default=_DATA["n_points"], group="data", lo=20, hi=2000, integer=True, step=20,
           label="Number of points"),
    Number(name="noise", default=_DATA["noise"], group="data", lo=0.0, hi=0.5, step=0.05, label="Noise"),
    Number(name="test_fraction", default=_DATA["test_fraction"], group="data", lo=0.0, hi=0.9, step=0.1,
           label="Test share"),
    Number(name="seed", default=_DATA["seed"], group="data", lo=0, hi=2**31 - 1, integer=True, step=1,
           widget="number", label="Seed"),
    # training: the fields of TrainConfig
    Widths(name="hidden", default=_TRAINING["hidden"], group="training", max_layers=MAX_HIDDEN_LAYERS,
           units=(1, MAX_UNITS), label="Hidden layers", key=None),
    Choice(name="activation", default=_TRAINING["activation"], group="training", choices=ACTIVATIONS,
           labels={"relu": "ReLU", "leaky_relu": "LeakyReLU"}, widget="radio", label="Activation"),
    Number(name="alpha", default=0.01, group="training", lo=0.01, hi=0.5, step=0.01, label="LeakyReLU slope α",
           help="Used when the activation is LeakyReLU."),  # not TrainConfig's 0: the slope offered on switching
    Choice(name="optimizer", default=_TRAINING["optimizer"], group="training", choices=OPTIMIZERS,
           label="Optimiser"),
    LearningRate(name="lr", default=_TRAINING["lr"], group="training", lo=LEARNING_RATES[0], hi=LEARNING_RATES[-1],
                 choices=LEARNING_RATES, label="Learning rate"),
    Number(name="epochs", default=_TRAINING["epochs"], group="training", lo=1, hi=MAX_EPOCHS, integer=True,
           step=50, widget="number", label="Epochs"),
    Number(name="batch_size", default=_TRAINING["batch_size"], group="training", lo=1, hi=4096, integer=True,
           step=8, widget="number", label="Batch size"),
    Number(name="weight_decay", default=_TRAINING["weight_decay"], group="training", lo=0.0, hi=1.0, step=1e-4,
           format="%.4f", widget="number", label="Weight decay"),
    # view
    Choice(name="color_by", default=COLOR_BY[0], choices=COLOR_BY, label="Colour regions by"),
    Choice(name="palette", default=next(iter(PALETTES)), choices=tuple(PALETTES), label="Palette",
           help="okabe-ito and tol-light are colour-blind safe."),
    LayerSet(name="show_layers", default=(), max_layers=MAX_HIDDEN_LAYERS, label="Neuron boundaries of layer"),
    Number(name="neuron", default=0, lo=0, hi=MAX_HIDDEN_LAYERS * MAX_UNITS, integer=True, step=1, widget="number",
           label="Highlighted neuron", help="Counted through the hidden layers from 1; 0: none. Click a neuron of "
           "the network diagram to choose it."),
    Flag(name="show_decision", default=True, label="Decision boundary"),
    Flag(name="show_data", default=True, label="Data points"),
    Flag(name="show_test", default=False, label="Test points"),
    Points(name="pinned", default=(), limit=1e4, max_points=MAX_PINNED, key="pinned", label="Pinned points"),
    Number(name="radius", default=0.5, lo=1e-6, hi=100.0, format="%.3f", label="Ball radius r"),
    Choice(name="norm", default=NORMS[0], choices=NORMS, label="Norm",
           labels={"2": "ℓ2 (disk)", "inf": "ℓ∞ (square)", "1": "ℓ1 (diamond)"}),
    Choice(name="certifier", default="symbolic", choices=CERTIFIERS, label="Certifier",
           labels=CERTIFIER_NAMES, help="Finds the neurons that may switch inside the ball; each one down the "
           "list is tighter and slower. The MILP one finds each neuron's exact range, which still leaves the "
           "region count a bound."),
    Box(name="domain", default=(-HALF_WIDTH, HALF_WIDTH, -HALF_WIDTH, HALF_WIDTH), limit=1e4, step=0.5,
        label="Map domain", key=None),
    Flag(name="classroom", default=False, widget="toggle", label="Classroom mode",
         help="Hide the controls a demonstration does not need."),
    Spec(name="preset", default="", parser=_preset, blank=("", COMPARISON), key=None,
         label="Classic construction (a preset spec such as 'sawtooth:4', or init_vs_trained)"),
    Choice(name="tab", default=TABS[0], choices=TABS, labels=TAB_LABELS, key=None, label="Tab"),
    # the network, when no setting remakes it (an upload): its fingerprint, and its weights when small
    NetLink(name="net", default="", group="network", key=None, label="Uploaded network"),
    # the session's own settings (not in links)
    Number(name="max_regions", default=MAX_REGIONS, shared=False, lo=1_000, hi=1_000_000, integer=True,
           step=10_000, widget="number", label="Region budget", help="Enumeration stops beyond this many regions."),
    # Higher dimensions: the data a network is trained on there, and the slice through data points (session only)
    Choice(name="higher_data", default=HIGHER_DATA[0], shared=False, choices=HIGHER_DATA, key="higher_data",
           labels=HIGHER_DATA_LABELS, label="Data", help="Real data is scaled to [0, 1] per feature; the box "
           "counted is [0, 1]^n. Clusters live in [-3, 3]^n."),
    Choice(name="slice_split", default="test", shared=False, choices=("test", "train"), widget="radio",
           key="slice_split", labels={"test": "test samples", "train": "training samples"}, label="Samples"),
    Box(name="slice_extent", default=(-0.5, 1.5, -0.5, 1.5), shared=False, limit=100.0, step=0.25,
        keys=("slice_amin", "slice_amax", "slice_bmin", "slice_bmax"), label="Extent of the plane in (a, b)"),
    Choice(name="slice_color_by", default="class", shared=False, choices=COLOR_BY, key="slice_color_by",
           label="Colour regions by"),
    Number(name="slice_nearby", default=0, shared=False, lo=0, hi=50, integer=True, key="slice_nearby",
           label="Other samples drawn", help="The samples nearest to the plane, drawn where they project onto it."),
    Number(name="slice_radius", default=0.25, shared=False, lo=1e-4, hi=10.0, format="%.4f", widget="number",
           key="slice_radius", label="Ball radius r (input space)"),
    Choice(name="slice_certifier", default="symbolic", shared=False, choices=SLICE_CERTIFIERS,
           key="slice_certifier", label="Certifier", help="lipschitz < ibp < symbolic < lp: tighter and slower."),
    Flag(name="animate", default=True, shared=False, widget="toggle", label="Animate training",
         help="About 40 frames per run, each shown for at least 0.3 s; off: train at full speed."),
)
SETTING = {s.name: s for s in SETTINGS}
_SHARED = tuple(s for s in SETTINGS if s.shared)


def _check(self) -> None:
    for s in _SHARED:
        object.__setattr__(self, s.name, s.check(getattr(self, s.name)))


AppState = make_dataclass(
    "AppState", [(s.name, s.type, field(default=s.default)) for s in _SHARED], frozen=True,
    namespace={"__post_init__": _check, "__module__": __name__, "__doc__": (
        "What a shared link fixes: data, architecture, training and view (defaults: the app's start-up view).\n\n"
        "One field per shared row of SETTINGS, in its order; construction checks and normalises every field\n"
        "(ExplorerError if one is invalid); from_query is the lenient reader.\n\n" + "\n".join(
            f"{s.name} : {s.label} (default {s.default!r})" for s in _SHARED))})


def to_query(state: AppState) -> dict[str, str]:
    """Query parameters {field: text} of the fields that differ from the defaults, in table order.

    Text forms: numbers as the shortest round-tripping decimal ('0.1', '3', '1e-05'), tuples joined by ','
    ('16,16'), pinned points as 'x,y;x,y', booleans as '1' / '0', hidden layers 1-based.

    Examples
    --------
    >>> to_query(AppState(dataset="circles", hidden=(8, 8), lr=0.03, pinned=((0.5, 1.0),), show_layers=(0,)))
    {'dataset': 'circles', 'hidden': '8,8', 'lr': '0.03', 'show_layers': '1', 'pinned': '0.5,1'}
    >>> to_query(AppState())                     # the start-up view: an empty query
    {}
    """
    return {s.name: s.text(getattr(state, s.name)) for s in _SHARED if getattr(state, s.name) != s.default}


def from_query(params: Mapping) -> tuple[AppState, list[str]]:
    """The state a URL's query parameters describe, and one warning per value not used as given.

    ``params`` maps names to text (or lists of text, as ``urllib.parse.parse_qs`` gives: the last one
    counts), or to native values as widgets hold them (numbers, booleans, lists such as hidden=[8, 8]),
    each read by its setting's typed reader.  Unknown names, unreadable values and unknown choices fall
    back to the default; numbers out of range are clamped.  Never raises on user input.  TF Playground's
    networkShape, learningRate and batchSize are read as hidden, lr and batch_size.

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
    shared = {s.name: s for s in _SHARED}
    for raw_key, raw in params.items():
        key = ALIASES.get(str(raw_key), str(raw_key))
        setting = shared.get(key)
        if setting is None:
            warnings.append(f"ignored unknown parameter {str(raw_key)[:40]!r}.")
            continue
        value, problem = setting.read(raw)
        if value is not DEFAULT:
            values[key] = value
        if problem:
            warnings.append(f"{problem}; using {key}={setting.text(values.get(key, setting.default)) or '(none)'}.")
    return replace(AppState(), **values), warnings


def dataset_kwargs(state: AppState) -> dict:
    """Keyword arguments of ``make_dataset`` for the state (n_classes only where the dataset has a choice)."""
    kwargs = {s.name: getattr(state, s.name) for s in _SHARED if s.group == "data"}
    kwargs["name"] = kwargs.pop("dataset")
    if state.dataset not in MULTICLASS:
        kwargs["n_classes"] = 2
    return kwargs


def train_config(state: AppState, *, snapshot_every: int = 0) -> TrainConfig:
    """The TrainConfig the state describes: every TrainConfig field that is a setting (alpha only matters for
    LeakyReLU, else 0; the data seed seeds training)."""
    values = {f.name: getattr(state, f.name) for f in fields(TrainConfig) if f.name in SETTING}
    values["alpha"] = state.alpha if state.activation == "leaky_relu" else 0.0
    return TrainConfig(**values, snapshot_every=snapshot_every)


def needs_training(state: AppState) -> bool:
    """True if the state's data or training settings differ from the defaults (the shipped example's) and it
    names no uploaded network (whose link shows that network, never one trained from the settings)."""
    return not state.net and any(
        getattr(state, s.name) != s.default for s in _SHARED if s.group in ("data", "training")
        and (s.name != "alpha" or state.activation == "leaky_relu"))


def made_with(provenance: dict, *, groups: tuple[str, ...] = ("data", "training")) -> dict:
    """The settings {name: value} of ``groups`` that a provenance records (as training_provenance writes it).

    Empty unless the record holds every group asked for, on planar data, with every field valid
    (:func:`recipe_problem` says what is wrong).  A run stopped after k epochs is recorded with epochs=k: the
    first k epochs of a run are a run of k epochs, with the same weights.
    """
    return _recipe(provenance, groups)[0]


def recipe_problem(provenance: dict, *, groups: tuple[str, ...] = ("data", "training")) -> str | None:
    """Why the settings a provenance records cannot be used (one phrase), or None if they can or it has none."""
    return _recipe(provenance, groups)[1]


def _recipe(provenance: dict, groups: tuple[str, ...]) -> tuple[dict, str | None]:
    data, training = provenance.get("dataset"), provenance.get("training")
    if not isinstance(data, dict) or data.get("dim", 2) != 2:
        return {}, None
    if "training" in groups and not isinstance(training, dict):
        return {}, None
    raw = {s.name: data[s.name] for s in _SHARED if s.group == "data" and s.name in data}
    raw["dataset"] = data.get("name")
    if "training" in groups:
        raw |= {s.name: training[s.name] for s in _SHARED if s.group == "training" and s.name in training}
        raw["hidden"] = training.get("hidden")
        if training.get("activation") != "leaky_relu":
            raw.pop("alpha", None)  # a ReLU run records alpha 0, which is no slope to offer
        done = (provenance.get("history") or {}).get("epoch") if isinstance(provenance.get("history"), dict) else None
        if provenance.get("stopped") and isinstance(done, list) and done:
            raw["epochs"] = done[-1]
    out = {}
    for name, value in raw.items():
        setting = SETTING[name]
        if value is None:
            return {}, f"{name} is missing"
        if isinstance(value, str) and setting.type in (int, float):
            return {}, f"{name}={str(value)[:40]!r} is not a number"
        value, problem = setting.coerce(value)
        if problem or value is DEFAULT:
            return {}, problem or f"{name} is missing"
        out[name] = value
    return out, None


def session_defaults() -> dict:
    """The initial session-state values of every setting's widgets."""
    return {k: v for s in SETTINGS for k, v in s.session_defaults().items()}


def session_values(values: Mapping) -> dict:
    """Session-state entries {widget key: value} that show the given settings {name: value}."""
    return {k: v for name, value in values.items() if name in SETTING for k, v in SETTING[name].session(value).items()}


def state_values(session: Mapping) -> dict:
    """The settings {name: native value} the widgets in ``session`` hold (for :func:`from_query`)."""
    values = {s.name: s.from_session(session) for s in _SHARED}
    return {name: v for name, v in values.items() if v is not DEFAULT}
