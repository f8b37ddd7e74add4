"""Pixel-to-data conversion of clicks, as the click component's payload reaches Python."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.plot.figures import PlotFrame, pixel_to_data
from views.click import point_from_payload

FRAME = PlotFrame(left=60.0, top=30.0, width=400.0, height=300.0, x_range=(-3.0, 3.0), y_range=(-1.0, 2.0))


def _payload(px, py, frame=FRAME, **extra):
    return {"px": px, "py": py, "left": frame.left, "top": frame.top, "width": frame.width,
            "height": frame.height, "x_range": list(frame.x_range), "y_range": list(frame.y_range), **extra}


def test_corners_and_centre_of_the_plot_area():
    assert pixel_to_data(60, 30, FRAME) == (-3.0, 2.0)  # top left
    assert pixel_to_data(460, 330, FRAME) == (3.0, -1.0)  # bottom right
    assert pixel_to_data(260, 180, FRAME) == pytest.approx((0.0, 0.5))


@pytest.mark.parametrize("px, py", [(59.9, 100), (460.1, 100), (100, 29.9), (100, 330.5), (-5, -5)])
def test_pixels_outside_the_plot_area_give_none(px, py):
    assert pixel_to_data(px, py, FRAME) is None


def test_round_trip_through_pixels_on_a_zoomed_and_reversed_frame():
    rng = np.random.default_rng(0)
    frame = PlotFrame(12.5, 7.0, 537.0, 537.0, (0.25, -0.75), (1e-3, 2e-3))  # reversed x, tiny y span
    for x, y in zip(rng.uniform(-0.75, 0.25, 50), rng.uniform(1e-3, 2e-3, 50)):
        px = frame.left + (x - 0.25) / (-1.0) * frame.width
        py = frame.top + (2e-3 - y) / 1e-3 * frame.height
        assert pixel_to_data(px, py, frame) == pytest.approx((x, y), rel=1e-12, abs=1e-15)


def test_degenerate_frames_give_none():
    assert pixel_to_data(100, 100, PlotFrame(0, 0, 0, 300, (0, 1), (0, 1))) is None
    assert pixel_to_data(float("nan"), 100, FRAME) is None
    assert pixel_to_data(100, 100, PlotFrame(0, 0, 400, 300, (0, float("inf")), (0, 1))) is None


def test_payloads_from_the_browser():
    assert point_from_payload(_payload(260, 180, stamp=123)) == pytest.approx((0.0, 0.5))
    assert point_from_payload(_payload("260", "180")) == pytest.approx((0.0, 0.5))  # numbers as text
    assert point_from_payload(_payload(10, 10)) is None


@pytest.mark.parametrize("payload", [None, "click", {}, {"px": 1, "py": 2}, _payload(1, 2) | {"x_range": [0]},
                                     _payload(1, 2) | {"width": "wide"}, _payload(None, 2)])
def test_malformed_payloads_give_none(payload):
    assert point_from_payload(payload) is None
