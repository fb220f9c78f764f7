"""Training data and scores of a speech run, and transcribing with a trained one.

run = load_run("runs/digits")          # rnnkit.tasks.runner.load_run
transcribe(run, [read_audio("clip.wav")])   # [{"text": "three oh seven", ...}]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.audio import log_mel, normalize
from rnnkit.data.batching import pad_sequences
from rnnkit.io import atomic_write_json
from rnnkit.models.checks import IGNORE_INDEX
from rnnkit.models.common import evaluating
from rnnkit.models.ctc import WordLM, ctc_beam_search, ctc_greedy
from rnnkit.tasks.base import Built, Loaded
from rnnkit.tasks.runner import load_run_weights
from rnnkit.tasks.speech import scores
from rnnkit.tasks.speech.task import (
    ALPHABET,
    DATA_FILE,
    DECODER_FILE,
    LM_FILE,
    SPACE,
    Recognizer,
    SpeechBatches,
    SpeechConfig,
    decode_ids,
    features,
    read_corpus,
    too_short,
)
from rnnkit.train.distributed import Context

EXAMPLES = 8  # test transcripts shown in the report


@dataclass
class LoadedRecognizer(Loaded):
    """A speech run (`rnnkit.tasks.runner.load_run`): its model, its word language model and
    the language model weights tuned on the validation part."""

    lm: WordLM
    alpha: float
    beta: float


def build_model(config: SpeechConfig) -> Recognizer:
    return Recognizer(config.data.n_mels, config.model)


@torch.no_grad()
def log_probs(model: Recognizer, feats: list[Tensor], batch_size: int = 32) -> list[np.ndarray]:
    """The (frames, symbols) log-probabilities of each utterance's log-mel features."""
    with evaluating(model):
        order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
        out: list[np.ndarray] = [np.empty(0)] * len(feats)
        for at in range(0, len(order), batch_size):
            rows = order[at : at + batch_size]
            inputs, lengths = pad_sequences([normalize(feats[i].float()) for i in rows])
            found, _ = model(inputs, lengths)
            for row, i in enumerate(rows):
                out[i] = found.log_probs[row, : int(found.lengths[row])].numpy()
    return out


def decode(frames: np.ndarray, beam: int, lm: WordLM | None = None, alpha: float = 0.0,
           beta: float = 0.0, lexicon: bool = False) -> str:  # fmt: skip
    """The transcript of one utterance by `ctc_beam_search` (with ``lexicon``, only words
    the language model has read)."""
    best = ctc_beam_search(frames, beam, lm=lm, alpha=alpha, beta=beta, space=SPACE,
                           alphabet=ALPHABET, lexicon=lexicon and lm is not None)  # fmt: skip
    return decode_ids(best[0].ids) if best else ""


def greedy(frames: np.ndarray) -> str:
    """The transcript of one utterance's best path (`ctc_greedy`)."""
    return decode_ids(ctc_greedy(frames))


