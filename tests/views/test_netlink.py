"""A network named in a link: exact round trips of small networks, fingerprints, and hostile values refused."""

import base64
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import ExplorerError
from explorer.net import Network
from tests.nets import random_network
from views.netlink import FINGERPRINT_HEX, MAX_LINK_PARAMETERS, fingerprint, link_text, read_link
from views.state import AppState, from_query, to_query


def _words(net: Network) -> list[np.ndarray]:
    return [a for W, b in zip(net.weights, net.biases) for a in (W, b)]


def _same_bits(a: Network, b: Network) -> bool:
    return (a.activation, a.alpha) == (b.activation, b.alpha) and all(
        x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(_words(a), _words(b)))


small_nets = st.builds(
    lambda widths, seed, leaky, alpha, scale: random_network(
        widths, seed=seed, activation="leaky_relu" if leaky else "relu", alpha=alpha if leaky else 0.0,
        scale_bias=scale),
    st.lists(st.integers(1, 8), min_size=1, max_size=3).map(tuple), st.integers(0, 10**6), st.booleans(),
    st.floats(0.001, 0.9), st.sampled_from([0.5, 1e-300, 1e300]))


@settings(max_examples=150, deadline=None)
@given(small_nets)
def test_small_networks_travel_bit_for_bit_and_large_ones_by_fingerprint(net):
    text = link_text(net)
    fp, back = read_link(text)
    assert fp == fingerprint(net) and len(fp) == FINGERPRINT_HEX
    assert back is not None and _same_bits(net, back)
    assert from_query(to_query(AppState(net=text))) == (AppState(net=text), [])


def test_the_fingerprint_sees_the_last_bit_and_the_slope():
    net = random_network((4,), seed=1)
    W = net.weights[0].copy()
    W[2, 1] = np.nextafter(W[2, 1], np.inf)
    nudged = Network((W, *net.weights[1:]), net.biases)
    leaky = Network(net.weights, net.biases, activation="leaky_relu", alpha=0.1)
    assert len({fingerprint(net), fingerprint(nudged), fingerprint(leaky)}) == 3


def test_a_network_above_the_limit_is_named_by_its_fingerprint_only():
    big = random_network((24, 24), seed=3)  # 697 parameters
    assert sum(W.size + b.size for W, b in zip(big.weights, big.biases)) > MAX_LINK_PARAMETERS
    assert link_text(big) == fingerprint(big) and read_link(link_text(big)) == (fingerprint(big), None)
    largest = random_network((16, 16), seed=0)  # 337 parameters: the URL stays well under 8 kB
    assert len(link_text(largest)) < 5000


def _forged(widths: str, activation: str, values: np.ndarray) -> str:
    """A value whose fingerprint matches its (hostile) weights: only the checks on the weights can refuse it."""
    import hashlib

    payload = np.asarray(values, dtype="<f8").tobytes()
    fp = hashlib.sha256(f"{widths}~{activation}~".encode() + payload).hexdigest()[:FINGERPRINT_HEX]
    return f"{fp}~{widths}~{activation}~{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}"


GOOD = link_text(random_network((3,), seed=5))


@pytest.mark.parametrize("text, phrase", [
    ("x" * 1_000_000, "characters long"),
    ("12345", "fingerprint of 16 hex digits"),
    (GOOD[:-3] + ("A" if GOOD[-3] != "A" else "B") + GOOD[-2:], "do not match its fingerprint"),
    (GOOD[:-4], "does not hold the 13 weights"),
    (GOOD.replace("~relu~", "~leaky_relu:7~"), "do not make a network"),
    (_forged("2-1", "relu", [np.nan, 1.0, 0.0]), "NaN or infinite"),
    (_forged("2-1", "relu", [np.inf, 1.0, 0.0]), "NaN or infinite"),
    (_forged("2-0-1", "relu", []), "one unit per layer"), (_forged("1-1", "relu", [1.0, 0.0]), "at least 2 inputs"),
    (_forged("2-300-1", "relu", np.zeros(3)), "up to 400 parameters"),
    (_forged("2-300-1", "relu", np.zeros(1201)), "characters long"),
    (_forged("-".join(["1"] * 14), "relu", np.zeros(26)), "2–13 numbers"),
    (_forged("2-1", "relu", [1.0, 2.0]), "does not hold the 3 weights"),
    (GOOD.split("~", 1)[0] + "~2-3-1~relu", "is not FINGERPRINT or"),
    (GOOD.replace("~relu~", "~relu~=="), "does not hold"),
])
def test_hostile_values_are_refused_with_one_sentence(text, phrase):
    with pytest.raises(ExplorerError, match=phrase):
        read_link(text)
    begin = time.perf_counter()
    state, warnings = from_query({"net": text})
    assert time.perf_counter() - begin < 0.5 and len(warnings) == 1 and warnings[0].startswith("net=")
    prefix = text.split("~", 1)[0]
    kept = prefix if len(prefix) == FINGERPRINT_HEX and "~" in text else ""
    assert state.net == kept  # unusable weights keep the fingerprint: the page then asks for the file
    assert len(warnings[0]) < 300


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text(alphabet="0123456789abcdef~-_relu:ABC", max_size=80)))
def test_any_net_value_gives_a_valid_state(text):
    state, warnings = from_query({"net": text})
    assert AppState(**vars(state)) == state  # valid: strict construction accepts it unchanged
    assert from_query(to_query(state)) == (state, [])
