"""The training loop: learning, accumulation, schedules, the non-finite guard, early stopping."""

import itertools
import math

import pytest
import torch
from safetensors.torch import load_file
from trainer_fixtures import SequenceRegressor, quiet_config, sum_task

from rnnkit.train.optim import Schedule, clip_gradients
from rnnkit.train.trainer import TrainConfig, Trainer, TrainingDiverged, evaluate_loss


def fit(model, config, data, **kw):
    trainer = Trainer(model, config, data, **kw)
    return trainer, trainer.fit()


def test_loss_falls_well_below_predicting_the_mean():
    torch.manual_seed(0)
    model = SequenceRegressor(dropout=0.0)
    val = sum_task(samples=128, seed=1, shuffle=False)
    before = evaluate_loss(model, val)["val_loss"]
    _, result = fit(model, quiet_config(epochs=8, lr=1e-2), sum_task(), val_data=val)
    after = result.history[-1]["val_loss"]
    # The centred sum of 8 uniforms has variance 8/12: predicting 0 scores about 0.67.
    assert before > 0.5 and after < 0.05
    assert after == result.best


def test_accumulation_equals_one_large_batch():
    results = []
    for batch_size, accumulate in ((32, 1), (16, 2)):
        torch.manual_seed(0)
        model = SequenceRegressor(dropout=0.0).double()
        data = sum_task(batch_size=batch_size)
        data.tensors = {k: v.double() for k, v in data.tensors.items()}
        config = quiet_config(epochs=2, accumulate=accumulate, optimizer="sgd", lr=0.1)
        trainer, _ = fit(model, config, data)
        assert trainer.counters.step == 16 and trainer.counters.micro == 16 * accumulate
        results.append(model.state_dict())
    for name, value in results[0].items():
        torch.testing.assert_close(results[1][name], value, rtol=0, atol=1e-12, msg=name)


def test_schedules_follow_their_formulas():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)

    def lrs(steps, **kw):
        schedule = Schedule(optimizer, TrainConfig(lr=1.0, **kw), total_steps=10)
        out = []
        for _ in range(steps):
            out.append(optimizer.param_groups[0]["lr"])
            schedule.step()
        return out

    assert lrs(4, warmup_steps=4) == [0.25, 0.5, 0.75, 1.0]
    cosine = lrs(11, schedule="cosine", warmup_steps=2, min_lr_ratio=0.1)
    assert cosine[:3] == [0.5, 1.0, 1.0] and math.isclose(cosine[-1], 0.1)
    assert all(a >= b for a, b in itertools.pairwise(cosine[2:]))
    assert lrs(7, schedule="step", step_size=3, gamma=0.5) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]

    schedule = Schedule(optimizer, TrainConfig(lr=1.0, schedule="plateau", patience=2), 10)
    for loss in (1.0, 0.5, 0.6, 0.7):  # two evaluations without improvement: patience 2
        schedule.on_validation(loss)
    assert optimizer.param_groups[0]["lr"] == 0.5


class NanAt(torch.nn.Module):
    """Wraps a model and makes its loss NaN on the given calls."""

    def __init__(self, model, bad_calls):
        super().__init__()
        self.model, self.bad_calls, self.calls = model, set(bad_calls), 0

    def forward(self, **batch):
        output, loss = self.model(**batch)
        self.calls += 1
        return output, loss * float("nan") if self.calls in self.bad_calls else loss


def test_non_finite_steps_are_skipped_and_reported(capsys):
    torch.manual_seed(0)
    model = NanAt(SequenceRegressor(), bad_calls={3, 5})
    trainer, _ = fit(model, quiet_config(epochs=1, quiet=False), sum_task())
    assert trainer.counters.skipped == 2 and trainer.counters.step == 8 - 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert "step 3: loss nan" in capsys.readouterr().err


def test_repeated_non_finite_steps_stop_with_advice():
    torch.manual_seed(0)
    model = NanAt(SequenceRegressor(), bad_calls=range(2, 100))
    with pytest.raises(TrainingDiverged, match=r"5 steps in a row.*lower train.lr"):
        fit(model, quiet_config(epochs=1, max_bad_steps=5), sum_task())


def test_a_model_made_to_blow_up_is_stopped():
    torch.manual_seed(0)
    model = SequenceRegressor(dropout=0.0)
    model.rnn = type(model.rnn)("rnn_relu", 1, 16)
    config = quiet_config(epochs=20, optimizer="sgd", lr=1e3, momentum=0.0, clip_norm=None)
    with pytest.raises(TrainingDiverged, match="non-finite"):
        fit(model, config, sum_task())


def test_early_stopping_after_patience():
    scores = iter([1.0, 0.5, 0.7, 0.8, 0.9, 1.0])
    trainer, result = fit(
        SequenceRegressor(),
        quiet_config(epochs=10, early_stopping=2),
        sum_task(),
        val_data=sum_task(seed=1),
        evaluate=lambda model, data: {"val_loss": next(scores)},
    )
    assert result.stopped_early and trainer.counters.epoch == 4 and result.best == 0.5


