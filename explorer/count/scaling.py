"""Exact power-of-two rescaling of a network's hidden layers and of the input box before counting.

Activation patterns do not change when a unit's row (w_i, b_i) is multiplied by 2^k and the next
layer's column i by 2^−k (ReLU and LeakyReLU are positively homogeneous), nor when the inputs are
rescaled, x = 2^k·x', with the first layer's columns multiplied by 2^k.  Multiplying a float by a
power of two is exact while the result stays a normal number, so the rescaled network has exactly
the regions of the original.  Every row of [W^l | b^l] is brought to a largest magnitude in
[1/2, 1) and the box into [−1, 1]: no product of the counter can then overflow, whatever the
magnitudes of the file.  A row whose entries span more than float64's exponent range cannot be
rescaled exactly; it is refused, naming the layer and the magnitudes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network

__all__ = ["ScaledProblem", "rescale"]

_MIN_EXPONENT = -1021        # frexp exponent of the smallest normal float64 (2^-1022 = 0.5·2^-1021)


@dataclass(frozen=True)
class ScaledProblem:
    """A network's hidden layers and box in rescaled units x' = x·2^−input_exponent (same patterns).

    weights : tuple of float64 ndarray (n_l, n_{l−1}), rows with largest |entry| in [1/2, 1) (or zero)
    biases : tuple of float64 ndarray (n_l,)
    box : float64 ndarray (n0, 2), the box in rescaled units, inside [−1, 1]
    input_exponent : int, x = 2^input_exponent · x'
    alpha : LeakyReLU slope (0 for ReLU)
    """

    weights: tuple
    biases: tuple
    box: np.ndarray
    input_exponent: int
    alpha: float

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Points (…, n0) in rescaled units back to the network's input units (exact)."""
        return np.ldexp(points, self.input_exponent)

    def from_input(self, points: np.ndarray) -> np.ndarray:
        """Points (…, n0) in input units to rescaled units (exact for normal numbers)."""
        return np.ldexp(points, -self.input_exponent)


def rescale(net: Network, box: np.ndarray) -> ScaledProblem:
    """The hidden layers of ``net`` and ``box`` rescaled by powers of two; patterns are unchanged exactly.

    Raises
    ------
    ExplorerError
        When a unit's weights (after the rescaling of its inputs) span more than float64's exponent
        range, so that an exact rescaling does not exist; the message names the layer.

    Examples
    --------
    >>> net = Network(([[2.0 ** 600, 0.0], [0.0, 3.0]], [[2.0 ** 600, 2.0 ** 600]], [[1.0]]), ([0, 1.0], [0], [0]))
    >>> p = rescale(net, np.array([[-1.0, 1.0], [-1.0, 1.0]]))
    >>> [float(abs(W).max()) for W in p.weights], p.input_exponent
    ([0.75, 0.5], 1)
    """
    box = np.asarray(box, dtype=np.float64)
    _, box_exp = np.frexp(np.abs(box).max())
    input_exponent = int(box_exp)
    box = np.ldexp(box, -input_exponent)
    columns = np.full(net.n_inputs, input_exponent, dtype=np.int64)   # 2^columns scales layer inputs
    weights, biases = [], []
    for l, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1]), start=1):
        w_mant, w_exp = np.frexp(W)                                    # W = mant·2^exp, |mant| ∈ [1/2, 1)
        b_mant, b_exp = np.frexp(b)
        w_exp = np.where(W != 0, w_exp + columns[None, :], np.iinfo(np.int64).min // 4)
        b_exp = np.where(b != 0, b_exp, np.iinfo(np.int64).min // 4)
        top = np.maximum(w_exp.max(axis=1), b_exp)                     # (n_l,) exponent of each row's largest
        zero_row = top < np.iinfo(np.int64).min // 8
        top = np.where(zero_row, 0, top)
        new_w, new_b = w_exp - top[:, None], b_exp - top
        low = min(int(new_w[W != 0].min(initial=0)), int(new_b[b != 0].min(initial=0)))
        if low < _MIN_EXPONENT:
            unit = int(np.argmin(np.minimum(np.where(W != 0, new_w, 0).min(axis=1), np.where(b != 0, new_b, 0))))
            raise ExplorerError(f"layer {l}, unit {unit + 1}: its weights span more than 2^{-low} "
                                f"(about 1e{int(-low * np.log10(2))}) in magnitude, beyond float64's exponent "
                                "range, so the network cannot be rescaled exactly and no exact count can be "
                                "vouched for. Check the file's weights.")
        weights.append(np.ldexp(w_mant, np.where(W != 0, new_w, 0)))
        biases.append(np.ldexp(b_mant, np.where(b != 0, new_b, 0)))
        columns = top                                                  # h' = h·2^−top: next columns ×2^top
    return ScaledProblem(tuple(weights), tuple(biases), box, input_exponent, float(net.alpha))
