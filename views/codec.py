"""Kinds of app setting: how each checks a value, reads it leniently, writes it as URL text and holds it in widgets.

Every kind reads two inputs, each with its own typed parser: URL text (:meth:`Setting.parse`) and native values
as widgets and constructors give them (:meth:`Setting.coerce`).  Both return ``(value, problem)``: the value to
use (clamped, or the part that could be kept) or :data:`DEFAULT` when nothing usable was given, and ``None`` or
one phrase for a warning.  :meth:`Setting.check` is the strict reader: any problem raises.  The table of the
app's settings (:data:`views.state.SETTINGS`) is made of these kinds.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from explorer.errors import ExplorerError

__all__ = ["DEFAULT", "Setting", "Number", "LearningRate", "Choice", "Flag", "Widths", "LayerSet", "Points", "Box",
           "Spec"]


DEFAULT = type("Default", (), {"__repr__": lambda self: "DEFAULT"})()  # a reader's "nothing usable: the default"


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One setting: its name, default, widget label and help, group and session-state key.

    Each kind defines ``parse(text)`` and ``coerce(value)``, both returning ``(value or DEFAULT, problem)``.

    group : "data" (arguments of make_dataset), "training" (fields of TrainConfig) or "view"
    shared : part of the app state, so of links (False: a session-only setting such as the region budget)
    key : session-state key of its widget ("s_" + name unless given; None: kept elsewhere)
    """

    name: str
    default: Any
    label: str = ""
    help: str | None = None
    group: str = "view"
    shared: bool = True
    key: str | None = ""
    type: ClassVar[Any] = object

    def __post_init__(self) -> None:
        if self.key == "":
            object.__setattr__(self, "key", f"s_{self.name}")

    # ---- reading ------------------------------------------------------------------------------------
    def read(self, raw) -> tuple[Any, str | None]:
        """Lenient: URL text (a string, or a list of strings whose last one counts) or a native value."""
        if isinstance(raw, str):
            return self.parse(raw)
        if isinstance(raw, (list, tuple)) and all(isinstance(v, str) for v in raw):
            return self.parse(raw[-1] if raw else "")
        return self.coerce(raw)

    def check(self, value):
        """Strict: the value, normalised; ExplorerError if it is not a valid value of this setting."""
        value, problem = self.coerce(value)
        if problem:
            raise ExplorerError(f"invalid app state: {problem}.")
        return value

    def text(self, value) -> str:
        """The URL text of a valid value."""
        return str(value)

    # ---- widgets ------------------------------------------------------------------------------------
    def session(self, value) -> dict[str, Any]:
        """Session-state entries {key: widget value} that show ``value``."""
        return {} if self.key is None else {self.key: value}

    def session_defaults(self) -> dict[str, Any]:
        """Initial session-state entries (those of the default, and of widgets it leaves hidden)."""
        return self.session(self.default)

    def from_session(self, values: Mapping):
        """The native value held by the widgets in ``values`` (session state), or DEFAULT if they are missing."""
        return values.get(self.key, DEFAULT) if self.key is not None else DEFAULT

    # ---- helpers ------------------------------------------------------------------------------------
    def _bad(self, shown: str, what: str, value=DEFAULT) -> tuple[Any, str]:
        return value, f"{self.name}={_show(shown)} {what}"

    def _shown(self, value) -> str:
        """A native value as text for a warning (its URL text when it has one)."""
        try:
            return self.text(value)
        except (TypeError, ValueError, AttributeError, OverflowError):
            return repr(value)


@dataclass(frozen=True, kw_only=True)
class Number(Setting):
    """A number in [lo, hi] (an integer if ``integer``); out-of-range values are clamped."""

    lo: float
    hi: float
    integer: bool = False
    step: float | None = None
    format: str | None = None
    widget: str = "slider"  # or "number"

    @property
    def type(self):
        return int if self.integer else float

    def parse(self, text):
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        return self._fit(x, text)

    def coerce(self, value):
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        return self._fit(x, self._shown(value))

    def _fit(self, x: float, shown: str):
        if math.isnan(x) or (self.integer and math.isfinite(x) and not x.is_integer()):
            return self._bad(shown, f"is not {'an integer' if self.integer else 'a number'}")
        clamped = min(max(x, self.lo), self.hi)
        value = int(clamped) if self.integer else float(clamped)
        if clamped != x:
            return self._bad(shown, f"is outside {number_text(self.lo)}–{number_text(self.hi)}", value)
        return value, None

    def text(self, value) -> str:
        return number_text(value)


