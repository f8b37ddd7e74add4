"""Linear-region explorer: exact regions, local and global bounds of piecewise-linear networks."""

from .errors import ExplorerError
from .net import Network

__all__ = ["ExplorerError", "Network"]
