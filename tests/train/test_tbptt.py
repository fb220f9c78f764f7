"""The trainer's truncated BPTT and clipping against the NumPy reference, same weights, float64."""

import numpy as np
import pytest
import torch
from trainer_fixtures import FloatStream, Output, quiet_config

from rnnkit.layers import Recurrent
from rnnkit.reference import clip_grad_norm, params_from_torch, sequence_loss, truncated_bptt
from rnnkit.train.trainer import Trainer

N, T, I, H, K = 3, 11, 4, 5, 4  # batch, stream length, features, hidden, chunk length


class RawRecurrent(torch.nn.Module):
    """The recurrent layer alone, scored by MSE against targets: what the reference computes."""

    def __init__(self, kind, layers, bidirectional):
        super().__init__()
        self.rnn = Recurrent(kind, I, H, num_layers=layers, bidirectional=bidirectional)

    def forward(self, inputs, targets, state=None):
        out, state = self.rnn(inputs, state)
        return Output(out, state), torch.nn.functional.mse_loss(out, targets)


@pytest.mark.parametrize("clip_norm", [None, 0.05], ids=["no-clip", "clip"])
@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional"),
    [("rnn_tanh", 1, False), ("lstm", 2, False), ("gru", 1, True), ("rnn_relu", 2, True)],
)
def test_trainer_tbptt_step_equals_reference(kind, layers, bidirectional, clip_norm):
    torch.manual_seed(0)
    model = RawRecurrent(kind, layers, bidirectional).double()
    D = 2 if bidirectional else 1
    x = torch.randn(N, T, I, dtype=torch.float64)
    y = torch.randn(N, T, D * H, dtype=torch.float64)
    params = params_from_torch(model)
    chunks = -(-T // K)

    _, grads, _ = truncated_bptt(kind, params, x.numpy(), K, sequence_loss(y.numpy()))
    # The trainer averages the chunk losses over the `accumulate` micro-batches of one step.
    grads = {name: g / chunks for name, g in grads.items()}
    if clip_norm is not None:
        grads, norm = clip_grad_norm(grads, clip_norm)
        assert norm > clip_norm, "the test should exercise clipping"
    lr = 0.1
    expected = {name: params[name] - lr * grads[name] for name in params}

    config = quiet_config(
        epochs=1, optimizer="sgd", momentum=0.0, lr=lr, accumulate=chunks, clip_norm=clip_norm
    )
    trainer = Trainer(model, config, FloatStream(x, y, K))
    trainer.fit()
    assert trainer.counters.chunk == chunks and trainer.counters.step == 1
    for name, value in params_from_torch(model).items():
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-12, err_msg=name)
