"""The Higher dimensions tab on real data: training on digits and on the user's table, the count bracket in plain
words, and one message for a bad table."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.count.bracket import CERTAIN, EXACT, PROVEN_UPPER
from explorer.plot.text import format_count
from explorer.train.data import read_table
from tests.count_oracle import lp_patterns
from tests.views.test_app import _run, _wait_job
from tests.views.test_app import _start as _start_app
from views.higher import guarantee_words, table_columns

HERE = "train a network here"


def _start(**state) -> AppTest:
    return _start_app(app_tab="Higher dimensions", **state)


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return _run(at)


def _wait(at: AppTest, key: str) -> AppTest:
    _wait_job(at, key)
    return at


def _metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


def _csv(rows: np.ndarray, labels, header: str = "f1,f2,species,f3") -> bytes:
    lines = [header] + [f"{a!r},{b!r},{c},{d!r}" for (a, b, d), c in zip(rows.tolist(), labels)]
    return "\n".join(lines).encode()


@pytest.fixture(scope="module")
def flowers() -> tuple[np.ndarray, bytes]:
    rng = np.random.default_rng(7)
    labels = np.repeat(["setosa", "versicolor", "virginica"], 10)
    rows = rng.normal(size=(30, 3)) * [1.0, 10.0, 0.1] + (labels == "setosa")[:, None] * 3.0
    return rows, _csv(rows, labels)


def test_training_on_digits_and_comparing_counts_gives_the_exact_count_on_the_unit_box():
    at = _start(higher_source=HERE)
    assert at.selectbox(key="higher_data").value == "digits"
    at.text_input(key="higher_hidden").set_value("4")
    at.number_input(key="higher_epochs").set_value(3)
    _wait(_click(at, "Train on digits"), "higher_train_job")
    trained = at.session_state["higher_trained"]
    assert trained.net.architecture == "64-4-10" and trained.train_dataset.name == "digits"
    assert np.array_equal(trained.box, np.tile([0.0, 1.0], (64, 1)))
    assert any(c.value.startswith("trained on digits") and "[0, 1]×[0, 1]×[0, 1] × …" in c.value for c in at.caption)
    at.slider(key="higher_budget").set_value(5)
    at.slider(key="higher_trials").set_value(3)
    _wait(_click(_run(at), "Compare counts"), "higher_job")
    result = at.session_state["higher_job"].result
    truth = len(lp_patterns(trained.net, trained.box))  # an independent LP per pattern (2^4 of them)
    exact = next(e for e in result.entries if e.name == "exact")
    assert (exact.value, exact.status) == (truth, "exact")
    assert result.bracket.is_exact and result.bracket.lower.value == truth
    assert _metrics(at)["regions · exact"] == f"{truth:,}"


def _bracket_page(lower: tuple, upper: tuple) -> AppTest:
    def page(lower, upper):
        from explorer.count.bracket import Bound, Bracket
        from views.higher import _bracket

        _bracket(Bracket(lower=Bound(value=lower[0], source=lower[1], guarantee=lower[2]),
                         upper=Bound(value=upper[0], source=upper[1], guarantee=upper[2])))

    return _run(AppTest.from_function(page, args=(lower, upper)))


def test_the_bracket_reads_one_line_per_number_with_its_guarantee_in_plain_words():
    at = _bracket_page((689, "MIPBound: probabilistic part", "probabilistic, confidence 0.95"),
                       (10**19, "Serra et al. 2018 bound", PROVEN_UPPER))
    by_label = {m.label: m for m in at.metric}
    assert by_label["at least · 95% confidence"].value == "689"
    assert by_label["at most · proven"].value == format_count(10**19)
    assert by_label["gap · orders of magnitude"].value == f"{19 - math.log10(689):.1f}"
    assert "MIPBound: probabilistic part" in by_label["at least · 95% confidence"].help
    assert "Serra et al. 2018 bound" in by_label["at most · proven"].help
    at = _bracket_page((12, "distinct patterns of 20,000 uniform samples", CERTAIN), (12, "x", PROVEN_UPPER))
    assert _metrics(at) == {"at least · certain": "12", "at most · proven": "12", "gap · orders of magnitude": "0.0"}


def test_guarantees_in_plain_words():
    assert guarantee_words(EXACT)[0] == "exact" and guarantee_words(CERTAIN)[0] == "certain"
    assert guarantee_words(PROVEN_UPPER)[0] == "proven"
    word, sentence = guarantee_words("probabilistic, confidence 0.99")
    assert word == "99% confidence" and "99%" in sentence


def test_a_csv_table_trains_on_its_label_column_and_slices_through_its_rows(flowers):
    rows, data = flowers
    at = _start(higher_source=HERE, higher_data="table")
    at.file_uploader(key="higher_table_file").set_value(("flowers.csv", data, "text/csv"))
    _run(at)
    assert at.selectbox(key="higher_label").value == "species" and not at.error
    assert any("30 rows, 3 features, 3 classes" in c.value for c in at.caption)
    at.text_input(key="higher_hidden").set_value("5")
    at.number_input(key="higher_epochs").set_value(5)
    _wait(_click(at, "Train on your table"), "higher_train_job")
    trained = at.session_state["higher_trained"]
    assert trained.net.architecture == "3-5-3" and trained.train_dataset.feature_names == ("f1", "f2", "f3")
    assert np.array_equal(trained.box, np.tile([0.0, 1.0], (3, 1)))
    at.radio(key="higher_view").set_value("Slice through data points")
    _run(at)
    shown = at.dataframe[0].value  # the three samples, in the table's own units
    assert list(shown.columns) == ["sample", "f1", "f2", "f3"] and len(shown) == 3
    for raw in shown[["f1", "f2", "f3"]].to_numpy():
        assert np.isclose(rows, raw, rtol=1e-12, atol=1e-12).all(axis=1).any()  # a row of the file, unscaled
    at.text_input(key="slice_point_text").input("0.5, 0.5")
    _run(at)
    assert "prediction" in _metrics(at)
    assert any('"input-features"' in c.proto.spec for c in at.get("plotly_chart"))


def test_a_bad_table_gives_one_message_and_no_training(flowers):
    rows, data = flowers
    bad = data.replace(repr(float(rows[4, 1])).encode(), b"n/a", 1)
    at = _start(higher_source=HERE, higher_data="table")
    at.file_uploader(key="higher_table_file").set_value(("bad.csv", bad, "text/csv"))
    _run(at)
    assert len(at.error) == 1 and at.error[0].value.startswith("bad.csv: column 'f2' holds 'n/a', not a number")
    assert next(b for b in at.button if b.label == "Train on your table").disabled
    assert "higher_trained" not in at.session_state


def test_table_columns_offer_the_label_choices_of_a_file(flowers):
    assert table_columns(flowers[1], "csv") == ("f1", "f2", "species", "f3")
    assert table_columns(b"1,2,0\n3,4,1\n", "csv") == ("0", "1", "2")
    assert table_columns(b"\xff\xfe", "csv") == () and table_columns(b"not a zip", "npz") == ()
    x, y = np.random.default_rng(0).random((6, 2)), np.array([0, 1, 0, 1, 0, 1])
    for arrays, expected in (({"x": x, "y": y}, ()), ({"table": np.c_[x, y]}, ("0", "1", "2"))):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        assert table_columns(buffer.getvalue(), "npz") == expected
        if expected:
            assert read_table(buffer.getvalue(), kind="npz", label="0").feature_names == ("1", "2")
