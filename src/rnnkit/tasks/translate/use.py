"""Training data and scores of a translate run, and translating with a trained one.

run = load_run("runs/fr-en")          # rnnkit.tasks.runner.load_run
translate(run, ["Impossible d'ouvrir le fichier"])   # ["Cannot open the file"]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models.common import evaluating
from rnnkit.tasks.base import Built, Loaded
from rnnkit.tasks.runner import load_run_weights
from rnnkit.tasks.translate import scores
from rnnkit.tasks.translate.task import (
    DATA_FILE,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    BucketBatches,
    TranslateConfig,
    build_model,
    encode_pairs,
    read_corpus,
    tokenizers,
)
from rnnkit.train.distributed import Context

EXAMPLES = 8  # test translations shown in the report


@dataclass
class LoadedTranslator(Loaded):
    """A translate run (`rnnkit.tasks.runner.load_run`): its model and both tokenizers."""

    source: Tokenizer
    target: Tokenizer


def translate(run: LoadedTranslator, texts: list[str], beam: int | None = None) -> list[str]:
    """The translation of each text: beam search of ``beam`` (default the run's
    ``model.beam``; 1 is greedy) with the run's length penalty."""
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("give at least one non-empty text to translate")
    beam = run.config.model.beam if beam is None else beam
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ValueError(f"beam must be a positive int, got {beam!r}")
    return scores.translate_texts(run.model.seq2seq, texts, run.source, run.target, beam,
                                  run.config.model.length_alpha,
                                  max_length=2 * run.config.data.max_tokens)  # fmt: skip


def build(config: TranslateConfig, context: Context) -> Built:
    """The pairs, tokenizers, batches and model of a run; ``finish`` scores the test part."""
    if context.world_size > 1:
        raise ValueError("translate trains in one process; run it without torchrun")
    corpus = read_corpus(config.data)
    source, target = tokenizers(config.data, corpus.train)
    batch = config.train.batch_size
    train = BucketBatches(encode_pairs(corpus.train, source, target, config.data.max_tokens),
                          batch, seed=config.train.seed)  # fmt: skip
    val = BucketBatches(encode_pairs(corpus.val, source, target, None), batch, shuffle=False)
    files = {
        SOURCE_VOCAB: source.to_dict(),
        TARGET_VOCAB: target.to_dict(),
        DATA_FILE: corpus.about,
    }

    def finish(run_dir: Path) -> dict[str, Any]:
        model = build_model(config, source, target)
        load_run_weights(run_dir, model)
        run = LoadedTranslator(None, config, model, run_dir, files, source, target)
        return test_report(run, corpus)

    return Built(build_model(config, source, target), train, val, files=files, finish=finish)


def test_report(run: LoadedTranslator, corpus) -> dict[str, Any]:
    """BLEU and chrF of greedy and beam translations of the test part, beside the copy and
    translation-memory baselines on the same sentences, and the network and the memory
    combined (`scores.combine`, its threshold chosen on the validation part)."""
    sources, references = [p.source for p in corpus.test], [p.target for p in corpus.test]
    beam = run.config.model.beam
    greedy, searched = translate(run, sources, beam=1), translate(run, sources, beam=beam)
    found, remembered, similarity = scores.baselines(corpus.train, corpus.test)
    threshold = combination_threshold(run, corpus)
    combined = scores.combine(searched, remembered, similarity, threshold)
    table = {"network, greedy": scores.score(greedy, references),
             f"network, beam {beam}": scores.score(searched, references),
             "network or memory": scores.score(combined, references)} | found  # fmt: skip
    taken = sum(s >= threshold for s in similarity)
    lines = [f"{corpus.about['direction']}: {len(sources)} test sentences, "
             f"{corpus.about['pairs']['train']} training pairs",
             f"{'':<24} {'BLEU':>6} {'chrF':>6}"]  # fmt: skip
    lines += [f"{name:<24} {s['bleu']:6.1f} {s['chrf']:6.1f}" for name, s in table.items()]
    lines.append(
        f"(network or memory: the memory's answer for the {taken} sentences whose "
        f"match has a similarity of at least {threshold:g}, chosen on validation)"
    )
    rows = zip(sources, references, searched, remembered, similarity, strict=True)
    examples = [{"source": s, "reference": r, "network": n, "memory": m, "similarity": c}
                for s, r, n, m, c in rows]  # fmt: skip
    for e in examples[:EXAMPLES]:
        lines += [f"\n  {e['source']}", f"  = {e['reference']}", f"  > {e['network']}"]
    return {"scores": table, "data": corpus.about, "examples": examples[:100],
            "combination": {"threshold": threshold, "from_memory": taken},
            "report": "\n".join(lines)}  # fmt: skip


def combination_threshold(run: LoadedTranslator, corpus) -> float:
    """The memory similarity from which `scores.combine` trusts the memory, chosen on the
    validation part (exact matches only, 1, when there is none)."""
    if not corpus.val:
        return 1.0
    sources = [p.source for p in corpus.val]
    network = translate(run, sources)
    remembered, similarity = scores.memory(corpus.train, sources)
    return scores.best_threshold(network, remembered, similarity, [p.target for p in corpus.val])


@torch.no_grad()
def attention_matrix(run: LoadedTranslator, text: str) -> tuple[list[str], list[str], Tensor]:
    """Where the decoder looked while translating ``text`` (greedily): (source pieces,
    target pieces with the closing ``<eos>``, (T, S) weights, each row summing to 1).
    A run trained without attention has none to show: a ValueError says so."""
    model = run.model.seq2seq
    if model.attention is None:
        raise ValueError(f"{run.run_dir} was trained with model.attention=none: no attention "
                         "to draw")  # fmt: skip
    (translation,) = translate(run, [text], beam=1)
    source_ids = run.source.encode(text) or [run.source.unk_id]
    target_ids = [*run.target.encode(translation), run.target.eos_id]
    with evaluating(model):
        output, _ = model(torch.tensor([source_ids]), torch.tensor([target_ids]))
    piece = lambda tok, i: tok.token(i) if i == tok.eos_id else tok.decode([i])  # noqa: E731
    return ([piece(run.source, i) for i in source_ids],
            [piece(run.target, i) for i in target_ids], output.attention[0])  # fmt: skip


def plot_attention(run: LoadedTranslator, text: str, path: str | Path) -> None:
    """Draw `attention_matrix` of ``text`` into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources, targets, weights = attention_matrix(run, text)
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(sources), 1 + 0.4 * len(targets)))
    ax.imshow(weights.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(sources)), [s.strip() or "␣" for s in sources], rotation=60,
                  ha="right")  # fmt: skip
    ax.set_yticks(range(len(targets)), [t.strip() or "␣" for t in targets])
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