@dataclass(frozen=True, kw_only=True)
class LearningRate(Number):
    """A number snapped to the nearest (on a log scale) of ``choices``."""

    choices: tuple[float, ...]

    def _fit(self, x, shown):
        value, problem = super()._fit(x, shown)
        if value is DEFAULT:
            return value, problem
        nearest = min(self.choices, key=lambda r: abs(math.log(r / value)))
        if nearest != value:
            return self._bad(shown, "is not one of the app's learning rates", nearest)
        return value, problem


@dataclass(frozen=True, kw_only=True)
class Choice(Setting):
    """One of ``choices``; case, and '-' or '_' for a space, are forgiven.  ``labels``: shown names."""

    choices: tuple[str, ...]
    labels: Mapping[str, str] | None = None
    widget: str = "select"  # or "radio"
    type: ClassVar[Any] = str

    def parse(self, text):
        value = {_fold(c): c for c in self.choices}.get(_fold(text))
        return (value, None) if value is not None else self._not_one_of(text)

    def coerce(self, value):
        return self.parse(value) if isinstance(value, str) else self._not_one_of(repr(value))

    def _not_one_of(self, shown: str):
        return self._bad(shown, f"is not one of {', '.join(self.text(c) for c in self.choices)}")

    def text(self, value) -> str:
        return value.replace(" ", "-")


@dataclass(frozen=True, kw_only=True)
class Flag(Setting):
    """On or off: '1' / '0' in a URL (also true/false, yes/no, on/off)."""

    widget: str = "checkbox"  # or "toggle"
    type: ClassVar[Any] = bool

    def parse(self, text):
        word = text.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True, None
        if word in ("0", "false", "no", "off"):
            return False, None
        return self._bad(text, "is not 1 or 0")

    def coerce(self, value):
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, numbers.Real) and value in (0, 1):  # True, False, 0 and 1
            return bool(value), None
        return self._bad(repr(value), "is not 1 or 0")

    def text(self, value) -> str:
        return "1" if value else "0"


@dataclass(frozen=True, kw_only=True)
class Widths(Setting):
    """Hidden-layer widths: 1–max_layers layers of units[0]–units[1] units ('16,16' in a URL).

    Widgets: a layer count under ``layers_key`` and one width per layer under ``f"{unit_key}{i}"``.
    """

    max_layers: int
    units: tuple[int, int]
    layer_label: str = "Layer {i}"
    layers_key: str = "s_layers"
    unit_key: str = "s_units_"
    type: ClassVar[Any] = tuple[int, ...]

    def parse(self, text):
        try:
            widths = [float(p) for p in re.split(r"[,\s]+", text.strip()) if p]
        except ValueError:
            widths = []
        return self._fit(widths, text)

    def coerce(self, value):
        try:
            widths = [float(value)] if isinstance(value, numbers.Real) else [float(v) for v in value]
        except (TypeError, ValueError, OverflowError):
            widths = []
        return self._fit(widths, self._shown(value))

    def _fit(self, widths: list[float], shown: str):
        lo, hi = self.units
        if not widths or not all(math.isfinite(w) and w.is_integer() for w in widths):
            return self._bad(shown, "is not a list of layer widths like 16,16")
        clamped = tuple(int(min(max(w, lo), hi)) for w in widths[:self.max_layers])
        if len(widths) > self.max_layers or any(c != w for c, w in zip(clamped, widths)):
            return self._bad(shown, f"needs 1–{self.max_layers} layers of {lo}–{hi} units", clamped)
        return clamped, None

    def text(self, value) -> str:
        return ",".join(number_text(v) for v in value)

    def session(self, value):
        return {self.layers_key: len(value), **{f"{self.unit_key}{i}": w for i, w in enumerate(value)}}

    def session_defaults(self):  # a layer the user adds starts as wide as the default's last one
        return self.session(tuple(self.default[min(i, len(self.default) - 1)] for i in range(self.max_layers))) | {
            self.layers_key: len(self.default)}

    def from_session(self, values):
        if self.layers_key not in values:
            return DEFAULT
        return tuple(values.get(f"{self.unit_key}{i}") for i in range(int(values[self.layers_key])))


