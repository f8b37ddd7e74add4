"""``python -m explorer``: the command line (explorer.cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(own_process=True))
