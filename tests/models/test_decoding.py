"""Decoding: the filters on their own, sampling, greedy, and beam search against brute force."""

import math

import pytest
import torch

from rnnkit.models import LanguageModel, Seq2Seq
from rnnkit.models.decoding import (
    beam_search,
    greedy,
    length_penalty,
    sample,
    top_k_filter,
    top_p_filter,
)

V = 13
EOS, A, B, START = 0, 1, 2, 3


class MarkovTable:
    """A hand-made Steppable: the next-token distribution depends on the current token only."""

    def __init__(self, table: dict[int, dict[int, float]], vocab: int = 4):
        self.logits = torch.zeros(vocab, vocab)  # tokens not in the table: uniform
        for token, nexts in table.items():
            self.logits[token] = float("-inf")
            for nxt, prob in nexts.items():
                self.logits[token, nxt] = math.log(prob)

    def step(self, tokens, state):
        return self.logits[tokens], state

    def reorder_state(self, state, index):
        return state


def start(n=1):
    return torch.full((n,), START)


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return LanguageModel(V, embedding_dim=8, hidden_size=16).eval()


def lm_start(lm, n=4):
    torch.manual_seed(1)
    return lm.start(torch.randint(0, V, (n, 3)))


def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    kept = torch.isfinite(top_k_filter(logits, 2))
    assert kept.sum(-1).tolist() == [2, 2]
    assert kept[1].tolist() == [True, True, False, False, False]
    assert torch.isfinite(top_k_filter(logits, 50)).all()  # k >= V keeps everything


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.45, {2}), (0.7, {2, 0}), (0.81, {2, 0, 3}), (1.0, {0, 1, 2, 3})],
)
def test_top_p_keeps_the_smallest_set_reaching_p(p, expected):
    probs = torch.tensor([0.3, 0.05, 0.5, 0.15])  # sorted: 0.5, 0.3, 0.15, 0.05
    kept = torch.isfinite(top_p_filter(probs.log(), p))
    assert set(torch.nonzero(kept).flatten().tolist()) == expected


@pytest.mark.parametrize("seed", range(5))
def test_top_p_against_brute_force(seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 10, generator=generator) * 2
    p = float(torch.rand(1, generator=generator))
    kept = torch.isfinite(top_p_filter(logits, p))
    for row, keep in zip(logits.softmax(-1), kept, strict=True):
        ordered = row.sort(descending=True).values
        smallest = int((ordered.cumsum(0) < p).sum()) + 1  # items needed to reach p
        assert keep.sum() == smallest
        if not keep.all():
            assert row[keep].min() >= row[~keep].max()


def test_filters_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 0"):
        top_p_filter(torch.zeros(3), 0)
    with pytest.raises(ValueError, match="top_k must be a positive int, got 0"):
        top_k_filter(torch.zeros(3), 0)


def test_temperature_to_zero_is_greedy(lm):
    tokens, state = lm_start(lm)
    best = greedy(lm, tokens, state, max_length=8)
    for temperature in (0.0, 1e-4):
        drawn = sample(lm, tokens, state, max_length=8, temperature=temperature)
        assert torch.equal(drawn.tokens, best.tokens)
        torch.testing.assert_close(drawn.scores, best.scores)


def test_sampling_is_reproducible_with_a_generator(lm):
    tokens, state = lm_start(lm, n=8)

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return sample(lm, tokens, state, 10, top_k=5, top_p=0.9, generator=generator).tokens

    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(1))


