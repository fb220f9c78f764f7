"""Many-to-one and tagging: padding never changes a sequence's result; pooling by hand."""

import itertools

import pytest
import torch

from rnnkit.models import SequenceClassifier, SequenceTagger, pool

N, T, V, C, H = 3, 7, 9, 4, 5
LENGTHS = torch.tensor([4, T, 2])  # unsorted on purpose


def padded_tokens():
    return torch.randint(0, V, (N, T))  # ids past each length are garbage that must not leak


@pytest.mark.parametrize(
    ("pooling", "bidirectional", "kind"),
    list(itertools.product(("last", "mean", "max"), (False, True), ("lstm", "gru"))),
)
def test_padded_batch_equals_each_sequence_alone(pooling, bidirectional, kind):
    torch.manual_seed(0)
    model = SequenceClassifier(
        C, vocab_size=V, hidden_size=H, kind=kind, bidirectional=bidirectional, pooling=pooling
    )
    model = model.double().eval()
    x = padded_tokens()
    logits, _ = model(x, lengths=LENGTHS)
    for n, length in enumerate(LENGTHS.tolist()):
        alone, _ = model(x[n : n + 1, :length])
        torch.testing.assert_close(logits[n : n + 1], alone, rtol=0, atol=1e-12)


def test_tagger_padding_does_not_change_the_valid_steps():
    torch.manual_seed(0)
    model = SequenceTagger(C, vocab_size=V, hidden_size=H, bidirectional=True).double().eval()
    x = padded_tokens()
    targets = torch.randint(0, C, (N, T))
    logits, loss = model(x, targets, lengths=LENGTHS)
    masked = targets.clone()
    for n, length in enumerate(LENGTHS.tolist()):
        alone, _ = model(x[n : n + 1, :length])
        torch.testing.assert_close(logits[n, :length], alone[0], rtol=0, atol=1e-12)
        masked[n, length:] = -100
    # lengths and -100 padding leave the same steps out of the loss: the valid ones
    _, same = model(x, masked, lengths=LENGTHS)
    valid = masked != -100
    by_hand = torch.nn.functional.cross_entropy(logits[valid], targets[valid])
    torch.testing.assert_close(loss, same)
    torch.testing.assert_close(loss, by_hand)


def test_pool_by_hand():
    """Forward half at the last valid step, backward half at step 0; mean/max skip padding."""
    out = torch.arange(2 * 3 * 4, dtype=torch.float64).view(2, 3, 4)  # (N, T, D*H), H = 2
    out[0, 2] = 100.0  # padding of sequence 0 (length 2): must be ignored
    lengths = torch.tensor([2, 3])
    last = pool(out, lengths, "last", num_directions=2)
    torch.testing.assert_close(last[0], torch.cat([out[0, 1, :2], out[0, 0, 2:]]))
    torch.testing.assert_close(last[1], torch.cat([out[1, 2, :2], out[1, 0, 2:]]))
    torch.testing.assert_close(pool(out, lengths, "last", 1)[0], out[0, 1])
    torch.testing.assert_close(pool(out, lengths, "mean", 2)[0], out[0, :2].mean(0))
    torch.testing.assert_close(pool(out, lengths, "max", 2)[0], out[0, :2].amax(0))
    negative = -out.abs() - 1  # padding zeros would win a max over negative outputs
    torch.testing.assert_close(pool(negative, lengths, "max", 1)[0], negative[0, :2].amax(0))


def test_class_weights_weigh_the_loss():
    torch.manual_seed(0)
    plain = SequenceClassifier(2, input_size=3, hidden_size=H)
    weighted = SequenceClassifier(2, input_size=3, hidden_size=H, class_weights=[0.0, 1.0])
    weighted.load_state_dict(plain.state_dict() | {"class_weights": torch.tensor([0.0, 1.0])})
    x, y = torch.randn(4, 5, 3), torch.tensor([0, 0, 1, 1])
    logits, _ = plain(x)
    expected = torch.nn.functional.cross_entropy(logits[2:], y[2:])
    torch.testing.assert_close(weighted(x, y)[1], expected)
