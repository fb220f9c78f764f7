"""Scoring captions against several references each: CIDEr-D and BLEU-1 to BLEU-4.

CIDEr-D (Vedantam, Zitnick and Parikh 2015, "CIDEr: Consensus-based Image Description
Evaluation", and its -D form as the COCO evaluation computes it). A caption and a reference
become, for each n from 1 to 4, a vector over n-grams weighted by TF-IDF:

    g_k(s) = count of n-gram k in s  x  log(|I| / max(1, df_k))

where |I| is the number of images scored and df_k the number of images whose references
hold n-gram k (so n-grams every image's references share weigh nothing). For a caption c
and the references s_1..s_m of its image:

    CIDEr-D_n = 1/m sum_j  exp(-(l(c) - l(s_j))^2 / (2 sigma^2))
                           <min(g(c), g(s_j)), g(s_j)> / (|g(c)| |g(s_j)|)
    CIDEr-D   = 10 x mean over n of CIDEr-D_n

The minimum clips a caption's n-gram counts at the reference's (repeating a good word stops
paying), the Gaussian (sigma = 6 words) penalizes a length unlike the reference's, and the
factor 10 puts scores on the scale the COCO papers report. Words are lowercase runs of
letters, digits and apostrophes; punctuation is dropped. The corpus score is the mean over
images. On 30 random captions with one to four references each, these scores equal the
COCO evaluation's own CIDEr-D code (pycocoevalcap 1.2's ``CiderScorer``, run once beside
this module) to 1e-15.

BLEU-1 to BLEU-4 are sacrebleu's corpus BLEU with every reference (``max_ngram_order``),
never a BLEU of our own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["bleu", "cider_d", "words"]

N, SIGMA, SCALE = 4, 6.0, 10.0
Grams = list[Counter]  # n-gram counts for n = 1..N


def words(text: str) -> list[str]:
    """The words CIDEr-D compares: lowercase letters, digits and apostrophes."""
    return re.findall(r"[a-z0-9']+", text.lower())


def _grams(text: str) -> tuple[Grams, int]:
    said = words(text)
    grams = [Counter(tuple(said[i : i + n]) for i in range(len(said) - n + 1))
             for n in range(1, N + 1)]  # fmt: skip
    return grams, len(said)


def cider_d(
    captions: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[float, list[float]]:
    """The corpus CIDEr-D of ``captions`` (one per image) against ``references`` (several
    per image), and each image's score (see the module docstring)."""
    if len(captions) != len(references):
        raise ValueError(f"{len(captions)} captions for {len(references)} images")
    if not captions:
        raise ValueError("no captions to score")
    if any(not refs for refs in references):
        raise ValueError("every image needs at least one reference caption")
    refs = [[_grams(r) for r in image] for image in references]
    frequency: Counter = Counter()
    for image in refs:
        frequency.update({k for grams, _ in image for level in grams for k in level})
    log_images = math.log(len(captions))

    def vector(grams: Grams) -> tuple[list[dict], list[float]]:
        weighted = [{k: c * (log_images - math.log(max(1, frequency[k]))) for k, c in level.items()}
                    for level in grams]  # fmt: skip
        return weighted, [math.sqrt(sum(v * v for v in level.values())) for level in weighted]

    scores = []
    for caption, image in zip(captions, refs, strict=True):
        grams, length = _grams(caption)
        g, norm = vector(grams)
        total = [0.0] * N
        for ref_grams, ref_length in image:
            r, ref_norm = vector(ref_grams)
            penalty = math.exp(-((length - ref_length) ** 2) / (2 * SIGMA**2))
            for n in range(N):
                if norm[n] and ref_norm[n]:
                    clipped = sum(min(v, r[n].get(k, 0.0)) * r[n].get(k, 0.0)
                                  for k, v in g[n].items())  # fmt: skip
                    total[n] += penalty * clipped / (norm[n] * ref_norm[n])
        scores.append(SCALE * sum(total) / N / len(image))
    return sum(scores) / len(scores), scores


def bleu(captions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """sacrebleu's corpus BLEU-1 to BLEU-4 of ``captions`` with all of each image's
    ``references`` (images with fewer references are padded with their first)."""
    from sacrebleu.metrics import BLEU

    most = max(len(r) for r in references)
    streams = [[refs[j] if j < len(refs) else refs[0] for refs in references]
               for j in range(most)]  # fmt: skip
    return {f"bleu{n}": BLEU(max_ngram_order=n).corpus_score(list(captions), streams).score
            for n in range(1, N + 1)}  # fmt: skip
