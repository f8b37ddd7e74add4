"""Regenerate the shipped example networks deterministically:  python assets/make_examples.py [mlp] [cnn]

Writes, next to this script: moons_2x16.pt and spiral_3x32.pt (explorer checkpoints, 2-D, domain
[-3, 3]²), state_dict_2x16.pt and torchscript_2x16.pt (the moons network as a plain state_dict and as
TorchScript, for the CLI examples) and clusters_8d.pt (8 inputs, for counting in higher dimensions);
with 'cnn', the digits CNN: digits_cnn.pt (TorchScript), digits_cnn.safetensors (its weights),
digits_cnn.json (the layer description both share) and digits_cnn_points.npy (three test images).
Prints one line per file with its architecture, accuracy and size.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from explorer import io  # noqa: E402
from explorer.train.data import make_dataset  # noqa: E402
from explorer.train.fit import TrainConfig, train, training_provenance  # noqa: E402

EXAMPLES = {  # file: (dataset settings, training settings)
    "moons_2x16.pt": (dict(name="moons", n_points=500, noise=0.1, seed=0), TrainConfig(hidden=(16, 16))),
    "spiral_3x32.pt": (dict(name="spiral", n_points=500, noise=0.05, seed=0),
                       TrainConfig(hidden=(32, 32, 32), epochs=300)),
    "clusters_8d.pt": (dict(name="blobs", n_points=500, noise=0.1, seed=0, dim=8),
                       TrainConfig(hidden=(12, 12), epochs=100)),
}


DIGITS_LAYERS = [{"type": "conv2d", "kernel_size": 3}, {"type": "relu"}, {"type": "conv2d", "kernel_size": 3},
                 {"type": "relu"}, {"type": "avgpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "linear"}]
DIGITS_CLASSES = (0, 4, 7)  # the slice in the README passes through the first test image of each


def main(which: list[str]) -> None:
    if "mlp" in which:
        make_mlp_examples()
    if "cnn" in which:
        make_digits_cnn()


def make_mlp_examples() -> None:
    for filename, (data_settings, config) in EXAMPLES.items():
        dataset = make_dataset(**data_settings)
        result = train(dataset, config)
        provenance = {**training_provenance(dataset, config, result), "source": "assets/make_examples.py"}
        io.save_checkpoint(HERE / filename, result.net, box=dataset.domain, provenance=provenance)
        _report(filename, result.net.architecture, result.history)
        if filename == "moons_2x16.pt":
            io.save_state_dict(HERE / "state_dict_2x16.pt", result.net)
            io.save_torchscript(HERE / "torchscript_2x16.pt", result.net)
            for extra in ("state_dict_2x16.pt", "torchscript_2x16.pt"):
                _report(extra, result.net.architecture, result.history)


def make_digits_cnn() -> None:
    """The shipped CNN (train_digits_cnn with 4 and 8 channels) in three files, and the README's three images."""
    import json
    import warnings

    import numpy as np
    import torch

    from explorer.io.safetensors import safetensors_bytes

    model, (X_test, y_test), accuracy = train_digits_cnn((4, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(model), str(HERE / "digits_cnn.pt"))
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    (HERE / "digits_cnn.safetensors").write_bytes(safetensors_bytes(weights, {"source": "assets/make_examples.py"}))
    layers = ",\n  ".join(json.dumps(layer) for layer in DIGITS_LAYERS)
    (HERE / "digits_cnn.json").write_text(f'{{"input_shape": [1, 8, 8],\n "layers": [\n  {layers}\n ]}}\n')
    np.save(HERE / "digits_cnn_points.npy", digits_points(X_test, y_test))
    architecture = io.load_network(HERE / "digits_cnn.pt").architecture
    for filename in ("digits_cnn.pt", "digits_cnn.safetensors", "digits_cnn.json", "digits_cnn_points.npy"):
        _report(filename, architecture, {"train_acc": [accuracy[0]], "test_acc": [accuracy[1]]})


def train_digits_cnn(channels: tuple[int, int], *, epochs: int = 400):
    """Conv3x3(c1) ReLU Conv3x3(c2) ReLU AvgPool2 Flatten Linear(10) on scikit-learn's digits (pixels / 16),
    trained full batch with Adam (seed 0, one thread): returns (model in eval mode, (X_test, y_test),
    (train accuracy, test accuracy)); a fixed stratified split keeps 25 % for testing."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(0)
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    as_images = lambda a: torch.tensor(a, dtype=torch.float32).reshape(-1, 1, 8, 8)  # noqa: E731
    c1, c2 = channels
    model = torch.nn.Sequential(torch.nn.Conv2d(1, c1, 3), torch.nn.ReLU(), torch.nn.Conv2d(c1, c2, 3),
                                torch.nn.ReLU(), torch.nn.AvgPool2d(2), torch.nn.Flatten(),
                                torch.nn.Linear(4 * c2, 10))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    inputs, targets = as_images(X_train), torch.tensor(y_train)
    for _ in range(epochs):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), targets).backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        accuracy = tuple(float((model(as_images(a)).argmax(1) == torch.tensor(b)).float().mean())
                         for a, b in ((X_train, y_train), (X_test, y_test)))
    return model, (X_test, y_test), accuracy


def digits_points(X_test, y_test):
    """(3, 64): the first test image of each of DIGITS_CLASSES, the rows p0, p1, p2 of a --plane."""
    import numpy as np

    return np.stack([X_test[list(y_test).index(c)] for c in DIGITS_CLASSES])


def _report(filename: str, architecture: str, history: dict) -> None:
    size = (HERE / filename).stat().st_size
    print(f"{filename:22s} {architecture:30s} train acc {history['train_acc'][-1]:.3f}  "
          f"test acc {history['test_acc'][-1]:.3f}  {size / 1024:6.1f} KB")


if __name__ == "__main__":
    main(sys.argv[1:] or ["mlp", "cnn"])
