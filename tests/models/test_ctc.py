"""CTC decoding: the greedy decoder merges repeats and drops blanks; the prefix beam search's
probabilities equal a brute-force sum over alignments (and torch's CTC loss); the word
language model steers it; error rates are jiwer's."""

import itertools
import math

import numpy as np
import pytest
import torch

from rnnkit.models.ctc import WordLM, ctc_beam_search, ctc_greedy
from rnnkit.tasks.speech.scores import error_rates


def one_hot_frames(path: list[int], symbols: int) -> np.ndarray:
    frames = np.full((len(path), symbols), math.log(1e-6))
    frames[np.arange(len(path)), path] = 0.0
    return frames


def collapse(path) -> tuple[int, ...]:
    return tuple(s for i, s in enumerate(path) if s != 0 and (i == 0 or s != path[i - 1]))


def test_greedy_merges_repeats_and_drops_blanks():
    # a a _ a b b _ _ c: the blank between the a's keeps two of them
    assert ctc_greedy(one_hot_frames([1, 1, 0, 1, 2, 2, 0, 0, 3], 4)) == [1, 1, 2, 3]
    assert ctc_greedy(one_hot_frames([0, 0, 0], 4)) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_probabilities_are_the_sum_over_alignments(seed):
    T, V = 5, 3
    generator = np.random.default_rng(seed)
    frames = torch.log_softmax(torch.tensor(generator.normal(size=(T, V)) * 2), -1).numpy()
    exact: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(V), repeat=T):
        p = sum(frames[t, s] for t, s in enumerate(path))
        exact[collapse(path)] = np.logaddexp(exact.get(collapse(path), -np.inf), p)
    found = ctc_beam_search(frames, beam=10_000, prune=1e-300)
    assert {h.ids for h in found} == set(exact)
    for h in found:
        assert h.ctc == pytest.approx(exact[h.ids], abs=1e-9)
    assert found[0].ids == max(exact, key=exact.get)
    for h in found[:4]:
        if h.ids:
            loss = torch.nn.functional.ctc_loss(
                torch.tensor(frames)[:, None], torch.tensor([h.ids]), torch.tensor([T]),
                torch.tensor([len(h.ids)]), reduction="sum")  # fmt: skip
            assert h.ctc == pytest.approx(-float(loss), abs=1e-6)


def test_the_best_labelling_can_beat_the_best_path():
    # the best path is blank, blank (0.16), but "a" collects three paths: a a, a _ and _ a,
    # 0.09 + 0.12 + 0.12 = 0.33 (and "b" as many)
    frames = np.log(np.array([[0.4, 0.3, 0.3], [0.4, 0.3, 0.3]]))
    assert ctc_greedy(frames) == []
    (best, *_) = ctc_beam_search(frames, beam=8)
    assert len(best.ids) == 1 and math.exp(best.ctc) == pytest.approx(0.3 * 0.3 + 2 * 0.3 * 0.4)


def test_the_word_model_prefers_what_it_has_read():
    alphabet = "_ ab"
    lm = WordLM.fit(["ab ab", "ab ba ab", "ab ab ab"])
    # acoustically "ab ba" is slightly ahead of "ab ab"; the word model turns it round
    a, b, space = 2, 3, 1
    frames = np.log(np.full((5, 4), 0.01))
    for t, (s, p) in enumerate([(a, 0.9), (b, 0.9), (space, 0.9), (b, 0.5), (a, 0.5)]):
        frames[t, s] = math.log(p)
    frames[3, a], frames[4, b] = math.log(0.45), math.log(0.45)
    frames = frames - np.logaddexp.reduce(frames, axis=1, keepdims=True)
    plain = ctc_beam_search(frames, beam=8)[0]
    steered = ctc_beam_search(frames, beam=8, lm=lm, alpha=1.0, space=space, alphabet=alphabet)[0]
    text = lambda h: "".join(alphabet[i] for i in h.ids)  # noqa: E731
    assert text(plain) == "ab ba" and text(steered) == "ab ab"
    assert lm.log_prob(("ab",), "ab") > lm.log_prob(("ab",), "ba") > lm.log_prob(("ab",), "zz")


