"""Regenerate the shipped example networks deterministically:  python assets/make_examples.py

Writes, next to this script: moons_2x16.pt and spiral_3x32.pt (explorer checkpoints, 2-D, domain
[-3, 3]²), state_dict_2x16.pt and torchscript_2x16.pt (the moons network as a plain state_dict and as
TorchScript, for the CLI examples) and clusters_8d.pt (8 inputs, for counting in higher dimensions).
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


def main() -> None:
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


def _report(filename: str, architecture: str, history: dict) -> None:
    size = (HERE / filename).stat().st_size
    print(f"{filename:22s} {architecture:12s} train acc {history['train_acc'][-1]:.3f}  "
          f"test acc {history['test_acc'][-1]:.3f}  {size / 1024:6.1f} KB")


if __name__ == "__main__":
    main()