def transcribe(run: LoadedRecognizer, audio: list[np.ndarray], beam: int | None = None,
               lm: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Each clip's transcript (16 kHz samples, `rnnkit.data.audio.read_audio`): beam search
    of ``beam`` (default the run's) with the run's language model unless ``lm`` is False;
    with the greedy transcript and the clip's length beside it."""
    beam = run.config.model.beam if beam is None else beam
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ValueError(f"beam must be a positive int, got {beam!r}")
    feats = [log_mel(a, run.config.data.n_mels) for a in audio]
    found = []
    for frames, clip in zip(log_probs(run.model, feats), audio, strict=True):
        text = decode(frames, beam, run.lm if lm else None, run.alpha, run.beta,
                      run.config.model.lexicon)  # fmt: skip
        found.append({"text": text, "greedy": greedy(frames),
                      "seconds": round(len(clip) / 16_000, 3)})  # fmt: skip
    return found


def build(config: SpeechConfig, context: Context) -> Built:
    """The corpus, features, batches and model of a run; ``finish`` scores the test part."""
    if context.world_size > 1:
        raise ValueError("speech trains in one process; run it without torchrun")
    parts, about = read_corpus(config.data, config.train.seed)
    feats = {part: features(us, config.data) for part, us in parts.items()}
    texts = {part: [u.text for u in us] for part, us in parts.items()}
    lm = WordLM.fit(texts["train"], config.model.lm_order, about.get("words", ()))
    pairs = zip(feats["train"], texts["train"], strict=True)
    about["too_short"] = sum(too_short(len(f), t, config.model.subsample) for f, t in pairs)
    batch = config.train.batch_size
    train = SpeechBatches(feats["train"], texts["train"], batch, config.data,
                          seed=config.train.seed, augment=True)  # fmt: skip
    val = SpeechBatches(feats["val"], texts["val"], batch, config.data) if feats["val"] else None
    files = {LM_FILE: lm.to_dict(), DATA_FILE: about}

    def finish(run_dir: Path) -> dict[str, Any]:
        model = build_model(config)
        load_run_weights(run_dir, model)
        return test_report(model, config, lm, feats, texts, about, run_dir)

    return Built(build_model(config), train, val, evaluate=evaluate,
                 reports=("val_loss", "val_cer"), files=files, finish=finish)  # fmt: skip


@torch.no_grad()
def evaluate(model: Recognizer, data: SpeechBatches) -> dict[str, float]:
    """The validation loss per character and the greedy character error rate."""
    with evaluating(model):
        total, chars, hypotheses, references = 0.0, 0, [], []
        device = next(model.parameters()).device
        for batch in data.epoch(0):
            output, loss = model(**{k: v.to(device) for k, v in batch.items()})
            scored = int((batch["targets"] != IGNORE_INDEX).sum())
            total, chars = total + float(loss) * scored, chars + scored
            for row, target in enumerate(batch["targets"].tolist()):
                frames = output.log_probs[row, : int(output.lengths[row])]
                hypotheses.append(greedy(frames.cpu().numpy()))
                references.append(decode_ids([i for i in target if i != IGNORE_INDEX]))
    return {"val_loss": total / max(chars, 1),
            "val_cer": scores.error_rates(references, hypotheses)["cer"]}  # fmt: skip


def test_report(model: Recognizer, config: SpeechConfig, lm: WordLM, feats, texts, about,
                run_dir: Path) -> dict[str, Any]:  # fmt: skip
    """Error rates of greedy decoding and of beam search with the language model (its
    weights tuned on the validation part and saved in ``decoder.json``) on the test part."""
    beam, lexicon = config.model.beam, config.model.lexicon
    alpha, beta, tried = 0.0, 0.0, {}
    if texts["val"]:
        searcher = lambda f, a, b: decode(f, beam, lm, a, b, lexicon)  # noqa: E731
        alpha, beta, tried = scores.tune_lm(log_probs(model, feats["val"]), texts["val"], searcher)
    atomic_write_json(run_dir / DECODER_FILE, {"alpha": alpha, "beta": beta})
    test = log_probs(model, feats["test"])
    best_paths = [greedy(f) for f in test]
    searched = [decode(f, beam, lm, alpha, beta, lexicon) for f in test]
    refs = texts["test"]
    said = [w for r in refs for w in r.split()]
    unknown = sum(w not in lm.ids for w in said) / max(len(said), 1)
    table = {"greedy": scores.error_rates(refs, best_paths),
             f"beam {beam} + LM": scores.error_rates(refs, searched)}  # fmt: skip
    lines = [f"{about['source']}: {len(refs)} test utterances"
             + (f" by {about['voices']['test']} voices never heard in training"
                if "voices" in about else ""),
             f"language model: {config.model.lm_order}-gram Kneser-Ney of the training "
             f"transcripts, weight {alpha:g}, word bonus {beta:g} (tuned on validation); "
             f"{100 * unknown:.1f}% of the test words are outside its vocabulary",
             scores.format_table(table)]  # fmt: skip
    examples = [{"reference": r, "greedy": g, "beam": s}
                for r, g, s in zip(refs, best_paths, searched, strict=True)]  # fmt: skip
    for e in examples[:EXAMPLES]:
        lines += [f"\n  = {e['reference']}", f"  > {e['beam']}"]
    return {"scores": table, "data": about, "decoder": {"alpha": alpha, "beta": beta,
            "tried": tried}, "out_of_vocabulary": unknown, "examples": examples[:100],
            "report": "\n".join(lines)}  # fmt: skip


def plot_alignment(run: LoadedRecognizer, samples: np.ndarray, path: str | Path) -> str:
    """Draw the log-mel spectrogram of ``samples`` and, below it, the probability of each
    character over time (the CTC alignment of the greedy transcript), into the PNG ``path``;
    returns the transcript."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feats = log_mel(samples, run.config.data.n_mels)
    (frames,) = log_probs(run.model, [feats])
    probs = np.exp(frames)
    ids = ctc_greedy(frames)
    stride = run.config.model.subsample * 0.01  # seconds per output frame
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})  # fmt: skip
    loudest = float(feats.max())  # show 50 dB below the loudest band (log power: 11.5)
    top.imshow(feats.T.numpy(), origin="lower", aspect="auto", cmap="magma",
               vmin=loudest - 11.5, vmax=loudest,
               extent=(0, len(feats) * 0.01, 0, feats.shape[1]))  # fmt: skip
    top.set_ylabel("mel band")
    best = probs.argmax(1)
    for symbol in sorted(set(best.tolist()) - {0}):
        bottom.plot(np.arange(len(probs)) * stride, probs[:, symbol], lw=1)
    for t in np.flatnonzero((best != 0) & np.r_[True, best[1:] != best[:-1]]):
        char = ALPHABET[best[t]]
        bottom.annotate("␣" if char == " " else char, (t * stride, probs[t, best[t]]),
                        ha="center", va="bottom", fontsize=9)  # fmt: skip
    bottom.set_ylim(0, 1.15)
    bottom.set_ylabel("P(character)")
    bottom.set_xlabel("seconds")
    text = decode_ids(ids)
    top.set_title(f"“{text}”")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return text
