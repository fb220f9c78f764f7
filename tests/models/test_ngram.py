"""Interpolated Kneser-Ney: normalisation, a hand-computed example, and perplexity sanity."""

import math

import numpy as np
import pytest

from rnnkit.models.ngram import KneserNey

V = 30  # ids 25..29 never occur in training


def _stream(seed: int, size: int = 600) -> list[int]:
    """Zipf-like ids below 25 with some repeated phrases, so contexts are seen 1..many times."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 26)
    ids = rng.choice(25, size=size, p=p / p.sum()).tolist()
    for start in range(0, size - 4, 50):
        ids[start : start + 4] = [3, 1, 4, 1]
    return ids


@pytest.fixture(scope="module")
def train():
    return _stream(0)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [None, 0.75])
def test_distribution_sums_to_one_for_seen_unseen_and_mixed_contexts(train, order, discount):
    kn = KneserNey(order, discount).fit(train, V, eos_id=0)
    rng = np.random.default_rng(order)
    contexts = [[], [27], [3, 1, 4], [29, 28, 27], [26, 1, 4], [3, 1, 29], [2] * 6]
    for _ in range(60):
        start = int(rng.integers(0, len(train) - 5))
        seen = train[start : start + int(rng.integers(1, 5))]
        contexts += [seen, rng.integers(0, V, size=3).tolist(), [*seen[:-1], 28]]
    for context in contexts:
        p = kn.distribution(context)
        assert p.shape == (V,) and p.dtype == np.float64
        assert abs(p.sum() - 1.0) < 1e-12, context
        assert p.min() > 0, context  # unseen ids included
        for token in (context[-1] if context else 0, 27, 1):
            assert kn.prob(context, token) == pytest.approx(p[token], rel=1e-12)


def test_matches_a_bigram_example_computed_by_hand():
    # a b c a b d a b c, with a=0 b=1 c=2 d=3 and e=4 never seen; V = 5.
    kn = KneserNey(order=2).fit([0, 1, 2, 0, 1, 3, 0, 1, 2], vocab_size=5)
    # Bigram counts: ab 3, bc 2, ca 1, bd 1, da 1 -> n1 = 3, n2 = 1, D2 = 3 / (3 + 2) = 0.6.
    # Continuation counts N1+(. w): a 2 (after c, d), b 1, c 1, d 1 (the first a has no left
    # context) -> total 5, 4 types, n1 = 3, n2 = 1, D1 = 0.6.
    assert kn.discounts == pytest.approx([0.6, 0.6])
    # P1(w) = (N1+(. w) - 0.6) / 5 + 0.6 * 4 / 5 * 1 / 5, and 0.096 for e.
    unigram = [1.4 / 5 + 0.096, 0.4 / 5 + 0.096, 0.4 / 5 + 0.096, 0.4 / 5 + 0.096, 0.096]
    assert kn.distribution([]) == pytest.approx(unigram, abs=1e-15)
    assert unigram == pytest.approx([0.376, 0.176, 0.176, 0.176, 0.096])
    # After b: c(bc) = 2, c(bd) = 1, c(b) = 3, N(b) = 2 -> (c - 0.6) / 3 + 0.6 * 2 / 3 * P1.
    after_b = [0.4 * 0.376, 0.4 * 0.176, 1.4 / 3 + 0.4 * 0.176, 0.4 / 3 + 0.4 * 0.176, 0.4 * 0.096]
    assert kn.distribution([1]) == pytest.approx(after_b, abs=1e-15)
    assert kn.distribution([0, 1]) == pytest.approx(after_b, abs=1e-15)  # only the last token
    assert kn.distribution([4]) == pytest.approx(unigram, abs=1e-15)  # unseen: back off
    # log P(b | a) + log P(c | b); the first token is context only. P(b | a) = 2.4 / 3 + 0.2 P1(b).
    total, count = kn.log_likelihood([0, 1, 2])
    assert count == 2
    assert total == pytest.approx(math.log(2.4 / 3 + 0.2 * 0.176) + math.log(after_b[2]))


def test_given_discount_is_used_at_every_order(train):
    assert KneserNey(3, discount=0.5).fit(train, V).discounts == [0.5, 0.5, 0.5]


def test_first_tokens_are_predicted_from_shorter_contexts(train):
    kn = KneserNey(3).fit(train, V)
    stream = train[:5]
    expected = sum(math.log(kn.prob(stream[max(0, i - 2) : i], stream[i])) for i in range(1, 5))
    assert kn.log_likelihood(stream) == (pytest.approx(expected, rel=1e-12), 4)
    assert kn.prob([], stream[1]) == pytest.approx(kn.distribution([])[stream[1]])


def test_perplexity_is_low_on_a_repetitive_stream_and_near_v_on_random_data():
    pattern = [5, 6, 7, 8, 9] * 200
    assert KneserNey(3).fit(pattern, 12).perplexity(pattern) < 1.2
    rng = np.random.default_rng(1)
    uniform_train, uniform_test = rng.integers(0, 20, size=(2, 4000)).tolist()
    ppl = KneserNey(2).fit(uniform_train, 20).perplexity(uniform_test)
    assert 0.9 * 20 < ppl < 1.3 * 20


def test_higher_order_does_better_on_a_pattern_that_needs_longer_context():
    # After 0 comes 1 or 3, decided by the token before the 0: a trigram sees it, a bigram not.
    pattern = [0, 1, 2, 0, 3, 4] * 100
    bigram = KneserNey(2).fit(pattern, 5).perplexity(pattern)
    trigram = KneserNey(3).fit(pattern, 5).perplexity(pattern)
    assert trigram < 0.85 * bigram


def test_contexts_longer_than_the_training_stream_back_off():
    kn = KneserNey(4).fit([2, 3, 3], 4)  # no 4-gram at all
    for context in ([1, 2, 3], [2, 3], [3]):
        assert kn.distribution(context).sum() == pytest.approx(1.0, abs=1e-12)
    assert kn.distribution([1, 2, 3])[3] > kn.distribution([1, 2, 3])[0] > 0


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: KneserNey(0), ValueError, "order must be a positive int, got 0"),
        (lambda: KneserNey(2, discount=1.5), ValueError, r"discount must be in \(0, 1\]"),
        (lambda: KneserNey(2).fit([], 5), ValueError, "stream is empty"),
        (lambda: KneserNey(2).fit([1, 5], 5), ValueError, r"stream ids must be in \[0, 5\), got 5"),
        (lambda: KneserNey(2).fit([1, -1], 5), ValueError, "got -1"),
        (lambda: KneserNey(2).fit([1.5], 5), ValueError, "1-D sequence of int token ids"),
        (lambda: KneserNey(2).fit([1], 0), ValueError, "vocab_size must be a positive int"),
        (lambda: KneserNey(2).fit([1], 5, eos_id=7), ValueError, "eos_id must be in"),
        (lambda: KneserNey(2).fit([1], 5).prob([9], 1), ValueError, "context ids must be in"),
        (lambda: KneserNey(2).fit([1], 5).prob([1], 5), ValueError, "token ids must be in"),
        (lambda: KneserNey(2).fit([1], 5).distribution([-2]), ValueError, "got -2"),
        (lambda: KneserNey(2).fit([1], 5).perplexity([1]), ValueError, "at least two tokens"),
        (lambda: KneserNey(2).prob([1], 1), RuntimeError, "call fit"),
    ],
)
def test_validation_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()
