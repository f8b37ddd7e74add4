"""Click anywhere on a Plotly figure: a components-v2 listener that reports pixels, converted to data in Python.

Streamlit's own chart selections report clicks on trace points only.  This component renders nothing:
its inline JavaScript finds the Plotly div whose ``layout.meta.click_target`` matches, listens for plain
clicks (not drags, not the mode bar or legend) and sends the pixel position together with the plot
area's pixel frame and axis ranges.  :func:`point_from_payload` turns that into data coordinates with
the pure :func:`explorer.plot.figures.pixel_to_data`, so the conversion is tested without a browser.
"""

from __future__ import annotations

import math

import streamlit as st

from explorer.plot.figures import PlotFrame, pixel_to_data

__all__ = ["plot_click", "point_from_payload"]

_JS = r"""
export default function (component) {
  const { data, setTriggerValue } = component;
  const target = (data && data.target) || "";
  const hooked = new Map();
  function hook(gd) {
    let down = null;
    const onDown = (e) => { down = [e.clientX, e.clientY]; };
    const onClick = (e) => {
      if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return;
      if (e.target && e.target.closest && e.target.closest(".modebar, .legend, .colorbar")) return;
      const full = gd._fullLayout;
      if (!full || !full.xaxis || !full.yaxis) return;
      const rect = gd.getBoundingClientRect();
      const xa = full.xaxis, ya = full.yaxis;
      setTriggerValue("click", {
        px: e.clientX - rect.left, py: e.clientY - rect.top,
        left: xa._offset, top: ya._offset, width: xa._length, height: ya._length,
        x_range: [Number(xa.range[0]), Number(xa.range[1])],
        y_range: [Number(ya.range[0]), Number(ya.range[1])],
        stamp: Date.now()
      });
    };
    gd.addEventListener("mousedown", onDown, true);
    gd.addEventListener("click", onClick, true);
    hooked.set(gd, () => {
      gd.removeEventListener("mousedown", onDown, true);
      gd.removeEventListener("click", onClick, true);
    });
  }
  function scan() {
    document.querySelectorAll(".js-plotly-plot").forEach((gd) => {
      const meta = gd.layout && gd.layout.meta;
      if (meta && meta.click_target === target && !hooked.has(gd)) hook(gd);
    });
  }
  scan();
  const timer = setInterval(scan, 300);
  return () => { clearInterval(timer); hooked.forEach((off) => off()); hooked.clear(); };
}
"""

_component = st.components.v2.component("explorer_plot_click", js=_JS)


def plot_click(target: str, *, key: str) -> dict | None:
    """Mount the listener for the figure whose ``layout.meta.click_target`` is ``target``.

    Returns the raw payload of a click made since the last rerun (see :func:`point_from_payload`), else None.
    """
    result = _component(key=key, data={"target": target}, on_click_change=_ignore, height=0)
    return getattr(result, "click", None)  # absent when no script is running (bare mode)


def point_from_payload(payload) -> tuple[float, float] | None:
    """Data coordinates of a click payload, or None if it is malformed or outside the plot area.

    payload : {"px", "py", "left", "top", "width", "height", "x_range": [x0, x1], "y_range": [y0, y1]}
    (pixels relative to the Plotly div, y downwards).
    """
    if not isinstance(payload, dict):
        return None
    try:
        frame = PlotFrame(float(payload["left"]), float(payload["top"]), float(payload["width"]),
                          float(payload["height"]), tuple(map(float, payload["x_range"][:2])),
                          tuple(map(float, payload["y_range"][:2])))
        px, py = float(payload["px"]), float(payload["py"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if len(frame.x_range) != 2 or len(frame.y_range) != 2 or not (math.isfinite(px) and math.isfinite(py)):
        return None
    return pixel_to_data(px, py, frame)


def _ignore() -> None:
    """Clicks are read from the component's return value; the callback only registers the event."""
