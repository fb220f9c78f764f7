"""The language model's adaptive softmax: the cheap training loss equals the full scores'."""

import pytest
import torch

from rnnkit.models import LanguageModel
from rnnkit.models.decoding import greedy


def test_training_loss_equals_the_loss_of_the_full_log_probabilities():
    torch.manual_seed(0)
    model = LanguageModel(50, embedding_dim=8, hidden_size=32, adaptive_cutoffs=(10, 30))
    inputs, targets = torch.randint(50, (3, 7)), torch.randint(50, (3, 7))
    targets[1, 4:] = -100
    output, loss = model(inputs, targets)
    assert output.logits is None  # the training path never builds (N, T, V) scores
    scores, none = model(inputs)
    assert none is None and scores.logits.shape == (3, 7, 50)
    assert torch.allclose(scores.logits.exp().sum(-1), torch.ones(3, 7), atol=1e-5)
    full = torch.nn.functional.cross_entropy(
        scores.logits.reshape(-1, 50), targets.reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(loss, full)
    tokens, state = model.start(inputs[:, :2])
    assert greedy(model, tokens, state, max_length=4).tokens.shape == (3, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"adaptive_cutoffs": (10,), "tie_weights": True}, "cannot be combined"),
        ({"adaptive_cutoffs": (0, 60)}, r"increasing ids in \(0, V=50\)"),
    ],
)
def test_bad_adaptive_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LanguageModel(50, embedding_dim=8, **kwargs)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_adaptive_softmax_trains_under_bf16_autocast_on_cpu(kind):
    """torch's adaptive softmax fills a tensor of its input's dtype with bf16 cluster scores:
    the decoder hands it features in the autocast dtype and averages the loss in float32."""
    torch.manual_seed(0)
    model = LanguageModel(50, embedding_dim=8, hidden_size=32, kind=kind, adaptive_cutoffs=(10, 30))
    inputs, targets = torch.randint(50, (3, 7)), torch.randint(50, (3, 7))
    exact = model(inputs, targets)[1]
    with torch.autocast("cpu", torch.bfloat16):
        _, loss = model(inputs, targets)
        scores = model(inputs)[0].logits
    assert loss.dtype == torch.float32 and scores.shape == (3, 7, 50)
    torch.testing.assert_close(loss, exact, atol=0.05, rtol=0.01)  # bf16 keeps ~3 digits
    loss.backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in model.parameters())
