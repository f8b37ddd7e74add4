"""Deterministic training of small MLPs on a Dataset, with progress callbacks, a Stop check and snapshots.

Outputs: for 2 classes the network has **one logit** f(x) (class 1 iff f(x) > 0, trained with
binary cross-entropy on the logit), so the decision boundary is the zero set of the output affine map
in each region; for K > 2 classes it has K logits (class = argmax, cross-entropy).  :func:`predict`
applies this rule.  Training runs in float32 on one thread with seeded initialisation and shuffling,
so on one machine (one torch build and CPU) a configuration and a dataset determine the weights bit for
bit; another CPU or torch build may round differently, so a link reproduces the recipe, not every last bit.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ..errors import ExplorerError
from ..net import Network, parse_activation
from .data import Dataset

__all__ = ["TrainConfig", "TrainResult", "Trainer", "train", "init_network", "predict", "training_provenance",
           "OPTIMIZERS", "MAX_HIDDEN_LAYERS", "MAX_UNITS", "MAX_EPOCHS"]

OPTIMIZERS = ("adam", "sgd", "adamw")
MAX_HIDDEN_LAYERS, MAX_UNITS, MAX_EPOCHS = 6, 128, 10_000
_PROGRESS_CALLS = 50  # progress() is called about this many times per run


@dataclass(frozen=True)
class TrainConfig:
    """Training options (defaults after TensorFlow Playground, with Adam).

    hidden : widths of the hidden layers, 1–6 layers of 1–128 units
    activation, alpha : 'relu' or 'leaky_relu' with slope alpha (or 'leaky_relu:0.1')
    optimizer : 'adam' | 'sgd' | 'adamw';  lr : learning rate;  weight_decay : L2 / decoupled decay
    epochs : passes over the training set;  batch_size : minibatch size (capped at the training size)
    seed : seeds initialisation and shuffling
    snapshot_every : keep a Network every k epochs (0: none), for a training timeline
    snapshot_epochs : also keep a Network after each of these epochs (0: the initialisation), e.g. on a
        log scale for a study of checkpoints
    """

    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    alpha: float = 0.0
    optimizer: str = "adam"
    lr: float = 0.01
    epochs: int = 200
    batch_size: int = 64
    weight_decay: float = 0.0
    seed: int = 0
    snapshot_every: int = 0
    snapshot_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden) if isinstance(self.hidden, (list, tuple)) else (self.hidden,)
        _check_hidden(hidden)
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        parse_activation(self.activation, self.alpha)
        if self.optimizer not in OPTIMIZERS:
            raise ExplorerError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr <= 10):
            raise ExplorerError(f"the learning rate must lie in (0, 10]; got {self.lr!r}.")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay <= 1):
            raise ExplorerError(f"weight_decay must lie in [0, 1]; got {self.weight_decay!r}.")
        for key, lo, hi in (("epochs", 1, MAX_EPOCHS), ("batch_size", 1, 1_000_000), ("seed", 0, 2**63 - 1),
                            ("snapshot_every", 0, MAX_EPOCHS)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ExplorerError(f"{key} must be an integer in {lo}–{hi}; got {value!r}.")
        epochs = tuple(self.snapshot_epochs) if isinstance(self.snapshot_epochs, (list, tuple)) else None
        if epochs is None or not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool)
                                     and 0 <= e <= self.epochs for e in epochs):
            raise ExplorerError(f"snapshot_epochs must be a list of epochs in 0–{self.epochs}; "
                                f"got {self.snapshot_epochs!r}.")
        object.__setattr__(self, "snapshot_epochs", tuple(sorted({int(e) for e in epochs})))


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """Outcome of :func:`train`.

    net : the trained Network (float64 copy of the float32 weights)
    history : {"epoch", "loss", "test_loss", "train_acc", "test_acc"}: one entry per finished epoch
        (losses are mean cross-entropy on the whole split after the epoch; test values are None
        without test points)
    snapshots : tuple of (epoch, Network) pairs: epoch 0 (initialisation), every snapshot_every-th
        epoch and the last finished one (none of these if snapshot_every == 0), and every epoch of
        snapshot_epochs that training reached
    stopped : True if should_stop() ended training early
    seconds : wall time of the run
    """

    net: Network
    history: dict
    snapshots: tuple
    stopped: bool
    seconds: float


def train(dataset: Dataset, config: TrainConfig | None = None, *,
          progress: Callable[[int, int, dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train an MLP d → hidden → (1 or K) on ``dataset`` by minibatch gradient descent.

    Minimises the mean cross-entropy of the logits (see the module docstring).  Each epoch shuffles
    the training set with a seeded torch.Generator.  ``should_stop()`` is checked before every epoch;
    ``progress(epoch, epochs, metrics)`` is called after about every epochs/50-th epoch and after the
    last one, with metrics {"loss", "test_loss", "train_acc", "test_acc"} of that epoch.  This is
    :class:`Trainer` run to the end.

    Notes
    -----
    Cost: epochs · n_train / batch_size optimiser steps; a 2-16-16-1 net on 400 points for 200
    epochs with batch 64 takes about a second.  The torch thread count is set to 1 during the call
    and restored afterwards.
    """
    start = time.perf_counter()
    trainer = Trainer(dataset, config)
    every = max(1, math.ceil(trainer.config.epochs / _PROGRESS_CALLS))
    stopped = False
    while not trainer.done:
        if should_stop is not None and should_stop():
            stopped = True
            break
        trainer.run(1)
        if progress is not None and (trainer.epoch % every == 0 or trainer.done):
            progress(trainer.epoch, trainer.config.epochs, trainer.metrics)
    return trainer.result(stopped=stopped, seconds=time.perf_counter() - start)


