"""A small training run in its own process(es), for the kill-and-resume and torchrun tests.

usage: python train_script.py RUN_DIR [--resume] [--delay S] [--dropout P] [--epochs E]
                              [--pid-dir DIR] [--hold-at B]
       python -m torch.distributed.run --nproc_per_node=2 train_script.py RUN_DIR ...

With --pid-dir, each process writes its PID to DIR/rank-R.pid, so that a test can kill the
torchrun workers themselves: they run in sessions of their own, apart from the launcher.
"""

import argparse
import os
import time
from pathlib import Path

import torch
from trainer_fixtures import SequenceRegressor, sum_task  # the script's own folder

from rnnkit.train import distributed
from rnnkit.train.trainer import TrainConfig, Trainer

HOLD_SECONDS = 300  # a held run nobody kills exits with an error, never finishes


class Slow:
    """Wraps batches so a test has time to kill the process in the middle of an epoch, and
    holds before batch ``hold_at`` (over all epochs) until the process is killed."""

    def __init__(self, data, delay, hold_at=None):
        self.data, self.delay, self.stateful = data, delay, data.stateful
        self.hold_at = hold_at

    def __len__(self):
        return len(self.data)

    def epoch(self, epoch, start=0):
        for i, batch in enumerate(self.data.epoch(epoch, start), start=start):
            if epoch * len(self.data) + i == self.hold_at:
                time.sleep(HOLD_SECONDS)
                os._exit(3)
            time.sleep(self.delay)
            yield batch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pid-dir", type=Path)
    parser.add_argument("--hold-at", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    context = distributed.setup("cpu")
    if args.pid_dir is not None:
        args.pid_dir.mkdir(exist_ok=True)
        (args.pid_dir / f"rank-{context.rank}.pid").write_text(str(os.getpid()))
    torch.manual_seed(0)
    model = SequenceRegressor(dropout=args.dropout).double()
    data = sum_task(samples=160, rank=context.rank, world_size=context.world_size)
    data.tensors = {name: t.double() for name, t in data.tensors.items()}
    config = TrainConfig(
        epochs=args.epochs, lr=3e-3, checkpoint_every=1, log_every=1, quiet=True, schedule="cosine"
    )
    if context.is_main:
        Path(args.run_dir).mkdir(exist_ok=True)
    trainer = Trainer(
        model, config, Slow(data, args.delay, args.hold_at), run_dir=args.run_dir, context=context
    )
    trainer.fit(resume=args.resume)
    distributed.teardown()


if __name__ == "__main__":
    main()
