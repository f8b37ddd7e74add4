"""Arguments of the command line: a parser whose every error is one line, numbers in any float spelling (negative
ones too: ``--center -1e-3 0``), checked ranges, and the options every subcommand shares (model, box, budgets).

Numbers are read by :func:`number` and :func:`count`: ``1e3``, ``-.5``, ``1_000`` and a Unicode minus (−) are
accepted; NaN, infinities and values outside the option's range are refused by name.  A whole-number option reads
``1e9`` as 1,000,000,000 and then applies its range (``--trials 1e9`` is refused, never silently truncated).
"""

from __future__ import annotations

import argparse
import math
import re
import sys

from ..errors import ExplorerError

__all__ = ["UsageError", "HelpShown", "Parser", "number", "count", "add_model", "add_box", "add_plane",
           "add_budgets", "add_json", "MAX_TIME_LIMIT", "MAX_REGIONS_CAP", "MAX_MEMORY_GB"]

MAX_TIME_LIMIT = 7 * 86_400.0  # seconds: a week
MAX_REGIONS_CAP = 100_000_000  # the largest --max-regions accepted (memory is bounded by --max-memory anyway)
MAX_MEMORY_GB = 1024.0
# what argparse must read as a number, not as an option: -1, -1.5, -.5, -1e-3, -1E+3, -inf, -nan
_NEGATIVE = re.compile(r"^-(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


class UsageError(ExplorerError):
    """A bad command line (argparse's message, in one line)."""


class HelpShown(Exception):
    """``--help`` was printed: the command ends with status 0."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of printing usage and exiting, prints help to
    ``help_stream``, and reads every negative number as a value."""

    def __init__(self, *args, help_stream=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.help_stream = help_stream
        self._negative_number_matcher = _NEGATIVE

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", lambda **kw: Parser(help_stream=self.help_stream, **kw))
        return super().add_subparsers(**kwargs)

    def error(self, message: str):
        raise UsageError(f"{message.rstrip('.')} (see {self.prog} --help).")

    def exit(self, status: int = 0, message: str | None = None):
        if status == 0:
            raise HelpShown()
        raise UsageError((message or "invalid arguments").strip())

    def _print_message(self, message: str, file=None) -> None:
        if message:
            stream = self.help_stream if file is None or file is sys.stdout else file
            (stream or sys.stdout).write(message)


def number(*, lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
           what: str = "a number"):
    """argparse type: a finite float in [lo, hi] (lo excluded if ``lo_open``, hi if ``hi_open``)."""

    def read(text: str) -> float:
        x = _float(text)
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError(f"needs {what}, a finite number; got {_show(text)}")
        if lo is not None and (x < lo or (lo_open and x == lo)):
            raise argparse.ArgumentTypeError(f"needs {what} {'>' if lo_open else '≥'} {lo:g}; got {_show(text)}")
        if hi is not None and (x > hi or (hi_open and x == hi)):
            raise argparse.ArgumentTypeError(f"needs {what} {'<' if hi_open else '≤'} {hi:g}; got {_show(text)}")
        return x

    read.__name__ = "number"
    return read


def count(*, lo: int, hi: int, what: str = "a whole number"):
    """argparse type: a whole number in [lo, hi], also written like 1e3 or 1_000."""

    def read(text: str) -> int:
        x = _float(text)
        if not (math.isfinite(x) and x.is_integer()):
            raise argparse.ArgumentTypeError(f"needs {what} from {lo:,} to {hi:,}; got {_show(text)}")
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(f"needs {what} from {lo:,} to {hi:,}; got {_show(text)}")
        return int(x)

    read.__name__ = "count"
    return read


def add_model(p: argparse.ArgumentParser) -> None:
    """MODEL, --activation and --layers (every model subcommand)."""
    p.add_argument("model", metavar="MODEL", help="state_dict, safetensors, TorchScript, ONNX or explorer checkpoint")
    p.add_argument("--activation", default=None, help="relu | leaky_relu:ALPHA (for state_dict files)")
    p.add_argument("--layers", default=None, metavar="FILE.json",
                   help="JSON description of the layers (for state_dict / safetensors files of CNNs; default: "
                        "MODEL.json beside MODEL if it exists)")


def add_box(p: argparse.ArgumentParser, what: str) -> None:
    """The one box option of every subcommand (``--domain`` is its older spelling)."""
    p.add_argument("--box", "--domain", dest="box", nargs="+", type=number(what="a box bound"), default=None,
                   metavar="B", help=f"{what}: LO HI (the same interval on every input) or 2·n0 numbers LO1 HI1 LO2 "
                   "HI2 … (2-D: XMIN XMAX YMIN YMAX); default: the checkpoint's box, else -3 3")


def add_plane(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plane", default=None, metavar="POINTS.npy",
                   help="partition the plane x = p0 + a·(p1 − p0) + b·(p2 − p0) through the three rows of "
                        "POINTS (an array of shape (3, n_inputs)), in (a, b) coordinates")


def add_budgets(p: argparse.ArgumentParser, *, seconds: float, regions: int | None,
                regions_help: str = "most regions to enumerate") -> None:
    """--time-limit, --max-regions (when ``regions`` is given) and --max-memory, with their defaults."""
    p.add_argument("--time-limit", type=number(lo=0, lo_open=True, hi=MAX_TIME_LIMIT, what="a time limit in seconds"),
                   default=seconds, metavar="SECONDS",
                   help=f"seconds for the whole request, counted once the model is read (and MIPBound's workers are "
                        f"up) (default {seconds:g})")
    if regions is not None:
        p.add_argument("--max-regions", type=count(lo=1, hi=MAX_REGIONS_CAP), default=regions, metavar="N",
                       help=f"{regions_help} (default {regions:,})")
    p.add_argument("--max-memory", type=number(lo=0.1, hi=MAX_MEMORY_GB, what="a memory budget in GB"), default=1.5,
                   metavar="GB", help="memory the command may allocate beyond start-up, in GB (default 1.5)")


def add_json(p: argparse.ArgumentParser, text: str = "print one JSON object on stdout") -> None:
    p.add_argument("--json", action="store_true", help=text)


def _float(text: str) -> float:
    try:
        return float(str(text).strip().replace("\u2212", "-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"needs a number; got {_show(text)}") from None


def _show(text: str) -> str:
    text = str(text)
    return repr(text if len(text) <= 40 else text[:37] + "...")
