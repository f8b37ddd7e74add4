"""Linear-region explorer: exact regions, local and global bounds of piecewise-linear networks.

One import serves a script::

    import explorer
    net = explorer.load_network("assets/moons_2x16.pt")
    regions = explorer.enumerate_regions(net, (-3, 3, -3, 3))

The entry points below are re-exported lazily (PEP 562), so ``import explorer`` stays cheap: a command that
only enumerates regions never imports the solver, Plotly or torch.

Layout: ``net`` (the canonical Network, boxes, interval bounds), ``errors``, ``tolerance`` (the one tolerance
policy), and the subpackages ``io`` (files), ``plane`` (exact 2-D partition and slices), ``ball`` (local bounds,
certifiers, disk counts), ``count`` (MILP, exact n-D counts, MIPBound, upper bounds), ``train`` (data,
training, presets), ``studies`` (measurements over networks and checkpoints), ``plot`` (figures, export, text).
"""

from importlib import import_module

from .errors import ExplorerError
from .net import Network, as_box

_ENTRY_POINTS = {  # name -> module that defines it
    "load": "io", "load_network": "io", "save_checkpoint": "io",
    "enumerate_regions": "plane.regions", "plane_through": "plane.regions", "plane_slice": "plane.regions",
    "Regions": "plane.regions", "linear_labels": "plane.partition", "decision_boundary": "plane.partition",
    "certify": "ball.certify", "local_bounds": "ball.local", "radius_profile": "ball.local",
    "one_region_radius": "ball.local", "disk_count": "ball.disk",
    "count_exact": "count.exact", "count_distributed": "count.distributed", "mipbound": "count.mipbound",
    "upper_bounds": "count.bounds", "compare_counts": "count.compare",
    "make_dataset": "train.data", "TrainConfig": "train.fit",  # train() itself: explorer.train.fit.train
    "snapshot_timeline": "studies.timeline", "local_findings": "studies.findings",
    "region_map": "plot.figures", "publication_style": "plot.export", "write_figure": "plot.export",
    "format_count": "plot.text",
}

__all__ = ["ExplorerError", "Network", "as_box", *_ENTRY_POINTS]


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        value = getattr(import_module(f".{_ENTRY_POINTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ENTRY_POINTS))