class Trainer:
    """One training run advanced a few epochs at a time (what :func:`train` does in one go).

    ``Trainer(dataset, config)`` builds the seeded network and optimiser; each :meth:`run` trains more
    epochs, so the weights after ``run(a)`` then ``run(b)`` equal those of ``train`` with a + b epochs,
    bit for bit.  Between calls, :attr:`net` is the current network and :attr:`metrics` the last epoch's
    loss and accuracy: a live view redraws from them while training goes on.

    Attributes
    ----------
    dataset : Dataset;  config : TrainConfig
    history : {"epoch", "loss", "test_loss", "train_acc", "test_acc"}: one entry per finished epoch
    """

    def __init__(self, dataset: Dataset, config: TrainConfig | None = None) -> None:
        import torch

        if not isinstance(dataset, Dataset):
            raise ExplorerError(f"train needs an explorer Dataset; got {type(dataset).__name__}.")
        self.dataset = dataset
        self.config = config = TrainConfig() if config is None else config
        self._torch = torch
        n_out = 1 if dataset.n_classes == 2 else dataset.n_classes
        with _one_thread(torch):
            self._model = _build(torch, config.hidden, dataset.dim, n_out, config.activation, config.alpha,
                                 config.seed)
            self._x_tr = torch.from_numpy(dataset.x_train.astype(np.float32))
            self._y_tr = torch.from_numpy(dataset.y_train)
            self._x_te = torch.from_numpy(dataset.x_test.astype(np.float32))
            self._y_te = torch.from_numpy(dataset.y_test)
            self._opt = _optimizer(torch, self._model, config)
            self._gen = torch.Generator().manual_seed(config.seed)
        self._batch = min(config.batch_size, len(self._x_tr))
        self.history = {key: [] for key in ("epoch", "loss", "test_loss", "train_acc", "test_acc")}
        self._net: Network | None = None
        self._keep = frozenset(config.snapshot_epochs)
        self._snapshots = [(0, self.net)] if config.snapshot_every or 0 in self._keep else []

    @property
    def epoch(self) -> int:
        """Epochs finished so far."""
        return len(self.history["epoch"])

    @property
    def done(self) -> bool:
        """True once ``config.epochs`` epochs are finished."""
        return self.epoch >= self.config.epochs

    @property
    def net(self) -> Network:
        """The network as it is now (float64 copy of the float32 weights)."""
        if self._net is None:
            self._net = _network(self._model)
        return self._net

    @property
    def metrics(self) -> dict:
        """{"loss", "test_loss", "train_acc", "test_acc"} after the last finished epoch ({} before the first)."""
        return {key: values[-1] for key, values in self.history.items() if key != "epoch" and values}

    def run(self, epochs: int = 1, *, should_stop: Callable[[], bool] | None = None) -> int:
        """Train up to ``epochs`` more epochs (never past ``config.epochs``); ``should_stop()`` is checked
        before each.  Returns the number of epochs trained."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ExplorerError(f"epochs to run must be a whole number ≥ 0; got {epochs!r}.")
        torch, n = self._torch, 0
        with _one_thread(torch):
            while n < epochs and not self.done and not (should_stop is not None and should_stop()):
                order = torch.randperm(len(self._x_tr), generator=self._gen)
                for i in range(0, len(self._x_tr), self._batch):
                    idx = order[i:i + self._batch]
                    self._opt.zero_grad()
                    _loss(torch, self._model(self._x_tr[idx]), self._y_tr[idx]).backward()
                    self._opt.step()
                metrics = _evaluate(torch, self._model, self._x_tr, self._y_tr, self._x_te, self._y_te)
                self.history["epoch"].append(self.epoch + 1)
                for key, value in metrics.items():
                    self.history[key].append(value)
                self._net = None
                n += 1
                if (self.config.snapshot_every and self.epoch % self.config.snapshot_every == 0) or \
                        self.epoch in self._keep:
                    self._snapshots.append((self.epoch, self.net))
        return n

    def result(self, *, stopped: bool = False, seconds: float = 0.0) -> TrainResult:
        """The run so far as a TrainResult (``stopped``: it ended before ``config.epochs``; ``seconds``: its
        wall time); the snapshots end with the current network."""
        snapshots = list(self._snapshots)
        if self.config.snapshot_every and snapshots[-1][0] != self.epoch:
            snapshots.append((self.epoch, self.net))
        return TrainResult(net=self.net, history={k: list(v) for k, v in self.history.items()},
                           snapshots=tuple(snapshots), stopped=stopped, seconds=seconds)


def init_network(hidden, *, n_inputs: int = 2, n_outputs: int = 1, activation: str = "relu",
                 alpha: float = 0.0, seed: int = 0) -> Network:
    """A network at PyTorch's default initialisation (uniform ±1/sqrt(fan_in)), reproducible from ``seed``.

    It equals the initial network of :func:`train` with the same hidden widths, inputs, outputs and seed.
    """
    import torch

    hidden = tuple(hidden) if isinstance(hidden, (list, tuple)) else (hidden,)
    _check_hidden(hidden)
    for key, value in (("n_inputs", n_inputs), ("n_outputs", n_outputs)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            raise ExplorerError(f"{key} must be an integer in 1–4096; got {value!r}.")
    return _network(_build(torch, hidden, n_inputs, n_outputs, activation, alpha, seed))


def predict(net: Network, x: np.ndarray) -> np.ndarray:
    """Class labels (B,) int64 at points x (B, d): [f(x) > 0] for one output, argmax of the logits otherwise."""
    out = net.forward(x)  # (B, n_out)
    return (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else np.argmax(out, axis=1).astype(np.int64)


def training_provenance(dataset: Dataset, config: TrainConfig, result: TrainResult) -> dict:
    """JSON-able record of how ``result.net`` was made, for :func:`explorer.io.save_checkpoint`.

    Wall time is left out so that the record (and a checkpoint) is a deterministic function of the inputs.
    """
    return {"dataset": dict(dataset.settings), "architecture": result.net.architecture,
            "outputs": "one logit, class 1 iff > 0" if result.net.n_outputs == 1 else "logits, class = argmax",
            "training": {**asdict(config), "hidden": list(config.hidden)},
            "history": {k: list(v) for k, v in result.history.items()},
            "stopped": result.stopped}


# ---- helpers ----------------------------------------------------------------------------------
@contextmanager
def _one_thread(torch):
    """torch on one thread inside the block (deterministic and polite on a shared server), restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_hidden(hidden: tuple) -> None:
    if not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS or not all(
            isinstance(h, (int, np.integer)) and not isinstance(h, bool) and 1 <= h <= MAX_UNITS for h in hidden):
        raise ExplorerError(f"hidden layers must be 1–{MAX_HIDDEN_LAYERS} widths of 1–{MAX_UNITS} units each; "
                            f"got {list(hidden)}.")


