"""Training data of a caption run, and captioning with a trained one.

run = load_run("runs/numbers")              # rnnkit.tasks.runner.load_run
caption(run, [read_run_image(run, "scene.png")])   # [{"caption": "forty two", ...}]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.captions import read_image
from rnnkit.data.tokenizers import Tokenizer, build_tokenizer
from rnnkit.models.captioner import Captioner
from rnnkit.models.common import evaluating
from rnnkit.models.decoding import beam_search
from rnnkit.tasks.base import Built, Loaded
from rnnkit.tasks.caption import scores
from rnnkit.tasks.caption.task import (
    DATA_FILE,
    VOCAB,
    CaptionBatches,
    CaptionConfig,
    Part,
    build_model,
    to_model,
    words_of,
)
from rnnkit.tasks.runner import load_run_weights
from rnnkit.train.config import evaluate_loss
from rnnkit.train.distributed import Context

VAL_CAPTIONED = 500  # validation images captioned at each evaluation, for val_bleu4


@dataclass
class LoadedCaptioner(Loaded):
    """A caption run (`rnnkit.tasks.runner.load_run`): its model and vocabulary, and the
    mode and size its images are read at."""

    vocab: Tokenizer

    @property
    def mode(self) -> str:
        return self.artefacts[DATA_FILE]["mode"]

    @property
    def image_size(self) -> tuple[int, int]:
        height, width = self.artefacts[DATA_FILE]["image_size"]
        return int(height), int(width)


def read_run_image(run: LoadedCaptioner, source: str | Path | bytes,
                   what: str | None = None) -> np.ndarray:  # fmt: skip
    """An image file (or an upload's bytes) as the run reads images: converted to its mode
    (grey or colour) and resized to its size, (C, H, W) uint8."""
    return read_image(source, run.mode, run.image_size, what)


@torch.no_grad()
def describe(model: Captioner, vocab: Tokenizer, images: torch.Tensor, beam: int,
             length_alpha: float = 0.0, batch_size: int = 128) -> list[str]:  # fmt: skip
    """The caption of each (N, C, H, W) uint8 image: beam search of ``beam`` (1 is
    greedy decoding), ``<unk>`` never written."""
    with evaluating(model):
        device, found = next(model.parameters()).device, []
        for at in range(0, len(images), batch_size):
            tokens, state = model.start(to_model(images[at : at + batch_size].to(device)))
            best = beam_search(model, tokens, state, max_length=model.max_length, eos=vocab.eos_id,
                               beam_size=beam, length_alpha=length_alpha,
                               banned=[vocab.unk_id])  # fmt: skip
            found += [words_of(vocab, row.tolist()) for row in best.tokens[:, 0]]
    return found


@torch.no_grad()
def attention_of(model: Captioner, vocab: Tokenizer, image: torch.Tensor,
                 text: str) -> torch.Tensor | None:  # fmt: skip
    """Where the decoder looked for each word of ``text`` (and the closing ``eos``) on the
    (C, H, W) uint8 ``image``: (T, h, w) weights, each word's summing to 1; None for a
    model without attention."""
    if model.attention is None:
        return None
    with evaluating(model):
        ids = torch.tensor([[*vocab.encode(text), vocab.eos_id]])
        output, _ = model(to_model(image.unsqueeze(0)), ids)
    h, w = model.grid(*model.image_size)
    return output.attention[0].view(-1, h, w)


def caption(
    run: LoadedCaptioner, images: list[np.ndarray], beam: int | None = None, attention: bool = False
) -> list[dict[str, Any]]:
    """Each image's caption ((C, H, W) uint8 arrays as `read_run_image` gives): beam search
    of ``beam`` (default the run's ``model.beam``; 1 is greedy). With ``attention``, each
    answer also holds ``words`` and ``attention``, a (words + 1, h, w) nested list of where
    each word (and the end) looked, when the run has attention."""
    beam = run.config.model.beam if beam is None else beam
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ValueError(f"beam must be a positive int, got {beam!r}")
    if not images:
        raise ValueError("give at least one image to caption")
    batch = torch.from_numpy(np.stack(images))
    texts = describe(run.model, run.vocab, batch, beam, run.config.model.length_alpha)
    answers: list[dict[str, Any]] = [{"caption": t} for t in texts]
    if attention:
        for answer, image in zip(answers, batch, strict=True):
            weights = attention_of(run.model, run.vocab, image, answer["caption"])
            answer["words"] = [*answer["caption"].split(), "<eos>"]
            answer["attention"] = None if weights is None else weights.tolist()
    return answers


def build(config: CaptionConfig, context: Context) -> Built:
    """The parts, vocabulary, batches and model of a run; ``finish`` scores the test parts."""
    from rnnkit.tasks.caption.report import test_report
    from rnnkit.tasks.caption.sources import read_parts

    if context.world_size > 1:
        raise ValueError("caption trains in one process; run it without torchrun")
    parts, about, redraw = read_parts(config.data)
    texts = [ref for refs in parts["train"].references for ref in refs]
    vocab = build_tokenizer("word", texts, lowercase=True, punctuation="keep")
    batch = config.train.batch_size
    train = CaptionBatches(parts["train"], vocab, batch, seed=config.train.seed, redraw=redraw)
    val = CaptionBatches(parts["val"], vocab, batch, shuffle=False) if "val" in parts else None
    files = {VOCAB: vocab.to_dict(), DATA_FILE: about}

    def evaluate(model: Captioner, data: CaptionBatches) -> dict[str, float]:
        return validation_scores(model, data, vocab, parts["val"])

    def finish(run_dir: Path) -> dict[str, Any]:
        model = build_model(config, vocab, about)
        load_run_weights(run_dir, model)
        run = LoadedCaptioner(None, config, model, run_dir, files, vocab)
        return test_report(run, parts)

    return Built(build_model(config, vocab, about), train, val, evaluate=evaluate,
                 reports=("val_loss", "val_bleu4"), files=files, finish=finish)  # fmt: skip


@torch.no_grad()
def validation_scores(model: Captioner, data: CaptionBatches, vocab: Tokenizer,
                      part: Part) -> dict[str, float]:  # fmt: skip
    """The loss per word on the validation part (first references) and the BLEU-4 of the
    greedy captions of its first `VAL_CAPTIONED` images with all their references."""
    captions = describe(model, vocab, part.images[:VAL_CAPTIONED], beam=1)
    bleu4 = scores.bleu(captions, part.references[:VAL_CAPTIONED])["bleu4"]
    return evaluate_loss(model, data) | {"val_bleu4": bleu4}
