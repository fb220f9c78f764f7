"""The test scores of a caption run beside its baselines: ``results.json`` and the table
``rnnkit train caption`` prints.

Every test part is captioned by the network (greedy and beam search), by the image-blind
decoder and by the nearest training image (`rnnkit.tasks.caption.baselines`), and scored
with BLEU-1 to BLEU-4 (sacrebleu, all references), CIDEr-D and exact match: the share of
captions equal to one of their image's references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnnkit.tasks.caption import scores
from rnnkit.tasks.caption.baselines import blind_caption, nearest_captions
from rnnkit.tasks.caption.task import Part
from rnnkit.tasks.caption.use import LoadedCaptioner, describe

EXAMPLES = 8  # test captions shown in the report, and kept in results.json: 100
TITLES = {"test": "test images (never seen in training)",
          "unseen": "numbers never seen in training"}  # fmt: skip


def exact_match(captions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Percentage of captions equal to one of their references."""
    hits = sum(c in refs for c, refs in zip(captions, references, strict=True))
    return 100.0 * hits / max(len(captions), 1)


def score_all(captions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """BLEU-1..4, CIDEr-D and exact match of ``captions``."""
    cider, _ = scores.cider_d(list(captions), [list(r) for r in references])
    exact = exact_match(captions, references)
    return scores.bleu(captions, references) | {"cider_d": cider, "exact": exact}


def test_report(run: LoadedCaptioner, parts: dict[str, Part]) -> dict[str, Any]:
    """Scores of every test part (``test``, and ``unseen`` numbers when there are), the
    examples and the printed report."""
    config, model, vocab = run.config, run.model, run.vocab
    beam, alpha = config.model.beam, config.model.length_alpha
    train = parts["train"]
    blind = blind_caption(train.references, vocab, config.data.max_words, beam,
                          seed=config.train.seed)  # fmt: skip
    results: dict[str, Any] = {"scores": {}, "examples": {}, "blind_caption": blind}
    lines = [f"{run.artefacts['data.json']['source']}: {len(train)} training images, "
             f"attention {config.model.attention}"]  # fmt: skip
    for name in ("test", "unseen"):
        if name not in parts:
            continue
        part = parts[name]
        searched = describe(model, vocab, part.images, beam, alpha)
        nearest = nearest_captions(train.images, train.references, part.images)
        table = {
            f"network, beam {beam}": score_all(searched, part.references),
            "network, greedy": score_all(describe(model, vocab, part.images, 1),
                                         part.references),
            "image-blind decoder": score_all([blind] * len(part), part.references),
            "nearest training image": score_all(nearest, part.references),
        }  # fmt: skip
        results["scores"][name] = table
        rows = zip(searched, nearest, part.references, strict=True)
        results["examples"][name] = [{"caption": c, "nearest": n, "references": r}
                                     for c, n, r in list(rows)[:100]]  # fmt: skip
        header = f"{'':<24} {'BLEU-1':>7} {'BLEU-4':>7} {'CIDEr-D':>8} {'exact %':>8}"
        lines += ["", f"{TITLES[name]}: {len(part)}", header]
        lines += [f"{label:<24} {s['bleu1']:7.1f} {s['bleu4']:7.1f} {s['cider_d']:8.3f} "
                  f"{s['exact']:8.1f}" for label, s in table.items()]  # fmt: skip
    lines.append(f"\n(the image-blind decoder writes {blind!r} for every image)")
    for example in results["examples"].get("test", [])[:EXAMPLES]:
        lines.append(f"  > {example['caption']:<40} = {example['references'][0]}")
    results["report"] = "\n".join(lines)
    return results
