"""Scoring transcripts: word and character error rates through jiwer, and the language
model weights of beam search tuned on the validation part.

The word error rate is (substitutions + deletions + insertions) / reference words, from the
minimum edit alignment of the words (jiwer's, never one of our own); the character error
rate the same over characters, spaces included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["error_rates", "format_table", "tune_lm"]

ALPHAS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
BETAS = (0.0, 1.0, 2.0, 3.0)
TUNE_AT_MOST = 200  # validation utterances the weights are tuned on


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, Any]:
    """``wer`` and ``cer`` (fractions) with the word counts of each kind of error."""
    import jiwer

    if not references:
        raise ValueError("no transcripts to score")
    refs = [r if r.strip() else "<empty>" for r in references]  # jiwer refuses empty ones
    words = jiwer.process_words(list(refs), list(hypotheses))
    chars = jiwer.process_characters(list(refs), list(hypotheses))
    return {"wer": words.wer, "cer": chars.cer, "substitutions": words.substitutions,
            "deletions": words.deletions, "insertions": words.insertions,
            "words": sum(len(r.split()) for r in refs)}  # fmt: skip


def format_table(table: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'':<16} {'WER %':>6} {'CER %':>6} {'sub':>5} {'del':>5} {'ins':>5}"]
    lines += [f"{name:<16} {100 * s['wer']:6.2f} {100 * s['cer']:6.2f} {s['substitutions']:5d} "
              f"{s['deletions']:5d} {s['insertions']:5d}" for name, s in table.items()]  # fmt: skip
    return "\n".join(lines)


def tune_lm(
    frames: Sequence[np.ndarray],
    references: Sequence[str],
    decode: Callable[[np.ndarray, float, float], str],
) -> tuple[float, float, dict[str, float]]:
    """The language model weight and word bonus (``decode(frames, alpha, beta)``) with the
    lowest word error rate on (at most `TUNE_AT_MOST` of) the validation utterances, and the
    rate of each pair tried."""
    frames, references = frames[:TUNE_AT_MOST], references[:TUNE_AT_MOST]
    tried = {}
    for alpha in ALPHAS:
        for beta in BETAS if alpha else (0.0,):  # no bonus without a language model
            hypotheses = [decode(f, alpha, beta) for f in frames]
            tried[(alpha, beta)] = error_rates(references, hypotheses)["wer"]
    alpha, beta = min(tried, key=lambda k: (tried[k], k))
    return alpha, beta, {f"{a:g},{b:g}": round(w, 5) for (a, b), w in tried.items()}