def _build(torch, hidden: tuple, n_in: int, n_out: int, activation: str, alpha: float, seed: int):
    """nn.Sequential(Linear, σ, …, Linear) initialised under torch.manual_seed(seed), global RNG untouched."""
    name, slope = parse_activation(activation, alpha)
    widths = (n_in, *hidden, n_out)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = []
        for k in range(len(widths) - 1):
            layers.append(torch.nn.Linear(widths[k], widths[k + 1]))
            if k < len(widths) - 2:
                layers.append(torch.nn.ReLU() if name == "relu" else torch.nn.LeakyReLU(slope))
    return torch.nn.Sequential(*layers)


def _optimizer(torch, model, config: TrainConfig):
    cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[config.optimizer]
    return cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _loss(torch, logits, y):
    if logits.shape[1] == 1:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return torch.nn.functional.cross_entropy(logits, y)


def _evaluate(torch, model, x_tr, y_tr, x_te, y_te) -> dict:
    """Loss and accuracy on both splits (None for an empty test split)."""
    out = {}
    with torch.no_grad():
        for split, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
            if len(x) == 0:
                out[split] = (None, None)
                continue
            logits = model(x)
            pred = (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)
            out[split] = (float(_loss(torch, logits, y)), float((pred == y).double().mean()))
    return {"loss": out["train"][0], "test_loss": out["test"][0], "train_acc": out["train"][1],
            "test_acc": out["test"][1]}


def _network(model) -> Network:
    from ..io.files import from_module

    return from_module(model)
