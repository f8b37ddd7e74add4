"""Real data (scikit-learn's bundled sets) and the user's CSV/NPZ tables: scaling, splits, and one clear error each."""

import io
import json

import numpy as np
import pytest

from explorer.errors import ExplorerError
from explorer.train.data import MAX_FEATURES, MAX_ROWS, REAL_DATASETS, load_dataset, read_table
from explorer.train.fit import TrainConfig, predict, train

SHAPES = {"digits": (1797, 64, 10), "wine": (178, 13, 3), "breast_cancer": (569, 30, 2), "iris": (150, 4, 3)}


@pytest.mark.parametrize("name", REAL_DATASETS)
def test_real_sets_are_scaled_to_the_unit_box_and_regenerate_from_settings(name):
    rows, d, k = SHAPES[name]
    ds = load_dataset(name, test_fraction=0.25, seed=3)
    x = np.concatenate([ds.x_train, ds.x_test])
    assert x.shape == (rows, d) and ds.n_classes == k and len(ds.x_test) == round(0.25 * rows)
    assert x.min() >= 0 and x.max() <= 1 and np.array_equal(ds.domain, np.tile([0.0, 1.0], (d, 1)))
    assert len(ds.feature_names) == d and ds.feature_range.shape == (d, 2)
    again = load_dataset(**json.loads(json.dumps(ds.settings)))
    assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.y_test, ds.y_test)
    if name != "digits":                       # min-max: every feature reaches 0 and 1 somewhere
        assert np.allclose(x.min(axis=0), 0) and np.allclose(x.max(axis=0), 1)


def test_digits_are_pixels_over_16_with_their_image_shape():
    from sklearn.datasets import load_digits

    ds = load_digits()
    ours = load_dataset("digits", test_fraction=0.0, seed=0)
    order = np.random.default_rng(0).permutation(len(ds.data))
    assert np.allclose(ours.x_train, ds.data[order] / 16) and ours.image_shape == (8, 8)
    raw = ours.feature_range[:, 0] + ours.x_train * (ours.feature_range[:, 1] - ours.feature_range[:, 0])
    assert np.allclose(raw, ds.data[order])


def test_training_on_real_data_learns():
    ds = load_dataset("iris", seed=1)
    result = train(ds, TrainConfig(hidden=(8,), epochs=150, batch_size=len(ds.x_train), seed=0))
    assert result.net.n_inputs == 4 and result.net.n_outputs == 3
    assert (predict(result.net, ds.x_test) == ds.y_test).mean() > 0.8


CSV = b"width,height,kind\n1,10,cat\n2,30,dog\n3,20,cat\n5,40,dog\n4,25,cat\n"


def test_csv_with_header_text_labels_and_label_by_name():
    ds = read_table(CSV, test_fraction=0.0)
    assert ds.feature_names == ("width", "height") and ds.n_classes == 2 and ds.name == "table"
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1 and ds.settings["label"] is None
    by_name = read_table(CSV.replace(b"width,height,kind", b"kind2,height,w").replace(b"cat", b"1").replace(
        b"dog", b"0"), label="kind2", test_fraction=0.0)
    assert by_name.feature_names == ("height", "w") and by_name.n_classes == 5     # 1..5 are the classes now
    headerless = read_table(b"0.5,1,0\n0.25,2,1\n1,3,0\n0,4,1\n", test_fraction=0.0)
    assert headerless.feature_names == ("0", "1") and sorted(headerless.y_train) == [0, 0, 1, 1]


def test_npz_tables_two_arrays_or_one_table():
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(20.0).reshape(10, 2) % 7, y=np.arange(10) % 3)
    ds = read_table(buf.getvalue(), kind="npz", test_fraction=0.2)
    assert ds.dim == 2 and ds.n_classes == 3 and len(ds.x_test) == 2
    buf = io.BytesIO()
    np.savez(buf, table=np.c_[np.arange(8.0), np.arange(8.0) ** 2, np.arange(8) % 2])
    assert read_table(buf.getvalue(), kind="npz", label="0").feature_names == ("1", "2")


@pytest.mark.parametrize("data, message", [
    (b"a,b,y\n1,2,p\n1,x,q\n2,3,p\n3,1,q\n", "'x', not a number, in data row 2"),
    (b"a,b,y\n1,2,p\n1,,q\n2,3,p\n3,1,q\n", "empty cell in data row 2"),
    (b"a,b,y\n1,2,p\n1,nan,q\n2,3,p\n3,1,q\n", "holds nan"),
    (b"a,b,y\n1,2,p\n1,inf,q\n2,3,p\n3,1,q\n", "holds inf"),
    (b"a,b,y\n1,2,p\n1,5,p\n2,3,p\n3,1,p\n", "one class only"),
    (b"a,b,y\n1,2,p\n1,5,q\n1,3,p\n1,1,q\n", "column 'a' is constant"),
    (b"a,b,y\n1,2,p\n1,q\n2,3,p\n3,1,q\n", "data row 2 has 2 cells"),
    (b"a,b,y\n1,2,p\n", "at least 4 rows"),
    (b"", "no rows"),
    (b"\xff\xfe\x00", "not UTF-8"),
])
def test_bad_csv_gets_one_clear_sentence(data, message):
    with pytest.raises(ExplorerError, match=message.replace("(", r"\(")):
        read_table(data)


def test_budgets_are_checked_before_parsing():
    with pytest.raises(ExplorerError, match="feature columns; the limit"):
        read_table((",".join(f"c{i}" for i in range(MAX_FEATURES + 2)) + "\n").encode())
    rows = b"a,y\n" + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(MAX_ROWS + 1))
    with pytest.raises(ExplorerError, match="rows; the limit"):
        read_table(rows)
    with pytest.raises(ExplorerError, match="no column is called .colour."):
        read_table(CSV, label="colour")
    with pytest.raises(ExplorerError, match="'csv' or 'npz'"):
        read_table(CSV, kind="xlsx")


def test_bad_npz_files():
    with pytest.raises(ExplorerError, match="cannot be read"):
        read_table(b"not a zip", kind="npz")
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(3), b=np.zeros(4))
    with pytest.raises(ExplorerError, match="must hold arrays x and y"):
        read_table(buf.getvalue(), kind="npz")
    buf = io.BytesIO()
    np.savez(buf, x=np.array([[0.0, 1], [1, 0], [np.nan, 1], [1, 1]]), y=np.array([0, 1, 0, 1]))
    with pytest.raises(ExplorerError, match="finite number"):
        read_table(buf.getvalue(), kind="npz")
