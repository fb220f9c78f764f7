"""The Keras seed model for sequence classification against the same model in rnnkit.

Both train LSTM(128, return_sequences) -> Dropout(0.2) -> LSTM(128) -> Dense(64, relu) ->
Dropout(0.2) -> Dense(10) with Adam 1e-3 and batch 32, for the same epochs, on the same
images: scikit-learn's 8x8 digits read row by row, on rnnkit's fixed split (no validation
part here: both train on the whole training part). Keras 3 runs on its torch backend, so both
use the same torch kernels and threads; the difference is the framework around them.
Printed: seconds per epoch (median) and test accuracy of each, and the ratios.

usage: python bench/keras_seed_model.py [--epochs 15] [--threads 2] [--seed 0]
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
from rnnkit.data.images import load_digits_rows
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
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = load_digits_rows()
    results = {
        "keras 3 (torch backend)": run_keras(rows, args.epochs, args.seed),
        "rnnkit": run_rnnkit(rows, args.epochs, args.seed),
    }
    print(f"digits rows ({len(rows.train_x)} train / {len(rows.test_x)} test), "
          f"{args.epochs} epochs, batch {BATCH}, {args.threads} threads")  # fmt: skip
    for name, (seconds, accuracy) in results.items():
        print(f"{name:<26} {statistics.median(seconds):7.3f} s/epoch   test accuracy "
              f"{accuracy:.4f}")  # fmt: skip
    (k_sec, k_acc), (r_sec, r_acc) = results.values()
    speedup = statistics.median(k_sec) / statistics.median(r_sec)
    print(f"rnnkit is {speedup:.2f}x faster per epoch (target >= 2x); accuracy "
          f"{r_acc - k_acc:+.4f} vs keras (target >= 0)")  # fmt: skip


if __name__ == "__main__":
    main()