def test_unknown_monitor_is_a_clear_error():
    with pytest.raises(ValueError, match="train.monitor is 'val_acc' but the evaluation gives"):
        fit(
            SequenceRegressor(),
            quiet_config(epochs=1, monitor="val_acc"),
            sum_task(),
            val_data=sum_task(seed=1),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "train.lr must be positive, got 0.0"),
        ({"accumulate": 0}, "train.accumulate must be at least 1, got 0"),
        ({"clip_norm": -1.0}, r"train.clip_norm must be positive or None \(off\), got -1.0"),
        ({"checkpoint_every": 0}, "train.checkpoint_every must be at least 1, got 0"),
        ({"step_size": 0}, "train.step_size must be at least 1, got 0"),
        ({"max_steps": 0}, r"train.max_steps must be at least 1 or None \(off\), got 0"),
        ({"gamma": 0.0}, r"train.gamma must be in \(0, 1\]"),
        ({"warmup_steps": -5}, "must not be negative"),
        ({"lr": float("nan")}, "train.lr must be positive, got nan"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_clipping_rescues_a_finite_gradient_whose_float32_norm_would_overflow():
    param = torch.nn.Parameter(torch.zeros(1000))
    param.grad = torch.full((1000,), 1e23)  # finite, but the sum of squares is 1e49
    norm = clip_gradients([param], max_norm=1.0, max_value=None)
    assert math.isclose(norm, 1e23 * math.sqrt(1000), rel_tol=1e-6)
    assert math.isclose(float(param.grad.norm()), 1.0, rel_tol=1e-4)


def test_clip_gradients_equals_torch():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.zeros(5, 3)), torch.nn.Parameter(torch.zeros(4))]
    grads = [torch.randn(5, 3), torch.randn(4)]
    twins = [torch.nn.Parameter(torch.zeros_like(p)) for p in params]
    for p, t, g in zip(params, twins, grads, strict=True):
        p.grad, t.grad = g.clone(), g.clone()
    norm = clip_gradients(params, max_norm=0.5, max_value=None)
    expected = torch.nn.utils.clip_grad_norm_(twins, 0.5)
    assert math.isclose(norm, float(expected), rel_tol=1e-6)
    for p, t in zip(params, twins, strict=True):
        torch.testing.assert_close(p.grad, t.grad)


def test_early_stopping_fires_between_epochs_when_evaluating_every_few_steps():
    scores = iter([1.0, 0.5, 0.6, 0.7] + [0.1] * 20)
    trainer, result = fit(
        SequenceRegressor(),
        quiet_config(epochs=3, eval_every=2, early_stopping=2),
        sum_task(),
        val_data=sum_task(seed=1),
        evaluate=lambda model, data: {"val_loss": next(scores)},
    )
    assert result.stopped_early and trainer.counters.step == 8 and trainer.counters.epoch == 1


def test_a_skipped_step_does_not_poison_the_epoch_loss():
    torch.manual_seed(0)
    trainer, result = fit(
        NanAt(SequenceRegressor(), bad_calls={3}), quiet_config(epochs=1), sum_task()
    )
    assert math.isfinite(result.history[0]["train_loss"])
    skips = [r for r in trainer.log.history if r["kind"] == "skip"]
    assert len(skips) == 1 and skips[0]["loss"] is None and skips[0]["step"] == 3


def test_schedule_spans_the_shorter_of_max_steps_and_epochs():
    trainer = Trainer(
        SequenceRegressor(), quiet_config(epochs=1, max_steps=1000, schedule="cosine"), sum_task()
    )
    assert trainer.schedule.total_steps == 8


@pytest.mark.parametrize("validate", [True, False], ids=["validation", "no-validation"])
def test_a_run_that_diverges_ends_with_an_error_and_saves_no_weights(tmp_path, validate):
    torch.manual_seed(0)
    config = quiet_config(epochs=1, lr=1e30, clip_norm=None)  # one step blows the weights up
    val = sum_task(samples=32, seed=1) if validate else None
    trainer = Trainer(
        SequenceRegressor(dropout=0.0), config, sum_task(samples=64), val, run_dir=tmp_path
    )
    message = "validation loss is inf" if validate else "the last 1 step"
    with pytest.raises(TrainingDiverged, match=message):
        trainer.fit()
    assert not (tmp_path / "model.safetensors").exists()
    assert isinstance(TrainingDiverged(), ValueError)  # the CLI exits non-zero with one line


def test_a_non_finite_validation_loss_keeps_the_best_weights_saved_before(tmp_path):
    scores = iter([0.5, float("nan")])
    trainer = Trainer(
        SequenceRegressor(),
        quiet_config(epochs=3),
        sum_task(),
        val_data=sum_task(seed=1),
        run_dir=tmp_path,
        evaluate=lambda model, data: {"val_loss": next(scores)},
    )
    with pytest.raises(TrainingDiverged, match="validation loss is nan at step 16"):
        trainer.fit()
    saved, now = load_file(tmp_path / "model.safetensors"), trainer.raw_model.state_dict()
    assert trainer.best == 0.5
    assert not all(torch.equal(saved[name], now[name]) for name in now)  # epoch 1's weights
