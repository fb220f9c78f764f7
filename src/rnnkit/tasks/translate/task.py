"""Machine translation: ``rnnkit train translate``, an encoder-decoder with attention.

Sources (``data.source``):

- ``gettext:LANG`` (the default ``gettext:fr``): the human translations of the installed
  programs' messages (`rnnkit.data.catalogues.catalogue_pairs`), LANG to English;
- ``ding``: the example sentences of the Ding dictionary (Debian's trans-de-en), German to
  English;
- a file of pairs (`rnnkit.data.paired.load_pairs`): ``source<TAB>target`` lines, or
  ``.csv``/``.tsv``/``.jsonl`` columns ``data.source_column`` and ``data.target_column``.

``data.reverse`` flips the direction. The split is by a hash of the English sentence (of the
source, for a file), before the direction is chosen, so a sentence never sits on both
sides (`rnnkit.data.paired.split_pairs`). Texts are byte-pair encoded with one vocabulary
for both languages (``data.joint``) or one each, saved in the run. Batches hold pairs of
similar source lengths (`BucketBatches`), so padding stays small; pairs longer than
``data.max_tokens`` on either side are left out of training. The model is `Seq2Seq` with a
bidirectional encoder and additive, dot or no attention, trained with label smoothing; the
test sentences are translated greedily and with beam search (a length penalty) and scored
with sacrebleu's BLEU and chrF beside two baselines (`rnnkit.tasks.translate.scores`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import RecurrentConfig
from rnnkit.data.batching import length_buckets, pad_sequences
from rnnkit.data.catalogues import catalogue_pairs, ding_pairs
from rnnkit.data.paired import Pair, load_pairs, split_pairs
from rnnkit.data.tokenizers import Tokenizer, build_tokenizer
from rnnkit.models import Seq2Seq
from rnnkit.models.checks import IGNORE_INDEX
from rnnkit.train.trainer import TrainConfig

SOURCE_VOCAB, TARGET_VOCAB, DATA_FILE = "source_vocab.json", "target_vocab.json", "data.json"


@dataclass
class DataConfig:
    source: str = "gettext:fr"  # gettext:LANG, ding, or a file of pairs
    source_column: str | None = None  # a .csv/.tsv/.jsonl file's columns
    target_column: str | None = None
    reverse: bool = False  # translate the other way (English to LANG for gettext and ding)
    vocab_size: int = 8000  # byte pairs, per vocabulary
    joint: bool = True  # one vocabulary for both languages
    max_tokens: int = 48  # training pairs longer than this on either side are left out
    val_fraction: float = 0.05
    test_fraction: float = 0.05


@dataclass
class ModelConfig(RecurrentConfig):
    kind: Literal["lstm", "gru"] = "gru"
    hidden_size: int = 256
    embedding_dim: int = 256
    bidirectional: bool = True  # the encoder
    attention: Literal["additive", "dot", "none"] = "additive"
    dropout: float = 0.2
    label_smoothing: float = 0.1
    beam: int = 5  # beam size of the test translations and of `translate` by default
    length_alpha: float = 0.6  # GNMT length penalty of beam search (0: none)


def _train_defaults() -> TrainConfig:
    return TrainConfig(epochs=12, batch_size=64, lr=2e-3, schedule="cosine", clip_norm=1.0,
                       log_every=50, checkpoint_every=1000)  # fmt: skip


@dataclass
class TranslateConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_train_defaults)


@dataclass
class Corpus:
    """The three parts, oriented source -> target, and where they came from."""

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    about: dict[str, Any]  # the source, the direction, counts (and gettext's domains)


def read_corpus(data: DataConfig) -> Corpus:
    """The pairs of ``data.source``, split, then oriented (see the module docstring)."""
    about: dict[str, Any] = {"source": data.source}
    if data.source.startswith("gettext:"):
        catalogues = catalogue_pairs(data.source.removeprefix("gettext:"))
        pairs, english_first = catalogues.pairs, True
        about["domains"] = catalogues.domains
        languages = (catalogues.language, "en")
    elif data.source == "ding":
        pairs, english_first, languages = ding_pairs(), True, ("de", "en")
    else:
        pairs = load_pairs(data.source, data.source_column, data.target_column)
        english_first, languages = False, ("source", "target")
    parts = split_pairs(pairs, data.val_fraction, data.test_fraction)
    flip = english_first != data.reverse  # English-first pairs translate into English
    if flip:
        parts = tuple([Pair(p.target, p.source) for p in part] for part in parts)
    about["direction"] = "%s -> %s" % (languages[::-1] if data.reverse else languages)
    about["pairs"] = dict(zip(("train", "val", "test"), map(len, parts), strict=True))
    return Corpus(*parts, about)


def tokenizers(data: DataConfig, train: list[Pair]) -> tuple[Tokenizer, Tokenizer]:
    """(source, target) byte-pair tokenizers of the training pairs: the same one when
    ``data.joint``."""
    sources, targets = [p.source for p in train], [p.target for p in train]
    build = lambda texts: build_tokenizer("bpe", texts, vocab_size=data.vocab_size,  # noqa: E731
                                          min_count=2, lowercase=False)  # fmt: skip
    if data.joint:
        both = build(sources + targets)
        return both, both
    return build(sources), build(targets)


def encode_pairs(
    pairs: list[Pair], source: Tokenizer, target: Tokenizer, max_tokens: int | None
) -> list[tuple[list[int], list[int]]]:
    """(source ids, target ids + eos) of each pair; pairs longer than ``max_tokens`` on
    either side are left out (None keeps all)."""
    out = []
    for pair in pairs:
        ids = source.encode(pair.source) or [source.unk_id]
        out_ids = [*target.encode(pair.target), target.eos_id]
        if max_tokens is None or (len(ids) <= max_tokens and len(out_ids) <= max_tokens + 1):
            out.append((ids, out_ids))
    return out


def pad_sources(sequences: list[list[int]]) -> tuple[Tensor, Tensor]:
    """(N, S) padded ids and (N,) lengths."""
    return pad_sequences([torch.tensor(s) for s in sequences])


class BucketBatches:
    """Batches of pairs of similar source length (`rnnkit.data.batching.length_buckets`),
    shuffled each epoch (seeded) when ``shuffle``."""

    stateful = False  # independent batches: no state carried between them

    def __init__(self, encoded: list[tuple[list[int], list[int]]], batch_size: int,
                 seed: int = 0, shuffle: bool = True) -> None:  # fmt: skip
        if not encoded:
            raise ValueError("no pairs to batch: every pair is longer than data.max_tokens")
        self.encoded, self.batch_size, self.seed, self.shuffle = encoded, batch_size, seed, shuffle
        self.lengths = [len(source) for source, _ in encoded]

    def __len__(self) -> int:
        return -(-len(self.encoded) // self.batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        batches = length_buckets(self.lengths, self.batch_size,
                                 generator if self.shuffle else None)  # fmt: skip
        for rows in batches[start:]:
            yield self.gather(rows)

    def gather(self, rows: list[int]) -> dict[str, Tensor]:
        inputs, lengths = pad_sources([self.encoded[i][0] for i in rows])
        targets, _ = pad_sequences([torch.tensor(self.encoded[i][1]) for i in rows],
                                   padding_value=IGNORE_INDEX)  # fmt: skip
        return {"inputs": inputs, "lengths": lengths, "targets": targets}


class Translator(nn.Module):
    """`Seq2Seq` trained with label smoothing: ``output, loss = translator(inputs, targets,
    lengths)``; ``seq2seq`` is the model that decodes."""

    def __init__(self, seq2seq: Seq2Seq, label_smoothing: float) -> None:
        super().__init__()
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"model.label_smoothing must be in [0, 1), got {label_smoothing}")
        self.seq2seq, self.label_smoothing = seq2seq, label_smoothing

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Any, Tensor | None]:
        output, _ = self.seq2seq(inputs, targets, lengths)
        if targets is None:
            return output, None
        logits = output.logits.reshape(-1, output.logits.shape[-1])
        smoothing = self.label_smoothing if self.training else 0.0  # evaluation: the plain loss
        loss = F.cross_entropy(logits, targets.reshape(-1), ignore_index=IGNORE_INDEX,
                               label_smoothing=smoothing)  # fmt: skip
        return output, loss


def build_model(config: TranslateConfig, source: Tokenizer, target: Tokenizer) -> Translator:
    m = config.model
    seq2seq = Seq2Seq(
        target.vocab_size, bos=target.eos_id, eos=target.eos_id, source_vocab=source.vocab_size,
        embedding_dim=m.embedding_dim, hidden_size=m.hidden_size, kind=m.kind,
        num_layers=m.num_layers, bidirectional=m.bidirectional, attention=m.attention,
        dropout=m.dropout, max_length=config.data.max_tokens + 1,
    )  # fmt: skip
    return Translator(seq2seq, m.label_smoothing)
