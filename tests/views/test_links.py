"""AppTest flows of links after an upload: the link shows the same network or asks for its file, never another;
link-started training is bounded and shows progress; bad recorded settings in a file give one message."""

from __future__ import annotations

import copy
import time

import pytest

from explorer.io import checkpoint_bytes, load
from explorer.plane.regions import enumerate_regions
from tests.conftest import ASSETS
from tests.nets import random_network
from tests.views.test_app import _figure, _metrics, _run, _start, _start_with_url, _upload
from views import live
from views.netlink import fingerprint, link_text

BIG = random_network((24, 24), seed=3)  # 697 parameters: a link names it by its fingerprint only
OTHER = random_network((24, 24), seed=4)
BOX = [[-3, 3], [-3, 3]]


def _link(at) -> dict:
    return {k: at.query_params[k] for k in at.query_params}


def _regions(at) -> str:
    return _metrics(at)["activation regions"]


def test_a_link_after_a_small_upload_carries_the_weights_and_shows_the_same_network():
    net = random_network((6, 5), seed=11)
    at = _upload(_start(), "small.pt", checkpoint_bytes(net, box=BOX))
    query = _link(at)
    assert query["net"] == link_text(net) and "~" in query["net"]
    count = _regions(at)
    opened = _start_with_url({**query, "hidden": "3", "epochs": "5"})  # training settings cannot override it
    assert "live_run" not in opened.session_state and not opened.sidebar.warning
    shown = opened.session_state["on_screen"]
    assert shown.net.equals(net) and shown.source.startswith("from the link")
    assert _regions(opened) == count == f"{enumerate_regions(net, (-3, 3, -3, 3)).n_regions:,}"
    assert _link(opened)["net"] == query["net"]  # the link of the link is the same


def test_a_link_after_a_large_upload_asks_for_the_file_and_accepts_only_that_one():
    at = _upload(_start(), "big.pt", checkpoint_bytes(BIG, box=BOX))
    query = _link(at)
    assert query["net"] == fingerprint(BIG)
    view = {**query, "domain": "-2,2,-1,1", "hidden": "64,64", "epochs": "10000"}
    opened = _start_with_url(view)
    assert "live_run" not in opened.session_state  # no training: the link's network is not the settings'
    asks = [i.value for i in opened.sidebar.info]
    assert len(asks) == 1 and fingerprint(BIG) in asks[0] and "upload its file" in asks[0]
    assert opened.session_state["on_screen"].source.startswith("example network")
    assert _link(opened)["net"] == fingerprint(BIG)  # waiting keeps the name
    _run(opened)
    assert _link(opened)["net"] == fingerprint(BIG) and len(opened.sidebar.info) == 1

    wrong = _start_with_url(view)
    _upload(wrong, "other.pt", checkpoint_bytes(OTHER, box=BOX))
    warned = [w.value for w in wrong.sidebar.warning]
    assert len(warned) == 1 and "not the network the link names" in warned[0]
    assert wrong.session_state["on_screen"].net.equals(OTHER) and _link(wrong)["net"] == fingerprint(OTHER)

    _upload(opened, "big.pt", checkpoint_bytes(BIG, box=BOX))
    assert not opened.sidebar.warning and "link_wanted" not in opened.session_state
    assert any("is the network the link names" in i.value for i in opened.sidebar.info)
    assert opened.session_state["on_screen"].net.equals(BIG)
    assert _figure(opened)["layout"]["xaxis"]["range"] == [-2, 2]  # the link's view, not the file's box
    assert _regions(opened) == f"{enumerate_regions(BIG, (-2, 2, -1, 1)).n_regions:,}"


def test_a_link_to_a_small_three_input_network_opens_its_slice():
    net3 = random_network((6, 5), n0=3, seed=2)  # 65 parameters
    at = _upload(_start(), "net3.pt", checkpoint_bytes(net3))
    opened = _start_with_url(_link(at))
    shown = opened.session_state["on_screen"]
    assert shown.full_net.equals(net3) and shown.net.n_inputs == 2 and "live_run" not in opened.session_state
    assert _regions(opened) == _regions(at)


@pytest.mark.parametrize("value, phrase", [
    (None, "do not match its fingerprint"),  # tampered: one character of the weights changed
    ("9" * 16 + "~" + "A" * 200_000, "characters long"),
    ("zz", "fingerprint of 16 hex digits"),
])
def test_tampered_and_hostile_net_values_give_one_warning_and_a_working_page(value, phrase):
    net = random_network((4,), seed=2)
    good = link_text(net)
    value = good[:-2] + ("B" if good[-2] != "B" else "C") + good[-1] if value is None else value
    at = _start_with_url({"net": value, "hidden": "5"})
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 1 and warnings[0].startswith("Link: net=") and phrase in warnings[0]
    assert "live_run" not in at.session_state or "~" not in value  # unusable weights: ask, never train
    assert not at.session_state["on_screen"].net.equals(net)
    if "~" in value:  # the fingerprint is kept: the page asks for the file
        assert at.session_state["link_wanted"] == value[:16] and len(at.sidebar.info) == 1


def test_a_link_with_a_large_architecture_trains_bounded_with_progress(monkeypatch):
    monkeypatch.setattr(live, "LINK_SECONDS", 3.0)
    at = _start_with_url({"hidden": "128,128,128,128,128,128", "epochs": "10000", "n_points": "2000"})
    run = at.session_state["live_run"]
    assert run.budget == 3.0
    epochs, end = set(), time.monotonic() + 30
    while run.busy:
        assert time.monotonic() < end, "the link's run did not pause"
        if run.frame is not None:
            epochs.add(run.frame.epoch)
        time.sleep(0.2)
    assert run.state == "paused" and len(epochs) >= 2  # frames came at least every second
    assert 2.5 <= run.seconds < 15 and 0 < run.frame.epoch < 10_000
    _run(at)
    messages = [i.value for i in at.sidebar.info]
    assert len(messages) == 1 and "paused after" in messages[0] and "press Play" in messages[0]
    assert at.session_state["on_screen"].net.hidden_widths == (128,) * 6
    _run(at)
    assert not at.exception
    run.close()


@pytest.mark.parametrize("edit, phrase", [
    (lambda p: p["dataset"].update(n_points=5000), "n_points='5000' is outside"),
    (lambda p: p["dataset"].update(noise="lots"), "noise='lots' is not a number"),
    (lambda p: p["dataset"].pop("name"), "dataset is missing"),
    (lambda p: p.update(history={"epoch": ["zz"]}, stopped=True), "epochs='zz'"),
])
def test_a_bad_recorded_field_gives_one_message_and_the_page_keeps_working(edit, phrase):
    moons = load(ASSETS / "moons_2x16.pt")
    provenance = copy.deepcopy(moons.provenance)
    edit(provenance)
    at = _upload(_start(), "moons.pt", checkpoint_bytes(moons.net, box=BOX, provenance=provenance))
    for _ in range(2):  # every rerun renders the sidebar
        warnings = [w.value for w in at.sidebar.warning]
        assert len(warnings) == 1 and phrase in warnings[0] and not at.error
        assert at.sidebar.expander and _regions(at) == "271"
        assert _link(at)["net"] == link_text(moons.net)
        _run(at)
