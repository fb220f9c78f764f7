"""CIDEr-D against numbers worked by hand from its definition; BLEU is sacrebleu's."""

import math

import pytest
import sacrebleu

from rnnkit.tasks.caption.scores import bleu, cider_d, words


def test_cider_d_equals_the_worked_example():
    # Two images. "a" is in both images' references: its weight is log(2/2) = 0; every other
    # n-gram's is log(2/1). Image 1: the caption matches its first reference exactly
    # (cosine 1 for unigrams and bigrams, nothing at n = 3, 4) and shares only the weightless
    # "a" with the second: (1 + 1 + 0 + 0) / 4 / 2 references x 10 = 2.5. Image 2: exact
    # match with its one reference: (1 + 1) / 4 x 10 = 5.
    corpus, each = cider_d(["a cat", "A bird."], [["a cat", "a dog"], ["a bird"]])
    assert each == pytest.approx([2.5, 5.0])
    assert corpus == pytest.approx(3.75)


def test_repeating_a_word_is_clipped_at_the_references_count():
    # "cat cat cat" against "a cat" (other image: "a bird"): unigram vectors (cat: 3w) and
    # (a: 0, cat: w) with w = log 2; clipped dot product min(3w, w) w = w^2 over norms 3w and
    # w gives 1/3 (without the clip it would be 1). No bigram is shared, and the lengths
    # differ by one word: exp(-1 / 72).
    _, each = cider_d(["cat cat cat", "a bird"], [["a cat"], ["a bird"]])
    assert each[0] == pytest.approx(10 * (1 / 3) / 4 * math.exp(-1 / 72))


def test_a_length_unlike_the_references_costs_as_the_gaussian_says():
    long = "a small cat sat quietly on the old red mat by the door"  # 12 words
    refs = [["a small cat sat quietly on the mat"], ["something else entirely"]]
    _, same = cider_d([refs[0][0], "x"], refs)
    _, longer = cider_d([long, "x"], refs)
    assert same[0] == pytest.approx(10 * 4 / 4)  # every n-gram level matches: cosine 1
    assert longer[0] < same[0] * math.exp(-(4**2) / 72) + 1e-9  # 4 words longer


def test_bleu_is_sacrebleus_with_every_reference():
    captions = ["a cat on a mat", "two dogs play"]
    references = [["a cat sits on a mat", "a cat on the mat"], ["two dogs are playing"]]
    found = bleu(captions, references)
    streams = [["a cat sits on a mat", "two dogs are playing"],
               ["a cat on the mat", "two dogs are playing"]]  # fmt: skip
    assert found["bleu4"] == pytest.approx(sacrebleu.corpus_bleu(captions, streams).score)
    assert found["bleu1"] >= found["bleu2"] >= found["bleu4"]


def test_words_and_bad_inputs():
    assert words("A man's dog, running!") == ["a", "man's", "dog", "running"]
    with pytest.raises(ValueError, match="2 captions for 1 images"):
        cider_d(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="at least one reference"):
        cider_d(["a"], [[]])
