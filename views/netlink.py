"""A network named in a link: its fingerprint, and its exact weights when it is small.

A link to an uploaded network cannot reproduce it from settings, so the link names it.  The text of the ``net``
setting is ``FINGERPRINT`` or, for a network of at most :data:`MAX_LINK_PARAMETERS` parameters,
``FINGERPRINT~2-16-16-1~relu~WEIGHTS``: the widths, the activation (``leaky_relu:0.1`` with its slope) and
every weight and bias, layer by layer (W row by row, then b), as float64 little-endian in unpadded base64url.
The fingerprint is the first :data:`FINGERPRINT_HEX` hex digits of the SHA-256 of the widths, the activation and
those same bytes, so the decoded network is checked against it exactly, bit for bit.

Reading is bounded before any decoding: the text's length, the number of layers and widths, and the number of
parameters are checked first; the weights are then built through :class:`~explorer.net.Network`, which refuses
NaN, infinities and shapes that do not chain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from explorer.errors import ExplorerError
from explorer.net import Network, parse_activation

from .codec import DEFAULT, Setting, number_text

__all__ = ["NetLink", "MAX_LINK_PARAMETERS", "FINGERPRINT_HEX", "fingerprint", "link_text", "read_link"]

MAX_LINK_PARAMETERS = 400  # weights and biases a link carries: 3.2 kB of float64, about 4.3k characters of URL
FINGERPRINT_HEX = 16  # 64 bits of SHA-256: a different network matches by accident with odds of 2^-64
_MAX_LAYERS = 12  # affine layers a carried network may have
_MAX_TEXT = FINGERPRINT_HEX + 200 + 4 * (8 * MAX_LINK_PARAMETERS + 2) // 3  # longest valid text, with room
_HEX = re.compile(f"[0-9a-f]{{{FINGERPRINT_HEX}}}")
_B64 = re.compile(r"[A-Za-z0-9_-]*")


def _activation_text(net: Network) -> str:
    return "relu" if net.activation == "relu" else f"leaky_relu:{number_text(net.alpha)}"


def _widths(net: Network) -> tuple[int, ...]:
    return (net.n_inputs, *(W.shape[0] for W in net.weights))


def _payload(net: Network) -> bytes:
    return b"".join(np.ascontiguousarray(a, dtype="<f8").tobytes() for W, b in zip(net.weights, net.biases)
                    for a in (W, b))


def _digest(widths, activation: str, payload: bytes) -> str:
    header = f"{'-'.join(map(str, widths))}~{activation}~".encode()
    return hashlib.sha256(header + payload).hexdigest()[:FINGERPRINT_HEX]


def fingerprint(net: Network) -> str:
    """The network's fingerprint: SHA-256 of its widths, activation (with slope) and float64 weights, in hex."""
    return _digest(_widths(net), _activation_text(net), _payload(net))


def link_text(net: Network) -> str:
    """The ``net`` value of a link to ``net``: its fingerprint, with the weights when they are few enough."""
    fp = fingerprint(net)
    n_parameters = sum(W.size + b.size for W, b in zip(net.weights, net.biases))
    if n_parameters > MAX_LINK_PARAMETERS:
        return fp
    weights = base64.urlsafe_b64encode(_payload(net)).rstrip(b"=").decode()
    return f"{fp}~{'-'.join(map(str, _widths(net)))}~{_activation_text(net)}~{weights}"


def read_link(text: str) -> tuple[str, Network | None]:
    """(fingerprint, network or None) of a ``net`` value; ExplorerError (one sentence) if it is not valid.

    The network is built only when the value carries weights and they match the fingerprint exactly.
    """
    if len(text) > _MAX_TEXT:
        raise ExplorerError(f"is {len(text):,} characters long, more than a link's network can be "
                            f"({_MAX_TEXT:,})")
    fp, *rest = text.split("~")
    if not _HEX.fullmatch(fp):
        raise ExplorerError(f"does not start with a fingerprint of {FINGERPRINT_HEX} hex digits")
    if not rest:
        return fp, None
    if len(rest) != 3:
        raise ExplorerError("is not FINGERPRINT or FINGERPRINT~WIDTHS~ACTIVATION~WEIGHTS")
    widths_text, activation_text, weights = rest
    parts = widths_text.split("-")
    if not 2 <= len(parts) <= _MAX_LAYERS + 1 or not all(p.isdigit() and len(p) <= 4 for p in parts):
        raise ExplorerError(f"has widths {widths_text[:40]!r}; they must be 2–{_MAX_LAYERS + 1} numbers like 2-16-1")
    widths = [int(p) for p in parts]
    n_parameters = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    if widths[0] < 2 or min(widths) < 1 or n_parameters > MAX_LINK_PARAMETERS:
        raise ExplorerError(f"has widths {widths_text!r}: a link carries up to {MAX_LINK_PARAMETERS} parameters "
                            f"of a network with at least 2 inputs and one unit per layer")
    if not _B64.fullmatch(weights) or len(weights) != -(-8 * n_parameters * 4 // 3):
        raise ExplorerError(f"does not hold the {n_parameters} weights of a {widths_text} network")
    try:
        name, alpha = parse_activation(activation_text)
        payload = base64.urlsafe_b64decode(weights + "=" * (-len(weights) % 4))
        values = np.frombuffer(payload, dtype="<f8").astype(np.float64)
        layers, at = [], 0
        for n_in, n_out in zip(widths, widths[1:]):
            W = values[at:at + n_in * n_out].reshape(n_out, n_in)
            b = values[at + n_in * n_out:at + (n_in + 1) * n_out]
            layers.append((W, b))
            at += (n_in + 1) * n_out
        net = Network(tuple(W for W, _ in layers), tuple(b for _, b in layers), activation=name, alpha=alpha)
    except (ExplorerError, binascii.Error, ValueError) as exc:
        raise ExplorerError(f"holds weights that do not make a network ({str(exc).rstrip('.')})") from None
    if fingerprint(net) != fp:
        raise ExplorerError("holds weights that do not match its fingerprint (the link was changed or cut)")
    return fp, net


@dataclass(frozen=True, kw_only=True)
class NetLink(Setting):
    """The network on screen when no setting can remake it (an upload): '' or a :func:`link_text` value.

    A value whose weights are unusable keeps its fingerprint (the page then asks for the file).
    """

    type: ClassVar[Any] = str

    def parse(self, text):
        value = text.strip()
        if not value:
            return "", None
        try:
            read_link(value)
            return value, None
        except ExplorerError as exc:
            fp = value.split("~", 1)[0]
            kept = fp if _HEX.fullmatch(fp) and len(value) > len(fp) else DEFAULT
            return self._bad(value, str(exc), kept)

    def coerce(self, value):
        return self.parse(value) if isinstance(value, str) else self._bad(repr(value), "is not text")
