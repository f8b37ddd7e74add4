"""Command line: python -m explorer {regions,local,count,figure} MODEL … | study STUDY.toml.

Every model subcommand reads a box the same way (``--box``, or its older spelling ``--domain``): LO HI for the same
interval on every input, or 2·n0 numbers LO1 HI1 LO2 HI2 … (for two inputs: XMIN XMAX YMIN YMAX).  Every subcommand
has a time budget (``--time-limit``), a memory budget (``--max-memory``) and, where it enumerates, a region budget
(``--max-regions``), each with a default; the output's ``status`` says when one of them stopped the work.

Exit status: 0 complete; 2 bad input (one line on stderr, nothing on stdout); 3 stopped early by a budget (the
output holds what was done); 130 interrupted.  With ``--json`` stdout holds exactly one JSON document (strict: no
NaN or infinities, big integers exact), whatever the solvers print.
"""

from __future__ import annotations

import sys
import warnings

from ..errors import ExplorerError
from .output import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_STOPPED, MemoryBudget, Outcome, ProtectedStdout,
                     json_document, stopped)
from .parsing import HelpShown, Parser

__all__ = ["main", "build_parser"]


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Run one command (``argv`` defaults to ``sys.argv[1:]``); returns the exit status.  ``own_process``: this
    process exists for this command alone (``python -m explorer``), so MIPBound may fork its workers from it."""
    with ProtectedStdout() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # library warnings would break the one-line promise on stderr
        return _run(sys.argv[1:] if argv is None else list(argv), out.document, own_process)


def build_parser(help_stream=None) -> Parser:
    """The parser of every subcommand; ``--help`` text goes to ``help_stream``."""
    from .count import add_count
    from .local import add_local
    from .plane import add_figure, add_regions
    from .study import add_study

    parser = Parser(prog="python -m explorer", description=__doc__.split("\n\n")[0], help_stream=help_stream)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{regions,local,count,figure,study}")
    for add in (add_regions, add_local, add_count, add_figure, add_study):
        add(sub)
    return parser


def _run(argv: list[str], document, own_process: bool) -> int:
    try:
        args = build_parser(document).parse_args(argv)
        args.own_process = own_process
    except HelpShown:
        return EXIT_OK
    except ExplorerError as exc:
        return _error(str(exc))
    as_json = bool(getattr(args, "json", False))
    try:
        if args.command == "study":
            from .study import run_study

            return run_study(args, document=document)
        with MemoryBudget(args.max_memory):
            outcome = args.handler(args)
    except ExplorerError as exc:
        return _error(str(exc))
    except MemoryError:
        status = stopped(f"the memory budget of {args.max_memory:g} GB (--max-memory) ran out; raise it or shrink the "
                         "problem (box, radius, --max-regions)")
        outcome = Outcome(payload={"command": args.command, "status": status}, lines=[status], status=status)
    except KeyboardInterrupt:
        print("interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RecursionError:
        return _error("the input is nested too deeply to read.")
    except Exception as exc:  # a bug must still end in one line, never a traceback
        return _error(f"unexpected failure on this input ({type(exc).__name__}: {_first_line(str(exc))}); please "
                      "report it.")
    document.write((json_document(outcome.payload) if as_json else "\n".join(outcome.lines)) + "\n")
    document.flush()
    if outcome.exit_status == EXIT_STOPPED:
        print(_first_line(outcome.status), file=sys.stderr)
    return outcome.exit_status


def _error(message: str) -> int:
    print(f"error: {_first_line(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _first_line(text: str) -> str:
    return " ".join(str(text).split())
