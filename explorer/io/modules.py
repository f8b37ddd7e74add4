"""Live torch modules (an eval-mode nn.Sequential) as layer steps; parameters become float64 exactly."""

from __future__ import annotations

import numpy as np

from .steps import Act, Affine, Flatten, act_step, batchnorm, conv, pool
from ..errors import ExplorerError

__all__ = ["module_steps"]

SUPPORTED = ("Sequential, Linear, Conv2d, AvgPool2d, MaxPool2d, BatchNorm1d/2d, ReLU, LeakyReLU, Flatten, "
             "Dropout and Identity")


def module_steps(module) -> list:
    """The steps of ``module`` (nested Sequentials are walked in order)."""
    import torch.nn as nn

    steps: list = []
    _walk(module, "", steps, nn)
    return steps


def _walk(module, path: str, steps: list, nn) -> None:
    label = f"{type(module).__name__} '{path}'" if path else type(module).__name__
    as_np = lambda t: None if t is None else t.detach().cpu().double().numpy()  # noqa: E731
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            _walk(child, f"{path}.{name}" if path else name, steps, nn)
    elif isinstance(module, (nn.Linear, nn.Conv2d)):
        if isinstance(module.weight, nn.parameter.UninitializedParameter):
            raise ExplorerError(f"{label} is not initialised yet (a Lazy module); run one forward pass first.")
        if isinstance(module, nn.Linear):
            W = as_np(module.weight)
            steps.append(Affine(W, np.zeros(W.shape[0]) if module.bias is None else as_np(module.bias), label))
            return
        if module.padding_mode != "zeros":
            raise ExplorerError(f"{label} pads with mode {module.padding_mode!r}; only padding_mode='zeros' "
                                "is supported.")
        steps.append(conv(as_np(module.weight), as_np(module.bias), stride=module.stride, padding=module.padding,
                          dilation=module.dilation, groups=module.groups, label=label))
    elif isinstance(module, nn.ReLU):
        steps.append(Act("relu", 0.0, label))
    elif isinstance(module, nn.LeakyReLU):
        slope = float(module.negative_slope)
        label = label.replace("LeakyReLU", f"LeakyReLU({slope:g})", 1)
        steps.append(act_step("relu" if slope == 0 else f"leaky_relu:{slope!r}", label))
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if module.running_mean is None:
            raise ExplorerError(f"{label} keeps no running statistics, so it is not a fixed affine map; train "
                                "it with track_running_stats=True.")
        steps.append(batchnorm(as_np(module.weight), as_np(module.bias), as_np(module.running_mean),
                               as_np(module.running_var), float(module.eps), label,
                               per="channel" if isinstance(module, nn.BatchNorm2d) else "feature"))
    elif isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
        if getattr(module, "return_indices", False):
            raise ExplorerError(f"{label} returns indices; only the pooled values are supported.")
        kind = "avg" if isinstance(module, nn.AvgPool2d) else "max"
        steps.append(pool(kind, kernel=module.kernel_size, stride=module.stride, padding=module.padding,
                          dilation=getattr(module, "dilation", 1), ceil_mode=module.ceil_mode,
                          count_include_pad=getattr(module, "count_include_pad", True),
                          divisor_override=getattr(module, "divisor_override", None), label=label))
    elif isinstance(module, nn.Flatten):
        if (module.start_dim, module.end_dim) != (1, -1):
            raise ExplorerError(f"{label} flattens dimensions {module.start_dim}..{module.end_dim}; only "
                                "Flatten() (start_dim=1, end_dim=-1) is supported.")
        steps.append(Flatten(label))
    elif not isinstance(module, (nn.Identity, nn.Dropout, nn.Dropout2d)):
        raise ExplorerError(f"unsupported layer {label}; supported are {SUPPORTED} (residual connections and "
                            "other modules with their own forward code are not read).")