@dataclass(frozen=True, kw_only=True)
class LayerSet(Setting):
    """Distinct hidden layers, 0-based in the value and the widget, 1-based in a URL ('1,3')."""

    max_layers: int
    type: ClassVar[Any] = tuple[int, ...]

    def parse(self, text):
        parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
        if not all(p.isdigit() for p in parts):
            return self._bad(text, "is not a list of layer numbers like 1,2")
        return self._fit([int(p) - 1 for p in parts], text)

    def coerce(self, value):
        try:
            layers = [float(v) for v in value]
        except (TypeError, ValueError, OverflowError):
            layers = None
        if layers is None or not all(math.isfinite(v) and v.is_integer() for v in layers):
            return self._bad(repr(value), "is not a list of layer numbers like 1,2")
        return self._fit([int(v) for v in layers], self._shown(value))

    def _fit(self, layers: list[int], shown: str):
        keep = tuple(sorted({v for v in layers if 0 <= v < self.max_layers}))
        if len(keep) != len(layers):
            return self._bad(shown, f"must list distinct layers 1–{self.max_layers}", keep)
        return keep, None

    def text(self, value) -> str:
        return ",".join(str(int(v) + 1) for v in value)

    def session(self, value):
        return {self.key: list(value)}


@dataclass(frozen=True, kw_only=True)
class Points(Setting):
    """At most ``max_points`` points (x, y) within ±limit ('x,y;x,y' in a URL); bad points are dropped."""

    limit: float
    max_points: int
    type: ClassVar[Any] = tuple[tuple[float, float], ...]

    def parse(self, text):
        return self._fit([part.split(",") for part in text.split(";") if part.strip()], text)

    def coerce(self, value):
        try:
            pairs = list(value)
        except TypeError:
            pairs = [None]
        return self._fit(pairs, self._shown(value))

    def _fit(self, pairs: list, shown: str):
        points = []
        for pair in pairs:
            try:
                x, y = (float(v) for v in pair)
            except (TypeError, ValueError, OverflowError):
                continue
            if abs(x) <= self.limit and abs(y) <= self.limit:
                points.append((x, y))
        if len(points) < len(pairs) or len(points) > self.max_points:
            return self._bad(shown, f"must be at most {self.max_points} points x,y;x,y within "
                                    f"±{number_text(self.limit)} (others dropped)", tuple(points[:self.max_points]))
        return tuple(points), None

    def text(self, value) -> str:
        return ";".join(f"{number_text(x)},{number_text(y)}" for x, y in value)

    def session(self, value):
        return {self.key: [tuple(p) for p in value]}


@dataclass(frozen=True, kw_only=True)
class Box(Setting):
    """(xmin, xmax, ymin, ymax) with xmin < xmax, ymin < ymax, within ±limit; one widget per bound."""

    limit: float
    keys: tuple[str, ...] = ("s_xmin", "s_xmax", "s_ymin", "s_ymax")
    step: float | None = None
    type: ClassVar[Any] = tuple[float, float, float, float]

    def parse(self, text):
        try:
            box = [float(v) for v in text.split(",")]
        except ValueError:
            box = []
        return self._fit(box, text)

    def coerce(self, value):
        try:
            box = [float(v) for v in value]
        except (TypeError, ValueError, OverflowError):
            box = []
        return self._fit(box, self._shown(value))

    def _fit(self, box: list[float], shown: str):
        if len(box) != 4 or not all(abs(v) <= self.limit for v in box) or not (box[0] < box[1] and box[2] < box[3]):
            return self._bad(shown, f"is not XMIN,XMAX,YMIN,YMAX with XMIN < XMAX and YMIN < YMAX within "
                                    f"±{number_text(self.limit)}")
        return tuple(box), None

    def text(self, value) -> str:
        return ",".join(number_text(v) for v in value)

    def session(self, value):
        return dict(zip(self.keys, (float(v) for v in value)))

    def from_session(self, values):
        return tuple(values[k] for k in self.keys) if all(k in values for k in self.keys) else DEFAULT


@dataclass(frozen=True, kw_only=True)
class Spec(Setting):
    """A text spec read by ``parser`` (which raises ExplorerError and returns the normal form); ``blank``: as is."""

    parser: Any = field(repr=False)
    blank: tuple[str, ...] = ("",)
    type: ClassVar[Any] = str

    def parse(self, text):
        value = text.strip().lower()
        if value in self.blank:
            return value, None
        try:
            return self.parser(value), None
        except ExplorerError as exc:
            return DEFAULT, f"{self.name}={_show(text)}: {str(exc).rstrip('.')}"

    def coerce(self, value):
        return self.parse(value) if isinstance(value, str) else self._bad(repr(value), "is not text")


def number_text(v) -> str:
    """Shortest text that reads back as the same number: '3' for 3.0, repr otherwise."""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))


def _fold(text: str) -> str:
    return text.strip().lower().replace(" ", "-").replace("_", "-")


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
