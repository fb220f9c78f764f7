"""Bad inputs raise ValueError with a message that says what was expected."""

import re

import pytest
import torch

from rnnkit import models
from rnnkit.models.common import InputEncoder
from rnnkit.models.decoding import beam_search, sample


def classifier(**kw):
    return models.SequenceClassifier(2, **({"vocab_size": 10, "hidden_size": 4} | kw))


BAD_CONSTRUCTIONS = [
    (
        lambda: classifier(pooling="avg"),
        "pooling must be one of last, mean, max, attention, got 'avg'",
    ),
    (lambda: classifier(num_layers=0), "num_layers must be a positive int, got 0"),
    (lambda: classifier(kind="elman"), "kind must be one of rnn_tanh, rnn_relu, lstm, gru"),
    (lambda: classifier(dropout=1.0), "dropout must be in [0, 1), got 1.0"),
    (lambda: classifier(class_weights=[1.0]), "class_weights must be C=2 non-negative numbers"),
    (lambda: classifier(input_size=3), "give exactly one of vocab_size (token ids) or input_size"),
    (lambda: InputEncoder(), "give exactly one of vocab_size (token ids) or input_size"),
    (lambda: models.SequenceTagger(0, vocab_size=5), "num_tags must be a positive int, got 0"),
    (lambda: models.MLP(3, 2, task="ranking"), "task must be one of classification, regression"),
    (lambda: models.MLP(3, 2, activation="swish"), "activation must be one of relu, tanh, gelu"),
    (lambda: models.LanguageModel(0), "vocab_size must be a positive int, got 0"),
    (
        lambda: models.Seq2Seq(5, 0, 1, source_vocab=5, attention="cosine"),
        "attention must be one of additive, dot, none, got 'cosine'",
    ),
    (lambda: models.Seq2Seq(5, 0, 7, source_vocab=5), "eos must be a token id in [0, V=5), got 7"),
    (
        lambda: models.SequenceGenerator(3, 5, 0, 1, teacher_forcing=1.5),
        "teacher_forcing must be in [0, 1], got 1.5",
    ),
    (lambda: models.Attention("additive", 4, 0), "memory_size must be a positive int, got 0"),
]


@pytest.mark.parametrize(("build", "message"), BAD_CONSTRUCTIONS)
def test_bad_construction(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


TOKENS = torch.arange(15).view(3, 5) % 10  # ids 0..9, every one of them
LM = models.LanguageModel(10, embedding_dim=4)
FEATURES = models.SequenceClassifier(2, input_size=3, hidden_size=4)
BAD_CALLS = [
    (
        lambda: classifier()(torch.zeros(3, 4, 5, dtype=torch.long)),
        "inputs must be (N, T) token ids with V=10, got torch.int64 of shape (3, 4, 5)",
    ),
    (lambda: classifier()(torch.randn(3, 4)), "inputs must be (N, T) token ids"),
    (lambda: classifier()(TOKENS + 3), "inputs must lie in [0, 10), got values from 3 to 12"),
    (
        lambda: classifier()(TOKENS, lengths=torch.tensor([5, 5])),
        "lengths must be a 1-D integer tensor of N=3 lengths, got torch.int64 of shape (2,)",
    ),
    (
        lambda: classifier()(TOKENS, lengths=torch.tensor([5, 0, 6])),
        "lengths must lie in [1, T=5], got values from 0 to 6",
    ),
    (
        lambda: classifier()(TOKENS, targets=torch.tensor([0, 1, 2])),
        "targets must lie in [0, 2), got values from 0 to 2",
    ),
    (lambda: classifier()(TOKENS, targets=torch.tensor([0, 1])), "targets must hold N=3 class ids"),
    (
        lambda: FEATURES(torch.randn(3, 5, 4)),
        "inputs must be (N, T, I) float features with I=3, got torch.float32 of shape (3, 5, 4)",
    ),
    (lambda: LM(TOKENS, targets=TOKENS[:, :4]), "targets must be (N, T) ids with N=3, T=5"),
    (
        lambda: LM(TOKENS, targets=TOKENS + 20),
        "targets must lie in [0, 10) or be -100 (padding), got values from 20 to 29",
    ),
    (lambda: LM.start(TOKENS[0]), "prompt must be (N, T) token ids with V=10"),
    (
        lambda: models.MLP(3, 1, task="regression")(torch.randn(4, 3), torch.randn(4, 2)),
        "targets must be (N, O) floats with N=4, O=1",
    ),
    (lambda: models.MLP(3, 2)(torch.randn(4, 5)), "inputs must be (N, I) float features with I=3"),
    (
        lambda: sample(LM, TOKENS[:, 0], None, 5, temperature=-1.0),
        "temperature must be >= 0 (0 is greedy), got -1.0",
    ),
    (
        lambda: beam_search(LM, TOKENS[:, 0], None, 5, beam_size=0),
        "beam_size must be a positive int, got 0",
    ),
    (lambda: beam_search(LM, TOKENS[:, 0], None, 0), "max_length must be a positive int, got 0"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_bad_call(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
