"""Small instances of every model with a batch each: shared by the model and GPU tests."""

import torch

from rnnkit.models import (
    MLP,
    LanguageModel,
    Seq2Seq,
    SequenceClassifier,
    SequenceGenerator,
    SequenceRegressor,
    SequenceTagger,
)

N, T, S, V, C, I = 3, 6, 5, 11, 4, 3
LENGTHS = torch.tensor([5, 2, 4])  # source lengths, unsorted on purpose


def tokens(*shape, high=V):
    return torch.randint(0, high, shape)


def padded_targets(high=V):
    targets = tokens(N, T, high=high)
    targets[1, 3:] = -100
    return targets


# name -> (build, batch with targets, the shape of the logits)
CASES = {
    "mlp": (
        lambda: MLP(I, C, hidden_sizes=(8, 8)),
        lambda: {"inputs": torch.randn(N, I), "targets": tokens(N, high=C)},
        (N, C),
    ),
    "mlp_regression": (
        lambda: MLP(I, 2, task="regression"),
        lambda: {"inputs": torch.randn(N, I), "targets": torch.randn(N, 2)},
        (N, 2),
    ),
    "classifier_tokens": (
        lambda: SequenceClassifier(C, vocab_size=V, hidden_size=8, bidirectional=True),
        lambda: {"inputs": tokens(N, T), "targets": tokens(N, high=C), "lengths": LENGTHS},
        (N, C),
    ),
    "classifier_features": (
        lambda: SequenceClassifier(C, input_size=I, hidden_size=8, kind="gru", pooling="max"),
        lambda: {"inputs": torch.randn(N, T, I), "targets": tokens(N, high=C)},
        (N, C),
    ),
    "regressor_features": (
        lambda: SequenceRegressor(2, input_size=I, hidden_size=8, kind="rnn_tanh", pooling="mean"),
        lambda: {"inputs": torch.randn(N, T, I), "targets": torch.randn(N, 2), "lengths": LENGTHS},
        (N, 2),
    ),
    "tagger": (
        lambda: SequenceTagger(C, vocab_size=V, hidden_size=8, num_layers=2, bidirectional=True),
        lambda: {"inputs": tokens(N, T), "targets": padded_targets(C), "lengths": LENGTHS},
        (N, T, C),
    ),
    "language_model": (
        lambda: LanguageModel(V, embedding_dim=8, hidden_size=12, tie_weights=True),
        lambda: {"inputs": tokens(N, T), "targets": padded_targets()},
        (N, T, V),
    ),
    "generator": (
        lambda: SequenceGenerator(I, V, bos=0, eos=1, embedding_dim=8, hidden_size=8, max_length=8),
        lambda: {"inputs": torch.randn(N, I), "targets": padded_targets()},
        (N, T, V),
    ),
    "seq2seq_additive": (
        lambda: Seq2Seq(V, 0, 1, source_vocab=7, hidden_size=8, bidirectional=True, max_length=8),
        lambda: {"inputs": tokens(N, S, high=7), "targets": padded_targets(), "lengths": LENGTHS},
        (N, T, V),
    ),
    "seq2seq_dot_features": (
        lambda: Seq2Seq(
            V, 0, 1, input_size=I, hidden_size=8, kind="gru", attention="dot", max_length=8
        ),
        lambda: {"inputs": torch.randn(N, S, I), "targets": padded_targets()},
        (N, T, V),
    ),
    "seq2seq_plain": (
        lambda: Seq2Seq(
            V, 0, 1, source_vocab=7, hidden_size=8, num_layers=2, attention="none", max_length=8
        ),
        lambda: {"inputs": tokens(N, S, high=7), "targets": padded_targets()},
        (N, T, V),
    ),
}


def logits_of(output):
    return output if isinstance(output, torch.Tensor) else output.logits


def start_inputs(name, batch):
    if name == "language_model":
        return {"prompt": batch["inputs"][:, :1]}
    return {k: v for k, v in batch.items() if k in ("inputs", "lengths")}
