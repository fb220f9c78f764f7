"""Translating sentences with a trained `Seq2Seq`, and scoring translations.

`translate_texts` decodes in batches of similar lengths, with beam search (beam 1 is greedy
decoding) and a GNMT length penalty. `score` is sacrebleu's corpus BLEU and chrF (never a
BLEU of our own). The baselines a sceptic asks for, on the same test sentences:

- ``copy``: the source unchanged (cognates and names make it score above zero);
- ``translation memory``: the target of the training pair whose source is nearest, by
  cosine similarity of character 2-4-gram TF-IDF vectors (scikit-learn), the way localisers
  reuse earlier translations.

`combine` is how the two can work together: the memory's answer where its match is near
enough (a cosine similarity of at least a threshold, chosen on the validation part by
`best_threshold`), the network's elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnkit.data.paired import Pair
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import Seq2Seq
from rnnkit.models.common import evaluating
from rnnkit.models.decoding import beam_search
from rnnkit.tasks.translate.task import pad_sources

__all__ = ["baselines", "best_threshold", "combine", "memory", "score", "translate_texts"]


@torch.no_grad()
def translate_texts(
    model: Seq2Seq,
    texts: Sequence[str],
    source: Tokenizer,
    target: Tokenizer,
    beam: int = 5,
    length_alpha: float = 0.6,
    max_length: int = 60,
    batch_size: int = 64,
) -> list[str]:
    """The translation of each text (beam 1: greedy), in the order given."""
    with evaluating(model):
        encoded = [source.encode(t) or [source.unk_id] for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out: list[str] = [""] * len(texts)
        for at in range(0, len(order), batch_size):
            rows = order[at : at + batch_size]
            inputs, lengths = pad_sources([encoded[i] for i in rows])
            tokens, state = model.start(inputs, lengths)
            found = beam_search(model, tokens, state, max_length, eos=target.eos_id,
                                beam_size=beam, length_alpha=length_alpha,
                                banned=[target.unk_id])  # fmt: skip
            for i, ids, n in zip(rows, found.tokens[:, 0].tolist(), found.lengths[:, 0].tolist(),
                                 strict=True):  # fmt: skip
                ids = ids[:n]
                if ids and ids[-1] == target.eos_id:
                    ids = ids[:-1]
                out[i] = target.decode(ids).strip()
    return out


def score(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """sacrebleu's corpus BLEU and chrF of ``hypotheses`` against one reference each."""
    import sacrebleu

    refs = [list(references)]
    return {"bleu": sacrebleu.corpus_bleu(list(hypotheses), refs).score,
            "chrf": sacrebleu.corpus_chrf(list(hypotheses), refs).score}  # fmt: skip


def memory(train: Sequence[Pair], sources: Sequence[str]) -> tuple[list[str], list[float]]:
    """The translation memory's answer for each source, the target of the training pair
    whose source is most similar (character 2-4-gram TF-IDF, cosine), and that similarity
    (1 for an exact match)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    known = vectors.fit_transform([p.source for p in train])
    similarity = vectors.transform(list(sources)) @ known.T
    nearest = similarity.argmax(axis=1).A1
    best = similarity.max(axis=1).toarray().ravel()
    return [train[int(i)].target for i in nearest], [round(float(b), 6) for b in best]


def combine(
    network: Sequence[str], remembered: Sequence[str], similarity: Sequence[float],
    threshold: float,
) -> list[str]:  # fmt: skip
    """The memory's answer where its similarity is at least ``threshold``, the network's
    elsewhere."""
    rows = zip(network, remembered, similarity, strict=True)
    return [m if s >= threshold else n for n, m, s in rows]


THRESHOLDS = [round(0.5 + 0.025 * i, 3) for i in range(21)]  # 0.5 to 1: 1 is exact matches


def best_threshold(
    network: Sequence[str], remembered: Sequence[str], similarity: Sequence[float],
    references: Sequence[str],
) -> float:  # fmt: skip
    """The similarity from which `combine` takes the memory's answer that scores best (chrF,
    then BLEU) on these sentences; above 1 (the memory never) when no threshold helps."""
    found = {t: score(combine(network, remembered, similarity, t), references)
             for t in [*THRESHOLDS, 1.01]}  # fmt: skip
    return max(found, key=lambda t: (found[t]["chrf"], found[t]["bleu"], t))


def baselines(
    train: Sequence[Pair], test: Sequence[Pair]
) -> tuple[dict[str, dict[str, float]], list[str], list[float]]:
    """The copy and translation-memory baselines' scores on ``test``, and the memory's
    translations and similarities."""
    sources, references = [p.source for p in test], [p.target for p in test]
    remembered, similarity = memory(train, sources)
    return (
        {
            "copy": score(sources, references),
            "translation memory": score(remembered, references),
        },
        remembered,
        similarity,
    )