def test_top_k_one_sampling_is_greedy(lm):
    tokens, state = lm_start(lm)
    drawn = sample(lm, tokens, state, 6, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(drawn.tokens, greedy(lm, tokens, state, 6).tokens)


def test_eos_ends_a_sequence():
    table = MarkovTable({START: {A: 1.0}, A: {B: 1.0}, B: {EOS: 1.0}, EOS: {A: 1.0}})
    out = greedy(table, start(2), None, max_length=10, eos=EOS)
    assert out.tokens.tolist() == [[A, B, EOS]] * 2 and out.lengths.tolist() == [3, 3]
    free = greedy(table, start(1), None, max_length=5)  # no eos: runs to max_length
    assert free.tokens.tolist() == [[A, B, EOS, A, B]]


def test_beam_of_one_is_greedy(lm):
    tokens, state = lm_start(lm)
    best = greedy(lm, tokens, state, max_length=8, eos=5)
    beam = beam_search(lm, tokens, state, max_length=8, eos=5, beam_size=1)
    assert torch.equal(beam.tokens[:, 0], best.tokens)
    torch.testing.assert_close(beam.scores[:, 0], best.scores)
    assert torch.equal(beam.lengths[:, 0], best.lengths)


def test_beam_search_beats_myopic_greedy():
    # Greedy takes A (0.6) and then can only reach 0.6 * 0.34; B (0.4) leads to eos for sure.
    table = MarkovTable({START: {A: 0.6, B: 0.4}, A: {EOS: 0.34, A: 0.33, B: 0.33}, B: {EOS: 1.0}})
    best = greedy(table, start(), None, max_length=5, eos=EOS)
    beam = beam_search(table, start(), None, max_length=5, eos=EOS, beam_size=2)
    assert best.tokens[0].tolist()[:2] == [A, EOS]
    assert beam.tokens[0, 0].tolist()[:2] == [B, EOS]
    torch.testing.assert_close(beam.scores[0, 0], torch.tensor(math.log(0.4)))
    assert beam.scores[0, 0] > best.scores[0]
    assert (beam.scores[0, :-1] >= beam.scores[0, 1:]).all()  # best first


LONG_OR_SHORT = {START: {EOS: 0.5, A: 0.5}, A: {EOS: 0.7, A: 0.3}}


def brute_force_best(alpha, form, max_length=4):
    """Score every hypothesis, A^k eos (k < max_length) or A^max_length unfinished; the best."""
    scored = []
    for k in range(max_length + 1):
        first = math.log(0.5)  # eos or A first, one half each
        more = (k - 1) * math.log(0.3) if k else 0.0
        finished = k < max_length
        end = math.log(0.7) if finished and k else 0.0
        length = torch.tensor(k + 1 if finished else k)
        penalty = float(length_penalty(length, alpha, form))
        scored.append(((first + more + end) / penalty, k))
    return max(scored)


@pytest.mark.parametrize(
    ("alpha", "form", "ones"),  # ones: the A's before eos in the best answer, worked by hand
    [(0.0, "gnmt", 0), (1.0, "gnmt", 0), (3.0, "gnmt", 1), (1.0, "power", 1), (2.0, "power", 3)],
)
def test_length_penalty_changes_the_choice_as_documented(alpha, form, ones):
    table = MarkovTable(LONG_OR_SHORT)
    beam = beam_search(
        table, start(), None, 4, eos=EOS, beam_size=5, length_alpha=alpha, penalty=form
    )
    score, k = brute_force_best(alpha, form)
    assert k == ones
    assert beam.tokens[0, 0, : ones + 1].tolist() == [A] * ones + [EOS]
    torch.testing.assert_close(beam.scores[0, 0], torch.tensor(score))


def test_length_penalty_formulas():
    lengths = torch.tensor([1, 4])
    torch.testing.assert_close(length_penalty(lengths, 0.0), torch.ones(2))
    torch.testing.assert_close(length_penalty(lengths, 1.0), torch.tensor([1.0, 1.5]))
    torch.testing.assert_close(length_penalty(lengths, 2.0, "power"), torch.tensor([1.0, 16.0]))
    with pytest.raises(ValueError, match="penalty must be one of gnmt, power, got 'x'"):
        length_penalty(lengths, 1.0, "x")


def test_seq2seq_beam_search_of_a_batch_equals_each_source_alone():
    """The beams of each source carry that source's memory and mask (reorder_state)."""
    torch.manual_seed(0)
    model = Seq2Seq(V, 0, 1, source_vocab=7, hidden_size=8, bidirectional=True).eval()
    source, lengths = torch.randint(0, 7, (3, 5)), torch.tensor([5, 2, 4])
    tokens, state = model.start(source, lengths)
    together = beam_search(model, tokens, state, 6, eos=1, beam_size=3, length_alpha=0.6)
    for n, length in enumerate(lengths.tolist()):
        tokens, state = model.start(source[n : n + 1, :length])
        alone = beam_search(model, tokens, state, 6, eos=1, beam_size=3, length_alpha=0.6)
        steps = alone.tokens.shape[-1]
        assert torch.equal(together.tokens[n, :, :steps], alone.tokens[0])
        torch.testing.assert_close(together.scores[n], alone.scores[0])


def test_start_tokens_must_be_a_vector(lm):
    with pytest.raises(ValueError, match=r"start tokens must be \(N,\) integer ids, got \(2, 3\)"):
        greedy(lm, torch.zeros(2, 3, dtype=torch.long), None, 5)
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 13\), got values from 0 to 20"):
        lm.step(torch.tensor([0, 20]), None)
