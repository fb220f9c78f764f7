"""Speech recognition: ``rnnkit train speech``, a bidirectional recurrent network with CTC.

Sources (``data.source``): ``digits`` and ``sentences``, spoken by espeak-ng's voices
(`rnnkit.data.speech`: the test voices are never heard and the test texts never seen in
training), or a folder of recordings with their transcripts. Each utterance becomes log-mel
features (`rnnkit.data.audio`), cached on disk so the next run neither synthesizes nor
reads the audio again. In training each utterance is augmented afresh (`augment`): its
speed (a time stretch of the features) and pitch (a shift of the mel bands), noise added at
a random signal-to-noise ratio (in the power domain of the filterbank, where independent
noise adds), and SpecAugment masks of frequency bands and time spans (Park et al. 2019);
the rate and pitch of synthesized voices vary by utterance as well.

The model (`Recognizer`): a convolutional front end that subsamples time by
``model.subsample`` (2 or 4), a stack of bidirectional GRU or LSTM layers over packed
variable-length batches, and a linear layer to the characters and the blank, trained with
`torch.nn.functional.ctc_loss`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import RecurrentConfig
from rnnkit.data import speech
from rnnkit.data.audio import log_mel, normalize, read_audio
from rnnkit.data.batching import length_buckets, pad_sequences
from rnnkit.data.remote import default_cache_dir
from rnnkit.io import atomic_path
from rnnkit.layers import Recurrent
from rnnkit.models.checks import IGNORE_INDEX
from rnnkit.train.trainer import TrainConfig

ALPHABET = "_" + speech.ALPHABET  # id 0 is the CTC blank
SPACE = ALPHABET.index(" ")
LM_FILE, DATA_FILE, DECODER_FILE = "lm.json", "data.json", "decoder.json"
FEATURES_FORMAT = 1  # bump when the features change, so old caches are not read


@dataclass
class DataConfig:
    source: str = "digits"  # digits, sentences, or a folder of recordings
    text: str = "stdlib"  # where `sentences` come from: any rnnkit text source
    vocabulary: int = 2000  # sentences: the closed vocabulary's size
    train: int = 8000  # synthesized utterances per part
    val: int = 300
    test: int = 500
    val_fraction: float = 0.1  # of the voices and of the texts (of recordings: their texts
    test_fraction: float = 0.15  # or LibriSpeech speakers)
    n_mels: int = 64
    max_seconds: float = 20.0  # longer recordings are refused
    stretch: float = 0.1  # training views up to 10% faster or slower
    shift: int = 1  # training views up to this many mel bands higher or lower
    noise: float = 0.5  # the share of training utterances that get noise
    min_snr: float = 10.0  # dB; noise is drawn from min_snr to 30 dB
    masks: int = 2  # SpecAugment: frequency masks and time masks per training utterance


@dataclass
class ModelConfig(RecurrentConfig):
    kind: Literal["lstm", "gru"] = "gru"
    hidden_size: int = 192
    num_layers: int = 3
    dropout: float = 0.15
    channels: int = 128  # of the convolutional front end
    subsample: Literal[2, 4] = 4  # time steps per output frame (10 ms each)
    beam: int = 16  # CTC beam search with the word language model
    lm_order: int = 3  # of the Kneser-Ney word model of the training transcripts
    lexicon: bool = True  # beam search writes only words of the training transcripts


def _train_defaults() -> TrainConfig:
    return TrainConfig(epochs=8, batch_size=32, lr=2e-3, schedule="cosine", clip_norm=5.0,
                       log_every=50, checkpoint_every=500)  # fmt: skip


@dataclass
class SpeechConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_train_defaults)


# ---- data ----------------------------------------------------------------------------------


def read_corpus(data: DataConfig, seed: int = 0) -> tuple[dict[str, list[speech.Utterance]], dict]:
    """The utterances of each part, and what to record about them."""
    about: dict[str, Any] = {"source": data.source}
    if data.source in ("digits", "sentences"):
        speech.check_variants()  # espeak-ng missing: the error that says how to install it
        sentences: list[str] = []
        if data.source == "sentences":
            from rnnkit.data.sources import load_documents

            texts = [d.text for d in load_documents(data.text)]
            sentences = speech.sentence_texts(texts, data.vocabulary)
            words = sorted({w for sentence in sentences for w in sentence.split()})
            about |= {"text": data.text, "sentences": len(sentences), "words": words}
        counts = {"train": data.train, "val": data.val, "test": data.test}
        parts = speech.spoken_corpus(data.source, counts, sentences=sentences, seed=seed,
                                     val_fraction=data.val_fraction,
                                     test_fraction=data.test_fraction)  # fmt: skip
        about["voices"] = {p: len({u.voice for u in us}) for p, us in parts.items()}
        if data.source == "digits":
            about["words"] = [*speech.DIGITS, "oh"]
    elif Path(data.source).is_dir():
        parts = speech.recordings(data.source, data.val_fraction, data.test_fraction)
    else:
        raise ValueError(f"data.source {data.source!r}: digits, sentences, or a folder of "
                         "recordings with a path,text CSV or LibriSpeech transcripts")  # fmt: skip
    about["utterances"] = {p: len(us) for p, us in parts.items()}
    return parts, about


def features(utterances: Sequence[speech.Utterance], data: DataConfig,
             cache: Path | None = None) -> list[Tensor]:  # fmt: skip
    """The log-mel features (frames, n_mels) of each utterance, float16, from the cache
    folder when they were computed before (the key covers the utterances, the settings and
    each recording's size and time), else synthesized or read and cached atomically."""
    cache = default_cache_dir() / "speech" if cache is None else cache
    key = hashlib.sha256(json.dumps([FEATURES_FORMAT, data.n_mels, speech.espeak_version(),
                                     [_identity(u) for u in utterances]]).encode())  # fmt: skip
    path = cache / f"features-{len(utterances)}-{key.hexdigest()[:16]}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    if any(u.voice for u in utterances):
        print(f"synthesizing {len(utterances):,} utterances with espeak-ng (cached after)",
              file=sys.stderr, flush=True)  # fmt: skip

    def one(u: speech.Utterance) -> Tensor:
        samples = speech.synthesize(u) if u.voice else read_audio(u.path, data.max_seconds)
        return log_mel(samples, data.n_mels).half()

    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        found = list(pool.map(one, utterances))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(found, tmp)
    return found


def _identity(u: speech.Utterance) -> list:
    if u.path:
        stat = Path(u.path).stat()
        return [u.text, u.path, stat.st_size, stat.st_mtime_ns]
    return list(asdict(u).values())


def encode_text(text: str) -> list[int]:
    """The character ids of a normalized transcript."""
    return [ALPHABET.index(c) for c in text]


def too_short(frames: int, text: str, subsample: int) -> bool:
    """Whether ``frames`` input frames leave CTC too few output frames for ``text``: one per
    character and one more between each pair of equal neighbours."""
    needed = len(text) + sum(a == b for a, b in itertools.pairwise(text))
    return (frames - 1) // subsample + 1 < needed


def decode_ids(ids: Sequence[int]) -> str:
    return " ".join("".join(ALPHABET[i] for i in ids if i).split())


def augment(features: Tensor, data: DataConfig, generator: torch.Generator) -> Tensor:
    """One training view of (frames, n_mels) log-mel features: faster or slower (time
    stretched by up to ``data.stretch``), higher or lower (the bands shifted by up to
    ``data.shift``), noise at a random SNR, normalized, then SpecAugment masks (zero: the
    mean after normalizing)."""
    x = features.float()
    rand = lambda *shape: torch.rand(shape, generator=generator)  # noqa: E731
    if data.stretch:
        rate = 1 + data.stretch * (2 * float(rand(1)) - 1)
        size = max(1, round(len(x) / rate))
        x = F.interpolate(x.T[None], size=size, mode="linear", align_corners=False)[0].T
    shift = int(rand(1) * (2 * data.shift + 1)) - data.shift
    if shift > 0:  # up: the lowest band repeated below
        x = torch.cat([x[:, :1].expand(-1, shift), x[:, :-shift]], dim=1)
    elif shift < 0:
        x = torch.cat([x[:, -shift:], x[:, -1:].expand(-1, -shift)], dim=1)
    if float(rand(1)) < data.noise:
        snr = data.min_snr + (30 - data.min_snr) * float(rand(1))
        level = x.exp().mean() * 10 ** (-snr / 10)
        # the power of white noise in a band is about exponential around its mean
        noise = -torch.log(rand(*x.shape).clamp_min(1e-6)) * level
        x = torch.log(x.exp() + noise)
    x = normalize(x)
    frames, bands = x.shape
    for _ in range(data.masks):
        width = int(rand(1) * min(8, bands // 4))
        at = int(rand(1) * (bands - width))
        x[:, at : at + width] = 0
        span = int(rand(1) * max(1, frames // 20))
        at = int(rand(1) * max(1, frames - span))
        x[at : at + span] = 0
    return x


class SpeechBatches:
    """Batches of utterances of similar length (`rnnkit.data.batching.length_buckets`):
    ``inputs`` (N, T, n_mels), ``lengths`` and ``targets`` (N, L) character ids padded with
    -100. With ``augment`` (training) each utterance is a fresh `augment` view each epoch,
    seeded by the epoch and its place, so a resumed run sees the same views."""

    stateful = False

    def __init__(self, feats: list[Tensor], texts: list[str], batch_size: int, data: DataConfig,
                 seed: int = 0, augment: bool = False) -> None:  # fmt: skip
        if not feats:
            raise ValueError("no utterances to batch")
        self.feats = feats
        self.targets = [torch.tensor(encode_text(t), dtype=torch.long) for t in texts]
        self.batch_size, self.data, self.seed, self.augment = batch_size, data, seed, augment
        self.lengths = [len(f) for f in feats]

    def __len__(self) -> int:
        return -(-len(self.feats) // self.batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        batches = length_buckets(self.lengths, self.batch_size,
                                 generator if self.augment else None)  # fmt: skip
        for number, rows in enumerate(batches[start:], start):
            if self.augment:
                views = torch.Generator().manual_seed((self.seed * 100_003 + epoch) * 10_007
                                                      + number)  # fmt: skip
                inputs = [augment(self.feats[i], self.data, views) for i in rows]
            else:
                inputs = [normalize(self.feats[i].float()) for i in rows]
            padded, lengths = pad_sequences(inputs)
            targets, _ = pad_sequences([self.targets[i] for i in rows], IGNORE_INDEX)
            yield {"inputs": padded, "lengths": lengths, "targets": targets}


# ---- model ---------------------------------------------------------------------------------


@dataclass
class Recognized:
    """A batch through the `Recognizer`: (N, T', symbols) log-probabilities (blank 0) and
    each utterance's (N,) output frames."""

    log_probs: Tensor
    lengths: Tensor


class Recognizer(nn.Module):
    """Convolutional front end, bidirectional recurrent stack, linear layer to the symbols;
    ``output, loss = recognizer(inputs, lengths, targets)`` with the CTC loss per target
    character (targets padded with -100)."""

    def __init__(self, n_mels: int, config: ModelConfig, symbols: int = len(ALPHABET)) -> None:
        super().__init__()
        if config.subsample not in (2, 4):
            raise ValueError(f"model.subsample must be 2 or 4, got {config.subsample!r}")
        c = config.channels
        layers: list[nn.Module] = [nn.Conv1d(n_mels, c, 5, stride=2, padding=2), nn.GELU()]
        if config.subsample == 4:
            layers += [nn.Conv1d(c, c, 5, stride=2, padding=2), nn.GELU()]
        self.front, self.strides = nn.Sequential(*layers), config.subsample // 2
        between = config.dropout if config.num_layers > 1 else 0.0  # and after the stack
        self.rnn = Recurrent(input_size=c, bidirectional=True,
                             **config.layer_args() | {"dropout": between})  # fmt: skip
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(2 * config.hidden_size, symbols)

    def frames(self, lengths: Tensor) -> Tensor:
        """Output frames of inputs of ``lengths`` frames."""
        for _ in range(self.strides):
            lengths = (lengths - 1) // 2 + 1
        return lengths

    def forward(
        self, inputs: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Recognized, Tensor | None]:
        x = self.front(inputs.transpose(1, 2)).transpose(1, 2)
        frames = self.frames(lengths.cpu())
        hidden, _ = self.rnn(x, lengths=frames)
        log_probs = self.out(self.drop(hidden)).log_softmax(-1)
        output = Recognized(log_probs, frames)
        if targets is None:
            return output, None
        target_lengths = (targets != IGNORE_INDEX).sum(1)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets.clamp_min(0), frames,
                          target_lengths, blank=0, reduction="sum", zero_infinity=True)  # fmt: skip
        return output, loss / target_lengths.sum().clamp_min(1)
