"""The training loop: full and truncated backpropagation through time, read top to bottom.

A model plugs in through ``output, loss = model(**batch)``. Data comes as batches (see
``rnnkit.data.batching``); when the data is a stream (``data.stateful``), the loop carries
the recurrent state from chunk to chunk and cuts the graph at each chunk border. That is
truncated BPTT: the forward pass sees the whole history, the backward pass only the last
``bptt`` steps. Three counters are kept apart: micro-batches (forward/backward passes),
optimizer steps (one per ``accumulate`` micro-batches) and BPTT chunks. Its settings,
its result, the default evaluation and the non-finite guard's verdicts are in
`rnnkit.train.config`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.data.batching import count_scored, count_tokens
from rnnkit.layers import detach_state, reset_state
from rnnkit.train import distributed
from rnnkit.train.config import (
    Evaluator,
    TrainConfig,
    TrainingDiverged,
    TrainResult,
    diverged,
    evaluate_loss,
    monitored_value,
)
from rnnkit.train.optim import Schedule, build_optimizer, clip_gradients
from rnnkit.train.precision import cpu_bf16_flags, use_bf16
from rnnkit.train.progress import ProgressReporter
from rnnkit.train.rundir import RunLocked, run_lock
from rnnkit.train.state import Counters, Progress, RunLog, restore, snapshot
from rnnkit.train.threads import ThreadPolicy

# TrainConfig, TrainResult, TrainingDiverged and evaluate_loss live in rnnkit.train.config;
# they are imported from here too, as are Counters and Progress (rnnkit.train.state).
__all__ = [
    "Counters",
    "Evaluator",
    "Progress",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "evaluate_loss",
]


class Trainer:
    """Trains ``model`` on ``train_data``; evaluates on ``val_data``; writes into ``run_dir``.

    Args:
        model: returns ``(output, loss)`` from ``model(**batch)``; for stream data it takes
            ``state=`` and returns an output with a ``.state`` attribute.
        config: a TrainConfig.
        train_data, val_data: TensorBatches or StreamBatches (or anything with ``epoch``,
            ``__len__`` and ``stateful``), already sharded for this process.
        run_dir: where ``metrics.jsonl``, ``model.safetensors``, plots and ``checkpoint/``
            go (rank 0 only). None trains without writing anything.
        evaluate: ``evaluate(model, val_data) -> {"val_loss": ..., ...}``; default
            `evaluate_loss`. The metric named ``config.monitor`` drives early stopping.
        context: a `distributed.Context`; default: `distributed.setup(config.device)`.
        bf16_on_cpu: ``precision=auto`` may train in bf16 on a CPU with bf16 instructions:
            the caller measured that its scores hold (`rnnkit.train.precision`).
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train_data: Any,
        val_data: Any = None,
        run_dir: str | Path | None = None,
        evaluate: Evaluator = evaluate_loss,
        context: distributed.Context | None = None,
        bf16_on_cpu: bool = False,
    ) -> None:
        self.config, self.train_data, self.val_data = config, train_data, val_data
        self.context = context or distributed.setup(config.device)
        self.raw_model = model.to(self.context.device)
        self.model: nn.Module = model
        if self.context.distributed:
            self.model = DistributedDataParallel(model)
        self.evaluate = evaluate
        self.optimizer = build_optimizer(model, config)
        steps_per_epoch = math.ceil(len(train_data) / config.accumulate)
        total = steps_per_epoch * config.epochs
        if config.max_steps is not None:
            total = min(total, config.max_steps)
        self.schedule = Schedule(self.optimizer, config, total)
        self.progress = Progress()  # counters, best score, guards: checkpointed whole
        self.state: Any = None  # the recurrent state carried between stream chunks
        self.run_dir = Path(run_dir) if run_dir is not None else None  # every rank reads it
        self.log = RunLog(run_dir if self.context.is_main else None)  # rank 0 alone writes
        self.pending_loss, self.pending_tokens = 0.0, 0  # the optimizer step being gathered
        unit = "tok" if train_data.stateful or _has_time(train_data) else "samples"
        self.reporter = ProgressReporter(config.quiet, unit, enabled=self.context.is_main)
        device = self.context.device
        self.bf16 = use_bf16(config.precision, device, bf16_on_cpu)
        self.autocast = torch.autocast(device.type, torch.bfloat16, self.bf16)
        self.threads = ThreadPolicy() if self.context.device.type == "cpu" else None

    @property
    def counters(self) -> Counters:
        """Micro-batches, optimizer steps, BPTT chunks, ... (``self.progress.counters``)."""
        return self.progress.counters

    @property
    def best(self) -> float | None:
        """The best value of the monitored metric so far (``self.progress.best``)."""
        return self.progress.best

    def fit(self, resume: bool = False) -> TrainResult:
        """Train until ``epochs`` or ``max_steps`` is reached or early stopping fires.

        The run directory is locked meanwhile: another process training or resuming it gets
        `RunLocked`. Raises `TrainingDiverged` when training or validation stops being finite.
        """
        with self._locked():
            try:
                return self._fit(resume)
            finally:
                if self.threads is not None:
                    self.threads.restore()

    def _fit(self, resume: bool) -> TrainResult:
        if resume:
            restore(self)
        else:
            torch.manual_seed(self.config.seed + self.context.rank)
            snapshot(self)  # step 0: a run stopped before its first step can still resume
        p = self.progress
        result = TrainResult(p.counters, p.best, stopped_early=p.stopped_early)
        if self._finished():
            self.reporter.message("the run had already finished; nothing left to train")
        elif self.bf16 and self.context.device.type == "cpu":
            flags = " and ".join(cpu_bf16_flags()) or "no bf16 instructions: emulated"
            self.reporter.message(f"bf16 autocast on this CPU ({flags}); train.precision=fp32: off")
        while not self._finished():
            summary = self._train_epoch()
            if self.val_data is not None and self.config.eval_every is None:
                summary |= self._validate()
            p.counters.epoch += 1
            p.counters.batch, self.state = 0, None
            p.epoch_loss, p.epoch_tokens = 0.0, 0
            self.log.record({"kind": "epoch", "step": p.counters.step, **summary})
            self.reporter.end_epoch(summary | {"epochs": self.config.epochs})
            result.history.append(summary)
            p.stopped_early = p.stopped_early or self._patience_exhausted()
            snapshot(self)
        if p.stopped_early and not result.stopped_early:
            result.stopped_early = True
            self.reporter.message(f"early stopping: {self.config.monitor} stopped improving")
        if p.best is None and p.bad_steps:  # the final weights are saved as the model
            what = f"the last {p.bad_steps} step(s) had a non-finite loss or gradient"
            raise diverged(f"{what}, so the trained weights were not saved", self.config.lr)
        self.log.finish(self.raw_model, has_best=p.best is not None)
        result.best = p.best
        return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the run directory's lock (rank 0 takes it) while in the block."""
        if self.run_dir is None:
            yield
            return
        with contextlib.ExitStack() as stack:
            refused: RunLocked | None = None
            if self.context.is_main:
                try:
                    stack.enter_context(run_lock(self.run_dir))
                except RunLocked as e:
                    refused = e
            # Every rank learns whether rank 0 got it, so all stop instead of the others
            # waiting for rank 0 in the first collective.
            if distributed.all_reduce_sum([float(refused is not None)], self.context)[0]:
                raise refused or RunLocked(f"run {self.run_dir} is locked (rank 0 says by whom)")
            yield

    def _train_epoch(self) -> dict[str, Any]:
        cfg, c, data = self.config, self.counters, self.train_data
        self.model.train()
        self.reporter.start_epoch(c.epoch, cfg.epochs, len(data), done=c.batch)
        started, tokens_seen = time.perf_counter(), 0
        for batch in data.epoch(c.epoch, start=c.batch):
            if self.threads is not None:
                self.threads.adapt()  # the cores other processes leave free
            batch = {k: v.to(self.context.device, non_blocking=True) for k, v in batch.items()}
            last_micro = (c.batch + 1) % cfg.accumulate == 0 or c.batch + 1 == len(data)
            sync = contextlib.nullcontext() if last_micro else self._no_sync()
            with sync:
                loss = self._forward_backward(batch)
            scored = count_scored(batch)
            self.pending_loss += loss * scored
            self.pending_tokens += scored
            tokens_seen += count_tokens(batch)
            c.batch += 1
            c.micro += 1
            rate = tokens_seen / max(time.perf_counter() - started, 1e-9)
            self.reporter.update(1, loss, rate)
            if last_micro:
                self._optimizer_step(loss, rate, micro_batches=(c.batch - 1) % cfg.accumulate + 1)
            if self._done():
                break
        seconds = time.perf_counter() - started
        return {
            "epoch": c.epoch,
            "train_loss": self.progress.epoch_loss / max(self.progress.epoch_tokens, 1),
            "rate": tokens_seen / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def _forward_backward(self, batch: dict[str, torch.Tensor]) -> float:
        """One micro-batch: forward, backward; returns its loss. Gradients accumulate."""
        with self.autocast:
            if self.train_data.stateful:
                self.state = reset_state(self.state, batch.pop("reset"))  # document borders
                output, loss = self.model(**batch, state=self.state)
                self.state = detach_state(output.state)  # truncated BPTT: cut at the border
                self.counters.chunk += 1
            else:
                output, loss = self.model(**batch)
        (loss / self.config.accumulate).backward()
        return float(loss.detach())

    def _optimizer_step(self, loss: float, rate: float, micro_batches: int) -> None:
        cfg, c = self.config, self.counters
        if micro_batches != cfg.accumulate:  # a short last group: undo the 1/accumulate scale
            for p in self.raw_model.parameters():
                if p.grad is not None:
                    p.grad.mul_(cfg.accumulate / micro_batches)
        grad_norm = clip_gradients(list(self.raw_model.parameters()), cfg.clip_norm, cfg.clip_value)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            self._skip_step(loss, grad_norm)
            return
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()
        c.step += 1
        self.progress.epoch_loss += self.pending_loss  # only micro-batches of steps taken count
        self.progress.epoch_tokens += self.pending_tokens
        self.pending_loss, self.pending_tokens = 0.0, 0
        self.progress.bad_steps = 0
        if c.step % cfg.log_every == 0:
            lr = self.optimizer.param_groups[0]["lr"]
            self.log.record(
                {
                    "kind": "step",
                    "step": c.step,
                    "epoch": c.epoch,
                    "loss": loss,
                    "grad_norm": grad_norm,
                    "clipped": cfg.clip_norm is not None and grad_norm > cfg.clip_norm,
                    "lr": lr,
                    "rate": rate,
                }
            )
        if self.val_data is not None and cfg.eval_every and c.step % cfg.eval_every == 0:
            self.log.record({"kind": "eval", "step": c.step, **self._validate()})
            self.progress.stopped_early = self._patience_exhausted()
        if c.step % cfg.checkpoint_every == 0:
            snapshot(self)

    def _skip_step(self, loss: float, grad_norm: float) -> None:
        """The non-finite guard: drop this update, reset the carried state, maybe give up."""
        self.optimizer.zero_grad(set_to_none=True)
        self.state = None
        self.pending_loss, self.pending_tokens = 0.0, 0
        p = self.progress
        p.counters.skipped += 1
        p.bad_steps += 1
        what = f"loss {loss}, gradient norm {grad_norm}"
        self.log.record(
            {"kind": "skip", "step": p.counters.step + 1, "loss": loss, "grad_norm": grad_norm}
        )
        self.reporter.message(
            f"step {p.counters.step + 1}: {what}; skipped the update "
            f"({p.bad_steps}/{self.config.max_bad_steps})"
        )
        if p.bad_steps >= self.config.max_bad_steps:
            cause = f"{p.bad_steps} steps in a row had a non-finite loss or gradient ({what})"
            raise diverged(cause, self.config.lr)

    def _validate(self) -> dict[str, float]:
        metrics = self.evaluate(self.raw_model, self.val_data)
        if self.context.distributed:  # every rank scored its own equal shard: average them
            names = sorted(metrics)
            sums = distributed.all_reduce_sum([metrics[n] for n in names], self.context)
            metrics = {n: v / self.context.world_size for n, v in zip(names, sums, strict=True)}
        self.model.train()
        # Weights with a non-finite loss are broken: stop there; the best saved ones stay.
        value = monitored_value(metrics, self.config, self.counters.step)
        if "val_loss" in metrics:
            self.schedule.on_validation(metrics["val_loss"])
        p, sign = self.progress, 1 if self.config.monitor_mode == "min" else -1
        if math.isfinite(value) and (p.best is None or sign * value < sign * p.best):
            p.best, p.bad_evaluations = value, 0
            self.log.save_best(self.raw_model)
        else:
            p.bad_evaluations += 1
        return metrics

    def _patience_exhausted(self) -> bool:
        patience = self.config.early_stopping
        return patience is not None and self.progress.bad_evaluations >= patience

    def _done(self) -> bool:
        """Stop the current epoch: max_steps reached, or early stopping fired mid-epoch."""
        steps = self.config.max_steps
        return self.progress.stopped_early or (steps is not None and self.counters.step >= steps)

    def _finished(self) -> bool:
        return self._done() or self.counters.epoch >= self.config.epochs

    def _no_sync(self) -> contextlib.AbstractContextManager:
        """Skip DDP's gradient all-reduce on all but the last micro-batch of a step."""
        if isinstance(self.model, DistributedDataParallel):
            return self.model.no_sync()
        return contextlib.nullcontext()


def _has_time(data: Any) -> bool:
    tensors = getattr(data, "tensors", {})
    return "inputs" in tensors and tensors["inputs"].dim() >= 2