def test_error_rates_are_jiwers_on_known_examples():
    found = error_rates(["three oh seven", "one two"], ["three seven", "one two two"])
    # one deletion and one insertion over five reference words
    assert found["wer"] == pytest.approx(2 / 5)
    assert (found["substitutions"], found["deletions"], found["insertions"]) == (0, 1, 1)
    assert error_rates(["abc"], ["abd"])["cer"] == pytest.approx(1 / 3)
    assert error_rates(["same words"], ["same words"])["wer"] == 0
    with pytest.raises(ValueError, match="no transcripts"):
        error_rates([], [])


def test_a_lexicon_writes_only_words_the_model_has_read():
    alphabet = "_ ab"
    lm = WordLM.fit(["ab", "ba ab"])
    # the frames spell "ab bb" most clearly; "bb" is no word, "ba" is the next best there
    a, b, space, blank = 2, 3, 1, 0
    frames = np.full((6, 4), 0.02)
    for t, s in enumerate([a, b, space, b, blank, b]):
        frames[t, s] = 0.9
    frames[5, b], frames[5, a] = 0.6, 0.35
    frames = np.log(frames / frames.sum(axis=1, keepdims=True))
    text = lambda h: "".join(alphabet[i] for i in h.ids)  # noqa: E731
    free = ctc_beam_search(frames, beam=16, lm=lm, alpha=0.0, space=space, alphabet=alphabet)
    closed = ctc_beam_search(frames, beam=16, lm=lm, alpha=0.0, space=space, alphabet=alphabet,
                             lexicon=True)  # fmt: skip
    assert any(w not in ("ab", "ba") for w in text(free[0]).split())
    assert closed and all(set(text(h).split()) <= {"ab", "ba"} for h in closed)
    assert lm.allows("a", "b") and not lm.allows("b", "b") and lm.allows("ab", " ")
    with pytest.raises(ValueError, match="lexicon"):
        ctc_beam_search(frames, lexicon=True)


@pytest.mark.parametrize("lexicon", [False, True])
def test_beam_search_scores_equal_brute_force_with_the_word_model(lexicon):
    alphabet, space = "_ ab", 1
    lm = WordLM.fit(["ab ab", "ab ba ab", "ba"])
    alpha, beta, T = 0.7, 0.3, 6
    frames = torch.log_softmax(torch.tensor(np.random.default_rng(3).normal(size=(T, 4))), -1)
    frames = frames.numpy()

    def readable(ids) -> bool:  # one space between words, none first
        text = "".join(alphabet[i] for i in ids)
        spaced = not text.startswith(" ") and "  " not in text
        return spaced and (not lexicon or all(w in ("ab", "ba") for w in text.split()))

    exact: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(4), repeat=T):
        ids = collapse(path)
        if not readable(ids):
            continue
        if ids and ids[-1] == space:
            ids = ids[:-1]  # "ab " reads as "ab"
        p = sum(frames[t, s] for t, s in enumerate(path))
        exact[ids] = np.logaddexp(exact.get(ids, -np.inf), p)

    def score(ids) -> float:
        words = "".join(alphabet[i] for i in ids).split()
        lm_score = sum(lm.log_prob(tuple(words[:k]), w) for k, w in enumerate(words))
        lm_score += lm.log_prob(tuple(words), None)
        return exact[ids] + alpha * lm_score + beta * len(words)

    best = max(exact, key=score)
    found = ctc_beam_search(frames, beam=10_000, prune=0, lm=lm, alpha=alpha, beta=beta,
                            space=space, alphabet=alphabet, lexicon=lexicon)  # fmt: skip
    assert found[0].ids == best
    assert found[0].score == pytest.approx(score(best), abs=1e-9)
